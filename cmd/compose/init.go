package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/spf13/cobra"
	"github.com/usbkit/compose/config"
	"github.com/usbkit/compose/config/atomicfile"
)

func newInitCmd(a *app) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write a commented starter multiboot.yaml",
		Long: `init writes a commented starter manifest to the --file path (default
./multiboot.yaml). It refuses to overwrite an existing file unless --force.`,
		RunE: func(*cobra.Command, []string) error {
			if a.file == "-" {
				return usageError{errors.New("init needs a file name, not -")}
			}
			if err := writeNew(a.file, config.Starter(), force); err != nil {
				return err
			}
			return a.result(initResult{File: a.file}, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "wrote %s\n", a.file)
				a.hint("edit it, then run 'compose validate'")
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "overwrite an existing file")
	return cmd
}

// initResult is init's --json result.
type initResult struct {
	File string `json:"file"` // the manifest written
}

// errExists is returned when init would overwrite a file.
var errExists = errors.New("already exists")

// writeNew writes data to path atomically (config/atomicfile): a crash
// leaves nothing or the whole file, 0644 when new. Without force an
// existing file, even one that appears meanwhile, is left as it was.
func writeNew(path string, data []byte, force bool) error {
	if _, err := os.Lstat(path); err == nil && !force {
		return fmt.Errorf("%s %w (use --force to overwrite)", path, errExists)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if force {
		return atomicfile.Write(path, data)
	}
	if err := atomicfile.Create(path, data); errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s %w (use --force to overwrite)", path, errExists)
	} else if err != nil {
		return err
	}
	return nil
}
