package device

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func listed(t *testing.T, root Root) map[string]Device {
	t.Helper()
	devs, err := List(root)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]Device{}
	for _, d := range devs {
		m[d.Name] = d
	}
	return m
}

func codes(rs []Reason) []ReasonCode {
	var out []ReasonCode
	for _, r := range rs {
		out = append(out, r.Code)
	}
	return out
}

func TestListFixture(t *testing.T) {
	devs := listed(t, labFixture(t))
	var names []string
	for n := range devs {
		names = append(names, n)
	}
	want := []string{"loop0", "mmcblk0", "mmcblk1", "nvme0n1", "sda", "sdb", "sdc", "sdd", "sde", "sdf", "sdg"}
	if got := sorted(names); !reflect.DeepEqual(got, want) {
		t.Fatalf("listed %v, want %v (dm, zram and idle loop devices left out)", got, want)
	}
	stick := devs["sdb"]
	if stick.Path != "/dev/sdb" || stick.Bus != BusUSB || !stick.Removable || stick.Size != 32*GB ||
		stick.Vendor != "SanDisk" || stick.Model != "Ultra" || stick.Serial != "4C530001230511115033" {
		t.Errorf("usb stick: %+v", stick)
	}
	if len(stick.Partitions) != 1 || stick.Partitions[0].FSType != "vfat" || stick.Partitions[0].Label != "OLDKIT" ||
		stick.Partitions[0].Start != MiB {
		t.Errorf("usb stick partitions: %+v", stick.Partitions)
	}
	if got := stick.String(); got != "/dev/sdb (SanDisk Ultra, 29.8 GiB, usb)" {
		t.Errorf("String() = %q", got)
	}
	sd := devs["mmcblk0"]
	if sd.Bus != BusMMC || sd.Model != "SC16G" || sd.Serial != "0x1b2c3d4e" {
		t.Errorf("sd card: %+v", sd)
	}
	sys := devs["nvme0n1"]
	if sys.Bus != BusNVMe || !sys.System || sys.Model != "Samsung SSD 980 PRO 512GB" {
		t.Errorf("nvme: %+v", sys)
	}
	if got := sys.Partitions[1].Mountpoints; !reflect.DeepEqual(got, []string{"/ (via dm-0)"}) {
		t.Errorf("nvme0n1p2 mountpoints %q, want the root mounted through dm-0", got)
	}
	if got := devs["sda"].Partitions[0].Mountpoints; !reflect.DeepEqual(got, []string{"/data", "/srv/my data"}) {
		t.Errorf("sda1 mountpoints %q", got)
	}
	if devs["sda"].Bus != BusATA || devs["loop0"].Bus != BusLoop || devs["sdf"].Bus != BusUSB {
		t.Errorf("buses: sda %s loop0 %s sdf %s", devs["sda"].Bus, devs["loop0"].Bus, devs["sdf"].Bus)
	}
	if got := devs["sdc"].Partitions[0].Holders; !reflect.DeepEqual(got, []string{"dm-1"}) {
		t.Errorf("sdc1 holders %q", got)
	}
	if !devs["sdd"].Partitions[1].Swap || devs["sdd"].Partitions[0].Swap {
		t.Errorf("swap flags of sdd: %+v", devs["sdd"].Partitions)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestRefusalRules runs Check on every fixture disk, with and without Force.
func TestRefusalRules(t *testing.T) {
	devs := listed(t, labFixture(t))
	image := int64(8 * GB)
	cases := []struct {
		name      string
		image     int64
		want      []ReasonCode // without Force
		wantForce []ReasonCode // with Force
		text      string       // must appear in the error
	}{
		{"sdb", image, nil, nil, ""},
		{"mmcblk0", image, nil, nil, ""},
		{"sdb", 64 * GB, []ReasonCode{TooSmall}, []ReasonCode{TooSmall}, "smaller (29.8 GiB) than the image (59.6 GiB)"},
		{"nvme0n1", image, []ReasonCode{SystemDisk, Mounted, Member, NotRemovable}, []ReasonCode{SystemDisk, Mounted, Member},
			"/dev/nvme0n1p2 on / (via dm-0)"},
		{"sda", image, []ReasonCode{Mounted, NotRemovable}, []ReasonCode{Mounted}, "mounted: /dev/sda1 on /data"},
		{"sdc", image, []ReasonCode{Member, NotRemovable}, []ReasonCode{Member}, "/dev/sdc1 held by dm-1"},
		{"sdd", image, []ReasonCode{ActiveSwap}, []ReasonCode{ActiveSwap}, "in use as swap: /dev/sdd2"},
		{"sde", image, []ReasonCode{Member}, []ReasonCode{Member}, "/dev/sde1 is a RAID member"},
		{"sdf", image, []ReasonCode{TooLarge}, nil, "larger (1.8 TiB) than the 1 TiB sanity limit"},
		{"loop0", 50 * MiB, []ReasonCode{NotRemovable}, nil, "not removable media (bus loop)"},
		{"mmcblk1", image / 2, []ReasonCode{ReadOnly}, []ReasonCode{ReadOnly}, "read-only"},
		{"sdg", image, []ReasonCode{NoMedium}, []ReasonCode{NoMedium}, "no medium"},
	}
	for _, c := range cases {
		dev, ok := devs[c.name]
		if !ok {
			t.Fatalf("%s not listed", c.name)
		}
		for _, force := range []bool{false, true} {
			want := c.want
			if force {
				want = c.wantForce
			}
			err := Check(dev, c.image, CheckOptions{Force: force})
			if want == nil {
				if err != nil {
					t.Errorf("%s force=%v: unexpected refusal: %v", c.name, force, err)
				}
				continue
			}
			var ue *UnsafeTargetError
			if !errors.Is(err, ErrUnsafeTarget) || !errors.As(err, &ue) {
				t.Errorf("%s force=%v: err = %v, want an unsafe-target error", c.name, force, err)
				continue
			}
			if got := codes(ue.Reasons); !reflect.DeepEqual(got, want) {
				t.Errorf("%s force=%v: reasons %v, want %v (%v)", c.name, force, got, want, err)
			}
			if !strings.Contains(err.Error(), dev.Path) || !strings.Contains(err.Error(), c.text) {
				t.Errorf("%s force=%v: error %q does not name the device and %q", c.name, force, err, c.text)
			}
		}
	}
	// The listing carries the same reasons (image size unknown) for the CLI to show.
	if got := codes(devs["sdf"].Refusals); !reflect.DeepEqual(got, []ReasonCode{TooLarge}) || !devs["sdf"].Refusals[0].Overridable {
		t.Errorf("sdf refusals in the listing: %+v", devs["sdf"].Refusals)
	}
	if len(devs["sdb"].Refusals) != 0 {
		t.Errorf("usb stick refusals in the listing: %+v", devs["sdb"].Refusals)
	}
}

func TestMaxSizeOption(t *testing.T) {
	dev := listed(t, labFixture(t))["sdb"]
	if err := Check(dev, GB, CheckOptions{MaxSize: 16 * GB}); !errors.Is(err, ErrUnsafeTarget) {
		t.Errorf("32 GB stick with a 16 GB limit: %v", err)
	}
	if err := Check(listed(t, labFixture(t))["sdf"], GB, CheckOptions{MaxSize: -1}); err != nil {
		t.Errorf("no limit: %v", err)
	}
}

func TestPartitionAndNonBlockRefused(t *testing.T) {
	s, err := readSnapshot(labFixture(t))
	if err != nil {
		t.Fatal(err)
	}
	part, err := s.byDevnum("8:17", "/dev/disk/by-label/OLDKIT")
	if err != nil {
		t.Fatal(err)
	}
	err = Check(part, MiB, CheckOptions{Force: true})
	if !errors.Is(err, ErrUnsafeTarget) || !strings.Contains(err.Error(), "partition of /dev/sdb; name the whole disk") {
		t.Errorf("partition: %v", err)
	}
	file := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(file, make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{file, "/dev/null"} {
		d, err := Lookup(Root{}, p)
		if err != nil {
			t.Fatal(err)
		}
		err = Check(d, 1, CheckOptions{Force: true})
		var ue *UnsafeTargetError
		if !errors.As(err, &ue) || !ue.Has(NotBlockDevice) || !strings.Contains(err.Error(), p+" is not a block device") {
			t.Errorf("%s: %v", p, err)
		}
	}
	if _, err := Lookup(Root{}, filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing path: %v", err)
	}
}
