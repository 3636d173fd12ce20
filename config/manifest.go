package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/usbkit/compose/config/firmware"
)

// Version is the only manifest and lock format version this package reads.
const Version = 1

// Storage says where the ISO files are placed on the stick.
type Storage string

// Storage choices.
const (
	// StorageAuto puts ISOs below 4 GiB on the FAT32 ESP and larger ones on
	// an ext4 data partition (FAT32 cannot hold a file of 4 GiB or more).
	StorageAuto Storage = "auto"
	StorageESP  Storage = "esp"  // every ISO on the ESP
	StorageData Storage = "data" // every ISO on the ext4 data partition
)

// Console is where the boot menu and kernels talk.
type Console string

// Console choices.
const (
	ConsoleVGA    Console = "vga"
	ConsoleSerial Console = "serial"
	ConsoleBoth   Console = "both"
)

// BootFamily overrides how an ISO is booted; "" means detect it from the ISO.
type BootFamily string

// Boot families (see the bootloader package for what each one does).
const (
	BootAuto        BootFamily = ""
	BootCasper      BootFamily = "casper"
	BootLive        BootFamily = "live"
	BootDracut      BootFamily = "dracut"
	BootArchiso     BootFamily = "archiso"
	BootLoopbackCfg BootFamily = "loopback-cfg"
	BootEFI         BootFamily = "efi"
	BootLinux       BootFamily = "linux"
	BootAnaconda    BootFamily = "anaconda"
	BootTails       BootFamily = "tails"
	BootAntiX       BootFamily = "antix"
	BootLinuxLive   BootFamily = "linuxlive"
	BootGenkernel   BootFamily = "genkernel"
	BootMiso        BootFamily = "miso"
	BootNixOS       BootFamily = "nixos"
	BootAlpine      BootFamily = "alpine"
	// BootWindows is detected (a Windows installer's UDF side), never
	// given: it is not in BootFamilies, and plan refuses such an entry
	// until compose can lay one out on a stick.
	BootWindows BootFamily = "windows"
)

// BootFamilies lists every explicit override.
var BootFamilies = []BootFamily{BootCasper, BootLive, BootDracut, BootArchiso, BootLoopbackCfg, BootEFI, BootLinux,
	BootAnaconda, BootTails, BootAntiX, BootLinuxLive, BootGenkernel, BootMiso, BootNixOS, BootAlpine}

// Defaults filled in when a field is absent.
const (
	DefaultLabel   = "MULTIBOOT"
	DefaultTitle   = "compose boot menu"
	DefaultTimeout = 10 * time.Second
)

// Manifest is a validated multiboot.yaml. Every field holds its final value:
// defaults are filled in and values normalised (label upper-cased, digests
// lower-cased, fingerprints upper-cased without spaces).
type Manifest struct {
	Version    int                 `yaml:"version"`
	Label      string              `yaml:"label"`
	Size       Size                `yaml:"size"`
	Firmware   []firmware.Firmware `yaml:"firmware"`
	SecureBoot bool                `yaml:"secure_boot"`
	// SecureBootOptions holds `secure_boot:` written as a mapping.
	SecureBootOptions SecureBootOptions `yaml:"-"`
	Storage           Storage           `yaml:"storage"`
	// Strict turns plan warnings about entries that cannot find their ISO into errors.
	Strict bool  `yaml:"strict"`
	Menu   Menu  `yaml:"menu"`
	ISOs   []ISO `yaml:"isos"`

	// File is the name used in messages ("multiboot.yaml", "<stdin>").
	File string `yaml:"-"`
	// Dir is the directory relative paths are resolved against.
	Dir string `yaml:"-"`
	// Positions maps a field path ("size", "menu.default", "isos[2].url",
	// "isos[2]") to where its value starts. Use Diag to report against it.
	Positions map[string]Pos `yaml:"-"`
}

// Menu is the boot menu's look and behaviour.
type Menu struct {
	Title   string        `yaml:"title"`
	Timeout time.Duration `yaml:"timeout"`
	// Default is the name of the entry booted when the timeout runs out.
	Default string  `yaml:"default"`
	Console Console `yaml:"console"`
}

