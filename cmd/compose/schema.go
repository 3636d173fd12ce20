package main

import (
	_ "embed"

	"github.com/spf13/cobra"
	"github.com/usbkit/compose/config"
)

// outputSchema documents every verb's --json output (generated from the
// result types by TestJSONSchemaFile).
//
//go:embed output.schema.json
var outputSchema []byte

func newSchemaCmd(a *app) *cobra.Command {
	var output bool
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of multiboot.yaml (for editors' YAML language servers), or with --output of compose's --json output",
		RunE: func(*cobra.Command, []string) error {
			s := config.Schema()
			if output {
				s = outputSchema
			}
			_, err := a.stdout.Write(s)
			return err
		},
	}
	cmd.Flags().BoolVar(&output, "output", false, "the JSON Schema of what each verb prints with --json, one entry per verb under $defs")
	return cmd
}
