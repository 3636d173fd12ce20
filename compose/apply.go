package compose

import (
	"context"
	"errors"
	"fmt"
	"github.com/usbkit/compose/compose/pin"
	"os"
	"path/filepath"

	"github.com/usbkit/compose/compose/converge"
	"github.com/usbkit/compose/compose/device"
	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/compose/imagefile"
	"github.com/usbkit/compose/compose/internal/fatedit"
	"github.com/usbkit/compose/compose/internal/stale"
)

// ErrNotReady is returned by Build for a plan whose ISOs are not all in the
// cache: fetch first, then plan again.
var ErrNotReady = errors.New("plan is not ready: ISOs missing from the cache")

// ApplyOptions tune Kit.Apply.
type ApplyOptions struct {
	// Image is the file to build. With Devices and no Image, only the
	// kit's metadata (partition table, file systems, boot files) is built,
	// into a small sparse scratch file removed afterwards, and the ISOs go
	// from the cache straight to the devices.
	Image string
	// Devices are written with the built image, all at once.
	Devices []string
	// Force lifts the device rules that allow it (not removable, larger
	// than 1 TiB), nothing else.
	Force bool
	// NoVerify skips reading back the finished image and devices.
	NoVerify bool
	// Confirm, when set, is called with the devices once every one passed
	// its checks and before anything is built; an error stops Apply.
	Confirm func([]Stick) error
	// Planned, when set, sees the plan before anything is built.
	Planned func(*Plan)
	// Locked, when set, is told that Apply pinned the kit and wrote its
	// lock (a kit's first build).
	Locked func(path string)
	// Progress receives image and device events.
	Progress func(Event)
	// Recreate rewrites an existing image in full; without it an existing
	// kit is converged in place, and anything else is refused.
	Recreate bool
	// Verify reads a kit converged in place (or found unchanged) whole
	// afterwards, as Verify does (BuildOptions.Verify).
	Verify bool
	// DiscardPersistence names the entries whose persistence partition
	// apply may discard (removed from the manifest, or resized): without
	// its name there, apply refuses (ErrPersistenceData).
	DiscardPersistence []string
}

// Applied is what Kit.Apply did.
type Applied struct {
	Plan    *Plan          `json:"-"`
	Image   *Result        `json:"image,omitempty"`   // nil when built to a scratch file
	Devices []DeviceResult `json:"devices,omitempty"` // one per ApplyOptions.Devices, in order
	// Refetched names the ISOs whose cache entry no longer matched the lock
	// while it was placed: each was fetched again, replaced in the cache and
	// placed anew.
	Refetched []string `json:"refetched,omitempty"`
}

