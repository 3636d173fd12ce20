package bootloader

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestDracutLabel(t *testing.T) {
	for in, want := range map[string]string{
		"Fedora-S-dvd-x86_64-39": "Fedora-S-dvd-x86_64-39",
		"TAILS 6.0 - 20240227":   `TAILS\x206.0\x20-\x2020240227`,
		"a/b'c":                  `a\x2fb\x27c`,
	} {
		if got := dracutLabel(in); got != want {
			t.Errorf("dracutLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

// Every loopback in a rendered menu first deletes the device it re-creates, guarded so
// that GRUB is never asked to delete a device this menu did not create (issue 11 item 6).
func TestLoopbackDeviceReleased(t *testing.T) {
	var entries []Entry
	for _, f := range append(fixtures(), familyFixtures()...) {
		d, err := Inspect(f.fs(), f.label)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, Entry{ID: f.name, ISOPath: "/isos/" + f.name + ".iso", Boot: d})
	}
	cfg, err := Render(Menu{}, entries)
	if err != nil {
		t.Fatal(err)
	}
	s, err := parseGRUB(string(cfg))
	if err != nil {
		t.Fatal(err)
	}
	created := map[string]int{}
	for i, c := range s.cmds {
		if c.words[0] != "loopback" || c.words[1] == "-d" {
			continue
		}
		dev := c.words[1]
		created[dev]++
		// The three commands before: [ -n "${compose_dev_D}" ], loopback -d D; after: set compose_dev_D=1.
		if i < 2 || strings.Join(s.cmds[i-2].words, " ") != "[ -n ${compose_dev_"+dev+"} ]" ||
			strings.Join(s.cmds[i-1].words, " ") != "loopback -d "+dev ||
			i+1 >= len(s.cmds) || strings.Join(s.cmds[i+1].words, " ") != "set compose_dev_"+dev+"=1" {
			t.Errorf("loopback %s at command %d is not released first / recorded after", dev, i)
		}
	}
	isoDevs := 0
	for dev, n := range created {
		if strings.HasPrefix(dev, "iso") || dev == "loop" {
			isoDevs += n
		}
	}
	if isoDevs != len(entries) || created["esp14"] != 1 {
		t.Errorf("loop devices created: %v for %d entries", created, len(entries))
	}
}

func lbFS(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{"casper/vmlinuz": {Data: bzImage()}, "casper/initrd": {Data: []byte("x")}}
	for p, c := range files {
		m[strings.TrimPrefix(p, "/")] = &fstest.MapFile{Data: []byte(c)}
	}
	return m
}

// A loopback.cfg whose chain leaves the ISO is not used; compose's own detection boots it,
// and the note says why. One that stays inside is used, with the kernel it boots.
func TestLoopbackChainChecked(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  Family
		note  string
	}{
		{"prefix", map[string]string{loopbackCfgPath: `source "${prefix}/grub.cfg"`}, Casper, "reads ${prefix}"},
		{"missing", map[string]string{loopbackCfgPath: "source /boot/grub/gone.cfg\n"}, Casper, "the ISO does not hold"},
		{"loop", map[string]string{loopbackCfgPath: "configfile /boot/grub/a.cfg", "/boot/grub/a.cfg": "source ($root)/boot/grub/loopback.cfg"},
			Casper, "sources itself"},
		{"other device", map[string]string{loopbackCfgPath: "source (hd0,1)/grub.cfg"}, Casper, "another device"},
		{"inside", map[string]string{loopbackCfgPath: "# chain\nsource /boot/grub/a.cfg # menu\n",
			"/boot/grub/a.cfg": "menuentry x {\n linux ($root)/casper/vmlinuz iso-scan/filename=${iso_path}\n initrd (loop)/casper/initrd\n}"},
			LoopbackCfg, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Inspect(lbFS(tc.files), "L")
			if err != nil {
				t.Fatal(err)
			}
			if d.Family != tc.want {
				t.Fatalf("family %s, want %s (notes %q)", d.Family, tc.want, d.Notes)
			}
			if tc.note == "" {
				if len(d.Notes) > 0 || d.Kernel != "/casper/vmlinuz" || !slices.Equal(d.Initrd, []string{"/casper/initrd"}) ||
					!slices.Equal(d.LoopbackChain, []string{loopbackCfgPath, "/boot/grub/a.cfg"}) {
					t.Errorf("used loopback.cfg: notes %q kernel %q initrd %q chain %q", d.Notes, d.Kernel, d.Initrd, d.LoopbackChain)
				}
				return
			}
			if len(d.Notes) != 1 || !strings.Contains(d.Notes[0], tc.note) || !strings.Contains(strings.Join(d.Lines(), "\n"), "note: the ISO's loopback.cfg is not used") {
				t.Errorf("notes %q, want one with %q", d.Notes, tc.note)
			}
			if _, err := Resolve(lbFS(tc.files), "L", Overrides{Family: LoopbackCfg}); err == nil || !strings.Contains(err.Error(), tc.note) {
				t.Errorf("boot: loopback-cfg forced on a broken chain: err %v", err)
			}
		})
	}
}

// args: switches an ISO with a good loopback.cfg to compose's own entry, which takes them.
func TestArgsSwitchFromLoopbackCfg(t *testing.T) {
	fsys := lbFS(map[string]string{loopbackCfgPath: "menuentry x {\n linux /casper/vmlinuz\n initrd /casper/initrd\n}"})
	d, err := Resolve(fsys, "L", Overrides{Args: "nomodeset"})
	if err != nil || d.Family != Casper || len(d.Notes) != 1 || !strings.Contains(d.Notes[0], "args:") {
		t.Fatalf("family %s notes %q err %v", d.Family, d.Notes, err)
	}
	cfg, err := Render(Menu{}, []Entry{{ID: "x", ISOPath: "/isos/x.iso", Boot: d, Args: "nomodeset"}})
	if err != nil || !strings.Contains(string(cfg), "'iso-scan/filename=/isos/x.iso' 'nomodeset'") {
		t.Errorf("args not on compose's own entry: %v\n%s", err, cfg)
	}
}

// The ISO's own menu gets the kit's timeout (exported: configfile keeps only exported
// variables), and the kit's menu waits once it is left.
func TestNestedMenuTimeout(t *testing.T) {
	d, err := Inspect(fixtureByName(t, "ubuntu-22.04-desktop").fs(), "U")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Render(Menu{Timeout: 7 * time.Second}, []Entry{{ID: "u", ISOPath: "/isos/u.iso", Boot: d}})
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?s)set timeout=7\n\s*export timeout\n\s*configfile '/boot/grub/loopback.cfg'\n\s*set timeout=-1\n`)
	if !re.Match(cfg) {
		t.Errorf("no exported timeout around configfile:\n%s", cfg)
	}
}
