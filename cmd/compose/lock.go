package main

import (
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newLockCmd(a *app) *cobra.Command {
	var ff fetchFlags
	cmd := &cobra.Command{
		Use:   "lock",
		Short: "Pin every ISO to URL, algorithm, digest and size in the manifest's lock",
		Long: `lock resolves every ISO of the manifest: inline digests as written, checksum
lists (and their OpenPGP signatures) as the vendor publishes them. It then
downloads each ISO into the cache and verifies it, so the lock records the
size of real, verified bytes. The lock is written beside the manifest and
named after it (multiboot.yaml → multiboot.lock, rescue.yaml → rescue.lock),
sorted and stable so that 'git diff' shows exactly what changed. A lock
written for another manifest is refused, never overwritten.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			disp := a.display("lock")
			defer disp.close()
			k, err := a.loadKit(&ff, disp)
			if err != nil {
				return err
			}
			res, err := k.Lock(cmd.Context())
			disp.close()
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