// Apply runs the whole pipeline: pin (writing the lock when there is
// none), fetch, plan, check and confirm the devices, build and verify the
// image, write the devices. Nothing is fetched or built for a target it
// would refuse. The image is written beside its path under a temporary
// name and renamed into place only when complete and verified; on failure
// or cancellation an existing image is untouched. For devices without an
// image the scratch image holds the metadata only and the ISOs are
// streamed from the cache to the devices.
func (k *Kit) Apply(ctx context.Context, opts ApplyOptions) (*Applied, error) {
	if opts.Image == "" && len(opts.Devices) == 0 {
		return nil, errors.New("no image path or device given")
	}
	h, err := k.openImage(opts.Image, imagefile.Mode{Write: true, Recreate: opts.Recreate})
	if err != nil {
		return nil, err
	}
	defer h.Close()
	if len(opts.Devices) > 0 {
		stale.Collect(filepath.Clean(os.TempDir()), "", "apply", "")
		// Refused and duplicate devices are found before anything is
		// fetched; the size is checked once the plan knows it.
		if _, err := checkDevices(opts.Devices, 0, opts.Force); err != nil {
			return nil, err
		}
	}
	if opts.Image == "" && len(opts.Devices) > 0 && !opts.Recreate && readKits(opts.Devices) {
		return k.convergeDevices(ctx, opts)
	}
	img := opts.Image
	if img == "" {
		tmp, cleanup, err := scratchImage() // before fetching: $TMPDIR may not be writable
		if err != nil {
			return nil, err
		}
		defer cleanup()
		img = tmp
	}
	if err := k.pin(ctx, opts.Locked); err != nil {
		return nil, err
	}
	if _, err := k.Fetch(ctx); err != nil {
		return nil, err
	}
	p, err := k.Plan(ctx, img, PlanOptions{Recreate: opts.Recreate, held: h})
	if err != nil {
		return nil, err
	}
	if opts.Planned != nil {
		opts.Planned(p)
	}
	if err := p.checkDiscard(opts.DiscardPersistence); err != nil {
		return nil, err
	}
	if opts.Recreate && len(opts.Devices) > 0 {
		if err := keepsNoPersistence(opts.Devices, opts.DiscardPersistence); err != nil {
			return nil, err
		}
	}
	devs, err := checkDevices(opts.Devices, p.Size, opts.Force)
	if err == nil && len(devs) > 0 && opts.Confirm != nil {
		err = opts.Confirm(sticks(devs))
	}
	if err != nil {
		return nil, err
	}
	build := BuildOptions{NoVerify: opts.NoVerify, Progress: opts.Progress, Recreate: opts.Recreate,
		Verify: opts.Verify, deferSources: opts.Image == "", held: h}
	out := &Applied{Plan: p}
	err = k.buildAndWrite(ctx, out, devs, build, opts)
	var bad *BadCacheEntryError
	if errors.As(err, &bad) {
		// The entry was verified once and changed since: it is fetched
		// again and the download replaces it (refused offline), then the
		// kit is built (and the devices written) once more.
		if rerr := k.refetch(ctx, bad.ISO); rerr != nil {
			return nil, fmt.Errorf("%w; fetching it again: %w", err, rerr)
		}
		out.Refetched = append(out.Refetched, bad.ISO)
		if opts.Image == "" {
			os.Remove(img) // the metadata scratch image, built anew
		}
		// Planned again: the plan samples each ISO's bytes for the state record.
		if out.Plan, err = k.Plan(ctx, img, PlanOptions{Recreate: opts.Recreate, held: h}); err != nil {
			return nil, err
		}
		err = k.buildAndWrite(ctx, out, devs, build, opts)
	}
	if err != nil && out.Devices == nil {
		return nil, err
	}
	return out, err
}

// buildAndWrite builds out.Plan's image and writes it to devs. For devices
// without an image path the image holds only the metadata (deferSources)
// and the ISOs go from the cache straight to the devices.
func (k *Kit) buildAndWrite(ctx context.Context, out *Applied, devs []device.Device, build BuildOptions, opts ApplyOptions) error {
	p := out.Plan
	res, err := Build(ctx, p, build)
	if err != nil {
		return err
	}
	if opts.Image != "" {
		out.Image = res
	}
	if len(devs) == 0 {
		return nil
	}
	w := deviceWrite{force: opts.Force, noVerify: opts.NoVerify, progress: opts.Progress, files: streamed(res.deferred)}
	if build.held != nil {
		w.image = build.held.File() // the image built, not what its path names by now
	}
	for _, z := range res.zeros {
		w.zeros = append(w.zeros, device.Extent{Offset: z.Offset, Length: z.Length})
	}
	out.Devices, err = writeDevices(ctx, p.Image, devs, w)
	var se *device.SourceError
	if errors.As(err, &se) {
		return &BadCacheEntryError{ISO: p.isoNamed(se.Name), Path: se.Source, Algorithm: se.Algorithm, Want: se.Want, Got: se.Got,
			Devices: true}
	}
	return err
}

// streamed are the files a deferred build left for the device writer.
func streamed(placed []disk.Placed) []device.File {
	var out []device.File
	for _, f := range placed {
		if !f.Deferred {
			continue
		}
		d := device.File{Name: f.Path, Source: f.Source, Size: f.Size, Algorithm: f.Algorithm, Digest: f.Digest}
		if d.Digest == "" && f.SHA256 != "" {
			d.Algorithm, d.Digest = "sha256", f.SHA256
		}
		for _, e := range f.Extents {
			d.Extents = append(d.Extents, device.Extent{Offset: e.Offset, Length: e.Length})
		}
		out = append(out, d)
	}
	return out
}

// refetch removes the cache entry of the ISO named name and downloads it
// again.
func (k *Kit) refetch(ctx context.Context, name string) error {
	l, err := k.pinned()
	if err != nil {
		return err
	}
	srcs, err := pin.Sources(k.m, l)
	if err != nil {
		return err
	}
	f, err := k.fetcher()
	if err != nil {
		return err
	}
	for _, src := range srcs {
		if src.Name == name {
			_, err := f.Refetch(ctx, src)
			return err
		}
	}
	return fmt.Errorf("%s: not in the lock", name)
}

