package device

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixture builds a small sysfs/proc/udev tree shaped like the kernel's:
// disks live under sys/devices/<bus path>/block/<name>, with sys/block and
// sys/class/block symlinks pointing at them.
type fixture struct {
	t      *testing.T
	root   Root
	dirs   map[string]string // name → its sysfs directory
	mounts []string
	swaps  []string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	base := t.TempDir()
	f := &fixture{t: t, dirs: map[string]string{}, root: Root{
		Sys: filepath.Join(base, "sys"), Proc: filepath.Join(base, "proc"),
		Dev: "/dev", Udev: filepath.Join(base, "udev"),
	}}
	for _, d := range []string{"sys/block", "sys/class/block", "sys/devices", "proc/self", "udev"} {
		f.mkdir(filepath.Join(base, d))
	}
	return f
}

func (f *fixture) mkdir(p string) {
	if err := os.MkdirAll(p, 0o755); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) write(p, content string) {
	f.mkdir(filepath.Dir(p))
	if err := os.WriteFile(p, []byte(content+"\n"), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) link(target, name string) {
	if err := os.Symlink(target, name); err != nil {
		f.t.Fatal(err)
	}
}

// disk adds a whole disk at sys/devices/<devpath>/block/<name>. attrs are
// extra files relative to the disk's directory ("device/model": "Ultra").
func (f *fixture) disk(name, devnum, devpath string, size int64, attrs map[string]string) {
	dir := filepath.Join(f.root.Sys, "devices", devpath, "block", name)
	f.dirs[name] = dir
	files := map[string]string{"dev": devnum, "size": fmt.Sprint(size / 512), "removable": "0", "ro": "0",
		"queue/logical_block_size": "512"}
	for k, v := range attrs {
		files[k] = v
	}
	for k, v := range files {
		f.write(filepath.Join(dir, k), v)
	}
	f.mkdir(filepath.Join(dir, "holders"))
	f.mkdir(filepath.Join(dir, "slaves"))
	f.link(dir, filepath.Join(f.root.Sys, "block", name))
	f.link(dir, filepath.Join(f.root.Sys, "class", "block", name))
}

func (f *fixture) part(disk, name, devnum string, num int, start, size int64) {
	dir := filepath.Join(f.dirs[disk], name)
	f.dirs[name] = dir
	f.write(filepath.Join(dir, "dev"), devnum)
	f.write(filepath.Join(dir, "partition"), fmt.Sprint(num))
	f.write(filepath.Join(dir, "start"), fmt.Sprint(start/512))
	f.write(filepath.Join(dir, "size"), fmt.Sprint(size/512))
	f.mkdir(filepath.Join(dir, "holders"))
	f.link(dir, filepath.Join(f.root.Sys, "class", "block", name))
}

// holder adds a dm/md device built on the given devices.
func (f *fixture) holder(name, devnum string, size int64, slaves ...string) {
	f.disk(name, devnum, "virtual", size, nil)
	for _, s := range slaves {
		f.link(f.dirs[s], filepath.Join(f.dirs[name], "slaves", s))
		f.link(f.dirs[name], filepath.Join(f.dirs[s], "holders", name))
	}
}

func (f *fixture) udev(devnum string, props ...string) {
	var b strings.Builder
	for _, p := range props {
		b.WriteString("E:" + p + "\n")
	}
	f.write(filepath.Join(f.root.Udev, "b"+devnum), b.String())
}

func (f *fixture) mount(devnum, mp string) {
	f.mounts = append(f.mounts, fmt.Sprintf("%d 1 %s / %s rw,relatime shared:1 - ext4 /dev/x rw", 30+len(f.mounts), devnum, strings.ReplaceAll(mp, " ", `\040`)))
}

func (f *fixture) swap(path string) {
	f.swaps = append(f.swaps, path+"\tpartition\t1048572\t0\t-2")
}

// finish writes mountinfo and swaps and returns the Root.
func (f *fixture) finish() Root {
	f.mount("0:21", "/sys") // a mount of no block device: must be ignored
	f.write(filepath.Join(f.root.Proc, "self", "mountinfo"), strings.Join(f.mounts, "\n"))
	f.write(filepath.Join(f.root.Proc, "swaps"),
		"Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"+strings.Join(f.swaps, "\n"))
	return f.root
}

const (
	usbPath  = "pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0"
	usbPath2 = "pci0000:00/0000:00:14.0/usb2/2-2/2-2:1.0/host7/target7:0:0/7:0:0:0"
	usbPath3 = "pci0000:00/0000:00:14.0/usb2/2-3/2-3:1.0/host8/target8:0:0/8:0:0:0"
	usbPath4 = "pci0000:00/0000:00:14.0/usb2/2-4/2-4:1.0/host9/target9:0:0/9:0:0:0"
	usbPath5 = "pci0000:00/0000:00:14.0/usb2/2-5/2-5:1.0/host10/target10:0:0/10:0:0:0"
	ataPath  = "pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0"
	ataPath2 = "pci0000:00/0000:00:17.0/ata2/host1/target1:0:0/1:0:0:0"
	mmcPath  = "platform/soc/fe340000.mmc/mmc_host/mmc0/mmc0:aaaa"
	mmcPath2 = "platform/soc/fe340000.mmc/mmc_host/mmc1/mmc1:bbbb"
	nvmePath = "pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0"
	GB       = int64(1000 * 1000 * 1000)
	MiB      = int64(1 << 20)
)

// labFixture is one machine with every kind of disk the rules care about.
func labFixture(t *testing.T) Root {
	f := newFixture(t)
	// A USB stick with an unmounted FAT partition: the ideal target.
	f.disk("sdb", "8:16", usbPath, 32*GB, map[string]string{"removable": "1",
		"device/vendor": "SanDisk ", "device/model": "Ultra           "})
	f.part("sdb", "sdb1", "8:17", 1, MiB, 32*GB-2*MiB)
	f.udev("8:16", "ID_BUS=usb", "ID_SERIAL_SHORT=4C530001230511115033")
	f.udev("8:17", "ID_FS_TYPE=vfat", "ID_FS_LABEL=OLDKIT")
	// An SD card in a built-in reader (removable=0, as the kernel reports MMC).
	f.disk("mmcblk0", "179:0", mmcPath, 16*GB, map[string]string{"device/name": "SC16G", "device/serial": "0x1b2c3d4e"})
	f.part("mmcblk0", "mmcblk0p1", "179:1", 1, 4*MiB, 16*GB-4*MiB)
	// A write-protected SD card.
	f.disk("mmcblk1", "179:8", mmcPath2, 8*GB, map[string]string{"ro": "1", "device/name": "SL08G"})
	// The NVMe system disk: ESP on p1 at /boot/efi, / on dm-0 (LUKS) over p2.
	f.disk("nvme0n1", "259:0", nvmePath, 512*GB, map[string]string{"device/model": "Samsung SSD 980 PRO 512GB", "device/serial": "S5GXNX0T"})
	f.part("nvme0n1", "nvme0n1p1", "259:1", 1, MiB, 512*MiB)
	f.part("nvme0n1", "nvme0n1p2", "259:2", 2, 513*MiB, 500*GB)
	f.holder("dm-0", "253:0", 500*GB, "nvme0n1p2")
	f.mount("259:1", "/boot/efi")
	f.mount("253:0", "/")
	// A SATA data disk with a mounted partition.
	f.disk("sda", "8:0", ataPath, 1000*GB, map[string]string{"device/vendor": "ATA", "device/model": "WDC WD10EZEX-08W"})
	f.part("sda", "sda1", "8:1", 1, MiB, 1000*GB-2*MiB)
	f.mount("8:1", "/data")
	f.mount("8:1", "/srv/my data") // a bind mount, the space escaped as mountinfo does
	// A SATA disk whose partition is an active LVM physical volume.
	f.disk("sdc", "8:32", ataPath2, 1000*GB, map[string]string{"device/vendor": "ATA", "device/model": "ST2000DM008"})
	f.part("sdc", "sdc1", "8:33", 1, MiB, 1000*GB-2*MiB)
	f.holder("dm-1", "253:1", 1000*GB, "sdc1")
	f.udev("8:33", "ID_FS_TYPE=LVM2_member")
	// A USB disk with an active swap partition.
	f.disk("sdd", "8:48", usbPath2, 64*GB, map[string]string{"removable": "1", "device/model": "Flash Disk"})
	f.part("sdd", "sdd1", "8:49", 1, MiB, 32*GB)
	f.part("sdd", "sdd2", "8:50", 2, 32*GB+MiB, 16*GB)
	f.swap("/dev/sdd2")
	// A USB disk holding a RAID member that is not assembled (udev only).
	f.disk("sde", "8:64", usbPath3, 500*GB, map[string]string{"device/model": "Elements"})
	f.part("sde", "sde1", "8:65", 1, MiB, 400*GB)
	f.udev("8:65", "ID_FS_TYPE=linux_raid_member")
	// A 2 TB USB disk (removable=0, as USB hard disks report).
	f.disk("sdf", "8:80", usbPath4, 2000*GB, map[string]string{"device/vendor": "WD", "device/model": "My Passport"})
	// A card reader slot without a card.
	f.disk("sdg", "8:96", usbPath5, 0, map[string]string{"removable": "1", "device/model": "SD/MMC Reader"})
	// Loop devices: one attached, one idle; a zram device.
	f.disk("loop0", "7:0", "virtual", 100*MiB, nil)
	f.disk("loop1", "7:1", "virtual", 0, nil)
	f.disk("zram0", "252:0", "virtual", 4*GB, nil)
	return f.finish()
}
