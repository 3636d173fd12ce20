package bootloader

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func detect(t *testing.T, name string) Detection {
	t.Helper()
	f := fixtureByName(t, name)
	d, err := Inspect(f.fs(), f.label)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestAssignPersistenceLive(t *testing.T) {
	got, err := AssignPersistence([]PersistRequest{{ID: "debian", Boot: detect(t, "debian-live-12")}})
	if err != nil {
		t.Fatal(err)
	}
	p := got["debian"]
	if p.Label != "p-debian" || p.Name != "p-debian" {
		t.Errorf("label %q, name %q, want p-debian for both (live-boot matches the GPT name first)", p.Label, p.Name)
	}
	if want := []string{"persistence", "persistence-label=p-debian", "persistence-storage=filesystem"}; !slices.Equal(p.Args, want) {
		t.Errorf("args %q, want %q", p.Args, want)
	}
	if len(p.Files) != 1 || p.Files[0].Path != "/persistence.conf" || string(p.Files[0].Data) != "/ union\n" {
		t.Errorf("files %+v, want /persistence.conf with \"/ union\"", p.Files)
	}
}

func TestRenderAddsPersistenceArgs(t *testing.T) {
	d := detect(t, "debian-live-12")
	p, err := AssignPersistence([]PersistRequest{{ID: "debian", Boot: d}})
	if err != nil {
		t.Fatal(err)
	}
	pers := p["debian"]
	cfg, err := Render(Menu{Console: ConsoleSerial}, []Entry{
		{ID: "debian", ISOPath: "/isos/debian.iso", Boot: d, Args: "quiet", Persistence: &pers},
		{ID: "plain", ISOPath: "/isos/plain.iso", Boot: d},
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := linuxLines(string(cfg))
	want := `linux '(iso1)/live/vmlinuz-6.1.0-18-amd64' 'boot=live' 'findiso=/isos/debian.iso' 'persistence' 'persistence-label=p-debian' 'persistence-storage=filesystem' "console=${compose_serial}" 'quiet'`
	if len(lines) != 2 || lines[0] != want {
		t.Fatalf("linux lines:\n%s\nwant first:\n%s", strings.Join(lines, "\n"), want)
	}
	if strings.Contains(lines[1], "persistence") {
		t.Errorf("entry without persistence got its arguments: %s", lines[1])
	}
}

func linuxLines(cfg string) []string {
	var out []string
	for _, l := range strings.Split(cfg, "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "linux ") {
			out = append(out, l)
		}
	}
	return out
}

func TestPersistenceLabel(t *testing.T) {
	for _, tc := range []struct{ id, want string }{
		{"debian", "p-debian"},
		{"kali-2024-live", "p-kali-2024-live"},                       // 14: fits exactly
		{"kali-2024-live1", "p-kali-20_" + hash6("kali-2024-live1")}, // 15: shortened
		{"fedora-39-workstation-live", "p-fedora_" + hash6("fedora-39-workstation-live")},
	} {
		got := PersistenceLabel(tc.id)
		if got != tc.want || len(got) > 16 {
			t.Errorf("PersistenceLabel(%q) = %q (%d bytes), want %q", tc.id, got, len(got), tc.want)
		}
	}
}

func hash6(s string) string {
	sum := sha256.Sum256([]byte(s))
	return fmt.Sprintf("%x", sum)[:6]
}

// Labels depend on the entry's own ID only: adding, removing or reordering other entries
// leaves every label as it was, and distinct IDs sharing a long prefix stay distinct.
func TestPersistenceLabelsStableAndUnique(t *testing.T) {
	d := detect(t, "debian-live-12")
	var ids []string
	for i := range 300 {
		ids = append(ids, fmt.Sprintf("debian-live-12-bookworm-%d", i), fmt.Sprintf("d%d", i))
	}
	reqs := func(ids []string) []PersistRequest {
		var r []PersistRequest
		for _, id := range ids {
			r = append(r, PersistRequest{ID: id, Boot: d})
		}
		return r
	}
	all, err := AssignPersistence(reqs(ids))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for id, p := range all {
		if len(p.Label) > 16 {
			t.Errorf("%s: label %q is %d bytes", id, p.Label, len(p.Label))
		}
		if other, dup := seen[p.Label]; dup {
			t.Errorf("%s and %s share label %q", id, other, p.Label)
		}
		seen[p.Label] = id
	}
	rev := slices.Clone(ids[100:200])
	slices.Reverse(rev)
	some, err := AssignPersistence(reqs(rev))
	if err != nil {
		t.Fatal(err)
	}
	for id, p := range some {
		if all[id].Label != p.Label {
			t.Errorf("%s: label %q in the whole kit, %q in a reordered part of it", id, all[id].Label, p.Label)
		}
	}
}

func TestAssignPersistenceErrors(t *testing.T) {
	const badID = "repeated entry id, or not one of [a-z0-9-] starting with a letter or digit"
	live, casper := detect(t, "debian-live-12"), detect(t, "ubuntu-22.04-desktop")
	casper.Family = Casper
	for _, tc := range []struct {
		name   string
		reqs   []PersistRequest
		id     string
		family Family
		reason string
	}{
		{"efi", []PersistRequest{{"memtest", detect(t, "memtest86plus-6.10")}}, "memtest", EFI,
			"the efi family has no persistence contract (persistence works with archiso, casper, dracut, live)"},
		{"tails", []PersistRequest{{"tails", detect(t, "tails-6.0")}}, "tails", Tails,
			"the tails family has no persistence contract (persistence works with archiso, casper, dracut, live)"},
		{"anaconda", []PersistRequest{{"fedora", detect(t, "fedora-39-server-dvd")}}, "fedora", Anaconda,
			"the anaconda family has no persistence contract (persistence works with archiso, casper, dracut, live)"},
		{"loopback-cfg", []PersistRequest{{"ubuntu", detect(t, "ubuntu-22.04-desktop")}}, "ubuntu", LoopbackCfg,
			"an ISO booted through its own loopback.cfg takes no extra kernel arguments; set boot: to its family (archiso, casper, dracut or live) to give it persistence"},
		{"linux", []PersistRequest{{"k", Detection{Family: Linux, Kernel: "/k"}}}, "k", Linux,
			"the linux family has no persistence contract (persistence works with archiso, casper, dracut, live)"},
		{"second casper", []PersistRequest{{"a", casper}, {"b", live}, {"c", casper}}, "c", Casper,
			`entry "a" already has casper persistence; casper reads the one filesystem labelled writable, so a stick holds one`},
		{"repeated id", []PersistRequest{{"a", live}, {"a", live}}, "a", Live, badID},
		{"empty id", []PersistRequest{{"", live}}, "", Live, badID},
		{"id with a comma", []PersistRequest{{"a,b", live}}, "a,b", Live, badID},
		{"id with a colon", []PersistRequest{{"a:b", live}}, "a:b", Live, badID},
		{"upper-case id", []PersistRequest{{"Debian", live}}, "Debian", Live, badID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AssignPersistence(tc.reqs)
			var pe *PersistenceError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, %v; want a *PersistenceError", got, err)
			}
			if got != nil || pe.ID != tc.id || pe.Family != tc.family || pe.Reason != tc.reason {
				t.Errorf("got %+v (map %v)\nwant id %q family %s reason %q", *pe, got, tc.id, tc.family, tc.reason)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.id)) {
				t.Errorf("message %q does not name the entry", err)
			}
		})
	}
}

