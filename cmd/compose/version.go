package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is stamped by a release build (.ci/release:
// -ldflags "-X main.version=v1.2.3"); a plain go build or go install leaves
// it empty and the module's build info is reported instead.
var version string

type versionInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Time     string `json:"time,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
}

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the release version, or the module version and VCS revision, compose was built from",
		RunE: func(*cobra.Command, []string) error {
			v := buildVersion()
			return a.result(v, func(w io.Writer) error {
				_, err := fmt.Fprintln(w, v.String())
				return err
			})
		},
	}
}

func buildVersion() versionInfo {
	v := versionInfo{Version: "(unknown)", Go: runtime.Version()}
	if version != "" {
		v.Version = version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.Version = bi.Main.Version
	if version != "" {
		v.Version = version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

func (v versionInfo) String() string {
	s := "compose " + v.Version
	switch {
	case v.Revision == "":
		s += " (no VCS revision recorded)"
	case v.Modified:
		s += " (" + v.Revision + ", modified)"
	default:
		s += " (" + v.Revision + ")"
	}
	return s + " " + v.Go
}
