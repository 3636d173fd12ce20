//go:build !mangen

package main

import "github.com/spf13/cobra"

// addExtraCommands adds nothing to the shipped binary; a build with -tags
// mangen (.ci/release) adds the hidden man-page generator (man.go).
func addExtraCommands(*cobra.Command, *app) {}