// ISO is one bootable image on the stick, stored as /isos/<Name>.iso.
type ISO struct {
	Name  string `yaml:"name"`
	Title string `yaml:"title"`
	// URL (http, https, s3) or Path (local file); exactly one is set.
	URL  string `yaml:"url"`
	Path string `yaml:"path"`
	// Version constrains the release a {version} in URL resolves to.
	Version string `yaml:"version"`
	// LocalPath is Path resolved against the manifest's directory.
	LocalPath string `yaml:"-"`
	// Checksum is written as one of the keys sha256, sha512 or checksum.
	Checksum  Checksum   `yaml:"-" keys:"sha256,sha512,checksum"`
	Signature *Signature `yaml:"signature"`
	Boot      BootFamily `yaml:"boot"`
	// Kernel and Initrd are absolute paths inside the ISO.
	Kernel string   `yaml:"kernel"`
	Initrd []string `yaml:"initrd"`
	Args   string   `yaml:"args"`
	// Expect is a regular expression (Go syntax) that proves on the serial
	// console that the entry booted; `compose test` waits for it.
	Expect string `yaml:"expect"`
	// Persistence is the size in bytes of the partition this entry keeps its changes
	// on; 0 means none. Written `persistence: 4GiB` (the units of size:).
	Persistence int64 `yaml:"-" keys:"persistence"`
	// Unattend is a Windows Setup answer file (a local file, relative to
	// the manifest's directory) placed at the root of a Windows entry's
	// partition as autounattend.xml; compose's plan checks it is
	// well-formed XML and refuses it on any other entry.
	Unattend string `yaml:"unattend"`
	// LocalUnattend is Unattend resolved against the manifest's directory.
	LocalUnattend string `yaml:"-"`
	// Pos is where the ISO's entry starts in the manifest.
	Pos Pos `yaml:"-"`
}

// Checksum is how an ISO is verified. Either Digest is known (inline), or
// ListURL names a GNU or BSD style checksum list in which the ISO is looked
// up under its path relative to the list's directory (its file name, for
// an ISO beside the list or on another host: fetch.ListName); then
// Algorithm is empty until the list is read (a 64-digit entry is sha256, a
// 128-digit one sha512).
type Checksum struct {
	Algorithm string // "sha256" or "sha512"
	Digest    string // lower-case hex
	ListURL   string
}

// Spec is the checksum in the manifest's `checksum:` syntax, "sha256:HEX",
// "sha512:HEX" or "file:URL"; a lock records it to notice later edits.
func (c Checksum) Spec() string {
	if c.ListURL != "" {
		return "file:" + c.ListURL
	}
	return c.Algorithm + ":" + c.Digest
}

// Signature is an OpenPGP signature over the checksum list.
type Signature struct {
	// URL of a detached signature of the list; empty means the list itself
	// is clearsigned (Fedora's CHECKSUM files).
	URL string `yaml:"url"`
	Key Key    `yaml:"key"`
}

// Key is the OpenPGP key that must have made the signature. The file at URL
// or File may hold many keys; only the one with Fingerprint is trusted.
type Key struct {
	Fingerprint string `yaml:"fingerprint"` // 40 (v4) or 64 (v6) upper-case hex digits
	URL         string `yaml:"url"`
	File        string `yaml:"file"`
	// LocalFile is File resolved against the manifest's directory.
	LocalFile string `yaml:"-"`
}

// Size is the image size: Auto, or an exact number of bytes.
type Size struct {
	Auto  bool
	Bytes int64
}

// String gives "auto" or the size in the largest binary unit that divides it.
func (s Size) String() string {
	if s.Auto {
		return "auto"
	}
	for _, u := range []struct {
		name string
		n    int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if s.Bytes%u.n == 0 && s.Bytes != 0 {
			return fmt.Sprintf("%d%s", s.Bytes/u.n, u.name)
		}
	}
	return fmt.Sprintf("%dB", s.Bytes)
}

// ISO returns the entry called name, or nil.
func (m *Manifest) ISO(name string) *ISO {
	for i := range m.ISOs {
		if m.ISOs[i].Name == name {
			return &m.ISOs[i]
		}
	}
	return nil
}

// Diag builds a diagnostic at the position of field path (see Positions);
// when path is unknown it tries its parents ("isos[2].url" → "isos[2]"),
// then the file as a whole. Later stages use it to point users at the line
// that caused a problem.
func (m *Manifest) Diag(path, format string, args ...any) Diagnostic {
	return diagAt(m.File, m.Positions, path, fmt.Sprintf(format, args...))
}

func diagAt(file string, positions map[string]Pos, path, msg string) Diagnostic {
	for p := path; p != ""; p = parentPath(p) {
		if pos, ok := positions[p]; ok {
			return Diagnostic{File: file, Line: pos.Line, Col: pos.Col, Msg: msg}
		}
	}
	return Diagnostic{File: file, Msg: msg}
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i <= 0 {
		return ""
	}
	return p[:i]
}
