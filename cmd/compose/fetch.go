package main

import (
	"io"

	"github.com/spf13/cobra"
)

func newFetchCmd(a *app) *cobra.Command {
	ff := fetchFlags{rehash: true} // fetch vouches for the cache: cached files are hashed again
	cmd := &cobra.Command{
		Use:   "fetch",
		Short: "Download and verify every ISO the lock file names into the cache",
		Long: `fetch downloads every ISO pinned in the manifest's lock into the
content-addressed cache, in parallel, resuming partial downloads, and
verifies each against its pinned digest. It needs a lock that matches the
manifest ('compose lock'); for a 'checksum: file:' ISO, a lock whose digest
is not what the vendor's list says now is refused before anything is
downloaded, as plan and apply refuse it.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			disp := a.display("fetch")
			defer disp.close()
			k, err := a.loadKit(&ff, disp)
			if err != nil {
				return err
			}
			out, err := k.Fetch(cmd.Context())
			disp.close()
			if err != nil {
				return err
			}
			for _, r := range out {
				if r.Warning != "" {
					a.warn("%s", r.Warning)
				}
			}
			return a.result(out, func(w io.Writer) error {
				for _, r := range out {
					how := "downloaded"
					if r.Cached {
						how = "cached"
					}
					printf(w, "%s\t%s\t%s\n", r.Name, how, r.Path)
				}
				return nil
			})
		},
	}
	ff.register(cmd)
	return cmd
}
