package bootloader

import (
	"bytes"
	"compress/gzip"
	"fmt"
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

// cpio newc archive writer, enough for a busybox initramfs (files, dirs, symlinks and the
// /dev/console node, which needs no root when it lives only inside the archive).
type cpioW struct {
	bytes.Buffer
	ino int
}

func (c *cpioW) add(name string, mode uint32, rdevMajor, rdevMinor int, data []byte) {
	c.ino++
	fmt.Fprintf(&c.Buffer, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdevMajor, rdevMinor, len(name)+1, 0)
	c.WriteString(name + "\x00")
	c.pad()
	c.Write(data)
	c.pad()
}

func (c *cpioW) pad() {
	for c.Len()%4 != 0 {
		c.WriteByte(0)
	}
}

// busyboxInitramfs: /init prints a marker and the kernel command line, then powers off.
func busyboxInitramfs(t *testing.T, name, busybox string) []byte {
	t.Helper()
	bb, err := os.ReadFile(busybox)
	if err != nil {
		missing(t, "%s missing (Debian package busybox-static)", busybox)
	}
	var c cpioW
	for _, d := range []string{"bin", "dev", "proc", "sys"} {
		c.add(d, 0o040755, 0, 0, nil)
	}
	c.add("bin/busybox", 0o100755, 0, 0, bb)
	for _, l := range []string{"sh", "mount", "cat", "echo", "poweroff", "sleep"} {
		c.add("bin/"+l, 0o120777, 0, 0, []byte("busybox"))
	}
	c.add("dev/console", 0o020600, 5, 1, nil)
	c.add("init", 0o100755, 0, 0, []byte("#!/bin/sh\nmount -t proc proc /proc\necho\necho \"ISOBOOT-OK name="+name+
		"\"\necho \"ISOBOOT-CMDLINE $(cat /proc/cmdline)\"\necho\npoweroff -f\n"))
	c.add("TRAILER!!!", 0, 0, 0, nil)
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(c.Bytes())
	w.Close()
	return gz.Bytes()
}

// testKernel finds a Debian-signed x86_64 kernel: COMPOSE_TEST_KERNEL or /boot/vmlinuz-*
// (CI installs linux-image-cloud-amd64).
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

// tinyISO builds a live-boot style ISO: /live/vmlinuz + /live/initrd.img, and with
// withLoopbackCfg also the /boot/grub/loopback.cfg convention.
func tinyISO(t *testing.T, dir, name string, withLoopbackCfg bool, kernel, busybox string) string {
	t.Helper()
	needTool(t, "xorriso")
	root := filepath.Join(dir, name+"-tree")
	must(t, os.MkdirAll(filepath.Join(root, "live"), 0o755))
	k, err := os.ReadFile(kernel)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(root, "live", "vmlinuz"), k, 0o644))
	must(t, os.WriteFile(filepath.Join(root, "live", "initrd.img"), busyboxInitramfs(t, name, busybox), 0o644))
	if withLoopbackCfg {
		must(t, os.MkdirAll(filepath.Join(root, "boot", "grub"), 0o755))
		cfg := "menuentry '" + name + " (loopback.cfg)' {\n  linux /live/vmlinuz console=ttyS0,115200 panic=-1 from=loopbackcfg findiso=${iso_path}\n  initrd /live/initrd.img\n}\n"
		must(t, os.WriteFile(filepath.Join(root, "boot", "grub", "loopback.cfg"), []byte(cfg), 0o644))
	}
	out := filepath.Join(dir, name+".iso")
	run(t, "xorriso", "-as", "mkisofs", "-quiet", "-V", strings.ToUpper(name), "-J", "-R", "-o", out, root)
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
