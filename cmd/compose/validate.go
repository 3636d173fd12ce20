package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/usbkit/compose/compose"
	"github.com/usbkit/compose/compose/pin"
)

type validateResult struct {
	File     string   `json:"file"`
	Valid    bool     `json:"valid"`
	Label    string   `json:"label"`
	Firmware []string `json:"firmware"`
	ISOs     []string `json:"isos"`
	Lock     string   `json:"lock"` // "absent", "current" or "stale"
}

func newValidateCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check a manifest (and its lock file, if any) and report every problem",
		Long: `validate loads the manifest strictly and reports every problem at once as
FILE:LINE:COL: message. The manifest's lock (multiboot.yaml → multiboot.lock)
is checked too; one that no longer matches the manifest is a warning (run
'compose lock'), one written for another manifest an error. In frozen mode (--frozen or
COMPOSE_FROZEN=1, for CI) a lock that is missing or no longer matches is an
error (exit 3).`,
		RunE: func(*cobra.Command, []string) error {
			k, err := compose.Load(a.file, compose.Options{})
			if err != nil {
				return err
			}
			m := k.Manifest()
			if err := pin.CheckPaths(m); err != nil { // lock and apply refuse it
				for _, line := range strings.Split(err.Error(), "\n") {
					a.warn("%s", line)
				}
			}
			res := validateResult{File: m.File, Valid: true, Label: m.Label}
			for _, f := range m.Firmware {
				res.Firmware = append(res.Firmware, string(f))
			}
			for _, iso := range m.ISOs {
				res.ISOs = append(res.ISOs, iso.Name)
			}
			status, err := k.LockStatus()
			if status == "" {
				return err
			}
			if ferr := a.checkFrozen(k); ferr != nil {
				return ferr
			}
			if status == compose.LockStale {
				for _, line := range strings.Split(err.Error(), "\n") {
					a.warn("%s", line)
				}
				a.hint("run 'compose lock' to update %s", filepath.Base(k.LockPath()))
			}
			res.Lock = string(status)
			return a.result(res, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "%s: valid: %s (%s), firmware %s, label %s\n",
					res.File, count(len(res.ISOs), "ISO"), strings.Join(res.ISOs, ", "),
					strings.Join(res.Firmware, ", "), res.Label)
				return err
			})
		},
	}
	return cmd
}
