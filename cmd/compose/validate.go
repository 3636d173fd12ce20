package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/usbkit/compose/config"
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
	return &cobra.Command{
		Use:   "validate",
		Short: "Check a manifest (and its lock file, if any) and report every problem",
		Long: `validate loads the manifest strictly and reports every problem at once as
FILE:LINE:COL: message. A multiboot.lock beside the manifest is checked too;
one that no longer matches the manifest is a warning (run 'compose lock').`,
		RunE: func(*cobra.Command, []string) error {
			m, err := config.Load(a.file)
			if err != nil {
				return err
			}
			res := validateResult{File: m.File, Valid: true, Label: m.Label}
			for _, f := range m.Firmware {
				res.Firmware = append(res.Firmware, string(f))
			}
			for _, iso := range m.ISOs {
				res.ISOs = append(res.ISOs, iso.Name)
			}
			if res.Lock, err = checkLock(a, m); err != nil {
				return err
			}
			return a.result(res, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "%s: valid: %d ISOs (%s), firmware %s, label %s\n",
					res.File, len(res.ISOs), strings.Join(res.ISOs, ", "),
					strings.Join(res.Firmware, ", "), res.Label)
				return err
			})
		},
	}
}

// lockPath is where the lock of manifest m lives: beside it.
func lockPath(m *config.Manifest) string {
	return filepath.Join(m.Dir, config.LockName)
}

// checkLock validates the lock beside m, if there is one, and warns when it
// has drifted from the manifest. An invalid lock is an error.
func checkLock(a *app, m *config.Manifest) (string, error) {
	l, err := config.LoadLock(lockPath(m))
	if errors.Is(err, fs.ErrNotExist) {
		return "absent", nil
	}
	if err != nil {
		return "", err
	}
	if err := l.Check(m); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			a.warn("%s", line)
		}
		a.hint("run 'compose lock' to update %s", config.LockName)
		return "stale", nil
	}
	return "current", nil
}
