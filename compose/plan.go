package compose

import (
	"context"
	"errors"
	"fmt"
	"github.com/usbkit/compose/compose/pin"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/usbkit/compose/bootloader"
	"github.com/usbkit/compose/compose/converge"
	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/compose/imagefile"
	"github.com/usbkit/compose/compose/isoimage"
	"github.com/usbkit/compose/config"
	"github.com/usbkit/compose/config/crash"
	"github.com/usbkit/compose/config/firmware"
	"github.com/usbkit/compose/fetch"
)

// Plan is what apply would do. It is printed by `compose plan` (as text or
// JSON) and executed by Build (which Kit.Apply calls).
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
	// Keys are the certificates the stick carries for enrolment with
	// MokManager (secure_boot), under /EFI/compose/keys.
	Keys []bootloader.Certificate `json:"keys,omitempty"`
	// Persistence are the entries' persistence partitions, in disk order,
	// and what apply does with each.
	Persistence []PersistencePlan `json:"persistence,omitempty"`
	// Windows are the Windows installer entries' partitions, in manifest
	// order (see WindowsPlan).
	Windows []WindowsPlan `json:"windows,omitempty"`
	// Diff is what applying changes on an existing image (nil for a new
	// image, with Recreate, or before the plan is Ready). Build runs exactly
	// it, on the target the plan read, once it checked that the target's
	// state record is still the one read (converge.ErrChanged otherwise).
	Diff *converge.Diff `json:"diff,omitempty"`

	spec disk.Spec
	lay  disk.Layout
	// target is the kit Diff was made against, and goal what converge.Run
	// makes of it: apply runs exactly these (nil without a Diff).
	target   *converge.Target
	goal     converge.Goal
	stickID  string
	desired  *converge.KitState // the record Apply writes; nil until Ready
	espExtra []disk.File        // Secure Boot files for the ESP: keys, payload copies
	// The menu as rendered into grub.cfg, kept for a two-step apply's
	// interim menu.
	menu        bootloader.Menu
	menuEntries []bootloader.Entry
	persist     map[string]*bootloader.Persistence // by entry name
	// have are the target's persistence partitions by entry: those the
	// kit keeps stay as the record has them.
	have     map[string]converge.TargetPersistence
	haveList []converge.TargetPersistence // in disk order
	keepSize int64                        // a rewrite keeping persistence partitions keeps the size
}

// PlanOptions tune MakePlan.
type PlanOptions struct {
	// StickID keeps the identity of an existing kit (KitState.StickID), so
	// that converging it leaves its boot files and markers as they are.
	// Empty derives it from the kit, as for a fresh build.
	StickID string
	// Recreate plans a full rewrite: an existing image is not read.
	Recreate bool
	// Device says the path is a device (plan --device): Kit.Plan reads it
	// as it is, where an image path is checked as apply checks it.
	Device bool

	held   *imagefile.Held // the image path Kit.Apply opened and locked
	device *os.File        // a device opened exclusively by Kit.Apply
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
	// Persistence names the entry whose persistence partition this is.
	Persistence string `json:"persistence,omitempty"`
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
	// SecureBootPlan says what makes the entry boot under Secure Boot when
	// Debian's shim does not trust its payload.
	SecureBootPlan *EntrySecureBoot `json:"secure_boot_plan,omitempty"`

	payload []byte // the untrusted payload, for a copy on the ESP
}

// ErrStrict is returned by MakePlan when the manifest says strict: true (or the caller set
// it, as --strict does) and an entry would not find its ISO.
var ErrStrict = errors.New("strict: entries would not find their ISO")

