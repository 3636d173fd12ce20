package bootloader

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestWindowsStandinsAreTheirSource: the committed stand-ins are what their sources build to.
func TestWindowsStandinsAreTheirSource(t *testing.T) {
	needTool(t, "as", "ld")
	dir := t.TempDir()
	src := filepath.Join("testdata", "winstandin")
	builds := []struct {
		out  string
		cmds [][]string
	}{
		{"nosbat-x64.efi", [][]string{
			{"as", "--64", "-o", "o", "efi.S"},
			{"ld", "-m", "i386pep", "--subsystem", "10", "-e", "efi_main", "--no-insert-timestamp", "-s", "-o", "out", "o"}}},
		{"sbat-x64.efi", [][]string{
			{"as", "--64", "--defsym", "SBAT=1", "-o", "o", "efi.S"},
			{"ld", "-m", "i386pep", "--subsystem", "10", "-e", "efi_main", "--no-insert-timestamp", "-s", "-o", "out", "o"}}},
		{"bootmgr", [][]string{
			{"as", "--64", "-o", "o", "bootmgr.S"},
			{"ld", "-m", "elf_x86_64", "-Ttext=0", "-e", "start", "--oformat=binary", "-o", "out", "o"}}},
	}
	for _, b := range builds {
		for _, c := range b.cmds {
			for i, a := range c {
				switch a {
				case "o", "out":
					c[i] = filepath.Join(dir, a)
				case "efi.S", "bootmgr.S":
					c[i] = filepath.Join(src, a)
				}
			}
			if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
				t.Fatalf("%v: %v\n%s", c, err, out)
			}
		}
		got, err := os.ReadFile(filepath.Join(dir, "out"))
		must(t, err)
		want, err := os.ReadFile(filepath.Join(src, b.out))
		must(t, err)
		if !bytes.Equal(got, want) {
			t.Errorf("testdata/winstandin/%s (%d bytes) is not what its source builds to (%d bytes): rebuild it as the source says", b.out, len(want), len(got))
		}
	}
}

func TestRenderWindowsEntry(t *testing.T) {
	w := WindowsEntry{ID: "win11", Title: "Windows 11 Setup", Label: "WIN11",
		EFIX64: "/efi/boot/bootx64.efi", EFIARM64: "/efi/boot/bootaa64.efi", BIOS: "/bootmgr"}
	cfg, err := Render(Menu{Default: "win11", Windows: []WindowsEntry{w}}, nil)
	must(t, err)
	got := string(cfg)
	for _, want := range []string{
		`if [ "$grub_platform" = efi -a "$grub_cpu" = x86_64 -o "$grub_platform" = efi -a "$grub_cpu" = arm64 -o "$grub_platform" = pc ]; then`,
		"menuentry 'Windows 11 Setup' --id 'win11' {",
		"if search --no-floppy --set=root --label 'WIN11'; then",
		`      if [ "$grub_platform" = efi ]; then
        if [ "$grub_cpu" = x86_64 ]; then
          chainloader '/efi/boot/bootx64.efi'
        elif [ "$grub_cpu" = arm64 ]; then
          chainloader '/efi/boot/bootaa64.efi'
        fi
      else
        ntldr '/bootmgr'
      fi
`,
		"echo 'Windows partition not found (label WIN11)'",
		"set default='win11'",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("grub.cfg lacks %q:\n%s", want, got)
		}
	}
	// Before the fixed entries, so it keeps its place when they change.
	if strings.Index(got, "--id 'win11'") > strings.Index(got, "--id reboot") {
		t.Errorf("windows entry after the fixed entries:\n%s", got)
	}

	w.Marker = "/compose-win11.marker"
	cfg, err = Render(Menu{Windows: []WindowsEntry{w}}, nil)
	must(t, err)
	if !strings.Contains(string(cfg), "if search --no-floppy --set=root --file '/compose-win11.marker'; then") {
		t.Errorf("a marker is not searched:\n%s", cfg)
	}
}

func TestShownWindows(t *testing.T) {
	efiOnly := WindowsEntry{EFIX64: "/efi/boot/bootx64.efi"}
	for _, c := range []struct {
		w             WindowsEntry
		platform, cpu string
		want          bool
	}{
		{efiOnly, "efi", "x86_64", true},
		{efiOnly, "efi", "arm64", false},
		{efiOnly, "pc", "i386", false},
		{efiOnly, "efi", "i386", false},
		{WindowsEntry{BIOS: "/bootmgr"}, "pc", "i386", true},
		{WindowsEntry{EFIARM64: "/efi/boot/bootaa64.efi"}, "efi", "arm64", true},
	} {
		if got := ShownWindows(c.w, c.platform, c.cpu); got != c.want {
			t.Errorf("ShownWindows(%+v, %s, %s) = %v, want %v", c.w, c.platform, c.cpu, got, c.want)
		}
	}
}

func TestRenderWindowsRejects(t *testing.T) {
	ok := WindowsEntry{ID: "win", Label: "WIN", EFIX64: "/efi/boot/bootx64.efi"}
	for name, c := range map[string]struct {
		m    Menu
		want string
	}{
		"no loader":       {Menu{Windows: []WindowsEntry{{ID: "win", Label: "WIN"}}}, `windows entry "win": no loader`},
		"lower label":     {Menu{Windows: []WindowsEntry{{ID: "win", Label: "win", BIOS: "/bootmgr"}}}, `label "win"`},
		"long label":      {Menu{Windows: []WindowsEntry{{ID: "win", Label: "WINDOWS11SETUP", BIOS: "/bootmgr"}}}, `label "WINDOWS11SETUP"`},
		"quote in marker": {Menu{Windows: []WindowsEntry{{ID: "win", Marker: "/a'b", BIOS: "/bootmgr"}}}, `marker "/a'b"`},
		"space in loader": {Menu{Windows: []WindowsEntry{{ID: "win", Label: "WIN", EFIX64: "/efi/boot/boot x64.efi"}}}, `loader path`},
		"id twice":        {Menu{Windows: []WindowsEntry{ok, ok}}, `menu entry id "win": empty or used twice`},
		"fixed id":        {Menu{Windows: []WindowsEntry{{ID: IDReboot, Label: "WIN", BIOS: "/bootmgr"}}}, `used twice`},
		"default unknown": {Menu{Default: "nope", Windows: []WindowsEntry{ok}}, `menu default "nope"`},
	} {
		_, err := Render(c.m, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one containing %q", name, err, c.want)
		}
	}
	// An ISO entry and a Windows entry may not share an id either.
	_, err := Render(Menu{Windows: []WindowsEntry{ok}}, []Entry{{ID: "win", ISOPath: "/a.iso", Boot: Detection{Family: Live, Kernel: "/k"}}})
	if err == nil || !strings.Contains(err.Error(), "used twice") {
		t.Errorf("iso and windows entry with one id: err = %v", err)
	}
}

// windowsFixtures are Windows entries of every shape Render writes: all loaders, EFI only,
// BIOS only, found by label or by marker.
func windowsFixtures() []WindowsEntry {
	return []WindowsEntry{
		{ID: "win-all", Label: "WIN11", EFIX64: "/efi/boot/bootx64.efi", EFIARM64: "/efi/boot/bootaa64.efi", BIOS: "/bootmgr"},
		{ID: "win-efi", Marker: "/compose-win-efi.marker", EFIX64: "/efi/boot/bootx64.efi"},
		{ID: "win-bios", Label: "WIN10", BIOS: "/bootmgr"},
	}
}
