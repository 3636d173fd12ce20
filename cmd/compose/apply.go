package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/usbkit/compose/compose"
	"github.com/usbkit/compose/compose/converge"
)

func newApplyCmd(a *app) *cobra.Command {
	var (
		ff   fetchFlags
		df   deviceFlags
		opts compose.ApplyOptions
	)
	cmd := &cobra.Command{
		Use:   "apply (--image FILE | --device DEV...)",
		Short: "Fetch, verify and build the bootable image, and write it to USB devices",
		Long: `apply runs the whole pipeline: load and validate the manifest, pin the ISOs
(writing the manifest's lock when there is none), fetch and verify them, plan,
build the image with GRUB for every firmware target, and read every file back
to verify it. The image is written beside FILE under a temporary name and
renamed into place only when complete: a failure or Ctrl-C leaves no partial
file and an existing FILE untouched. FILE must be a new path or a regular
file that is a disk image (or blank: empty, sparse or zeroed) and not the manifest, its lock, a file
the manifest names (an ISO, a key, a certificate), in the cache, the compose
program or under /dev, /proc or /sys. It is opened once, never through a
symbolic link, and locked for the whole apply: a second apply of the same
FILE is refused, naming the first.

An existing FILE that holds a kit is changed in place instead: only the ISOs,
menu and boot files that differ are written (what 'compose plan --image FILE'
shows), new files first into free space, then the menu, the state record and
every rename and removal in one final write, so that an interruption at any
point leaves the old kit or the new one, never a mix; run apply again to
finish. When the ESP has no room for new ISOs beside the ones they replace
(a size: auto kit), the change is made in two such steps: first a menu and
state record without the replaced and removed ISOs, deleting them, then the
new ISOs and the final menu. ISOs on the ext4 data partition are changed
in place too, through its journal: new files under new paths first, then
the menu, then the old files deleted. What was written is read back with
the page cache bypassed. A FILE that is not a compose kit, was changed
outside compose, or cannot take the change (no room even in two steps,
storage mode or BIOS boot partition changed, a change to a data partition
an older compose made without a journal) is refused; --recreate rewrites it
in full. The kit's ISOs are checked only by their size
and a sample of their first and last 64 KiB; --verify then reads the whole
kit as 'compose verify' does, after the change or none, and fails (exit 4)
when a file is damaged.

With --device (repeatable, for several sticks at once) the kit is written to
USB/MMC devices: each is checked before anything is built (not mounted, not
the system disk, not swap or an LVM/RAID member, removable, large enough, at
most 1 TiB unless --force), confirmed on the terminal (or --yes), opened
exclusively, written skipping unallocated ranges, flushed, and read back
bypassing the page cache. One failing stick does not stop the others.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Image == "" && len(opts.Devices) == 0 {
				return usageError{errors.New("apply needs --image FILE or --device DEV")}
			}
			if opts.Verify && opts.NoVerify {
				return usageError{errors.New("--verify and --no-verify contradict each other")}
			}
			if opts.Image == "-" {
				return usageError{errStdoutImage}
			}
			if len(opts.Devices) > 0 {
				if err := linuxOnly("apply --device"); err != nil {
					return err
				}
			}
			disp := a.display("fetch")
			defer disp.close()
			k, err := a.loadKit(&ff, disp)
			if err != nil {
				return err
			}
			opts.Planned, opts.Locked, opts.Progress = a.planned, a.locked, disp.event
			if len(opts.Devices) > 0 {
				opts.Confirm = func(s []compose.Stick) error { return a.confirm(s, df.yes) }
			}
			res, err := k.Apply(cmd.Context(), opts)
			disp.close()
			for _, name := range refetched(res) {
				a.warn("%s: its cache entry no longer matched the lock; it was fetched again, replaced and placed", name)
			}
			if res != nil && len(res.Devices) > 0 {
				if perr := a.result(viewDevices(res.Devices), func(w io.Writer) error { return printDeviceResults(w, res.Devices) }); perr != nil {
					return perr
				}
				return err
			}
			if err != nil {
				return err
			}
			for _, warn := range res.Image.Warnings {
				a.warn("%s: %s", res.Image.Image, warn)
			}
			return a.result(viewResult(res.Image), func(w io.Writer) error { return printApplied(w, res) })
		},
	}
	ff.register(cmd)
	onceVar(cmd.Flags(), &opts.Image, "image", "", "", "write the kit to this image `file`")
	cmd.Flags().BoolVar(&opts.NoVerify, "no-verify", false, "skip reading back the finished image or devices")
	cmd.Flags().BoolVar(&opts.Verify, "verify", false, "after an in-place change or none, read the whole kit back as 'compose verify' does")
	cmd.Flags().StringArrayVar(&opts.Devices, "device", nil, "write the kit to this block `device` (repeatable)")
	cmd.Flags().BoolVar(&df.yes, "yes", false, "do not ask before erasing the devices (needed without a terminal)")
	cmd.Flags().BoolVar(&opts.Recreate, "recreate", false, "rewrite an existing image in full instead of changing it in place")
	cmd.Flags().StringArrayVar(&opts.DiscardPersistence, "discard-persistence", nil, "let apply discard this `entry`'s persistence partition and its data (removed or resized; repeatable)")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "allow a device that is not removable or is larger than 1 TiB")
	return cmd
}

// errStdoutImage refuses --image -: an image is built with random access,
// verified and renamed into place, none of which a pipe allows, and "-"
// as a file name is a typo more often than a wish.
var errStdoutImage = errors.New("--image -: compose cannot write an image to standard output; name a file (./- for a file called -)")

func refetched(res *compose.Applied) []string {
	if res == nil {
		return nil
	}
	return res.Refetched
}

func printApplied(w io.Writer, res *compose.Applied) error {
	r := res.Image
	var err error
	switch {
	case !r.Incremental:
		_, err = printf(w, "wrote %s (%s, %s, %s written)\n", r.Image, humanSize(r.Size), count(len(res.Plan.Entries), "entry"), humanSize(r.BytesWritten))
	case len(r.Changes) == 0:
		_, err = printf(w, "no changes: %s already holds this kit %s\n", r.Image, checkedBy(r.ISOCheck, r.Verification))
	default:
		_, err = printf(w, "updated %s in place%s: %s, %s of files, %s written\n", r.Image, inSteps(r.Steps), count(len(r.Changes), "change"), humanSize(contentBytes(r.Changes)), humanSize(r.BytesWritten))
		if err == nil && r.Verification != nil {
			_, err = printf(w, "every file of %s read back whole and verified: %s\n", r.Image, humanSize(r.Verification.BytesRead))
		}
	}
	return err
}

// resultView is apply's result as printed: content_bytes is the number
// plan's diff gives under the same name (file content written), beside
// bytes_written (everything written, file-system metadata included).
type resultView struct {
	*compose.Result
	ContentBytes int64 `json:"content_bytes,omitempty"`
}

func viewResult(r *compose.Result) resultView {
	return resultView{Result: r, ContentBytes: contentBytes(r.Changes)}
}

// deviceView is one device's result as printed, with content_bytes as
// for an image.
type deviceView struct {
	compose.DeviceResult
	ContentBytes int64 `json:"content_bytes,omitempty"`
}

func viewDevices(rs []compose.DeviceResult) []deviceView {
	out := make([]deviceView, len(rs))
	for i, r := range rs {
		out[i] = deviceView{DeviceResult: r, ContentBytes: contentBytes(r.Changes)}
	}
	return out
}

// contentBytes is the file content a change writes: what plan's diff
// counts (converge.Diff.Write).
func contentBytes(cs []converge.Change) int64 {
	var n int64
	for _, c := range cs {
		if c.Op != "-" {
			n += c.Size
		}
	}
	return n
}

// checkedBy says how much of an unchanged kit was read: a sample of each
// ISO, or with apply --verify, everything.
func checkedBy(check string, v *converge.Verification) string {
	if check == converge.ISOCheckFull && v != nil {
		return fmt.Sprintf("(every file read back whole and verified: %s)", humanSize(v.BytesRead))
	}
	return sampledNote
}

// sampledNote is what the no-op of plan and apply checked.
const sampledNote = "(ISOs checked by size and a sample of their first and last 64 KiB; run compose verify to read every byte)"

// inSteps says when an in-place apply took two commits.
func inSteps(n int) string {
	if n > 1 {
		return fmt.Sprintf(" in %d steps", n)
	}
	return ""
}
