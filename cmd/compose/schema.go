package main

import (
	"github.com/spf13/cobra"
	"github.com/usbkit/compose/config"
)

func newSchemaCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of multiboot.yaml (for editors' YAML language servers)",
		RunE: func(*cobra.Command, []string) error {
			_, err := a.stdout.Write(config.Schema())
			return err
		},
	}
}
