package bootloader

import (
	"bytes"
	"debug/elf"
	"debug/pe"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/usbkit/compose/bootloader/assets"
)

// efiModules lists the modules built into a GRUB EFI image: PE section "mods" holds
// struct grub_module_info64 {u32 magic "mimg"; u32 pad; u64 offset; u64 size} (32-bit
// targets: {u32 magic; u32 offset; u32 size}) followed by
// objects {u32 type; u32 size incl. header}; type 0 is an ELF module whose .modname
// section names it (grub include/grub/kernel.h).
func efiModules(img []byte) ([]string, error) {
	f, err := pe.NewFile(bytes.NewReader(img))
	if err != nil {
		return nil, err
	}
	sec := f.Section("mods")
	if sec == nil {
		return nil, fmt.Errorf("no mods section")
	}
	m, err := sec.Data()
	if err != nil {
		return nil, err
	}
	if binary.LittleEndian.Uint32(m) != 0x676d696d {
		return nil, fmt.Errorf("bad module info magic")
	}
	off, size := binary.LittleEndian.Uint64(m[8:]), binary.LittleEndian.Uint64(m[16:])
	if f.Machine == pe.IMAGE_FILE_MACHINE_I386 { // grub_module_info32: {magic, offset, size}
		off, size = uint64(binary.LittleEndian.Uint32(m[4:])), uint64(binary.LittleEndian.Uint32(m[8:]))
	}
	var mods []string
	for p := off; p+8 <= size && p+8 <= uint64(len(m)); {
		typ, sz := binary.LittleEndian.Uint32(m[p:]), binary.LittleEndian.Uint32(m[p+4:])
		if typ == 0 && sz == 0 {
			break // section padding
		}
		if sz < 8 || p+uint64(sz) > uint64(len(m)) {
			return nil, fmt.Errorf("module object at %d: size %d", p, sz)
		}
		if typ == 0 {
			e, err := elf.NewFile(bytes.NewReader(m[p+8 : p+uint64(sz)]))
			if err != nil {
				return nil, fmt.Errorf("module ELF at %d: %w", p, err)
			}
			if s := e.Section(".modname"); s != nil {
				name, _ := s.Data()
				mods = append(mods, string(bytes.TrimRight(name, "\x00")))
			}
		}
		p += uint64(sz)
	}
	slices.Sort(mods)
	return mods, nil
}

// commandModule maps each command Render may emit to the GRUB module that registers it
// ("" = GRUB's kernel or the script engine in normal, always present).
var commandModule = map[string]string{
	"set": "", "[": "test", "export": "normal", "menuentry": "normal", "echo": "echo",
	"serial": "serial", "terminal_input": "terminal", "terminal_output": "terminal",
	"loopback": "loopback", "linux": "linux", "initrd": "linux", "linux16": "linux16",
	"probe": "probe", "configfile": "configfile", "chainloader": "chain", "fwsetup": "efifwsetup",
	"reboot": "reboot", "halt": "halt", "search": "search", "ntldr": "ntldr", "sleep": "sleep",
}

// everyRender renders every fixture under every console and Secure Boot setting, plus the
// /EFI/debian/grub.cfg stub: all the GRUB script compose can produce.
func everyRender(t *testing.T) []string {
	t.Helper()
	var out []string
	entries := entriesOf(t, fixtures())
	for _, c := range []Console{ConsoleVGA, ConsoleSerial, ConsoleBoth} {
		for _, sb := range []bool{false, true} {
			b, err := Render(Menu{Title: "t", Timeout: time.Second, Console: c, SecureBoot: sb, Windows: windowsFixtures()}, entries)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(b))
		}
	}
	return append(out, string(stubConfig("abc")))
}

func TestRenderedCommandsAreBuiltIntoEveryGRUB(t *testing.T) {
	lists := map[string][]string{}
	for _, a := range []string{assets.GrubX64, assets.GrubAA64, assets.GrubIA32} {
		b, _ := assets.Read(a)
		mods, err := efiModules(b)
		if err != nil {
			t.Fatalf("%s: %v", a, err)
		}
		lists[a] = mods
	}
	if len(lists[assets.GrubX64]) < 100 || !slices.Contains(lists[assets.GrubX64], "loopback") {
		t.Fatalf("signed grubx64 modules look wrong: %v", lists[assets.GrubX64])
	}
	core, _ := assets.Read(assets.CoreImg)
	coreMods, err := coreModules(core)
	if err != nil {
		t.Fatalf("core.img: %v", err)
	}
	lists[assets.CoreImg] = coreMods
	seen := map[string]bool{}
	for _, src := range everyRender(t) {
		s, err := parseGRUB(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range s.cmds {
			name := c.words[0]
			mod, ok := commandModule[name]
			if !ok {
				t.Errorf("command %q (%q) has no known module: add it to commandModule after checking GRUB", name, c.words)
				continue
			}
			seen[name] = true
			for img, mods := range lists {
				efi := img != assets.CoreImg
				if mod == "" || (c.platform == "efi" && !efi) || (c.platform == "pc" && efi) {
					continue
				}
				if !slices.Contains(mods, mod) {
					t.Errorf("%s: %q needs module %s, which is not built in", img, name, mod)
				}
			}
		}
	}
	for _, must := range []string{"probe", "loopback", "linux", "chainloader", "fwsetup", "linux16", "serial", "search", "ntldr"} {
		if !seen[must] {
			t.Errorf("renders never emitted %q: the check did not cover it", must)
		}
	}
}

func TestModuleCheckCatchesAMissingModule(t *testing.T) {
	b, _ := assets.Read(assets.GrubX64)
	mods, _ := efiModules(b)
	if slices.Contains(mods, "linux16") || slices.Contains(mods, "biosdisk") {
		t.Fatalf("signed EFI GRUB claims BIOS-only modules: the parser is wrong")
	}
	if slices.Contains(mods, "efifwsetup") == false {
		t.Fatalf("signed EFI GRUB lacks efifwsetup")
	}
}
