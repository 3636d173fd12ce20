package assets

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestEmbeddedFilesMatchProvenance(t *testing.T) {
	if err := Verify(); err != nil {
		t.Fatal(err)
	}
	p, err := LoadProvenance()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Packages) < 9 || len(p.Files) < 12 {
		t.Fatalf("PROVENANCE too short: %d packages, %d files", len(p.Packages), len(p.Files))
	}
	for _, pk := range p.Packages {
		if len(pk.DebSHA256) != 64 || pk.Version == "" || pk.Source == "" {
			t.Errorf("incomplete package record %+v", pk)
		}
	}
}

func TestCheckCatchesTamperedAndUnlistedFiles(t *testing.T) {
	p, err := LoadProvenance()
	if err != nil {
		t.Fatal(err)
	}
	m := fstest.MapFS{}
	for _, f := range p.Files {
		b, err := Read(f.Name)
		if err != nil {
			t.Fatal(err)
		}
		m[f.Name] = &fstest.MapFile{Data: b}
	}
	if err := p.Check(m); err != nil {
		t.Fatalf("pristine copy rejected: %v", err)
	}
	tampered := append([]byte(nil), m[BootImg].Data...)
	tampered[0x5C] ^= 1
	m[BootImg] = &fstest.MapFile{Data: tampered}
	m["extra.efi"] = &fstest.MapFile{Data: []byte("x")}
	err = p.Check(m)
	if err == nil || !strings.Contains(err.Error(), "boot.img: sha256") || !strings.Contains(err.Error(), "extra.efi: embedded but not") {
		t.Fatalf("tampering not reported: %v", err)
	}
}

func TestParseProvenanceRejectsGarbage(t *testing.T) {
	if _, err := ParseProvenance([]byte("file onlyname\n")); err == nil {
		t.Fatal("short file line accepted")
	}
}
