package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/usbkit/compose/compose"
	"github.com/usbkit/compose/config"
	"github.com/usbkit/compose/fetch"
)

func newApplyCmd(a *app) *cobra.Command {
	var (
		ff       fetchFlags
		img      string
		noVerify bool
	)
	cmd := &cobra.Command{
		Use:   "apply --image FILE",
		Short: "Fetch, verify and build the bootable image",
		Long: `apply runs the whole pipeline: load and validate the manifest, pin the ISOs
(writing multiboot.lock when there is none), fetch and verify them, plan,
build the image with GRUB for every firmware target, and read every file back
to verify it. The image is written beside FILE under a temporary name and
renamed into place only when complete: a failure or Ctrl-C leaves no partial
file and an existing FILE untouched.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if img == "" {
				return usageError{errors.New("apply needs --image FILE")}
			}
			res, p, err := a.build(cmd.Context(), &ff, img, noVerify)
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
	cmd.Flags().BoolVar(&noVerify, "no-verify", false, "skip reading every file back from the finished image")
	return cmd
}

// build runs apply's pipeline: pin, fetch, plan, build, verify.
func (a *app) build(ctx context.Context, ff *fetchFlags, img string, noVerify bool) (*compose.Result, *compose.Plan, error) {
	m, l, err := a.loadKit()
	if err != nil {
		return nil, nil, err
	}
	disp := a.display("fetch")
	f, err := a.fetcher(ff, disp.fetchEvent)
	if err != nil {
		return nil, nil, err
	}
	if l, err = a.pin(ctx, m, l, f); err != nil {
		disp.close()
		return nil, nil, err
	}
	srcs, err := compose.Sources(m, l)
	if err == nil {
		_, err = f.FetchAll(ctx, srcs)
	}
	disp.close()
	if err != nil {
		return nil, nil, err
	}
	p, err := compose.MakePlan(ctx, m, l, f, img)
	if err != nil {
		return nil, nil, err
	}
	for _, w := range p.Warnings {
		a.warn("%s", w)
	}
	disp = a.display("build")
	res, err := compose.Apply(ctx, p, compose.ApplyOptions{NoVerify: noVerify, Progress: disp.imageEvent})
	disp.close()
	return res, p, err
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
