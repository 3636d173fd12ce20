package compose

import (
	"context"
	"errors"
	"fmt"

	"github.com/usbkit/compose/compose/disk"
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
}

// Result is what Apply built.
type Result struct {
	Image   string            `json:"image"`
	Size    int64             `json:"size"`
	Digests map[string]string `json:"sha256"` // "partition:path" → SHA-256 of each placed file
}

// Apply builds the image p describes at p.Image. The image is written to a
// temporary file beside it and renamed into place only when complete and
// verified; on failure or cancellation an existing image is untouched.
func Apply(ctx context.Context, p *Plan, opts ApplyOptions) (*Result, error) {
	if !p.Ready {
		return nil, ErrNotReady
	}
	if p.Image == "" {
		return nil, errors.New("no image path given")
	}
	spec := p.spec
	spec.Verify = !opts.NoVerify
	res, err := disk.Build(ctx, p.Image, spec, opts.Progress)
	if err != nil {
		return nil, fmt.Errorf("building %s: %w", p.Image, err)
	}
	return &Result{Image: p.Image, Size: res.Layout.Size, Digests: res.Digests()}, nil
}
