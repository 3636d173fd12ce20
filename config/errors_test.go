package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// head is a valid manifest start; cases append their own ISOs or fields.
const head = "version: 1\n"

// okISO is a valid entry, 3 lines, for cases that need one to exist.
const okISO = "  - name: ok\n    url: https://h/ok.iso\n    checksum: file:https://h/SUMS\n"

var (
	hex64  = strings.Repeat("0a", 32)
	hex128 = strings.Repeat("0a", 64)
)

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want []string
	}{
		{"empty", "", []string{"m.yaml:1:1: empty manifest"}},
		{"only comments", "# nothing\n", []string{"m.yaml:1:1: empty manifest"}},
		{"null document", "---\n~\n", []string{"m.yaml:1:1: empty manifest"}},
		{"not a mapping", "- a\n- b\n", []string{"m.yaml:1:1: a manifest must be a mapping of fields, got a list"}},
		{"syntax", "version: 1\nisos: [\n", []string{"m.yaml:2:1: YAML syntax error: did not find expected node content"}},
		{"tab indentation", "version: 1\n\tlabel: X\n", []string{"m.yaml:2:2: YAML syntax error: found a tab character that violates indentation"}},
		{"second document", head + "isos:\n" + okISO + "---\nversion: 1\n", []string{
			"m.yaml:6:1: a second YAML document is not allowed: a manifest is one document"}},
		{"missing version and isos", "label: X\n", []string{
			"m.yaml:1:1: missing field version (write `version: 1` first)",
			"m.yaml:1:1: missing field isos: list at least one ISO"}},
		{"bad version", "version: 0\nisos:\n" + okISO, []string{
			"m.yaml:1:10: version: unsupported version 0 (this compose reads version 1)"}},
		{"version as string", "version: '1'\nisos:\n" + okISO, []string{
			"m.yaml:1:10: version: want an integer, got a string"}},
		{"unknown top-level field with suggestion", head + "lable: X\nisos:\n" + okISO, []string{
			`m.yaml:2:1: top level: unknown field "lable" (did you mean "label"?)`}},
		{"unknown field without suggestion", head + "colour: red\nisos:\n" + okISO, []string{
			`m.yaml:2:1: top level: unknown field "colour"`}},
		{"duplicate key", head + "label: A\nlabel: B\nisos:\n" + okISO, []string{
			`m.yaml:3:1: label: duplicate field "label" (first at line 2)`}},
		{"merge key", head + "base: &b {}\n<<: *b\nisos:\n" + okISO, []string{
			`m.yaml:2:1: top level: unknown field "base"`,
			"m.yaml:3:1: top level: merge keys (<<) are not supported"}},
		{"wrong types", head + "label: 12\nsecure_boot: 'yes'\nfirmware: bios\nmenu: []\nisos: {}\n", []string{
			"m.yaml:2:8: label: want a string, got an integer (quote it to make it a string)",
			"m.yaml:3:14: secure_boot: want true or false, got a string",
			"m.yaml:4:11: firmware: want a list, got a string",
			"m.yaml:5:7: menu: want a mapping, got a list",
			"m.yaml:6:7: isos: want a list, got a mapping"}},
		{"null value", head + "label:\nisos:\n" + okISO, []string{
			"m.yaml:2:7: label: want a string, got nothing (null)"}},
		{"labels", head + "label: TWELVE_CHARS\nisos:\n" + okISO, []string{
			`m.yaml:2:8: label: "TWELVE_CHARS" is 12 characters; a FAT volume label holds at most 11`}},
		{"label characters", head + "label: 'MY KIT'\nisos:\n" + okISO, []string{
			`m.yaml:2:8: label: "MY KIT" has characters a FAT label cannot hold portably: use A-Z, 0-9, _ and -`}},
		{"label empty", head + "label: ''\nisos:\n" + okISO, []string{
			"m.yaml:2:8: label: empty; a FAT volume label has 1 to 11 characters"}},
		{"sizes", head + "size: 16G\nisos:\n" + okISO, []string{
			`m.yaml:2:7: size: "16G" is not a size: write auto or a whole number with a unit (16GiB, 512MiB, 8GB)`}},
		{"size without unit", head + "size: 16\nisos:\n" + okISO, []string{
			"m.yaml:2:7: size: 16 has no unit: write auto or a size such as 16GiB"}},
		{"size too small", head + "size: 1MiB\nisos:\n" + okISO, []string{
			"m.yaml:2:7: size: 1MiB is out of range (64MiB to 64TiB)"}},
		{"firmware", head + "firmware: [bios, efi, bios]\nisos:\n" + okISO, []string{
			`m.yaml:2:18: firmware[1]: "efi" is not one of bios, uefi-x64, uefi-arm64 or uefi-ia32`,
			`m.yaml:2:23: firmware[2]: "bios" is listed twice`}},
		{"firmware empty", head + "firmware: []\nisos:\n" + okISO, []string{
			"m.yaml:2:11: firmware: list at least one target (bios, uefi-x64, uefi-arm64 or uefi-ia32)"}},
		{"secure boot on ia32", head + "secure_boot: true\nfirmware: [uefi-ia32]\nisos:\n" + okISO, []string{
			"m.yaml:2:14: secure_boot: needs a UEFI target that supports it (uefi-x64 or uefi-arm64)"}},
		{"storage", head + "storage: usb\nisos:\n" + okISO, []string{
			`m.yaml:2:10: storage: "usb" is not one of auto, esp or data`}},
		{"menu", head + "menu:\n  timeout: 1.5s\n  default: nope\n  console: tty\n  colour: red\nisos:\n" + okISO, []string{
			"m.yaml:3:12: menu.timeout: 1.5s is not a whole number of seconds (GRUB counts seconds)",
			`m.yaml:4:12: menu.default: "nope" is not the name of any ISO`,
			`m.yaml:5:12: menu.console: "tty" is not one of vga, serial or both`,
			`m.yaml:6:3: menu: unknown field "colour"`}},
		{"timeouts", head + "menu: {timeout: -1}\nisos:\n" + okISO, []string{
			"m.yaml:2:17: menu.timeout: -1 seconds is out of range (0 to 3600)"}},
		{"timeout string", head + "menu: {timeout: soon, default: ''}\nisos:\n" + okISO, []string{
			`m.yaml:2:17: menu.timeout: "soon" is not a duration (write 10s, 1m30s or a number of seconds)`,
			"m.yaml:2:32: menu.default: empty; name an ISO or leave the field out"}},
		{"timeout too long", head + "menu: {timeout: 2h}\nisos:\n" + okISO, []string{
			"m.yaml:2:17: menu.timeout: 2h0m0s is out of range (0s to 1h0m0s)"}},
		{"no isos", head + "isos: []\n", []string{"m.yaml:2:7: isos: list at least one ISO"}},
		{"iso not a mapping", head + "isos:\n  - debian\n", []string{
			"m.yaml:3:5: isos[0]: want a mapping, got a string"}},
		{"missing everything", head + "isos:\n  - title: x\n", []string{
			"m.yaml:3:5: isos[0]: missing field name",
			"m.yaml:3:5: isos[0]: missing url or path: say where the ISO comes from",
			"m.yaml:3:5: isos[0]: missing checksum: add sha256, sha512 or checksum: file:URL (checksums are mandatory)"}},
		{"names", head + "isos:\n" + okISO + "  - {name: ok, url: 'https://h/a', sha256: " + hex64 + "}\n  - {name: Big, url: 'https://h/b', sha256: " + hex64 + "}\n  - {name: " + strings.Repeat("a", 64) + ", url: 'https://h/c', sha256: " + hex64 + "}\n", []string{
			`m.yaml:6:12: isos[1].name: "ok" is already the name of isos[0] (line 3); names must be unique`,
			`m.yaml:7:12: isos[2].name: "Big" is not a valid name: use a-z, 0-9 and -, starting with a letter or digit`,
			`m.yaml:8:12: isos[3].name: "` + strings.Repeat("a", 64) + `" is longer than 63 characters`}},
		{"url and path", head + "isos:\n  - name: a\n    url: https://h/a.iso\n    path: a.iso\n    sha256: " + hex64 + "\n", []string{
			"m.yaml:5:11: isos[0]: give url or path, not both"}},
		{"url schemes", head + "isos:\n" +
			"  - {name: a, url: 'ftp://h/a.iso', sha256: " + hex64 + "}\n" +
			"  - {name: b, url: 'file:///srv/b.iso', sha256: " + hex64 + "}\n" +
			"  - {name: c, url: 'h/c.iso', sha256: " + hex64 + "}\n" +
			"  - {name: d, url: 's3::https://s3.amazonaws.com/b/d.iso', sha256: " + hex64 + "}\n" +
			"  - {name: e, url: 'https://u:p@h/e.iso', sha256: " + hex64 + "}\n" +
			"  - {name: f, url: 'https://h/f.iso?checksum=md5:1', sha256: " + hex64 + "}\n" +
			"  - {name: g, url: 's3://bucket', sha256: " + hex64 + "}\n" +
			"  - {name: h, url: 'https:///h.iso', sha256: " + hex64 + "}\n", []string{
			`m.yaml:3:20: isos[0].url: unsupported URL scheme "ftp" (want http, https or s3)`,
			`m.yaml:4:20: isos[1].url: "file:///srv/b.iso": file URLs are not supported; use path: for a local file`,
			`m.yaml:5:20: isos[2].url: "h/c.iso" has no scheme: write an http, https or s3 URL, or use path: for a local file`,
			`m.yaml:6:20: isos[3].url: "s3::https://s3.amazonaws.com/b/d.iso": forced getters (s3::…) are not supported; write s3://bucket/key or an https URL`,
			`m.yaml:7:20: isos[4].url: "https://h/e.iso" carries credentials (user@ or user:password@); keep them out of the manifest`,
			`m.yaml:8:20: isos[5].url: query parameter "checksum" is not allowed: write checksums and names as manifest fields`,
			`m.yaml:9:20: isos[6].url: "s3://bucket" names no object: write s3://bucket/key`,
			`m.yaml:10:20: isos[7].url: "https:///h.iso" has no host`}},
		{"local paths", head + "isos:\n  - {name: a, path: 'https://h/a.iso', sha256: " + hex64 + "}\n  - {name: b, path: ~/b.iso, sha256: " + hex64 + "}\n  - {name: c, path: '', sha256: " + hex64 + "}\n", []string{
			`m.yaml:3:21: isos[0].path: "https://h/a.iso" looks like a URL; use url: for downloads`,
			`m.yaml:4:21: isos[1].path: "~/b.iso": ~ is not expanded; write a path relative to the manifest or an absolute one`,
			`m.yaml:5:21: isos[2].path: empty path`}},
		{"digests", head + "isos:\n" +
			"  - {name: a, url: 'https://h/a', sha256: " + hex64[1:] + "}\n" +
			"  - {name: b, url: 'https://h/b', sha512: " + hex64 + "}\n" +
			"  - {name: c, url: 'https://h/c', sha256: " + hex64[:10] + "zz" + hex64[12:] + "}\n" +
			"  - {name: d, url: 'https://h/d', sha256: 1234}\n", []string{
			"m.yaml:3:43: isos[0].sha256: a sha256 digest has 64 hex digits, got 63",
			"m.yaml:4:43: isos[1].sha512: a sha512 digest has 128 hex digits, got 64",
			`m.yaml:5:43: isos[2].sha256: not hexadecimal: "z" at offset 10`,
			"m.yaml:6:43: isos[3].sha256: want a string, got an integer (quote it to make it a string)"}},
		{"checksum specs", head + "isos:\n" +
			"  - {name: a, url: 'https://h/a', checksum: 'md5:0a'}\n" +
			"  - {name: b, url: 'https://h/b', checksum: 'crc:0a'}\n" +
			"  - {name: c, url: 'https://h/c', checksum: 'file:SHA256SUMS'}\n" +
			"  - {name: d, url: 'https://h/d', checksum: " + hex64 + "}\n" +
			"  - {name: e, url: 'https://h/e', checksum: 'sha512:" + hex128 + "'}\n" +
			"  - {name: f, url: 'https://h/f', checksum: 'sha512:" + hex64 + "'}\n", []string{
			"m.yaml:3:45: isos[0].checksum: md5 is too weak to trust; use sha256 or sha512",
			`m.yaml:4:45: isos[1].checksum: unknown checksum type "crc": want file:URL, sha256:HEX or sha512:HEX`,
			`m.yaml:5:45: isos[2].checksum: checksum list: "SHA256SUMS" has no scheme: write an http, https or s3 URL, or use path: for a local file`,
			`m.yaml:6:45: isos[3].checksum: "` + hex64 + `": want file:URL, sha256:HEX or sha512:HEX`,
			"m.yaml:8:45: isos[5].checksum: a sha512 digest has 128 hex digits, got 64"}},
		{"two checksums", head + "isos:\n  - name: a\n    url: https://h/a\n    sha256: " + hex64 + "\n    checksum: file:https://h/SUMS\n", []string{
			"m.yaml:6:15: isos[0]: give one checksum, not both sha256 and checksum"}},
		{"signature without list", head + "isos:\n  - name: a\n    url: https://h/a\n    sha256: " + hex64 + "\n    signature: {url: 'https://h/s', key: {fingerprint: " + strings.Repeat("A", 40) + ", url: 'https://h/k'}}\n", []string{
			"m.yaml:6:16: isos[0].signature: a signature covers a checksum list: it needs checksum: file:URL, not an inline digest"}},
		{"signature keys", head + "isos:\n  - name: a\n    url: https://h/a\n    checksum: file:https://h/SUMS\n    signature:\n      url: http://h/s\n      key:\n        fingerprint: ABCD\n        url: https://h/k\n        file: k.asc\n        id: 1\n", []string{
			`m.yaml:9:22: isos[0].signature.key.fingerprint: "ABCD" is not an OpenPGP fingerprint (40 hex digits for a v4 key, 64 for v6)`,
			"m.yaml:11:15: isos[0].signature.key: give url or file, not both",
			`m.yaml:12:9: isos[0].signature.key: unknown field "id"`}},
		{"signature without key", head + "isos:\n  - name: a\n    url: https://h/a\n    checksum: file:https://h/SUMS\n    signature: {url: 'https://h/s'}\n    kernel: /k\n", []string{
			"m.yaml:6:16: isos[0].signature: missing field key: name the key that signs the list (fingerprint, and url or file)",
			"m.yaml:7:13: isos[0]: kernel needs initrd too (give both or neither)"}},
		{"key without fingerprint or source", head + "isos:\n  - name: a\n    url: https://h/a\n    checksum: file:https://h/SUMS\n    signature: {key: {}}\n", []string{
			"m.yaml:6:22: isos[0].signature.key: missing field fingerprint",
			"m.yaml:6:22: isos[0].signature.key: missing url or file: say where the key comes from"}},
		{"boot overrides", head + "isos:\n" +
			"  - {name: a, url: 'https://h/a', sha256: " + hex64 + ", boot: linux}\n" +
			"  - {name: b, url: 'https://h/b', sha256: " + hex64 + ", boot: efi, args: quiet, kernel: /k, initrd: /i}\n" +
			"  - {name: c, url: 'https://h/c', sha256: " + hex64 + ", initrd: /i}\n" +
			"  - {name: d, url: 'https://h/d', sha256: " + hex64 + ", kernel: /k, initrd: [/i]}\n" +
			"  - {name: e, url: 'https://h/e', sha256: " + hex64 + ", boot: grub}\n", []string{
			"m.yaml:3:115: isos[0]: boot: linux needs kernel and initrd (paths inside the ISO)",
			"m.yaml:4:126: isos[1]: args conflicts with boot: efi (that entry does not start a kernel itself)",
			"m.yaml:4:141: isos[1]: kernel conflicts with boot: efi (that entry does not start a kernel itself)",
			"m.yaml:4:153: isos[1]: initrd conflicts with boot: efi (that entry does not start a kernel itself)",
			"m.yaml:5:117: isos[2]: initrd needs kernel too (give both or neither)",
			`m.yaml:7:115: isos[4].boot: "grub" is not one of casper, live, dracut, archiso, loopback-cfg, efi, linux, anaconda, tails, antix, linuxlive, genkernel, miso, nixos or alpine`}},
		{"paths inside the ISO", head + "isos:\n  - name: a\n    url: https://h/a\n    sha256: " + hex64 + "\n    boot: linux\n    kernel: /boot/../vmlinuz\n    initrd: ['/a b', x, 3]\n", []string{
			`m.yaml:7:13: isos[0].kernel: "/boot/../vmlinuz" is not a clean file path (no .., //, trailing /)`,
			`m.yaml:8:14: isos[0].initrd[0]: "/a b" contains blanks or control characters`,
			`m.yaml:8:22: isos[0].initrd[1]: "x" must be an absolute path inside the ISO (start with /)`,
			"m.yaml:8:25: isos[0].initrd[2]: want a string, got an integer (quote it to make it a string)"}},
		{"text and expect", head + "isos:\n  - name: a\n    title: \"bad\\ttitle\"\n    url: https://h/a\n    sha256: " + hex64 + "\n    args: \"a\\nb\"\n    expect: '(unclosed'\n", []string{
			`m.yaml:4:12: isos[0].title: control character '\t' at offset 3 is not allowed`,
			`m.yaml:7:11: isos[0].args: control character '\n' at offset 1 is not allowed`,
			"m.yaml:8:13: isos[0].expect: not a valid regular expression: error parsing regexp: missing closing ): `(unclosed`"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse("m.yaml", []byte(tc.src), "/kit")
			if m != nil || err == nil {
				t.Fatalf("accepted:\n%s", tc.src)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not match ErrInvalid: %v", err)
			}
			var ds Diagnostics
			if !errors.As(err, &ds) {
				t.Fatalf("error is not Diagnostics: %T", err)
			}
			got := strings.Split(err.Error(), "\n")
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// An alias bomb must not expand: the loader walks the node tree, which
// shares aliased nodes, and only descends where the manifest has structure.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\nx0: &a0 [" + strings.Repeat("x,", 9) + "x]\n")
	for i := 1; i < 30; i++ {
		fmt.Fprintf(&b, "x%d: &a%d [%s*a%d]\n", i, i, strings.Repeat(fmt.Sprintf("*a%d,", i-1), 9), i-1)
	}
	b.WriteString("isos: *a29\n")
	_, err := Parse("m.yaml", []byte(b.String()), "")
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("want ErrInvalid, got %v", err)
	}
	if n := strings.Count(err.Error(), "\n") + 1; n > 100 {
		t.Errorf("%d diagnostics: the aliases were expanded", n)
	}
}

// Anchors and aliases used sensibly (a shared signature key) work.
func TestAliasesResolve(t *testing.T) {
	src := head + "isos:\n" +
		"  - name: a\n    url: https://h/a\n    checksum: file:https://h/SUMS\n    signature: &sig\n      url: https://h/SUMS.sign\n      key: {fingerprint: " + strings.Repeat("A", 40) + ", url: 'https://h/k'}\n" +
		"  - name: b\n    url: https://h/b\n    checksum: file:https://h/SUMS\n    signature: *sig\n"
	m, err := Parse("m.yaml", []byte(src), "")
	if err != nil {
		t.Fatal(err)
	}
	if m.ISOs[1].Signature == nil || m.ISOs[1].Signature.Key.URL != "https://h/k" {
		t.Errorf("alias not resolved: %+v", m.ISOs[1].Signature)
	}
}

func TestFutureVersionAlone(t *testing.T) {
	_, err := Parse("m.yaml", []byte("version: 2\nnew_field: x\nisos: {changed: true}\n"), "")
	want := "m.yaml:1:10: version: unsupported version 2 (this compose reads version 1); upgrade compose"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want only %q", err, want)
	}
}
