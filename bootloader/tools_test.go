package bootloader

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	diskfs "github.com/diskfs/go-diskfs"
)

// needTool skips when an external tool is missing, except under CI=true where CI installs
// every tool and a skip would hide a broken setup.
func needTool(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			missing(t, "tool %s not installed", n)
		}
	}
}

func needFile(t *testing.T, path, pkg string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		missing(t, "%s missing (Debian package %s)", path, pkg)
	}
}

func missing(t *testing.T, format string, a ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format+" (CI=true: required)", a...)
	}
	t.Skipf(format, a...)
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// openISO opens an ISO the way compose does: go-diskfs, read-only, as an fs.FS.
func openISO(t *testing.T, path string) (fs.FS, string) {
	t.Helper()
	d, err := diskfs.Open(path, diskfs.WithOpenMode(diskfs.ReadOnly))
	if err != nil {
		t.Fatalf("opening %s: %v", path, err)
	}
	t.Cleanup(func() { d.Close() })
	f, err := d.GetFilesystem(0)
	if err != nil {
		t.Fatalf("iso9660 in %s: %v", path, err)
	}
	fsys, ok := f.(fs.FS)
	if !ok {
		t.Fatalf("go-diskfs filesystem is not an fs.FS")
	}
	return fsys, f.Label()
}

// testKernel finds a Debian-signed x86_64 kernel: COMPOSE_TEST_KERNEL or /boot/vmlinuz-*.
// CI sets COMPOSE_TEST_KERNEL to linux-image-cloud-amd64's vmlinuz, unpacked with dpkg -x
// rather than installed: an installed kernel's /boot/config-* would hide a boot fixture
// that needs it.
func testKernel(t *testing.T) string {
	t.Helper()
	if k := os.Getenv("COMPOSE_TEST_KERNEL"); k != "" {
		return k
	}
	m, _ := filepath.Glob("/boot/vmlinuz-*")
	if len(m) == 0 {
		missing(t, "no kernel in /boot (Debian package linux-image-cloud-amd64) and COMPOSE_TEST_KERNEL unset")
	}
	return m[len(m)-1]
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
