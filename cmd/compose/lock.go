package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/usbkit/compose/compose"
	"github.com/usbkit/compose/config"
)

type lockResult struct {
	File    string             `json:"file"`
	Changed bool               `json:"changed"`
	ISOs    []config.LockedISO `json:"isos"`
}

func newLockCmd(a *app) *cobra.Command {
	var ff fetchFlags
	cmd := &cobra.Command{
		Use:   "lock",
		Short: "Pin every ISO to URL, algorithm, digest and size in multiboot.lock",
		Long: `lock resolves every ISO of the manifest: inline digests as written, checksum
lists (and their OpenPGP signatures) as the vendor publishes them. It then
downloads each ISO into the cache and verifies it, so the lock records the
size of real, verified bytes. multiboot.lock is written beside the manifest,
sorted and stable so that 'git diff' shows exactly what changed.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := config.Load(a.file)
			if err != nil {
				return err
			}
			disp := a.display("lock")
			f, err := a.fetcher(&ff, disp.fetchEvent)
			if err != nil {
				return err
			}
			l, err := compose.ResolveLock(cmd.Context(), m, f)
			disp.close()
			if err != nil {
				return err
			}
			return a.writeLock(m, l)
		},
	}
	ff.register(cmd)
	return cmd
}

// writeLock writes l beside m unless it is byte for byte what is there.
func (a *app) writeLock(m *config.Manifest, l *config.Lock) error {
	path := lockPath(m)
	res := lockResult{File: path, ISOs: l.ISOs}
	old, _ := os.ReadFile(path)
	if !bytes.Equal(old, l.Marshal()) {
		if err := config.WriteLock(path, l); err != nil {
			return err
		}
		res.Changed = true
	}
	return a.result(res, func(w io.Writer) error {
		state := "up to date"
		if res.Changed {
			state = "written"
		}
		fmt.Fprintf(w, "%s: %s\n", path, state)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, e := range l.ISOs {
			fmt.Fprintf(tw, "  %s\t%s\t%s:%s…\n", e.Name, humanSize(e.Size), e.Algorithm, e.Digest[:16])
		}
		return tw.Flush()
	})
}
