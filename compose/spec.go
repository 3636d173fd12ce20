package compose

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/usbkit/compose/bootloader"
	"github.com/usbkit/compose/compose/image"
	"github.com/usbkit/compose/config"
)

// layout builds the image spec and computes its layout: the ESP gets the
// boot files and grub.cfg, ISOs go where the manifest's storage rule puts
// them, and the BIOS boot code is patched for where its partition lands.
func (p *Plan) layout(m *config.Manifest, l *config.Lock, isos []image.File) error {
	seed := kitSeed(m, l)
	stickID := hex.EncodeToString(seed[:8])
	boot, err := bootloader.ESPFiles(bootloader.ESPOptions{Targets: targets(m), SecureBoot: m.SecureBoot, StickID: stickID})
	if err != nil {
		return err
	}
	cfg, err := p.grubConfig(m)
	if err != nil {
		return err
	}
	esp := []image.File{{Path: bootloader.ConfigPath, Data: cfg}}
	for _, b := range boot {
		esp = append(esp, image.File{Path: b.Path, Data: b.Data})
	}
	p.spec = image.Spec{
		Size:      sizeOf(m),
		Seed:      seed[:],
		ESP:       image.ESP{Label: m.Label},
		ISOs:      isos,
		Placement: placement[m.Storage],
	}
	p.spec.ESP.Files = esp
	if slices.Contains(m.Firmware, config.FirmwareBIOS) {
		if err := p.installBIOS(); err != nil {
			return err
		}
	}
	lay, err := image.ComputeLayout(p.spec)
	if err != nil {
		return fmt.Errorf("%s: %w", m.File, err)
	}
	p.describe(lay)
	return nil
}

// installBIOS computes the layout once to learn where the BIOS boot
// partition starts, then patches GRUB's boot code and core.img for it. The
// partition's place does not depend on its content.
func (p *Plan) installBIOS() error {
	p.spec.BIOSBoot = []byte{0}
	lay, err := image.ComputeLayout(p.spec)
	if err != nil {
		return err
	}
	for _, part := range lay.Partitions {
		if part.Type != image.TypeBIOSBoot {
			continue
		}
		bi, err := bootloader.BIOSInstall(part.FirstLBA, part.LastLBA-part.FirstLBA+1)
		if err != nil {
			return err
		}
		p.spec.BIOSBoot, p.spec.BootCode = bi.Core, bi.BootCode
		return nil
	}
	return fmt.Errorf("layout has no BIOS boot partition")
}

func (p *Plan) describe(lay image.Layout) {
	p.Size = lay.Size
	p.Notes = append(p.Notes, lay.Notes...)
	for _, part := range lay.Partitions {
		pp := PartitionPlan{Index: part.Index, Name: part.Name, FS: part.FS, Label: part.Label, Offset: part.Offset, Size: part.Size}
		for _, f := range part.Files {
			size := f.Size
			if size == 0 {
				size = int64(len(f.Data))
			}
			pp.Files = append(pp.Files, FilePlan{Path: f.Path, Size: size})
		}
		p.Partitions = append(p.Partitions, pp)
	}
}

// grubConfig renders the menu from the inspected entries. Entries not yet
// inspected (ISOs still to download) are left out; apply plans again once
// every ISO is in the cache.
func (p *Plan) grubConfig(m *config.Manifest) ([]byte, error) {
	menu := bootloader.Menu{Title: m.Menu.Title, Timeout: m.Menu.Timeout, Default: m.Menu.Default,
		Console: bootloader.Console(m.Menu.Console), SecureBoot: m.SecureBoot}
	var entries []bootloader.Entry
	for _, e := range p.Entries {
		if e.Boot == nil {
			if menu.Default == e.Name {
				menu.Default = ""
			}
			continue
		}
		entries = append(entries, bootloader.Entry{ID: e.Name, Title: e.Title, ISOPath: e.ISOPath, Boot: *e.Boot, Args: e.Args})
	}
	cfg, err := bootloader.Render(menu, entries)
	if err != nil {
		return nil, fmt.Errorf("rendering grub.cfg: %w", err)
	}
	return cfg, nil
}

func targets(m *config.Manifest) []bootloader.Target {
	out := make([]bootloader.Target, len(m.Firmware))
	for i, f := range m.Firmware {
		out[i] = bootloader.Target(f)
	}
	return out
}

func sizeOf(m *config.Manifest) int64 {
	if m.Size.Auto {
		return 0
	}
	return m.Size.Bytes
}

var placement = map[config.Storage]image.Placement{
	config.StorageAuto: image.PlaceAuto,
	config.StorageESP:  image.PlaceAllOnESP,
	config.StorageData: image.PlaceAllOnData,
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
		Firmware       []config.Firmware
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