// pin makes sure the kit has a lock: a kit's first build resolves one and
// writes it, as a package manager writes its lock on first build. A stale,
// invalid or foreign lock is an error, never replaced here.
func (k *Kit) pin(ctx context.Context, locked func(string)) error {
	if k.lock != nil {
		return nil
	}
	if k.lockErr != nil {
		return k.lockErr
	}
	if _, err := k.Lock(ctx); err != nil {
		return err
	}
	if locked != nil {
		locked(k.lockPath)
	}
	return nil
}

// scratchImage is where a kit's metadata is built for devices when no
// image is given: a temporary sparse file holding a few MiB (the ISOs are
// streamed to the devices, not copied here), removed afterwards.
func scratchImage() (string, func(), error) {
	tmp := filepath.Clean(os.TempDir())
	stale.Collect(tmp, "", "apply", "")
	dir, err := os.MkdirTemp(tmp, stale.Pattern("", "apply", ""))
	if err != nil {
		return "", nil, fmt.Errorf("creating the scratch image the devices are written from ($TMPDIR): %w", err)
	}
	return filepath.Join(dir, "kit.img"), func() { os.RemoveAll(dir) }, nil
}

// BuildOptions tune Build.
type BuildOptions struct {
	// NoVerify skips reading every file back from the finished image.
	NoVerify bool
	// Progress receives placement and verification events.
	Progress func(Event)
	// Recreate rewrites an existing target in full instead of converging
	// it in place.
	Recreate bool
	// Verify reads a target converged in place whole afterwards, against
	// its new record (see verifyConverged); a full build is read back
	// whole anyway (unless NoVerify).
	Verify bool

	// deferSources builds the metadata only, leaving host files for the
	// device writer (disk.Spec.Defer); Result.deferred lists them.
	deferSources bool

	held   *imagefile.Held // the image path, opened and locked by Kit.Apply
	device *os.File        // a device opened exclusively, converged in place
	// tests: converge.Options' Wrap, BeforeVerify, Chunk and OpenDirect
	wrap         func(*os.File) fatedit.Device
	beforeVerify func()
	chunk        int
	openDirect   converge.DirectOpener
}

