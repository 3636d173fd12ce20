package compose

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/usbkit/compose/bootloader"
	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/config"
	"github.com/usbkit/compose/fetch"
)

// Plan is what apply would do. It is printed by `compose plan` (as text or
// JSON) and executed by Apply.
type Plan struct {
	Manifest   string          `json:"manifest"`
	Image      string          `json:"image,omitempty"`
	Size       int64           `json:"size"`
	Firmware   []string        `json:"firmware"`
	SecureBoot bool            `json:"secure_boot"`
	Downloads  []Download      `json:"downloads"`
	Partitions []PartitionPlan `json:"partitions"`
	Entries    []EntryPlan     `json:"entries"`
	Warnings   []string        `json:"warnings,omitempty"`
	Notes      []string        `json:"notes,omitempty"`
	// Ready is true when every ISO is in the cache, so Apply can run without
	// fetching.
	Ready bool `json:"ready"`

	spec disk.Spec
}

// Download is one ISO apply must fetch first.
type Download struct {
	Name string `json:"name"`
	URL  string `json:"url"`
	Size int64  `json:"size"`
}

// PartitionPlan is one partition of the image and the files it will hold.
type PartitionPlan struct {
	Index  int        `json:"index"`
	Name   string     `json:"name"`
	FS     string     `json:"fs"`
	Label  string     `json:"label,omitempty"`
	Offset int64      `json:"offset"`
	Size   int64      `json:"size"`
	Files  []FilePlan `json:"files,omitempty"`
}

// FilePlan is one file placed on a partition.
type FilePlan struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}

// EntryPlan is one ISO's menu entry. Boot is nil until the ISO is in the
// cache and could be inspected.
type EntryPlan struct {
	Name       string                       `json:"name"`
	Title      string                       `json:"title"`
	ISOPath    string                       `json:"iso_path"`
	Boot       *bootloader.Detection        `json:"boot,omitempty"`
	Args       string                       `json:"args,omitempty"`
	SecureBoot *bootloader.SecureBootReport `json:"secure_boot,omitempty"`
	// Warnings: why this entry may not find its ISO after its kernel starts, with the
	// override that fixes it (also in Plan.Warnings, prefixed with the entry's name).
	Warnings []string `json:"warnings,omitempty"`
}

// ErrStrict is returned by MakePlan when the manifest says strict: true (or the caller set
// it, as --strict does) and an entry would not find its ISO.
var ErrStrict = errors.New("strict: entries would not find their ISO")

// MakePlan computes the plan for building m, pinned by l, into imagePath. It
// reads the cache and inspects cached ISOs; it downloads and writes nothing.
func MakePlan(ctx context.Context, m *config.Manifest, l *config.Lock, f *fetch.Fetcher, imagePath string) (*Plan, error) {
	srcs, err := Sources(m, l)
	if err != nil {
		return nil, err
	}
	p := &Plan{Manifest: m.File, Image: imagePath, SecureBoot: m.SecureBoot, Ready: true}
	warns, err := checkListedDigests(ctx, m, l, f)
	if err != nil {
		return nil, err
	}
	p.Warnings = append(p.Warnings, warns...)
	for _, fw := range m.Firmware {
		p.Firmware = append(p.Firmware, string(fw))
	}
	isos := make([]disk.File, len(srcs))
	for i, s := range srcs {
		if err := ctx.Err(); err != nil {
			return nil, err // a kit of thousands of ISOs stops at Ctrl-C
		}
		iso := &m.ISOs[i]
		// Until the ISO is cached its location stands in for the source: the
		// layout needs only the size, and an unready plan is never built.
		isos[i] = disk.File{Path: isoPath(iso.Name), Source: s.URL, Size: s.Size}
		e := EntryPlan{Name: iso.Name, Title: iso.Title, ISOPath: isoPath(iso.Name), Args: iso.Args}
		if cached, ok := f.Lookup(s.Algorithm, s.Digest); ok {
			isos[i].Source = cached
			if s.Algorithm == "sha256" {
				// The cache holds only verified files: the image builder
				// can copy in the kernel and verify against this digest.
				isos[i].SHA256 = s.Digest
			}
			if err := p.inspect(ctx, m, i, cached, &e); err != nil {
				return nil, err
			}
		} else {
			p.Ready = false
			p.Downloads = append(p.Downloads, Download{Name: s.Name, URL: s.URL, Size: s.Size})
		}
		p.Entries = append(p.Entries, e)
	}
	if m.SecureBoot && slices.Contains(m.Firmware, config.FirmwareUEFIIA32) {
		p.Warnings = append(p.Warnings, "uefi-ia32: there is no signed shim for 32-bit UEFI; the stick boots there only with Secure Boot off")
	}
	if err := p.layout(m, l, isos); err != nil {
		return nil, err
	}
	if err := p.strict(m); err != nil {
		return nil, err
	}
	return p, nil
}

