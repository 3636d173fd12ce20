package fatbpb

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/usbkit/compose/compose/internal/testenv"
)

// bootSector formats a file of size bytes with mkfs.fat and returns its
// first sector.
func bootSector(t *testing.T, size int64, args ...string) []byte {
	t.Helper()
	img := filepath.Join(t.TempDir(), "fat.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	testenv.Run(t, "mkfs.fat", append(args, img)...)
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	return b[:512]
}

func TestParseMkfsFat(t *testing.T) {
	testenv.Tools(t, "mkfs.fat")
	p, ok := Parse(bootSector(t, 64<<20, "-F", "32", "-s", "1", "-R", "32"))
	if !ok || p.BytesPerSector != 512 || p.SectorsPerCluster != 1 || p.Reserved != 32 || p.FATs != 2 ||
		p.RootCluster != 2 || p.FSInfo != 1 || p.Backup != 6 || p.TotalSectors != 64<<11 || p.RootEntries != 0 {
		t.Fatalf("FAT32: %+v ok=%t", p, ok)
	}
	if p.MetadataBytes() != (32+2*p.FATSectors)*512 {
		t.Errorf("FAT32 metadata %d", p.MetadataBytes())
	}
	p, ok = Parse(bootSector(t, 16<<20, "-F", "16"))
	if !ok || p.RootEntries != 512 || p.RootCluster != 0 || p.MetadataBytes() != (p.Reserved+2*p.FATSectors)*512+512*32 {
		t.Fatalf("FAT16: %+v ok=%t", p, ok)
	}
	if _, ok := Parse(make([]byte, 512)); ok {
		t.Error("a zero sector parsed as FAT")
	}
}
