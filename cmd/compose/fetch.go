package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/usbkit/compose/compose"
)

type fetchResult struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	Cached bool   `json:"cached"`
}

func newFetchCmd(a *app) *cobra.Command {
	var ff fetchFlags
	cmd := &cobra.Command{
		Use:   "fetch",
		Short: "Download and verify every ISO the lock file names into the cache",
		Long: `fetch downloads every ISO pinned in multiboot.lock into the content-addressed
cache, in parallel, resuming partial downloads, and verifies each against its
pinned digest. It needs a lock that matches the manifest ('compose lock').`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, l, err := a.needLock()
			if err != nil {
				return err
			}
			srcs, err := compose.Sources(m, l)
			if err != nil {
				return err
			}
			disp := a.display("fetch")
			f, err := a.fetcher(&ff, disp.fetchEvent)
			if err != nil {
				return err
			}
			res, err := f.FetchAll(cmd.Context(), srcs)
			disp.close()
			if err != nil {
				return err
			}
			out := make([]fetchResult, len(res))
			for i, r := range res {
				out[i] = fetchResult{Name: r.Source.Name, Path: r.Path, Cached: r.Cached}
			}
			return a.result(out, func(w io.Writer) error {
				for _, r := range out {
					how := "downloaded"
					if r.Cached {
						how = "cached"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\n", r.Name, how, r.Path)
				}
				return nil
			})
		},
	}
	ff.register(cmd)
	return cmd
}
