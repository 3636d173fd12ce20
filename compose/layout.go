package compose

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/usbkit/compose/bootloader"
	"github.com/usbkit/compose/compose/converge"
	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/config"
	"github.com/usbkit/compose/config/firmware"
)

// layout builds the image spec and computes its layout: the ESP gets the
// boot files and grub.cfg, ISOs go where the manifest's storage rule puts
// them, and the BIOS boot code is patched for where its partition lands.
//
// It takes two passes. The first, without grub.cfg, learns where each ISO
// lands and where the BIOS boot partition starts (neither depends on
// grub.cfg); the menu is then rendered for that placement.
func (p *Plan) layout(m *config.Manifest, l *config.Lock, isos []disk.File, opts PlanOptions) error {
	seed := kitSeed(m, l)
	stickID := hex.EncodeToString(seed[:8])
	if opts.StickID != "" {
		stickID = opts.StickID
	}
	p.stickID = stickID
	boot, err := bootloader.ESPFiles(bootloader.ESPOptions{Targets: m.Firmware, SecureBoot: m.SecureBoot, StickID: stickID})
	if err != nil {
		return err
	}
	p.spec = disk.Spec{Size: max(sizeOf(m), p.keepSize), Seed: seed[:], ESP: disk.ESP{Label: m.Label},
		ISOs: p.looped(isos), Placement: placement[m.Storage], Journal: true, Persist: p.spec.Persist}
	p.windowsVolumes(lockDigests(l))
	for _, b := range boot {
		p.spec.ESP.Files = append(p.spec.ESP.Files, disk.File{Path: b.Path, Data: b.Data})
	}
	p.spec.ESP.Files = append(p.spec.ESP.Files, p.espExtra...)
	if slices.Contains(m.Firmware, firmware.BIOS) {
		p.spec.BIOSBoot = []byte{0} // a stand-in: the partition's place does not depend on it
	}
	first, err := disk.ComputeLayout(p.spec)
	if err != nil {
		return fmt.Errorf("%s: %w", m.File, err)
	}
	if p.nameDataISOs(m, l, first) {
		if first, err = disk.ComputeLayout(p.spec); err != nil {
			return fmt.Errorf("%s: %w", m.File, err)
		}
	}
	if err := p.installBIOS(first); err != nil {
		return err
	}
	volume := p.markDataVolume(first, stickID)
	cfg, err := p.grubConfig(m, volume)
	if err != nil {
		return err
	}
	p.spec.ESP.Files = append(p.spec.ESP.Files, disk.File{Path: bootloader.ConfigPath, Data: cfg})
	lay, err := disk.ComputeLayout(p.spec)
	if err != nil {
		return fmt.Errorf("%s: %w", m.File, err)
	}
	if p.Ready {
		// The record describes this layout; adding it changes no placement.
		st, err := p.state(m, l, lay, stickID, seed)
		if err != nil {
			return err
		}
		p.spec.ESP.Files = append(p.spec.ESP.Files, disk.File{Path: converge.StatePath, Data: st})
		if lay, err = disk.ComputeLayout(p.spec); err != nil {
			return fmt.Errorf("%s: %w", m.File, err)
		}
	}
	p.lay = lay
	p.describe(lay)
	return nil
}

// nameDataISOs gives each ISO the layout puts on the ext4 data partition
// a path with its digest's first 8 hex digits, before the menu names it.
// ext4 is changed in place through a journal that GRUB never replays, so a
// replaced ISO must not reuse its old path: GRUB then reads the old menu
// and the old, untouched file, or the new menu and the new file. It
// reports whether any path changed (placement depends only on sizes).
func (p *Plan) nameDataISOs(m *config.Manifest, l *config.Lock, lay disk.Layout) bool {
	data := lay.Partition(disk.FSExt4)
	if data == nil {
		return false
	}
	on := map[string]bool{}
	for _, f := range data.Files {
		on[f.Path] = true
	}
	renamed := false
	for j := range p.spec.ISOs {
		i := slices.IndexFunc(p.Entries, func(e EntryPlan) bool { return e.ISOPath == p.spec.ISOs[j].Path })
		if i < 0 || !on[p.spec.ISOs[j].Path] || l.ISO(m.ISOs[i].Name) == nil {
			continue
		}
		path := dataISOPath(m.ISOs[i].Name, l.ISO(m.ISOs[i].Name).Digest)
		p.spec.ISOs[j].Path, p.Entries[i].ISOPath = path, path
		renamed = true
	}
	return renamed
}

// installBIOS patches GRUB's boot code and core.img for where the BIOS boot
// partition starts in lay, if there is one.
func (p *Plan) installBIOS(lay disk.Layout) error {
	for _, part := range lay.Partitions {
		if part.Type != disk.TypeBIOSBoot {
			continue
		}
		bi, err := bootloader.BIOSInstall(part.FirstLBA, part.LastLBA-part.FirstLBA+1)
		if err != nil {
			return err
		}
		p.spec.BIOSBoot, p.spec.BootCode = bi.Core, bi.BootCode
	}
	return nil
}