// MakePlan computes the plan for building m, pinned by l, into imagePath. It
// reads the cache and inspects cached ISOs; it downloads and writes nothing.
func MakePlan(ctx context.Context, m *config.Manifest, l *config.Lock, f *fetch.Fetcher, imagePath string, opts ...PlanOptions) (*Plan, error) {
	var o PlanOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	srcs, err := pin.Sources(m, l)
	if err != nil {
		return nil, err
	}
	signKey, err := loadSignKey(m)
	if err != nil {
		return nil, err
	}
	p := &Plan{Manifest: m.File, Image: imagePath, SecureBoot: m.SecureBoot, Ready: true}
	warns, err := pin.CheckListedDigests(ctx, m, l, f)
	if err != nil {
		return nil, err
	}
	p.Warnings = append(p.Warnings, warns...)
	target, err := existingTarget(imagePath, o)
	if err != nil {
		return nil, err
	}
	if target != nil && target.Kit && o.StickID == "" {
		o.StickID = target.State.StickID
	}
	for _, fw := range m.Firmware {
		p.Firmware = append(p.Firmware, string(fw))
	}
	isos := make([]disk.File, len(srcs))
	for i, s := range srcs {
		if err := ctx.Err(); err != nil { // inspecting thousands of ISOs takes a while
			return nil, err
		}
		iso := &m.ISOs[i]
		// Until the ISO is cached its location stands in for the source: the
		// layout needs only the size, and an unready plan is never built.
		isos[i] = disk.File{Path: isoPath(iso.Name), Source: s.URL, Size: s.Size}
		e := EntryPlan{Name: iso.Name, Title: iso.Title, ISOPath: isoPath(iso.Name), Args: iso.Args}
		cached, err := f.Lookup(s.Algorithm, s.Digest)
		if err != nil {
			return nil, err
		}
		if cached != "" {
			if err := pin.CheckLockedSize(l, s.Name, cached, s.Size); err != nil {
				return nil, err
			}
			isos[i].Source = cached
			// The builder hashes the bytes it places against the pin,
			// whatever the algorithm: a cache entry changed after it was
			// verified never reaches the image (ErrBadCacheEntry).
			isos[i].Algorithm, isos[i].Digest = s.Algorithm, s.Digest
			if s.Algorithm == "sha256" {
				// The builder can then copy in the kernel, and verifies
				// the read-back image against this digest.
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
	if m.SecureBoot && slices.Contains(m.Firmware, firmware.UEFIIA32) {
		p.Warnings = append(p.Warnings, "uefi-ia32: there is no signed shim for 32-bit UEFI; the stick boots there only with Secure Boot off")
	}
	if err := p.secureBoot(m, signKey); err != nil {
		return nil, err
	}
	p.haveOf(target)
	if err := p.assignPersistence(m); err != nil {
		return nil, err
	}
	old, oldSize, err := recreateTarget(imagePath, o)
	if err != nil {
		return nil, err
	}
	if old != nil {
		p.keepOnRecreate(old, oldSize, m.Size.Auto)
	}
	if err := p.layout(m, l, isos, o); err != nil {
		return nil, err
	}
	if err := p.strict(m); err != nil {
		return nil, err
	}
	if target != nil && p.Ready {
		p.target, p.Diff = target, converge.MakeDiff(p.desired, target)
		p.windowsRecreate(p.Diff)
		if p.goal, err = p.goalFor(p.Diff); err != nil {
			return nil, err
		}
	}
	p.persistActions()
	return p, nil
}

// existingTarget reads the image at path when there is one to converge.
func existingTarget(path string, o PlanOptions) (*converge.Target, error) {
	switch {
	case path == "" || o.Recreate:
		return nil, nil
	case o.device != nil:
		return readTarget(o.device)
	case o.held != nil && o.held.File() == nil:
		return nil, nil
	case o.held != nil:
		return readTarget(o.held.File())
	}
	if _, err := os.Stat(path); err != nil {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readTarget(f)
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
	// One joined error a line, so that the CLI keeps them as lines.
	lines := make([]error, len(dead))
	for i, d := range dead {
		lines[i] = errors.New("  " + d)
	}
	return fmt.Errorf("%w:\n%w", ErrStrict, errors.Join(lines...))
}

// isoPath is where an ISO lands on the stick. Names are [a-z0-9-], which
// every initramfs script handles.
func isoPath(name string) string { return path.Join("/isos", name+".iso") }

// dataISOPath is where an ISO lands on the ext4 data partition: its name
// and the first 8 hex digits of its pinned digest (see nameDataISOs).
func dataISOPath(name, digest string) string {
	return path.Join("/isos", name+"-"+digest[:min(8, len(digest))]+".iso")
}

// inspect decides how the ISO at file boots and records Secure Boot warnings.
// Messages name the ISO as the manifest does, never by its cache path.
func (p *Plan) inspect(ctx context.Context, m *config.Manifest, i int, file string, e *EntryPlan) (err error) {
	iso := &m.ISOs[i]
	at := strings.TrimSpace(m.Diag(fmt.Sprintf("isos[%d]", i), "").String())
	name := fmt.Sprintf("%s (%s)", iso.Name, pin.Location(iso))
	defer crash.Recover(&err, "inspecting %s", name)
	im, err := isoimage.Open(ctx, file, name)
	if err != nil {
		return fmt.Errorf("%s %w", at, err)
	}
	defer im.Close()
	p.Warnings = append(p.Warnings, im.Warnings...)
	if err := windowsEntry(at, iso.Name, im, string(iso.Boot)); err != nil {
		return err
	}
	ov := bootloader.Overrides{Family: bootloader.Family(iso.Boot), Kernel: iso.Kernel, Initrd: iso.Initrd, Args: iso.Args,
		Persistent: iso.Persistence > 0}
	d, err := bootloader.Resolve(im, im.Label, ov)
	if perr := im.Failed(); perr != nil {
		return fmt.Errorf("%s %w", at, perr)
	}
	if err != nil {
		n := iso.Name
		if errors.Is(err, bootloader.ErrMalformedTree) {
			n = name // the file as well, as the ISO 9660 reader's failures say
		}
		return fmt.Errorf("%s %w", at, isoimage.InspectErr(n, err))
	}
	e.Boot = &d
	if d.Family == bootloader.Windows {
		return p.addWindows(ctx, file, e, d, iso, at)
	}
	if iso.Unattend != "" {
		return fmt.Errorf("%s %s: unattend: is for Windows installer entries; this ISO is family %s", at, iso.Name, d.Family)
	}
	e.Warnings = d.Warnings
	for _, w := range d.Warnings {
		p.Warnings = append(p.Warnings, fmt.Sprintf("%s: %s", iso.Name, w))
	}
	p.warnHidden(m, iso.Name, d)
	if !m.SecureBoot {
		return nil
	}
	r, err := bootloader.CheckSecureBoot(im, d)
	if perr := im.Failed(); perr != nil {
		return fmt.Errorf("%s %w", at, perr)
	}
	if err != nil {
		p.Warnings = append(p.Warnings, fmt.Sprintf("%s: cannot tell who signed its boot payload: %v", iso.Name, err))
		return nil
	}
	e.SecureBoot = &r
	if !r.Boots && (r.Trust == bootloader.TrustUnsigned || r.Trust == bootloader.TrustOther) {
		e.payload, err = bootloader.PayloadData(im, r)
		if perr := im.Failed(); perr != nil {
			return fmt.Errorf("%s %w", at, perr)
		}
		if err != nil {
			return fmt.Errorf("%s: reading %s: %w", iso.Name, r.Payload, err)
		}
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
