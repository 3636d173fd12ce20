package imagefile

import (
	"errors"
	"io/fs"
	"syscall"
	"testing"
)

// TestImageDirErrorWords: ImageDirError says in words why the directory cannot take the image.
func TestImageDirErrorWords(t *testing.T) {
	for errno, want := range map[syscall.Errno]string{
		syscall.ENOENT:  "the directory out does not exist",
		syscall.ENOTDIR: "the directory out is not a directory",
		syscall.EROFS:   "the directory out is on a read-only file system",
		syscall.EACCES:  "the directory out cannot be written (permission denied)",
	} {
		err := imageDirError("out/kit.img", "out", &fs.PathError{Op: "open", Path: "out/.kit.img.tmp", Err: errno})
		if !errors.Is(err, ErrImageDir) || err.Error() != "cannot write the image to out/kit.img: "+want+"; nothing was fetched or built" {
			t.Errorf("%v: %v", errno, err)
		}
	}
}
