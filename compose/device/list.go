package device

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// skipList are kernel name prefixes List leaves out: RAM disks, optical
// drives and devices built on other disks are never kit targets. Lookup
// still reports them if named.
var skipList = []string{"ram", "zram", "dm-", "md", "sr", "nbd", "fd"}

// List returns the whole disks of root (zero Root: this machine) with the
// reasons compose would refuse each, sorted by path. Unattached loop
// devices (size 0) are left out.
func List(root Root) ([]Device, error) {
	if !supported {
		return nil, ErrUnsupported
	}
	root = root.orHost()
	s, err := readSnapshot(root)
	if err != nil {
		return nil, err
	}
	names := listNames(root.sys("block"))
	var out []Device
	for _, name := range names {
		if skipped(name) {
			continue
		}
		d := s.device(name)
		if d.Bus == BusLoop && d.Size == 0 {
			continue
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func skipped(name string) bool {
	for _, p := range skipList {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// device builds the Device for one whole disk of the snapshot.
func (s *snapshot) device(name string) Device {
	dir := s.root.sys("block", name)
	n := s.nodes[name]
	if n == nil {
		n = &node{name: name}
	}
	d := Device{
		Name:        name,
		Path:        s.root.devPath(name),
		Block:       true,
		Size:        readInt(filepath.Join(dir, "size")) * 512, // sysfs counts 512-byte units
		SectorSize:  int(readInt(filepath.Join(dir, "queue", "logical_block_size"))),
		Removable:   readAttr(filepath.Join(dir, "removable")) == "1",
		ReadOnly:    readAttr(filepath.Join(dir, "ro")) == "1",
		Bus:         busOf(dir, name, n.udev),
		Mountpoints: n.mounts,
		Holders:     n.holders,
		FSType:      n.udev["ID_FS_TYPE"],
		Swap:        n.swap,
		System:      n.system,
	}
	d.Major, d.Minor = splitDevnum(n.devnum)
	if d.SectorSize == 0 {
		d.SectorSize = 512
	}
	d.Vendor, d.Model, d.Serial = identity(dir, n.udev)
	for _, pn := range partitionNames(dir) {
		p := s.partition(dir, pn)
		d.System = d.System || s.nodes[pn] != nil && s.nodes[pn].system
		d.Partitions = append(d.Partitions, p)
	}
	sort.Slice(d.Partitions, func(i, j int) bool { return d.Partitions[i].Number < d.Partitions[j].Number })
	d.Refusals = reasons(d, 0, CheckOptions{})
	return d
}

func (s *snapshot) partition(diskDir, name string) Partition {
	dir := filepath.Join(diskDir, name)
	p := Partition{
		Name:   name,
		Path:   s.root.devPath(name),
		Number: int(readInt(filepath.Join(dir, "partition"))),
		Start:  readInt(filepath.Join(dir, "start")) * 512,
		Size:   readInt(filepath.Join(dir, "size")) * 512,
	}
	if n := s.nodes[name]; n != nil {
		p.Mountpoints = n.mounts
		p.Holders = n.holders
		p.Swap = n.swap
		p.FSType = n.udev["ID_FS_TYPE"]
		p.Label = n.udev["ID_FS_LABEL"]
	}
	return p
}

func partitionNames(diskDir string) []string {
	var out []string
	for _, name := range listNames(diskDir) {
		if fileExists(filepath.Join(diskDir, name, "partition")) {
			out = append(out, name)
		}
	}
	return out
}

// busOf reads the bus from where the disk sits in the device tree
// (/sys/devices/pci…/usb2/…/block/sdb) and falls back to udev's ID_BUS.
func busOf(dir, name string, udev map[string]string) Bus {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		real = dir
	}
	real = filepath.ToSlash(real)
	has := func(sub string) bool { return strings.Contains(real, sub) }
	switch {
	case strings.HasPrefix(name, "loop"):
		return BusLoop
	case has("/usb"):
		return BusUSB
	case has("/mmc_host/") || strings.HasPrefix(name, "mmcblk"):
		return BusMMC
	case has("/nvme/") || strings.HasPrefix(name, "nvme"):
		return BusNVMe
	case has("/virtio"):
		return BusVirtio
	case has("/ata"):
		return BusATA
	case has("/devices/virtual/"):
		return BusVirtual
	case has("/host") && has("/target"):
		return BusSCSI
	}
	switch udev["ID_BUS"] {
	case "usb":
		return BusUSB
	case "ata":
		return BusATA
	case "scsi":
		return BusSCSI
	}
	return BusUnknown
}

// identity finds vendor, model and serial: sysfs for what the kernel knows
// (SCSI vendor/model, NVMe and MMC attributes), udev for the USB serial.
func identity(dir string, udev map[string]string) (vendor, model, serial string) {
	dev := filepath.Join(dir, "device")
	vendor = readAttr(filepath.Join(dev, "vendor"))
	model = readAttr(filepath.Join(dev, "model"))
	if model == "" {
		model = readAttr(filepath.Join(dev, "name")) // MMC/SD card name
	}
	serial = readAttr(filepath.Join(dev, "serial"))
	if serial == "" {
		serial = readAttr(filepath.Join(dir, "serial")) // virtio
	}
	if vendor == "" {
		vendor = strings.ReplaceAll(udev["ID_VENDOR"], "_", " ")
	}
	if model == "" {
		model = strings.ReplaceAll(udev["ID_MODEL"], "_", " ")
	}
	if s := udev["ID_SERIAL_SHORT"]; s != "" {
		serial = s
	}
	return vendor, model, serial
}

func splitDevnum(num string) (uint32, uint32) {
	a, b, ok := strings.Cut(num, ":")
	if !ok {
		return 0, 0
	}
	ma, _ := strconv.ParseUint(a, 10, 32)
	mi, _ := strconv.ParseUint(b, 10, 32)
	return uint32(ma), uint32(mi)
}

// Lookup describes the device at path (symlinks followed): a whole disk
// gets the same Device as List gives; a partition, a character device or a
// regular file gets a Device that Check refuses, with the reason.
func Lookup(root Root, path string) (Device, error) {
	if !supported {
		return Device{}, ErrUnsupported
	}
	root = root.orHost()
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return Device{}, err
	}
	fi, err := os.Stat(real)
	if err != nil {
		return Device{}, err
	}
	num, isBlock := devnumOf(real)
	if !isBlock || fi.Mode()&os.ModeDevice == 0 || fi.Mode()&os.ModeCharDevice != 0 {
		return Device{Path: path, Size: fi.Size()}, nil
	}
	s, err := readSnapshot(root)
	if err != nil {
		return Device{}, err
	}
	return s.byDevnum(num, path)
}

func (s *snapshot) byDevnum(num, path string) (Device, error) {
	name, ok := s.byNum[num]
	if !ok {
		return Device{}, fmt.Errorf("%s: block device %s not found in %s", path, num, s.root.Sys)
	}
	if n := s.nodes[name]; n.parent != "" {
		return Device{Name: name, Path: s.root.devPath(name), Block: true, Partition: s.root.devPath(n.parent)}, nil
	}
	return s.device(name), nil
}