// strict fails the plan on entry warnings when the manifest asks for it.
func (p *Plan) strict(m *config.Manifest) error {
	if !m.Strict {
		return nil
	}
	var dead []string
	for _, e := range p.Entries {
		for _, w := range e.Warnings {
			dead = append(dead, e.Name+": "+w)
		}
	}
	if len(dead) == 0 {
		return nil
	}
	return fmt.Errorf("%w:\n  %s", ErrStrict, strings.Join(dead, "\n  "))
}

// isoPath is where an ISO lands on the stick. Names are [a-z0-9-], which
// every initramfs script handles.
func isoPath(name string) string { return path.Join("/isos", name+".iso") }

// inspect decides how the ISO at file boots and records Secure Boot warnings.
// Messages name the ISO as the manifest does, never by its cache path.
func (p *Plan) inspect(ctx context.Context, m *config.Manifest, i int, file string, e *EntryPlan) error {
	iso := &m.ISOs[i]
	at := strings.TrimSpace(m.Diag(fmt.Sprintf("isos[%d]", i), "").String())
	name := fmt.Sprintf("%s (%s)", iso.Name, location(iso))
	im, err := openISO(ctx, file, name)
	if err != nil {
		return fmt.Errorf("%s %w", at, err)
	}
	defer im.close()
	p.Warnings = append(p.Warnings, im.warnings...)
	ov := bootloader.Overrides{Family: bootloader.Family(iso.Boot), Kernel: iso.Kernel, Initrd: iso.Initrd, Args: iso.Args}
	d, err := bootloader.Resolve(im, im.label, ov)
	if perr := im.failed(); perr != nil {
		return fmt.Errorf("%s %w", at, perr)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", at, iso.Name, err)
	}
	e.Boot = &d
	e.Warnings = d.Warnings
	for _, w := range d.Warnings {
		p.Warnings = append(p.Warnings, fmt.Sprintf("%s: %s", iso.Name, w))
	}
	p.warnHidden(m, iso.Name, d)
	if !m.SecureBoot {
		return nil
	}
	r, err := bootloader.CheckSecureBoot(im, d)
	if perr := im.failed(); perr != nil {
		return fmt.Errorf("%s %w", at, perr)
	}
	if err != nil {
		p.Warnings = append(p.Warnings, fmt.Sprintf("%s: cannot tell who signed its boot payload: %v", iso.Name, err))
		return nil
	}
	e.SecureBoot = &r
	if !r.Boots {
		p.Warnings = append(p.Warnings, secureBootWarning(iso.Name, r))
	}
	return nil
}

func secureBootWarning(name string, r bootloader.SecureBootReport) string {
	who := "is unsigned"
	if r.Signer != "" {
		who = "is signed by " + r.Signer
	}
	return fmt.Sprintf("%s: %s %s and will not boot with Secure Boot on; %s", name, r.Payload, who, r.Remedy)
}

// warnHidden warns when the menu shows an ISO's entry on none of the
// kit's firmware targets: built for another CPU, or an EFI payload on a
// BIOS-only kit.
func (p *Plan) warnHidden(m *config.Manifest, name string, d bootloader.Detection) {
	var targets []string
	for _, fw := range m.Firmware {
		if platform, cpu := fw.GRUB(); bootloader.Shown(d, platform, cpu) {
			return
		}
		targets = append(targets, string(fw))
	}
	p.Warnings = append(p.Warnings, fmt.Sprintf("%s: no menu entry on any firmware target (%s): its boot files are for %v, family %s",
		name, strings.Join(targets, ", "), d.Arches, d.Family))
}
