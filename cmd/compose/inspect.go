package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/usbkit/compose/compose/isoimage"
	"github.com/usbkit/compose/config"
)

func newInspectCmd(a *app) *cobra.Command {
	var persistence, name string
	cmd := &cobra.Command{
		Use:   "inspect FILE.iso",
		Short: "Explain how compose would boot an ISO: family, label, kernel, initrd, arguments",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var (
				r   *isoimage.Inspection
				err error
			)
			if persistence == "" && name == "" {
				r, err = isoimage.Inspect(cmd.Context(), args[0])
			} else {
				size, entry, ferr := persistenceFlags(persistence, name, args[0])
				if ferr != nil {
					return usageError{ferr}
				}
				r, err = isoimage.InspectPersistent(cmd.Context(), args[0], entry, size)
			}
			if err != nil {
				return err
			}
			for _, w := range r.Warnings {
				a.warn("%s", w)
			}
			return a.result(r, func(w io.Writer) error {
				printf(w, "%s\n", args[0])
				for _, line := range r.Boot.Lines() {
					printf(w, "  %s\n", line)
				}
				if sb := r.SecureBoot; sb != nil {
					printf(w, "  secure boot: %s\n", secureBootLine(sb.Boots, sb.Signer, sb.Remedy))
				}
				for _, line := range persistenceLines(r.Persistence) {
					printf(w, "  %s\n", line)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&persistence, "persistence", "", "show the storage and arguments `persistence: SIZE` gives this ISO's entry")
	cmd.Flags().StringVar(&name, "name", "", "the entry's manifest `name`, which its persistence label derives from (default: the file's name without .iso)")
	return cmd
}

// persistenceFlags reads --persistence and --name; the name defaults to the ISO file's
// base name when that is a valid manifest name.
func persistenceFlags(size, name, file string) (int64, string, error) {
	if size == "" {
		return 0, "", fmt.Errorf("--name needs --persistence SIZE")
	}
	n, err := config.ParsePersistence(size)
	if err != nil {
		return 0, "", fmt.Errorf("--persistence: %w", err)
	}
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(file), ".iso")
		if !config.ValidName(name) {
			return 0, "", fmt.Errorf("--persistence: %q is not a manifest name; give the entry's name with --name (its persistence label derives from it)", name)
		}
	}
	if !config.ValidName(name) {
		return 0, "", fmt.Errorf("--name: %q is not a manifest name: use a-z, 0-9 and -, starting with a letter or digit, at most 63 characters", name)
	}
	return n, name, nil
}

func persistenceLines(p *isoimage.PersistenceReport) []string {
	if p == nil {
		return nil
	}
	storage := fmt.Sprintf("persistence: entry %s: %s %s partition, filesystem label %s, GPT name %s",
		p.Entry, humanSize(p.Size), p.Filesystem, p.Label, p.PartitionName)
	if len(p.Files) > 0 {
		storage += ", holding " + strings.Join(p.Files, " ")
	}
	if len(p.Dirs) > 0 {
		storage += ", directories " + strings.Join(p.Dirs, " ")
	}
	return []string{storage, "persistence arguments: " + strings.Join(p.Args, " ")}
}

func secureBootLine(boots bool, signer, remedy string) string {
	if signer == "" {
		signer = "unsigned"
	} else {
		signer = "signed by " + signer
	}
	if boots {
		return signer + ", boots with Debian's shim"
	}
	return signer + ", will not boot with Secure Boot on: " + remedy
}
