package compose

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usbkit/compose/compose/internal/testenv"
	"github.com/usbkit/compose/compose/pin"
	"github.com/usbkit/compose/config"
)

// A Windows entry fails the plan (and so apply) at its manifest position:
// compose detects Windows installers but has no stick layout for them.
func TestPlanRefusesWindows(t *testing.T) {
	testenv.Tools(t, "xorriso")
	dir := t.TempDir()
	win := testenv.WindowsISO{Label: "WIN11", Install: "wim", BIOS: true, Editions: []string{"Windows 11 Pro"}}.Build(t, dir)
	linux := filepath.Join(dir, "linux.iso")
	tree := filepath.Join(dir, "linuxtree")
	for p, data := range map[string]string{"live/vmlinuz": "MZ kernel", "live/initrd.img": "initrd"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(tree, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tree, p), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Run(t, "xorriso", "-as", "mkisofs", "-quiet", "-R", "-V", "LIVE", "-o", linux, tree)
	ctx := context.Background()
	m := kitWith(t, dir, "firmware: [uefi-x64]", linux, win)
	f := newFetcher(t, filepath.Join(dir, "cache"))
	l, err := pin.ResolveLock(ctx, m, f)
	if err != nil {
		t.Fatal(err)
	}
	_, err = MakePlan(ctx, m, l, f, filepath.Join(dir, "kit.img"))
	want := "multiboot.yaml:10:5: win11: is a Windows installer ISO (/sources/install.wim, wim 3.0 MiB)" // the second entry
	if err == nil || !strings.Contains(err.Error(), want) ||
		!strings.Contains(err.Error(), "compose detects Windows installer ISOs but cannot put them on a stick yet") {
		t.Fatalf("want the Windows entry refused at %s, got %v", want, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "kit.img")); !os.IsNotExist(err) {
		t.Errorf("plan wrote the image")
	}
	// boot: efi would chainload bootx64.efi from a loop device, where
	// Windows Boot Manager cannot find its media: refused all the same.
	yaml, err := os.ReadFile(filepath.Join(dir, "multiboot.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(yaml), "  - name: win11\n", "  - name: win11\n    boot: efi\n", 1)
	if src == string(yaml) {
		t.Fatal("no win11 entry to override")
	}
	if err := os.WriteFile(filepath.Join(dir, "multiboot.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err = config.Load(filepath.Join(dir, "multiboot.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = MakePlan(ctx, m, l, f, filepath.Join(dir, "kit.img"))
	if err == nil || !strings.Contains(err.Error(), "win11: is a Windows installer ISO (/sources/install.wim, wim 3.0 MiB): compose detects") {
		t.Fatalf("boot: efi on a Windows ISO: want it refused, got %v", err)
	}
}
