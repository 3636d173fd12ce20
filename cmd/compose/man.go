//go:build mangen

package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// addExtraCommands adds "compose man DIR", which writes one man page per
// verb from the cobra tree. Only .ci/release builds it (-tags mangen), so
// the man-page renderer stays out of the shipped binary.
func addExtraCommands(root *cobra.Command, _ *app) {
	var date string
	cmd := &cobra.Command{
		Use:    "man DIR",
		Short:  "Write the man pages (section 1) into DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			day, err := time.Parse(time.DateOnly, date)
			if err != nil {
				return usageError{fmt.Errorf("--date: %w", err)}
			}
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			hdr := &doc.GenManHeader{Section: "1", Source: "compose " + buildVersion().Version, Manual: "compose manual", Date: &day}
			root.DisableAutoGenTag = true
			if err := doc.GenManTree(root, hdr, args[0]); err != nil {
				return fmt.Errorf("writing man pages to %s: %w", args[0], err)
			}
			return finishManPages(args[0])
		},
	}
	// A given date (the release commit's) keeps the pages byte-identical
	// between builds; cobra would print today's.
	cmd.Flags().StringVar(&date, "date", "", "page `date` YYYY-MM-DD (required)")
	root.AddCommand(cmd)
}
