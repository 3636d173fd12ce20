package device

import "path/filepath"

// Root holds the directories List reads. The zero Root means the host's;
// tests point it at a fixture tree.
type Root struct {
	Sys  string // sysfs, "/sys"
	Proc string // procfs, "/proc" (self/mountinfo and swaps are read)
	Dev  string // device nodes, "/dev"
	Udev string // udev database, "/run/udev/data" (may be missing)
}

// HostRoot is the running system's Root.
func HostRoot() Root {
	return Root{Sys: "/sys", Proc: "/proc", Dev: "/dev", Udev: "/run/udev/data"}
}

func (r Root) orHost() Root {
	h := HostRoot()
	if r.Sys == "" {
		r.Sys = h.Sys
	}
	if r.Proc == "" {
		r.Proc = h.Proc
	}
	if r.Dev == "" {
		r.Dev = h.Dev
	}
	if r.Udev == "" {
		r.Udev = h.Udev
	}
	return r
}

func (r Root) sys(parts ...string) string {
	return filepath.Join(append([]string{r.Sys}, parts...)...)
}

func (r Root) devPath(name string) string { return filepath.Join(r.Dev, name) }
