package disk

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLayoutErrors(t *testing.T) {
	big := File{Path: "/isos/big.iso", Source: "/nonexistent", Size: 4 * gib}
	cases := []struct {
		name string
		spec Spec
		want string
		is   error
	}{
		{"big on ESP", Spec{ESP: ESP{Files: []File{big}}}, "too big for FAT32", ErrFileTooBig},
		{"big ISO all on ESP", Spec{ISOs: []File{big}, Placement: PlaceAllOnESP}, "4294967295", ErrFileTooBig},
		{"too small", Spec{Size: 40 * mib, ESP: ESP{Files: []File{{Path: "/a", Data: make([]byte, 50<<20)}}}}, "more", ErrTooSmall},
		{"label too long", Spec{ESP: ESP{Label: "TWELVECHARSX"}}, "at most 11", nil},
		{"label lower case", Spec{ESP: ESP{Label: "kit"}}, "upper case", nil},
		{"ext4 label", Spec{Data: Data{Label: strings.Repeat("x", 17)}}, "at most 16", nil},
		{"alias collision", Spec{ESP: ESP{Files: []File{{Path: "/a+b.iso"}, {Path: "/a_b.iso"}}}}, "collide", nil},
		{"case collision", Spec{ESP: ESP{Files: []File{{Path: "/isos/A.iso"}, {Path: "/isos/a.iso"}}}}, "", nil},
		{"file and dir", Spec{ESP: ESP{Files: []File{{Path: "/x"}, {Path: "/x/y"}}}}, "clashes", nil},
		{"relative path", Spec{ESP: ESP{Files: []File{{Path: "isos/a.iso"}}}}, "absolute", nil},
		{"bad char", Spec{ESP: ESP{Files: []File{{Path: "/a?.iso"}}}}, "cannot hold", nil},
		{"trailing dot", Spec{ESP: ESP{Files: []File{{Path: "/a."}}}}, "ends", nil},
		{"boot code", Spec{BootCode: make([]byte, 441)}, "440", nil},
		{"odd size", Spec{Size: 100*mib + 1}, "multiple of 512", nil},
		{"time", Spec{Time: time.Date(1975, 1, 1, 0, 0, 0, 0, time.UTC)}, "1980", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ComputeLayout(c.spec)
			if err == nil || !strings.Contains(err.Error(), c.want) || (c.is != nil && !errors.Is(err, c.is)) {
				t.Fatalf("want error with %q (%v), got %v", c.want, c.is, err)
			}
		})
	}
}

func TestLayoutAuto(t *testing.T) {
	spec := Spec{Seed: []byte("x"), BIOSBoot: []byte{1},
		ESP:  ESP{Files: []File{{Path: "/isos/a.iso", Size: 700 * mib, Source: "a"}}},
		ISOs: []File{{Path: "/isos/big.iso", Size: 5 * gib, Source: "b"}}}
	l, err := ComputeLayout(spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Partitions) != 3 || l.Partitions[0].FirstLBA != 2048 || l.Partitions[0].Size != mib {
		t.Fatalf("partitions: %+v", l.Partitions)
	}
	for i, p := range l.Partitions {
		if p.Offset%mib != 0 || p.Size%mib != 0 {
			t.Errorf("partition %d not 1 MiB aligned", i+1)
		}
		if p.Size < p.Content {
			t.Errorf("partition %d: %d bytes for %d of content", i+1, p.Size, p.Content)
		}
	}
	esp := l.Partition(FSFAT32)
	if esp.FAT.DataBytes() < 700*mib || esp.FAT.FATEntries < esp.FAT.Clusters+2 {
		t.Fatalf("ESP geometry %+v", esp.FAT)
	}
	if l.Headroom < 64*mib {
		t.Fatalf("headroom %d", l.Headroom)
	}
	l2, _ := ComputeLayout(spec)
	spec.Seed = []byte("y")
	l3, _ := ComputeLayout(spec)
	if l.DiskGUID != l2.DiskGUID || l.DiskGUID == l3.DiskGUID || esp.GUID == l.Partitions[0].GUID {
		t.Fatal("GUIDs are not a function of the seed and purpose")
	}
}

func TestExplicitSizeFillsDisk(t *testing.T) {
	// 4096 MiB left for the ESP is a size go-diskfs v1.9.4 gets wrong
	l, err := ComputeLayout(Spec{Size: 4*gib + 2*mib, ESP: ESP{Files: []File{{Path: "/a", Data: []byte("a")}}}})
	if err != nil {
		t.Fatal(err)
	}
	esp := l.Partition(FSFAT32)
	if l.Size != 4*gib+2*mib || esp.Size != 4*gib-mib || len(l.Notes) == 0 {
		t.Fatalf("size %d, ESP %d, notes %v", l.Size, esp.Size, l.Notes)
	}
}
