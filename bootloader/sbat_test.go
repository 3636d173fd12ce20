package bootloader

import (
	"bytes"
	"debug/pe"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/usbkit/compose/bootloader/assets"
)

// SBAT (shim's SBAT.md): every image shim loads carries a .sbat CSV section of
// "component,generation,…" lines; shim carries in .sbatlevel the revocations it installs
// into the firmware's SbatLevel variable: a header {u32 version; u32 previous; u32 latest}
// (offsets from the end of the version field) then two NUL-terminated texts "sbat,1,DATE"
// plus "component,min-generation" lines. shim refuses an image any of whose components is
// below the minimum, so the embedded GRUB must meet both policies of the embedded shim.

// peSection returns the named section of a PE image, trimmed of its zero padding.
func peSection(img []byte, name string) ([]byte, error) {
	f, err := pe.NewFile(bytes.NewReader(img))
	if err != nil {
		return nil, err
	}
	s := f.Section(name)
	if s == nil {
		return nil, fmt.Errorf("no %s section", name)
	}
	b, err := s.Data()
	if err != nil {
		return nil, err
	}
	return bytes.TrimRight(b, "\x00"), nil
}

// sbatGenerations parses "component,generation[,…]" lines.
func sbatGenerations(csv string) (map[string]int, error) {
	gen := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(csv), "\n") {
		f := strings.Split(strings.TrimSpace(l), ",")
		if len(f) < 2 {
			return nil, fmt.Errorf("sbat line %q", l)
		}
		n, err := strconv.Atoi(f[1])
		if err != nil {
			return nil, fmt.Errorf("sbat line %q: %w", l, err)
		}
		gen[f[0]] = n
	}
	return gen, nil
}

// sbatPolicies returns shim's previous and latest revocation policies.
func sbatPolicies(shim []byte) ([]map[string]int, error) {
	b, err := peSection(shim, ".sbatlevel")
	if err != nil {
		return nil, err
	}
	if len(b) < 12 || binary.LittleEndian.Uint32(b) != 0 {
		return nil, fmt.Errorf(".sbatlevel header % x", b[:min(len(b), 12)])
	}
	var out []map[string]int
	for _, at := range []uint32{binary.LittleEndian.Uint32(b[4:]), binary.LittleEndian.Uint32(b[8:])} {
		if int(at)+4 >= len(b) {
			return nil, fmt.Errorf(".sbatlevel offset %d out of range", at)
		}
		text, _, _ := bytes.Cut(b[4+at:], []byte{0})
		g, err := sbatGenerations(string(text))
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

// sbatRefusal says why a policy would revoke an image with these generations ("" = allowed).
func sbatRefusal(policy, image map[string]int) string {
	var why []string
	for comp, min := range policy {
		if comp == "sbat" {
			continue
		}
		if g, ok := image[comp]; ok && g < min {
			why = append(why, fmt.Sprintf("%s generation %d < %d", comp, g, min))
		}
	}
	return strings.Join(why, ", ")
}

func TestSBATGenerationsAgree(t *testing.T) {
	for _, p := range []struct{ shim, grub, mok string }{
		{assets.ShimX64, assets.GrubX64, assets.MokX64},
		{assets.ShimAA64, assets.GrubAA64, assets.MokAA64},
	} {
		shim, _ := assets.Read(p.shim)
		policies, err := sbatPolicies(shim)
		if err != nil {
			t.Fatalf("%s: %v", p.shim, err)
		}
		t.Logf("%s .sbatlevel previous %v, latest %v", p.shim, policies[0], policies[1])
		for _, name := range []string{p.shim, p.grub, p.mok} {
			img, _ := assets.Read(name)
			csv, err := peSection(img, ".sbat")
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			gen, err := sbatGenerations(string(csv))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if name == p.grub && gen["grub"] == 0 || name != p.grub && gen["shim"] == 0 {
				t.Fatalf("%s: .sbat names no grub/shim generation: %q", name, csv)
			}
			t.Logf("%s .sbat:\n%s", name, csv)
			for i, pol := range policies {
				if pol["grub"] == 0 || pol["shim"] == 0 {
					t.Fatalf("%s policy %d has no grub/shim minimum: %v", p.shim, i, pol)
				}
				if why := sbatRefusal(pol, gen); why != "" {
					t.Errorf("%s would refuse %s (policy %d): %s", p.shim, name, i, why)
				}
			}
		}
	}
}

// The check above must catch a GRUB its shim revokes: generation 4 is below the grub,5
// minimum of both policies of shim 16.1.
func TestSBATRefusalCatchesAnOldGRUB(t *testing.T) {
	shim, _ := assets.Read(assets.ShimX64)
	policies, err := sbatPolicies(shim)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := sbatGenerations("sbat,1,SBAT Version,sbat,1,x\ngrub,4,Free Software Foundation,grub,2.06,x\n")
	for i, pol := range policies {
		if sbatRefusal(pol, old) == "" {
			t.Errorf("policy %d accepts grub generation 4: %v", i, pol)
		}
	}
}
