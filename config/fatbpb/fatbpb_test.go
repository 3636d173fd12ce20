package fatbpb

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// bootSector formats a file of size bytes with mkfs.fat and returns its
// first sector.
func bootSector(t *testing.T, size int64, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("mkfs.fat"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mkfs.fat missing (CI installs dosfstools)")
		}
		t.Skip("mkfs.fat missing (Debian package dosfstools)")
	}
	img := filepath.Join(t.TempDir(), "fat.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.fat", append(args, img)...).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.fat: %v\n%s", err, out)
	}
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	return b[:512]
}

func TestParseMkfsFat(t *testing.T) {
	p, err := Parse(bootSector(t, 64<<20, "-F", "32", "-s", "1", "-R", "32"))
	if err != nil || !p.FAT32 || !p.Signed || p.BytesPerSector != 512 || p.SectorsPerCluster != 1 || p.Reserved != 32 || p.FATs != 2 ||
		p.RootCluster != 2 || p.FSInfo != 1 || p.Backup != 6 || p.TotalSectors != 64<<11 || p.RootEntries != 0 {
		t.Fatalf("FAT32: %+v, %v", p, err)
	}
	if p.MetadataBytes() != (32+2*p.FATSectors)*512 || p.DataSector() != 32+2*p.FATSectors {
		t.Errorf("FAT32 metadata %d, data at sector %d", p.MetadataBytes(), p.DataSector())
	}
	if want := (p.TotalSectors - p.DataSector()) / p.SectorsPerCluster; p.Clusters() != want {
		t.Errorf("FAT32 clusters %d, want %d", p.Clusters(), want)
	}
	p, err = Parse(bootSector(t, 16<<20, "-F", "16"))
	if err != nil || p.FAT32 || p.RootEntries != 512 || p.RootCluster != 0 || p.MetadataBytes() != (p.Reserved+2*p.FATSectors)*512+512*32 {
		t.Fatalf("FAT16: %+v, %v", p, err)
	}
	if p.DataSector()*512 != p.MetadataBytes() {
		t.Errorf("FAT16: data at sector %d, metadata %d bytes", p.DataSector(), p.MetadataBytes())
	}
}

// Every field out of range is an error that names it.
func TestParseErrorsSayWhat(t *testing.T) {
	good := make([]byte, 512)
	le := binary.LittleEndian
	le.PutUint16(good[11:], 512)
	good[13] = 1
	le.PutUint16(good[14:], 1)
	good[16] = 2
	le.PutUint16(good[17:], 16)
	le.PutUint16(good[19:], 12)
	le.PutUint16(good[22:], 1)
	if p, err := Parse(good); err != nil || p.DataSector() != 4 || p.Clusters() != 8 || p.Signed {
		t.Fatalf("%+v, %v", p, err)
	}
	set := func(off int, v uint16) []byte {
		b := append([]byte(nil), good...)
		le.PutUint16(b[off:], v)
		return b
	}
	for _, tc := range []struct {
		b    []byte
		want string
	}{
		{good[:100], "100 bytes, less than one sector"},
		{set(11, 3), "3 bytes per sector"},
		{set(11, 8192), "8192 bytes per sector"},
		{set(13, 3), "3 sectors per cluster"},
		{set(14, 0), "no reserved sectors"},
		{set(16, 0), "0 FATs"},
		{set(16, 5), "5 FATs"},
		{set(22, 0), "FAT size 0"},
		{set(14, 0xffff), "65535 reserved sectors, 2 FATs of 1 sectors and 16 root entries leave no data area in 12 sectors"},
	} {
		if _, err := Parse(tc.b); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want %q, got %v", tc.want, err)
		}
	}
}

// FuzzParse: whatever the bytes, a BPB Parse accepts has a data area of
// at least one sector inside the sectors it claims.
func FuzzParse(f *testing.F) {
	f.Add(make([]byte, 512))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		if p.DataSector() >= p.TotalSectors || p.Clusters() < 0 || p.MetadataBytes() > p.TotalSectors*p.BytesPerSector {
			t.Fatalf("accepted %+v", p)
		}
	})
}