// Result is what Build did.
type Result struct {
	Image   string            `json:"image"`
	Size    int64             `json:"size"`
	Digests map[string]string `json:"sha256,omitempty"` // "partition:path" → SHA-256 of each placed file
	// Incremental is true when an existing kit was converged in place;
	// Changes are then what changed.
	Incremental bool              `json:"incremental"`
	Changes     []converge.Change `json:"changes,omitempty"`
	// Steps is how many commits an in-place apply made: 2 when the ESP
	// had no room for new ISOs beside the ones they replace (Diff.Interim).
	Steps int `json:"steps,omitempty"`
	// BytesWritten counts bytes written to the target (for a full build,
	// the new image's allocated bytes).
	BytesWritten int64 `json:"bytes_written"`
	// Direct is true when an in-place change was read back with O_DIRECT,
	// bypassing the page cache; Warnings say why not where it was refused.
	Direct   bool     `json:"direct,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	// ISOCheck says how much of the ISOs an in-place apply checked
	// (ISOCheckSampled, or ISOCheckFull with Verify, which Verification
	// then details).
	ISOCheck     string                 `json:"iso_check,omitempty"`
	Verification *converge.Verification `json:"verification,omitempty"`

	deferred []disk.Placed // the files a deferSources build left out
	zeros    []disk.Extent // and the zeros it left as holes
}

// Build makes p.Image hold the kit p describes. A new image (or any with
// opts.Recreate) is built whole in a temporary file beside it and renamed
// into place only when complete and verified; on failure or cancellation an
// existing image is untouched. An existing kit is converged in place:
// only what differs is written, in an order that survives interruption at
// any point (see converge), and it is refused with a RecreateError when
// that cannot be done (not a kit, changed outside compose, layout change).
// The image path is opened once, without following a symbolic link, and
// locked for the whole apply (imagefile.ErrTargetBusy when another process holds
// it); a block device path is converged in place.
func Build(ctx context.Context, p *Plan, opts BuildOptions) (*Result, error) {
	if !p.Ready {
		return nil, ErrNotReady
	}
	if p.Image == "" {
		return nil, errors.New("no image path given")
	}
	if opts.device == nil && opts.held == nil && isBlockDevice(p.Image) {
		// A caller's device path (Kit.Apply opens its devices itself).
		f, err := os.OpenFile(p.Image, os.O_RDWR, 0)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		opts.device = f
	}
	if opts.device != nil {
		return convergeFile(ctx, p, opts.device, opts)
	}
	h := opts.held
	if h == nil {
		var err error
		if h, err = imagefile.Open(p.Image, imagefile.Mode{Write: true, Recreate: opts.Recreate}, nil); err != nil {
			return nil, err
		}
		defer h.Close()
	}
	if h.File() != nil && !opts.Recreate {
		return convergeHeld(ctx, p, h, opts)
	}
	return buildNew(ctx, p, h, opts)
}

func isBlockDevice(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode()&os.ModeDevice != 0 && fi.Mode()&os.ModeCharDevice == 0
}

// buildNew builds p's image whole in the locked temporary file beside the
// path h holds and renames it into place when complete and verified.
func buildNew(ctx context.Context, p *Plan, h *imagefile.Held, opts BuildOptions) (*Result, error) {
	if h.Temp() == nil { // a second build, after the first was committed
		if err := h.CreateTemp(); err != nil {
			return nil, err
		}
	}
	spec, err := keptFrom(p.spec, h.File())
	if err != nil {
		return nil, err
	}
	spec.Verify = !opts.NoVerify
	spec.Defer = opts.deferSources
	res, err := disk.BuildFile(ctx, h.Temp(), spec, imageEvents(opts.Progress))
	if err == nil {
		err = h.Commit()
	}
	if err != nil {
		// Emptied for another build (a deferred build relies on holes).
		if terr := h.Temp().Truncate(0); terr != nil {
			h.DropTemp()
		}
	}
	var bad *disk.SourceError
	switch {
	case errors.As(err, &bad):
		return nil, &BadCacheEntryError{ISO: p.isoNamed(bad.Path), Path: bad.Source, Algorithm: bad.Algorithm, Want: bad.Want, Got: bad.Got}
	case errors.Is(err, ErrUnsafeTarget), errors.Is(err, imagefile.ErrTargetMoved):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("building %s: %w", p.Image, err)
	}
	out := &Result{Image: p.Image, Size: res.Layout.Size, Digests: res.Digests(), deferred: res.Files, zeros: res.Zeros}
	if n, ok := allocatedBytes(p.Image); ok {
		out.BytesWritten = n
	}
	return out, nil
}

// ErrUnsafeTarget is matched (errors.Is) by every refused output: a device
// compose must not write (compose/device's rules) or an image path that
// would destroy something else.
var ErrUnsafeTarget = device.ErrUnsafeTarget

// ErrBadCacheEntry is matched (errors.Is) by a *BadCacheEntryError.
var ErrBadCacheEntry = errors.New("bad cache entry")

// BadCacheEntryError says an ISO's file in the cache no longer hashes to
// the lock's digest (changed or damaged after it was verified). The image
// was not written. The entry must be fetched again.
type BadCacheEntryError struct {
	ISO       string // the manifest's name for it
	Path      string // the cache entry
	Algorithm string
	Want, Got string
	// Devices is set when the entry was being streamed to devices: they
	// were left without a partition table (not a kit) and must be
	// written again.
	Devices bool
}

func (e *BadCacheEntryError) Error() string {
	what := "nothing was written"
	if e.Devices {
		what = "the devices were left without a partition table"
	}
	return fmt.Sprintf("%s: the cache entry %s is bad: its bytes hash to %s:%s, the lock pins %s:%s; %s",
		e.ISO, e.Path, e.Algorithm, e.Got, e.Algorithm, e.Want, what)
}

// Is makes errors.Is(err, ErrBadCacheEntry) true.
func (e *BadCacheEntryError) Is(target error) bool { return target == ErrBadCacheEntry }

// isoNamed gives the manifest name of the ISO placed at path.
func (p *Plan) isoNamed(path string) string {
	for _, e := range p.Entries {
		if e.ISOPath == path {
			return e.Name
		}
	}
	return path
}
