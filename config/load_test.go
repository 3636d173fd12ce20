package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/usbkit/compose/config/firmware"
)

const examplesDir = "../examples"

func exampleFiles(t testing.TB) []string {
	files, err := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("want at least 3 example kits in %s, found %d", examplesDir, len(files))
	}
	return files
}

func TestExamplesLoad(t *testing.T) {
	for _, f := range exampleFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			m, err := Load(f)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if len(m.ISOs) < 3 {
				t.Errorf("a kit with %d ISOs is not much of an example", len(m.ISOs))
			}
			for _, iso := range m.ISOs {
				// Examples must not invent digests: they name vendors' lists.
				if iso.Checksum.ListURL == "" || !strings.HasPrefix(iso.Checksum.ListURL, "https://") {
					t.Errorf("%s: want checksum: file:https://…, got %q", iso.Name, iso.Checksum.Spec())
				}
				if s := iso.Signature; s != nil && (len(s.Key.Fingerprint) != 40 || !strings.HasPrefix(s.Key.URL, "https://")) {
					t.Errorf("%s: signature key must be pinned by fingerprint and fetched over https: %+v", iso.Name, s.Key)
				}
				if iso.URL != "" && !strings.HasPrefix(iso.URL, "https://") {
					t.Errorf("%s: want an https URL, got %q", iso.Name, iso.URL)
				}
			}
			if m.ISO(m.Menu.Default) == nil {
				t.Errorf("menu.default %q names no ISO", m.Menu.Default)
			}
		})
	}
}

func TestStarterIsValid(t *testing.T) {
	m, err := Parse("multiboot.yaml", Starter(), t.TempDir())
	if err != nil {
		t.Fatalf("the starter manifest is invalid:\n%v", err)
	}
	if !strings.Contains(string(Starter()), "\n# ") {
		t.Error("starter has no comments")
	}
	for _, iso := range m.ISOs {
		if iso.Checksum.ListURL == "" {
			t.Errorf("%s: starter must use checksum: file: lists, not invented digests", iso.Name)
		}
	}
}

func TestParseFullManifest(t *testing.T) {
	dir := t.TempDir()
	src := `version: 1
label: kit_1-a
size: 8GB
firmware: [uefi-arm64, bios]
secure_boot: true
storage: data
menu:
  title: Test kit
  timeout: 90
  default: b
  console: serial
isos:
  - name: a
    url: s3://bucket/isos/a.iso
    SHA256: x
`
	src = strings.Replace(src, "    SHA256: x\n", "    sha256: "+strings.Repeat("AB", 32)+"\n", 1)
	src += `  - name: b
    title: Bee
    path: sub/b.iso
    checksum: file:https://example.org/SHA512SUMS
    signature:
      key: {fingerprint: "` + strings.Repeat("ab", 20) + `", file: keys/k.asc}
    boot: archiso
    kernel: /arch/boot/x86_64/vmlinuz-linux
    initrd: [/arch/boot/intel-ucode.img, /arch/boot/x86_64/initramfs-linux.img]
    args: copytoram
    expect: 'login:\s*$'
`
	m, err := Parse("m.yaml", []byte(src), dir)
	if err != nil {
		t.Fatal(err)
	}
	want := &Manifest{
		Version: 1, Label: "KIT_1-A", Size: Size{Bytes: 8e9},
		Firmware: []firmware.Firmware{firmware.UEFIARM64, firmware.BIOS}, SecureBoot: true, Storage: StorageData,
		Menu: Menu{Title: "Test kit", Timeout: 90 * time.Second, Default: "b", Console: ConsoleSerial},
		ISOs: []ISO{
			{Name: "a", Title: "a", URL: "s3://bucket/isos/a.iso",
				Checksum: Checksum{Algorithm: "sha256", Digest: strings.Repeat("ab", 32)}, Pos: Pos{13, 5}},
			{Name: "b", Title: "Bee", Path: "sub/b.iso", LocalPath: filepath.Join(dir, "sub/b.iso"),
				Checksum: Checksum{ListURL: "https://example.org/SHA512SUMS"},
				Signature: &Signature{Key: Key{Fingerprint: strings.Repeat("AB", 20), File: "keys/k.asc",
					LocalFile: filepath.Join(dir, "keys/k.asc")}},
				Boot: BootArchiso, Kernel: "/arch/boot/x86_64/vmlinuz-linux",
				Initrd: []string{"/arch/boot/intel-ucode.img", "/arch/boot/x86_64/initramfs-linux.img"},
				Args:   "copytoram", Expect: `login:\s*$`, Pos: Pos{16, 5}},
		},
		File: "m.yaml", Dir: dir,
	}
	m.Positions = nil
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got  %+v\nwant %+v", m, want)
	}
}

func TestDefaults(t *testing.T) {
	m, err := Parse("m.yaml", []byte("version: 1\nisos:\n  - {name: only, url: 'https://h/x.iso', checksum: 'file:https://h/SUMS'}\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	if m.Label != "MULTIBOOT" || !m.Size.Auto || !reflect.DeepEqual(m.Firmware, []firmware.Firmware{firmware.BIOS, firmware.UEFIX64}) ||
		m.SecureBoot || m.Storage != StorageAuto ||
		m.Menu != (Menu{Title: DefaultTitle, Timeout: 10 * time.Second, Default: "only", Console: ConsoleVGA}) ||
		m.ISOs[0].Title != "only" {
		t.Errorf("defaults not applied: %+v", m)
	}
	if d := m.Diag("isos[0].url", "boom"); d.String() != "m.yaml:3:23: boom" {
		t.Errorf("Diag at a field: got %q", d)
	}
	if d := m.Diag("isos[0].boot", "boom"); d.String() != "m.yaml:3:5: boom" {
		t.Errorf("Diag falls back to the entry: got %q", d)
	}
	if d := m.Diag("menu.title", "boom"); d.String() != "m.yaml: boom" {
		t.Errorf("Diag of an absent field: got %q", d)
	}
}

func TestLoadStdinAndMissingFile(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdin
	os.Stdin = r
	defer func() { os.Stdin = old }()
	go func() {
		w.Write([]byte("version: 2\n"))
		w.Close()
	}()
	_, err = Load("-")
	if !errors.Is(err, ErrInvalid) || err.Error() != "<stdin>:1:10: version: unsupported version 2 (this compose reads version 1); upgrade compose" {
		t.Errorf("stdin: got %v", err)
	}
	_, err = Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || errors.Is(err, ErrInvalid) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: want a not-exist error that is not ErrInvalid, got %v", err)
	}
}

func TestSizes(t *testing.T) {
	good := map[string]Size{
		"auto": {Auto: true}, "16GiB": {Bytes: 16 << 30}, "512 MiB": {Bytes: 512 << 20},
		"8GB": {Bytes: 8e9}, "1TiB": {Bytes: 1 << 40}, "67108864B": {Bytes: 64 << 20},
	}
	for in, want := range good {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "16", "16G", "16gib", "1.5GiB", "-1GiB", "63MiB", "65TiB", "99999999999999999999GiB", "9223372036854775807KiB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
	for in, want := range map[Size]string{{Auto: true}: "auto", {Bytes: 16 << 30}: "16GiB", {Bytes: 8e9}: "7812500KiB", {Bytes: 1000}: "1000B"} {
		if in.String() != want {
			t.Errorf("%#v.String() = %q, want %q", in, in.String(), want)
		}
	}
}
