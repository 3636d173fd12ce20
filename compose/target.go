package compose

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/usbkit/compose/config"
)

// ErrUnsafeImage is matched (errors.Is) when an image path is refused; it
// matches ErrUnsafeTarget too.
var ErrUnsafeImage = fmt.Errorf("unsafe image path: %w", ErrUnsafeTarget)

// checkImageTarget refuses, before anything is fetched or built, an image
// path whose replacement would destroy something: anything but a regular
// file (a directory, a device node, a FIFO, a symbolic link), the
// manifest, its lock, an ISO the manifest names by path, or a file in the
// cache.
func (k *Kit) checkImageTarget(img string) error {
	if img == "" {
		return nil
	}
	refuse := func(why string) error {
		return fmt.Errorf("refusing to write the image to %s: %s (nothing was fetched or built): %w", img, why, ErrUnsafeImage)
	}
	st, err := os.Lstat(img)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case !st.Mode().IsRegular():
		return refuse(fmt.Sprintf("it exists and is not a regular file (%s)", config.FileKind(st.Mode())))
	}
	f, err := k.fetcher()
	if err != nil {
		return err
	}
	if inside(img, f.CacheDir()) {
		return refuse("it is inside the ISO cache " + f.CacheDir())
	}
	protected := []struct{ path, what string }{{k.m.File, "it is the manifest"}, {k.lockPath, "it is the manifest's lock"}}
	for _, iso := range k.m.ISOs {
		if iso.LocalPath != "" {
			protected = append(protected, struct{ path, what string }{iso.LocalPath, "it is the ISO " + iso.Name + " (path: in the manifest)"})
		}
	}
	for _, p := range protected {
		if samePath(img, p.path) {
			return refuse(p.what)
		}
	}
	return nil
}

// samePath reports whether a and b name the same file: the same inode when
// both exist, else the same absolute path.
func samePath(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(sa, sb)
	}
	return absPath(a) == absPath(b)
}

// inside reports whether path is in dir or below it (symbolic links in
// both resolved where they exist).
func inside(path, dir string) bool {
	p, d := absPath(filepath.Dir(path)), absPath(dir)
	return p == d || strings.HasPrefix(p, d+string(filepath.Separator))
}

func absPath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r
	}
	a, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	return a
}