// markDataVolume puts a marker file unique to this stick on the ext4 data
// partition, if lay has one, so GRUB can find the ISOs there. It returns
// the ISO paths on that partition mapped to the marker.
func (p *Plan) markDataVolume(lay disk.Layout, stickID string) map[string]string {
	data := lay.Partition(disk.FSExt4)
	if data == nil {
		return nil
	}
	marker := "/.compose/" + stickID + ".data"
	p.spec.Data.Files = append(p.spec.Data.Files, disk.File{Path: marker, Data: []byte(stickID + "\n")})
	on := map[string]string{}
	for _, f := range data.Files {
		on[f.Path] = marker
	}
	return on
}

func (p *Plan) describe(lay disk.Layout) {
	p.Size = lay.Size
	p.Notes = append(p.Notes, lay.Notes...)
	for _, part := range lay.Partitions {
		pp := PartitionPlan{Index: part.Index, Name: part.Name, FS: part.FS, Label: part.Label, Offset: part.Offset, Size: part.Size,
			Persistence: part.Persistence}
		for _, f := range part.Files {
			if part.Type == disk.TypeBasicData {
				break // a Windows partition's files are its WindowsPlan's count
			}
			size := f.Size
			if size == 0 {
				size = int64(len(f.Data))
			}
			pp.Files = append(pp.Files, FilePlan{Path: f.Path, Size: size})
		}
		p.Partitions = append(p.Partitions, pp)
	}
	p.describePersistence(lay)
	p.describeWindows(lay)
}

// grubConfig renders the menu from the inspected entries. Entries not yet
// inspected (ISOs still to download) are left out; apply plans again once
// every ISO is in the cache.
func (p *Plan) grubConfig(m *config.Manifest, volume map[string]string) ([]byte, error) {
	menu := bootloader.Menu{Title: m.Menu.Title, Timeout: m.Menu.Timeout, Default: m.Menu.Default,
		Console: bootloader.Console(m.Menu.Console), SecureBoot: m.SecureBoot, Keys: p.keyPaths()}
	var entries []bootloader.Entry
	menu.Windows = p.windowsMenu()
	for _, e := range p.Entries {
		if e.Boot != nil && e.Boot.Family == bootloader.Windows {
			continue
		}
		if e.Boot == nil {
			if menu.Default == e.Name {
				menu.Default = ""
			}
			continue
		}
		entries = append(entries, bootloader.Entry{ID: e.Name, Title: e.Title, ISOPath: e.ISOPath,
			Volume: volume[e.ISOPath], Boot: *e.Boot, Args: e.Args, Copies: e.copies(), Persistence: p.persist[e.Name]})
	}
	p.menu, p.menuEntries = menu, entries
	return p.renderMenu(func(bootloader.Entry) bool { return true })
}

// renderMenu renders the menu with the entries keep accepts (a two-step
// apply's interim menu keeps only those whose ISO stays on the stick).
func (p *Plan) renderMenu(keep func(bootloader.Entry) bool) ([]byte, error) {
	menu := p.menu
	var entries []bootloader.Entry
	for _, e := range p.menuEntries {
		if keep(e) {
			entries = append(entries, e)
		} else if e.ID == menu.Default {
			menu.Default = ""
		}
	}
	cfg, err := bootloader.Render(menu, entries)
	if err != nil {
		return nil, fmt.Errorf("rendering grub.cfg: %w", err)
	}
	return cfg, nil
}

func sizeOf(m *config.Manifest) int64 {
	if m.Size.Auto {
		return 0
	}
	return m.Size.Bytes
}

var placement = map[config.Storage]disk.Placement{
	config.StorageAuto: disk.PlaceAuto,
	config.StorageESP:  disk.PlaceAllOnESP,
	config.StorageData: disk.PlaceAllOnData,
}

// kitSeed derives every GUID and volume ID of the image from what the kit
// is: the manifest's meaning (not its comments or layout) and the pinned
// digests. Equal kits give equal images; changing any ISO changes the seed.
func kitSeed(m *config.Manifest, l *config.Lock) [32]byte {
	type isoSeed struct {
		Name, Title, Boot, Kernel, Args, Algorithm, Digest string
		Initrd                                             []string
	}
	kit := struct {
		Label, Storage string
		Firmware       []firmware.Firmware
		SecureBoot     bool
		Menu           config.Menu
		ISOs           []isoSeed
	}{Label: m.Label, Storage: string(m.Storage), Firmware: m.Firmware, SecureBoot: m.SecureBoot, Menu: m.Menu}
	for _, iso := range m.ISOs {
		e := l.ISO(iso.Name)
		kit.ISOs = append(kit.ISOs, isoSeed{iso.Name, iso.Title, string(iso.Boot), iso.Kernel, iso.Args, e.Algorithm, e.Digest, iso.Initrd})
	}
	b, _ := json.Marshal(kit) // plain data: cannot fail
	return sha256.Sum256(b)
}
