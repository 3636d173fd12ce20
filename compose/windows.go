package compose

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/usbkit/compose/bootloader"
	"github.com/usbkit/compose/compose/converge"
	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/compose/isoimage"
	"github.com/usbkit/compose/compose/wim"
	"github.com/usbkit/compose/config"
	"github.com/usbkit/compose/config/bytesize"
)

// WindowsPlan is a Windows installer entry's FAT32 partition: GRUB finds
// it by Marker and starts the ISO's own loaders there.
type WindowsPlan struct {
	Entry     string `json:"entry"`
	Partition int    `json:"partition"` // GPT index; 0 before the layout
	Label     string `json:"label"`
	Size      int64  `json:"size"`  // the partition's bytes
	Files     int    `json:"files"` // files copied from the ISO (parts counted)
	Bytes     int64  `json:"bytes"` // their bytes
	Marker    string `json:"marker"`
	// Split is how an install.wim over FAT32's limit is placed.
	Split    *WindowsSplit               `json:"split,omitempty"`
	Editions []bootloader.WindowsEdition `json:"editions,omitempty"`
	// Unattend is the manifest's answer file, at the partition's root as
	// /autounattend.xml (replacing one the ISO has).
	Unattend string `json:"unattend,omitempty"`

	volume disk.Volume
	boot   bootloader.Detection
}

// windowsMaxFile is the largest file a Windows partition holds as it is:
// FAT32's limit (tests lower it to split small WIMs).
var windowsMaxFile int64 = wim.MaxFAT32File

// windowsEntry refuses a boot: override on a Windows installer ISO: it
// would loop the ISO, where Windows Boot Manager cannot find its media.
// at is the entry's manifest position.
func windowsEntry(at, name string, im *isoimage.Image, family string) error {
	if !im.UDF || family == "" { // isoimage reads the UDF side only for a Windows installer
		return nil
	}
	return fmt.Errorf("%s %s: is a Windows installer ISO: boot: %s would start it from a loop device, where Windows Setup cannot find its files; drop boot: and compose gives it a FAT32 partition of its own",
		at, name, family)
}

// addWindows plans the Windows installer entry e (the ISO at file): its
// files on a partition of their own, instead of the ISO on the stick.
func (p *Plan) addWindows(ctx context.Context, file string, e *EntryPlan, d bootloader.Detection, iso *config.ISO, at string) error {
	v, split, err := windowsVolume(ctx, file, e.Name, windowsMaxFile)
	if err != nil {
		return fmt.Errorf("%s: %w", e.Name, err)
	}
	w := WindowsPlan{Entry: e.Name, Label: v.Label, Split: split, Editions: d.Windows.Editions, volume: v, boot: d}
	if iso.Unattend != "" {
		if err := w.addUnattend(iso); err != nil {
			return fmt.Errorf("%s %s: unattend: %w", at, e.Name, err)
		}
		if slices.ContainsFunc(p.Windows, func(o WindowsPlan) bool { return o.Unattend != "" }) {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s: a second Windows entry with an answer file: Windows Setup reads the autounattend.xml of whichever removable drive it finds first, so either may be used", e.Name))
		}
	}
	w.Files = len(w.volume.Files)
	if len(w.Editions) == 0 {
		if w.Editions, err = isoEditions(ctx, file, d.Windows.InstallImage); err != nil {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s: cannot read the editions of %s: %v", e.Name, d.Windows.InstallImage, err))
		}
	}
	for _, f := range w.volume.Files {
		w.Bytes += f.Size + int64(len(f.Data))
	}
	if slices.ContainsFunc(p.Windows, func(o WindowsPlan) bool { return o.Label == w.Label }) {
		return fmt.Errorf("%s: its partition's label %s is another Windows entry's; rename one of them", e.Name, w.Label)
	}
	p.Windows = append(p.Windows, w)
	return nil
}