// Render refuses persistence on an entry whose family has no contract, whoever built the
// Entry.
// With persistence an ISO's loopback.cfg is passed over, as with args: (it cannot take
// the family's persistence arguments); without, the loopback.cfg is still preferred.
func TestPersistentPassesLoopbackCfgOver(t *testing.T) {
	f := fixtureByName(t, "ubuntu-22.04-desktop")
	plain, err := Resolve(f.fs(), f.label, Overrides{})
	if err != nil || plain.Family != LoopbackCfg {
		t.Fatalf("without persistence: %s, %v; want loopback-cfg", plain.Family, err)
	}
	d, err := Resolve(f.fs(), f.label, Overrides{Persistent: true})
	if err != nil || d.Family != Casper {
		t.Fatalf("with persistence: %s, %v; want casper", d.Family, err)
	}
	if !slices.ContainsFunc(d.Notes, func(n string) bool { return strings.HasPrefix(n, "persistence: given") }) {
		t.Errorf("no note says why the loopback.cfg was passed over: %q", d.Notes)
	}
	if _, err := AssignPersistence([]PersistRequest{{"ubuntu", d}}); err != nil {
		t.Error(err)
	}
}

func TestRenderRefusesPersistenceWithoutContract(t *testing.T) {
	p := Persistence{Label: "p-x", Name: "p-x", Args: []string{"persistence"}}
	_, err := Render(Menu{}, []Entry{{ID: "x", ISOPath: "/isos/x.iso", Boot: detect(t, "memtest86plus-6.10"), Persistence: &p}})
	var pe *PersistenceError
	if !errors.As(err, &pe) || pe.Family != EFI {
		t.Fatalf("got %v, want a PersistenceError for the efi family", err)
	}
}

// FuzzPersistenceLabel: whatever the IDs, AssignPersistence gives labels of at most 16
// bytes that depend on the ID alone and never meet, or refuses with a PersistenceError.
func FuzzPersistenceLabel(f *testing.F) {
	f.Add("debian", "debian-live-12-bookworm-amd64", byte(1))
	f.Add("a", "a-", byte(2))
	f.Add("x,y", "x:y", byte(0))
	f.Add("kali-2024-live", "kali-2024-live1", byte(3))
	f.Fuzz(func(t *testing.T, a, b string, fam byte) {
		fams := []Family{Live, Dracut, Archiso, Casper}
		d := Detection{Family: fams[int(fam)%len(fams)], Kernel: "/k"}
		if d.Family == Casper {
			d.Family = Live // casper's label is fixed: one per stick by design
		}
		got, err := AssignPersistence([]PersistRequest{{a, d}, {b, d}})
		if err != nil {
			var pe *PersistenceError
			if !errors.As(err, &pe) || got != nil {
				t.Fatalf("bad failure: %v %v", got, err)
			}
			return
		}
		pa, pb := got[a], got[b]
		if len(pa.Label) > 16 || len(pb.Label) > 16 || pa.Label == pb.Label || pa.Label != PersistenceLabel(a) {
			t.Fatalf("labels %q (%s) and %q (%s)", pa.Label, a, pb.Label, b)
		}
		for _, l := range []string{pa.Label, pb.Label} {
			if !regexp.MustCompile(`^[a-z0-9_-]{1,16}$`).MatchString(l) {
				t.Fatalf("label %q has characters a kernel line or by-label would mangle", l)
			}
		}
	})
}
