package compose

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/compose/internal/fatedit"
	"golang.org/x/sys/unix"
)

// ErrNotReady is returned by Apply for a plan whose ISOs are not all in the
// cache: fetch first, then plan again.
var ErrNotReady = errors.New("plan is not ready: ISOs missing from the cache")

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// NoVerify skips reading every file back from the finished image.
	NoVerify bool
	// Progress receives placement and verification events.
	Progress func(disk.Event)
	// Recreate rewrites an existing target in full instead of converging
	// it in place.
	Recreate bool

	wrap  func(*os.File) fatedit.Device // tests: fault injection
	chunk int                           // tests: content write size
}

// Result is what Apply built.
type Result struct {
	Image   string            `json:"image"`
	Size    int64             `json:"size"`
	Digests map[string]string `json:"sha256,omitempty"` // "partition:path" → SHA-256 of each placed file
	// Incremental is true when an existing kit was converged in place;
	// Changes are then what changed.
	Incremental bool     `json:"incremental"`
	Changes     []Change `json:"changes,omitempty"`
	// BytesWritten counts bytes written to the target (for a full build,
	// the new image's allocated bytes).
	BytesWritten int64 `json:"bytes_written"`
}

// Apply makes p.Image hold the kit p describes. A new image (or any with
// opts.Recreate) is built whole in a temporary file beside it and renamed
// into place only when complete and verified; on failure or cancellation an
// existing image is untouched. An existing kit is converged in place:
// only what differs is written, in an order that survives interruption at
// any point (see converge), and it is refused with a RecreateError when
// that cannot be done (not a kit, changed outside compose, layout change).
func Apply(ctx context.Context, p *Plan, opts ApplyOptions) (*Result, error) {
	if !p.Ready {
		return nil, ErrNotReady
	}
	if p.Image == "" {
		return nil, errors.New("no image path given")
	}
	if _, err := os.Stat(p.Image); err == nil && !opts.Recreate {
		t, err := ReadTarget(p.Image)
		if err != nil {
			return nil, err
		}
		return converge(ctx, p, t, opts)
	}
	spec := p.spec
	spec.Verify = !opts.NoVerify
	res, err := disk.Build(ctx, p.Image, spec, opts.Progress)
	if err != nil {
		return nil, fmt.Errorf("building %s: %w", p.Image, err)
	}
	out := &Result{Image: p.Image, Size: res.Layout.Size, Digests: res.Digests()}
	var st unix.Stat_t
	if unix.Stat(p.Image, &st) == nil {
		out.BytesWritten = st.Blocks * 512
	}
	return out, nil
}
