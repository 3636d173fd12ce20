package imagefile

import (
	"errors"
	"fmt"

	"github.com/usbkit/compose/compose/device"
)

// ErrUnsafeImage is matched (errors.Is) when an image path is refused; it
// matches device.ErrUnsafeTarget (compose.ErrUnsafeTarget) too.
var ErrUnsafeImage = fmt.Errorf("unsafe image path: %w", device.ErrUnsafeTarget)

// ErrTargetBusy is matched (errors.Is) when another process is writing the
// image (it holds the image's lock, or is building it): nothing was
// written. It matches device.ErrUnsafeTarget (compose.ErrUnsafeTarget) too.
var ErrTargetBusy = fmt.Errorf("target in use: %w", device.ErrUnsafeTarget)

// ErrImageDir is matched when the directory an image path names is missing
// or cannot be written: a mistake in the path given, found before
// anything is fetched.
var ErrImageDir = errors.New("the image's directory cannot be written")

// ErrTargetMoved is matched when the image path was moved or replaced
// while Apply wrote the file it had checked there: the kit went to that
// file, which the path no longer names.
var ErrTargetMoved = errors.New("the image path was replaced while apply ran")

// RefusedImageError says why an image path was refused and what was left
// undone. It matches ErrUnsafeImage and device.ErrUnsafeTarget, and ErrTargetBusy
// when another process is writing the image.
type RefusedImageError struct {
	Path   string
	Reason string
	// Busy is set when another process is writing the image.
	Busy bool
	// Outcome says what happened to this run's work ("nothing was fetched
	// or built" when refused up front).
	Outcome string
}

func (e *RefusedImageError) Error() string {
	return fmt.Sprintf("refusing to write the image to %s: %s; %s", e.Path, e.Reason, e.Outcome)
}

// Is makes errors.Is match ErrUnsafeImage, ErrUnsafeTarget and, for Busy,
// ErrTargetBusy.
func (e *RefusedImageError) Is(target error) bool {
	return target == ErrUnsafeImage || target == device.ErrUnsafeTarget || (e.Busy && target == ErrTargetBusy)
}

// NotStarted is what a refusal up front left undone.
const NotStarted = "nothing was fetched or built"