// windowsVolumes adds each Windows partition to the spec, with a marker
// file only it holds (what GRUB searches), and the ESP an id file naming
// the ISO's digest: the state record lists ESP files, so a replaced ISO
// changes the record there (see windowsRecreate).
func (p *Plan) windowsVolumes(digests map[string]string) {
	p.spec.Volumes = nil
	for i := range p.Windows {
		w := &p.Windows[i]
		w.Marker = "/.compose/" + p.stickID + "-" + w.Entry + ".win"
		id := []byte(w.Entry + " " + digests[w.Entry] + w.unattendID() + "\n")
		v := w.volume
		v.Files = append(slices.Clip(v.Files), disk.File{Path: w.Marker, Data: id})
		p.spec.Volumes = append(p.spec.Volumes, v)
		p.spec.ESP.Files = append(p.spec.ESP.Files, disk.File{Path: windowsIDPath(w.Entry), Data: id})
	}
}

// windowsIDPath is where the ESP names a Windows entry's ISO.
func windowsIDPath(entry string) string { return "/compose/windows/" + entry + ".id" }

// windowsMenu is the menu's Windows entries: the ISO's own loaders on its
// partition.
func (p *Plan) windowsMenu() []bootloader.WindowsEntry {
	var out []bootloader.WindowsEntry
	for _, w := range p.Windows {
		we := bootloader.WindowsEntry{ID: w.Entry, Marker: w.Marker, EFIX64: w.boot.EFILoaders[bootloader.X86_64],
			EFIARM64: w.boot.EFILoaders[bootloader.ARM64], BIOS: w.boot.Windows.BIOSLoader}
		for _, e := range p.Entries {
			if e.Name == w.Entry {
				we.Title = e.Title
			}
		}
		out = append(out, we)
	}
	return out
}

// describeWindows fills in each Windows partition's index and size.
func (p *Plan) describeWindows(lay disk.Layout) {
	for i := range p.Windows {
		for _, part := range lay.Partitions {
			if part.Type == disk.TypeBasicData && part.Name == p.Windows[i].volume.Name {
				p.Windows[i].Partition, p.Windows[i].Size = part.Index, part.Size
			}
		}
	}
}

// isWindowsFile says whether a partition is a Windows partition.
func (p *Plan) windowsPartition(index int) string {
	for _, w := range p.Windows {
		if w.Partition == index {
			return w.Entry
		}
	}
	return ""
}

// windowsRecreate refuses, for an in-place apply, any change on a Windows
// partition: compose writes one only in full, and a half-rewritten one
// would leave Windows Setup with a mix of two installers.
func (p *Plan) windowsRecreate(d *converge.Diff) {
	seen := map[string]bool{}
	for _, c := range d.Changes {
		name := strings.TrimSuffix(strings.TrimPrefix(c.Path, "/compose/windows/"), ".id")
		if name == c.Path {
			name = p.windowsPartition(c.Partition)
		}
		if name != "" && !seen[name] {
			seen[name] = true
			d.Recreate = append(d.Recreate, fmt.Sprintf("Windows entry %s changed, and its partition is written only in full (%s from its ISO)",
				name, bytesize.Format(p.windowsBytes(name))))
		}
	}
	if len(d.Recreate) > 0 {
		d.Steps, d.Interim = 0, nil
	}
}

func (p *Plan) windowsBytes(name string) int64 {
	for _, w := range p.Windows {
		if w.Entry == name {
			return w.Bytes
		}
	}
	return 0
}

// looped are the ISOs GRUB loops, on the ESP or the data partition: all
// but the Windows entries', whose files have partitions of their own.
func (p *Plan) looped(isos []disk.File) []disk.File {
	var out []disk.File
	for i, f := range isos {
		if b := p.Entries[i].Boot; b == nil || b.Family != bootloader.Windows {
			out = append(out, f)
		}
	}
	return out
}

func lockDigests(l *config.Lock) map[string]string {
	out := map[string]string{}
	for _, e := range l.ISOs {
		out[e.Name] = e.Algorithm + ":" + e.Digest
	}
	return out
}

func isWindows(e EntryPlan) bool { return e.Boot != nil && e.Boot.Family == bootloader.Windows }

// shown says whether the menu shows e on platform and cpu.
func shown(e EntryPlan, platform, cpu string) bool {
	if isWindows(e) {
		return bootloader.ShownWindows(bootloader.WindowsEntry{EFIX64: e.Boot.EFILoaders[bootloader.X86_64],
			EFIARM64: e.Boot.EFILoaders[bootloader.ARM64], BIOS: e.Boot.Windows.BIOSLoader}, platform, cpu)
	}
	return bootloader.Shown(*e.Boot, platform, cpu)
}
