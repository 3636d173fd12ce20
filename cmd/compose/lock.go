package main

import (
	"errors"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/usbkit/compose/compose/pin"
)

func newLockCmd(a *app) *cobra.Command {
	var ff fetchFlags
	cmd := &cobra.Command{
		Use:   "lock [NAME...]",
		Args:  cobra.ArbitraryArgs,
		Short: "Pin every ISO to URL, algorithm, digest and size in the manifest's lock",
		Long: `lock resolves every ISO of the manifest: inline digests as written, checksum
lists (and their OpenPGP signatures) as the vendor publishes them. It
downloads nothing it need not: the size is the cached file's, a local
file's, or what the server answers to a HEAD request, and it is checked
again when the ISO is fetched; only an ISO whose server does not say its
size is downloaded and verified to learn it. With NAMEs, only those entries
are pinned anew; the others keep their entries while these still match the
manifest. The lock is written beside the manifest and named after it
(multiboot.yaml → multiboot.lock, rescue.yaml → rescue.lock), sorted and
stable so that 'git diff' shows exactly what changed. A lock written for
another manifest is refused, never overwritten.`,
		RunE: func(cmd *cobra.Command, names []string) error {
			disp := a.display("lock")
			defer disp.close()
			k, err := a.loadKit(&ff, disp)
			if err != nil {
				return err
			}
			res, err := k.Lock(cmd.Context(), names...)
			disp.close()
			if errors.Is(err, pin.ErrUnknownName) {
				return usageError{err}
			}
			if err != nil {
				return err
			}
			return a.result(res, func(w io.Writer) error {
				state := "up to date"
				if res.Changed {
					state = "written"
				}
				printf(w, "%s: %s\n", res.File, state)
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				for _, e := range res.ISOs {
					printf(tw, "  %s\t%s\t%s:%s…\n", e.Name, humanSize(e.Size), e.Algorithm, e.Digest[:16])
				}
				return tw.Flush()
			})
		},
	}
	ff.register(cmd)
	return cmd
}
