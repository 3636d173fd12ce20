package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/usbkit/compose/compose/boottest"
	"github.com/usbkit/compose/compose/device"
	"github.com/usbkit/compose/config"
)

// addCompletions teaches the shell completion (compose completion bash…)
// the values of the flags that take names: firmware, accelerators, the
// manifest's entries, disks, and manifests for -f.
func addCompletions(root *cobra.Command, a *app) {
	_ = root.RegisterFlagCompletionFunc("file", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
	})
	values := map[string]cobra.CompletionFunc{
		"firmware": fixed(firmwareNames()...),
		"accel":    fixed(string(boottest.AccelAuto)+"\tKVM where it passes its probe, else TCG", string(boottest.AccelKVM)+"\thardware virtualisation", string(boottest.AccelTCG)+"\tQEMU's emulator"),
		"entry":    a.completeEntries,
		"device":   completeDevices,
	}
	for _, c := range root.Commands() {
		for name, fn := range values {
			if c.Flags().Lookup(name) != nil {
				_ = c.RegisterFlagCompletionFunc(name, fn)
			}
		}
	}
}

func fixed(words ...string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return words, cobra.ShellCompDirectiveNoFileComp
	}
}

func firmwareNames() []string {
	out := make([]string, len(boottest.AllVariants))
	for i, f := range boottest.AllVariants {
		out[i] = string(f)
	}
	return out
}

// completeEntries offers the ISO names of the manifest -f names (given
// before the flag being completed).
func (a *app) completeEntries(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	if a.file == "-" {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	m, err := config.Load(a.file)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
	}
	var names []string
	for _, iso := range m.ISOs {
		names = append(names, iso.Name+"\t"+oneLine(iso.Title))
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// completeDevices offers the disks 'compose devices' lists, each with its
// size, model and compose's verdict; refused ones last.
func completeDevices(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	devs, err := device.List(device.HostRoot())
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
	}
	var ok, refused []string
	for _, d := range devs {
		about := humanSize(d.Size)
		if model := oneLine(d.Vendor + " " + d.Model); model != "" {
			about += " " + model
		}
		line := fmt.Sprintf("%s\t%s, %s: %s", d.Path, about, d.Bus, verdict(d))
		if len(d.Refusals) == 0 {
			ok = append(ok, line)
		} else {
			refused = append(refused, line)
		}
	}
	return append(ok, refused...), cobra.ShellCompDirectiveNoFileComp
}

// oneLine keeps a description on its line: the completion protocol is
// one candidate a line, with a tab before the description.
func oneLine(s string) string {
	return strings.Join(strings.Fields(escapeText(s)), " ")
}
