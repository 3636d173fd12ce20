package bootloader

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func sanitized(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

func fuzzEntry(fam byte, title, id, kernel, initrd, label, args string) Entry {
	d := Detection{Family: Families[int(fam)%len(Families)], Kernel: "/" + kernel, Initrd: []string{"/" + initrd},
		Label: label, ArchisoBaseDir: label, ArchisoLabel: label, LoopbackCfg: "/" + kernel,
		EFILoaders: map[Arch]string{X86_64: "/" + kernel, IA32: "/" + initrd}, EFIImage: "/" + initrd, BIOSKernel: "/" + kernel,
		Arches: []Arch{X86_64}}
	if d.Family == LoopbackCfg {
		args = ""
	}
	return Entry{ID: id, Title: title, ISOPath: "/isos/x.iso", Boot: d, Args: args}
}

// FuzzRenderQuoting: whatever a manifest or an ISO puts into titles, ids, paths, labels and
// arguments, the rendered script has exactly the structure of a render with harmless
// strings (same commands, same blocks, same entries), and each string arrives intact as
// one word.
func FuzzRenderQuoting(f *testing.F) {
	f.Add(byte(0), "T", "id", "casper/vmlinuz", "casper/initrd", "LBL", "quiet splash")
	f.Add(byte(1), "a'b", "x}", "k'; reboot; '", "i\nfi\n}", "L\"$(x)", "'; halt #")
	f.Add(byte(2), "}\nmenuentry evil {", "id' --unrestricted '", "${root}", "\\", "a\\'b", "foo=\"a b\" ${x} `y`")
	f.Add(byte(3), "#", ";", "\x00", "\r", "{", "}")
	f.Add(byte(5), "\\\n", "'\\''", "'", "''", "\"", "\\'")
	f.Fuzz(func(t *testing.T, fam byte, title, id, kernel, initrd, label, args string) {
		m := Menu{Title: title, Timeout: time.Second, Console: ConsoleBoth, SecureBoot: true, Default: id}
		e := fuzzEntry(fam, title, id, kernel, initrd, label, args)
		out, err := Render(m, []Entry{e})
		if err != nil {
			return // refused input is safe; an accepted one is checked below
		}
		base := fuzzEntry(fam, "T", "id", "k", "i", "L", strings.Repeat("a ", len(strings.Fields(args))))
		bout, err := Render(Menu{Title: "T", Timeout: time.Second, Console: ConsoleBoth, SecureBoot: true, Default: "id"}, []Entry{base})
		if err != nil {
			t.Fatalf("baseline render: %v", err)
		}
		got, err := parseGRUB(string(out))
		if err != nil {
			t.Fatalf("rendered script does not parse: %v\n%s", err, out)
		}
		want, err := parseGRUB(string(bout))
		if err != nil {
			t.Fatalf("baseline does not parse: %v", err)
		}
		if !slices.Equal(got.skeleton, want.skeleton) {
			t.Fatalf("structure changed by input:\n got %q\nwant %q\n%s", got.skeleton, want.skeleton, out)
		}
		first := got.entries[0]
		if first[1] != sanitized(title) || first[3] != sanitized(id) {
			t.Fatalf("title/id not one intact word: %q", first)
		}
		var echo []string
		for _, c := range got.cmds {
			if c.words[0] == "echo" {
				echo = c.words
			}
			if c.words[0] == "linux" {
				for _, a := range strings.Fields(args) {
					if !slices.Contains(c.words, sanitized(a)) {
						t.Fatalf("arg %q not passed as one word: %q", a, c.words)
					}
				}
			}
		}
		if len(echo) != 2 || echo[1] != sanitized(title) {
			t.Fatalf("menu title echo mangled: %q", echo)
		}
	})
}

func TestRenderRejectsBadInput(t *testing.T) {
	d := Detection{Family: Linux, Kernel: "/k"}
	for _, tc := range []struct {
		m    Menu
		e    []Entry
		want string
	}{
		{Menu{Default: "nope"}, []Entry{{ID: "a", ISOPath: "/isos/a.iso", Boot: d}}, `default "nope" is not an entry id`},
		{Menu{Console: "hdmi"}, nil, `console "hdmi"`},
		{Menu{}, []Entry{{ID: "a", ISOPath: "/isos/a b.iso", Boot: d}}, "iso path"},
		{Menu{}, []Entry{{ID: "a", ISOPath: "/a.iso", Boot: d}, {ID: "a", ISOPath: "/b.iso", Boot: d}}, "used twice"},
		{Menu{}, []Entry{{ID: "reboot", ISOPath: "/a.iso", Boot: d}}, "used twice"},
		{Menu{}, []Entry{{ID: "a", ISOPath: "/a.iso", Boot: Detection{Family: Casper}}}, "needs a kernel"},
		{Menu{}, []Entry{{ID: "a", ISOPath: "/a.iso", Boot: Detection{Family: "bsd"}}}, `family "bsd" unknown`},
		{Menu{}, []Entry{{ID: "a", ISOPath: "/a.iso", Args: "x", Boot: Detection{Family: LoopbackCfg, LoopbackCfg: "/boot/grub/loopback.cfg"}}}, "loopback.cfg"},
	} {
		if _, err := Render(tc.m, tc.e); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err %v, want %q", tc, err, tc.want)
		}
	}
}

func TestLexerSeesInjectionInUnquotedText(t *testing.T) {
	// The check above is only as good as the parser: an unquoted title must change the
	// structure it reports.
	good, _ := parseGRUB("menuentry 'a' --id 'b' {\n  halt\n}\n")
	bad, err := parseGRUB("menuentry a; reboot; --id 'b' {\n  halt\n}\n")
	if err == nil && slices.Equal(good.skeleton, bad.skeleton) {
		t.Fatal("parser did not notice an injected command")
	}
	if _, err := parseGRUB("menuentry 'x' {\n}\n}\n"); err == nil {
		t.Fatal("parser accepted an extra '}'")
	}
}
