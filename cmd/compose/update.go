package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/usbkit/compose/compose"
	"github.com/usbkit/compose/compose/pin"
	"github.com/usbkit/compose/config"
)

// errUpdates is update --check's result when a pin would move: not a
// failure, so execute prints nothing for it.
var errUpdates = errors.New("updates are available")

func newUpdateCmd(a *app) *cobra.Command {
	var (
		ff            fetchFlags
		dryRun, check bool
	)
	cmd := &cobra.Command{
		Use:   "update [NAME...]",
		Args:  cobra.ArbitraryArgs,
		Short: "Move the lock's pins to the newest release each ISO's version: admits",
		Long: `update resolves every ISO (with NAMEs, only those) anew: a url with
{version} goes to the newest version its 'version:' constraint admits, read
from the checksum list's file names (its OpenPGP signature checked before
any name is trusted) or from the parent directory's index page; every
checksum list is read again. It shows each pin that moved (version, digest,
size) and writes the lock, so that 'git diff' of the lock is the review.
--dry-run writes nothing; --check writes nothing and exits 8 when a pin
would move, for scheduled CI. 'compose lock' never moves a version.`,
		RunE: func(cmd *cobra.Command, names []string) error {
			if ff.offline { // the kept copies would answer "up to date" from the last read
				return usageError{errors.New("update asks the vendors what is new: --offline cannot")}
			}
			if a.frozenOn() && !dryRun && !check {
				return frozenError{fmt.Errorf("compose update writes the lock, and frozen mode (--frozen or %s) refuses to; --check and --dry-run write nothing", frozenEnv)}
			}
			disp := a.display("update")
			defer disp.close()
			k, err := a.loadKit(&ff, disp)
			if err != nil {
				return err
			}
			res, err := k.Update(cmd.Context(), dryRun || check, names...)
			disp.close()
			if errors.Is(err, pin.ErrUnknownName) {
				return usageError{err}
			}
			if err != nil {
				return err
			}
			if err := a.result(res, func(w io.Writer) error { return printUpdate(w, res, dryRun || check) }); err != nil {
				return err
			}
			if check && len(res.Changes) > 0 {
				return errUpdates
			}
			return nil
		},
	}
	ff.register(cmd)
	cmd.Flags().Lookup("offline").Hidden = true
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what would change and write nothing")
	cmd.Flags().BoolVar(&check, "check", false, "write nothing; exit 8 when a pin would move (0: the lock is current)")
	return cmd
}

func printUpdate(w io.Writer, res *compose.UpdateResult, dry bool) error {
	state := "up to date"
	switch {
	case len(res.Changes) > 0 && dry:
		state = count(len(res.Changes), "update") + ", nothing written"
	case res.Written:
		state = "written, " + count(len(res.Changes), "update")
	}
	printf(w, "%s: %s\n", res.File, state)
	for _, c := range res.Changes {
		printChange(w, c)
	}
	return nil
}

// printChange shows one moved pin: "debian 12.8.0 → 12.9.0", then what
// changed with it.
func printChange(w io.Writer, c compose.PinChange) {
	from := c.From
	if from == nil {
		from = &config.LockedISO{}
	}
	switch {
	case c.From == nil:
		printf(w, "%s → %s (new in the lock)\n", c.Name, or(c.To.Version, "pinned"))
	case from.Version != c.To.Version:
		printf(w, "%s %s → %s\n", c.Name, or(from.Version, "(no version)"), or(c.To.Version, "(no version)"))
	default:
		printf(w, "%s %s (same version, another file)\n", c.Name, or(c.To.Version, "(no version)"))
	}
	if from.URL != c.To.URL {
		printf(w, "  url     %s → %s\n", or(from.URL, "-"), c.To.URL)
	}
	if from.Digest != c.To.Digest {
		printf(w, "  %-7s %s → %s\n", c.To.Algorithm, short(from.Digest), short(c.To.Digest))
	}
	printf(w, "  size    %s → %s (%d → %d bytes)\n", humanSize(from.Size), humanSize(c.To.Size), from.Size, c.To.Size)
}

func or(s, dflt string) string {
	if s == "" {
		return dflt
	}
	return s
}

// short is a digest's first 16 digits, as lock prints them.
func short(d string) string {
	if d == "" {
		return "-"
	}
	return d[:min(16, len(d))] + "…"
}
