package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	"github.com/usbkit/compose/cmd/compose/internal/licenses"
)

// Stamped by a release build (.ci/release: -ldflags "-X main.version=v1.2.3
// -X main.commit=… -X main.commitTime=… -X main.modified=…"). Release builds
// use -buildvcs=false (and go stamps nothing in a linked git worktree, Go
// issue 58218), so the commit comes from git there, not from go; a plain
// go build in a clone leaves these empty and the build info is read instead.
var version, commit, commitTime, modified string

type versionInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Time     string `json:"time,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
}

func newVersionCmd(a *app) *cobra.Command {
	var withLicenses bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the release version, or the module version and VCS revision, compose was built from",
		Long: `Print the version compose was built from: the release version and the
commit (with its time, and "modified" when the work tree had changes) that
a release build was stamped with, else the module version and the VCS
revision go recorded.

--licenses prints compose's licence, the third-party notice (the boot
binaries compose writes onto sticks, their licences and where their source
is, and every Go module compiled in) and the full text of every licence
it names.`,
		RunE: func(*cobra.Command, []string) error {
			if withLicenses {
				return printLicenses(a)
			}
			v := buildVersion()
			return a.result(v, func(w io.Writer) error {
				_, err := fmt.Fprintln(w, v.String())
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&withLicenses, "licenses", false, "print the licence, the third-party notice and every licence text")
	return cmd
}

func printLicenses(a *app) error {
	all := licenses.All()
	return a.result(struct {
		Licenses []licenses.File `json:"licenses"`
	}{all}, func(w io.Writer) error {
		for i, f := range all {
			if i > 0 {
				if _, err := fmt.Fprintf(w, "\n==> %s <==\n\n", f.Name); err != nil {
					return err
				}
			}
			if _, err := io.WriteString(w, f.Text); err != nil {
				return err
			}
		}
		return nil
	})
}

func buildVersion() versionInfo {
	v := versionInfo{Version: "(unknown)", Go: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v.Version = bi.Main.Version
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
	}
	if version != "" {
		v.Version = version
	}
	if commit != "" {
		v.Revision, v.Time, v.Modified = commit, commitTime, modified == "true"
	}
	return v
}

func (v versionInfo) String() string {
	s := "compose " + v.Version
	if v.Revision == "" {
		s += " (no VCS revision recorded)"
	} else {
		s += " (" + v.Revision
		if v.Time != "" {
			s += ", " + v.Time
		}
		if v.Modified {
			s += ", modified"
		}
		s += ")"
	}
	return s + " " + v.Go
}
