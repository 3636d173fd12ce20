package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/usbkit/compose/compose"
	"github.com/usbkit/compose/compose/device"
	"github.com/usbkit/compose/config"
	"github.com/usbkit/compose/fetch"
)

func newApplyCmd(a *app) *cobra.Command {
	var (
		ff       fetchFlags
		df       deviceFlags
		img      string
		noVerify bool
	)
	cmd := &cobra.Command{
		Use:   "apply (--image FILE | --device DEV...)",
		Short: "Fetch, verify and build the bootable image, and write it to USB devices",
		Long: `apply runs the whole pipeline: load and validate the manifest, pin the ISOs
(writing multiboot.lock when there is none), fetch and verify them, plan,
build the image with GRUB for every firmware target, and read every file back
to verify it. The image is written beside FILE under a temporary name and
renamed into place only when complete: a failure or Ctrl-C leaves no partial
file and an existing FILE untouched.

With --device (repeatable, for several sticks at once) the kit is written to
USB/MMC devices: each is checked before anything is built (not mounted, not
the system disk, not swap or an LVM/RAID member, removable, large enough, at
most 1 TiB unless --force), confirmed on the terminal (or --yes), opened
exclusively, written skipping unallocated ranges, flushed, and read back
bypassing the page cache. One failing stick does not stop the others.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(df.paths) > 0 {
				return a.applyDevices(cmd.Context(), &ff, &df, img, noVerify)
			}
			if img == "" {
				return usageError{errors.New("apply needs --image FILE or --device DEV")}
			}
			res, p, err := a.build(cmd.Context(), &ff, img, noVerify, nil)
			if err != nil {
				return err
			}
			return a.result(res, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "wrote %s (%s, %d entries)\n", res.Image, humanSize(res.Size), len(p.Entries))
				return err
			})
		},
	}
	ff.register(cmd)
	cmd.Flags().StringVar(&img, "image", "", "write the kit to this image `file`")
	cmd.Flags().BoolVar(&noVerify, "no-verify", false, "skip reading back the finished image or devices")
	cmd.Flags().StringArrayVar(&df.paths, "device", nil, "write the kit to this block `device` (repeatable)")
	cmd.Flags().BoolVar(&df.yes, "yes", false, "do not ask before erasing the devices (needed without a terminal)")
	cmd.Flags().BoolVar(&df.force, "force", false, "allow a device that is not removable or is larger than 1 TiB")
	return cmd
}

// build runs apply's pipeline: pin, fetch, plan, build, verify. gate, if
// set, runs between planning and the first write and can stop the build.
func (a *app) build(ctx context.Context, ff *fetchFlags, img string, noVerify bool, gate func(*compose.Plan) error) (*compose.Result, *compose.Plan, error) {
	p, err := a.prepare(ctx, ff, img)
	if err == nil && gate != nil {
		err = gate(p)
	}
	if err != nil {
		return nil, nil, err
	}
	disp := a.display("build")
	res, err := compose.Apply(ctx, p, compose.ApplyOptions{NoVerify: noVerify, Progress: disp.imageEvent})
	disp.close()
	return res, p, err
}

// prepare pins, fetches and plans: everything before the first write.
func (a *app) prepare(ctx context.Context, ff *fetchFlags, img string) (*compose.Plan, error) {
	m, l, err := a.loadKit()
	if err != nil {
		return nil, err
	}
	disp := a.display("fetch")
	f, err := a.fetcher(ff, disp.fetchEvent)
	if err != nil {
		return nil, err
	}
	if l, err = a.pin(ctx, m, l, f); err != nil {
		disp.close()
		return nil, err
	}
	srcs, err := compose.Sources(m, l)
	if err == nil {
		_, err = f.FetchAll(ctx, srcs)
	}
	disp.close()
	if err != nil {
		return nil, err
	}
	p, err := compose.MakePlan(ctx, m, l, f, img)
	if err != nil {
		return nil, err
	}
	if a.verbose && !a.json && !a.quiet {
		if err := printPlan(escaper{a.stderr}, p); err != nil {
			return nil, err
		}
	}
	for _, w := range p.Warnings {
		a.warn("%s", w)
	}
	return p, nil
}

// pin returns l, or when there is no lock resolves one and writes it, as
// a package manager writes its lock on first build.
func (a *app) pin(ctx context.Context, m *config.Manifest, l *config.Lock, f *fetch.Fetcher) (*config.Lock, error) {
	if l != nil {
		return l, nil
	}
	l, err := compose.ResolveLock(ctx, m, f)
	if err != nil {
		return nil, err
	}
	if err := config.WriteLock(lockPath(m), l); err != nil {
		return nil, err
	}
	a.info("wrote %s: commit it with the manifest", lockPath(m))
	return l, nil
}

// applyDevices writes the kit to devices: every device is checked against
// the planned size and confirmed before anything is built; the image is
// built (to --image, or a temporary file) and written to all at once.
func (a *app) applyDevices(ctx context.Context, ff *fetchFlags, df *deviceFlags, img string, noVerify bool) error {
	if img == "" {
		tmp, cleanup, err := scratchImage()
		if err != nil {
			return err
		}
		defer cleanup()
		img = tmp
	}
	var devs []device.Device
	_, _, err := a.build(ctx, ff, img, noVerify, func(p *compose.Plan) error {
		var err error
		if devs, err = checkDevices(df, p.Size); err != nil {
			return err
		}
		return a.confirm(devs, df)
	})
	if err != nil {
		return err
	}
	return a.writeDevices(ctx, img, devs, df, noVerify)
}
