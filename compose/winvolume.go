package compose

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/usbkit/compose/bootloader"
	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/compose/udf"
	"github.com/usbkit/compose/compose/wim"
)

// WindowsSplit is how a Windows entry's install.wim, too large for FAT32,
// goes onto its partition: as .swm parts (compose/wim), named as Windows
// Setup looks for them.
type WindowsSplit struct {
	Source string   `json:"source"` // /sources/install.wim
	Size   int64    `json:"size"`   // the WIM's bytes
	Parts  []string `json:"parts"`  // /sources/install.swm, /sources/install2.swm, …
	Sizes  []int64  `json:"sizes"`
}

// windowsLabel derives a Windows partition's FAT label from the entry's
// name: upper case, [A-Z0-9_], at most 11 characters (what GRUB's search
// and Windows both read as stored).
func windowsLabel(name string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(name) {
		if b.Len() == 11 {
			break
		}
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// isoUDF opens the UDF side of the ISO at file; the returned closer closes
// the file.
func isoUDF(ctx context.Context, file string) (*udf.FS, io.Closer, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	u, err := udf.Open(ctx, f, st.Size())
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", file, err)
	}
	return u, f, nil
}

// windowsVolume lays out the files of the Windows installer ISO at file
// as a FAT32 volume named for entry name: every file of its UDF side,
// streamed from the ISO when the image is built (nothing is held in
// memory), and an install.wim larger than maxFile as .swm parts planned
// now and written by compose/wim as they are placed.
func windowsVolume(ctx context.Context, file, name string, maxFile int64) (disk.Volume, *WindowsSplit, error) {
	u, c, err := isoUDF(ctx, file)
	if err != nil {
		return disk.Volume{}, nil, err
	}
	defer c.Close()
	v := disk.Volume{Name: "windows " + name, Label: windowsLabel(name)}
	var split *WindowsSplit
	err = fs.WalkDir(u, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Size() > maxFile && strings.EqualFold(p, "sources/install.wim") {
			split, err = splitVolumeFiles(ctx, u, file, p, info.Size(), maxFile, &v)
			return err
		}
		v.Files = append(v.Files, udfFile(ctx, file, p, info.Size()))
		return nil
	})
	if err != nil {
		return disk.Volume{}, nil, fmt.Errorf("laying out %s for a FAT32 partition: %w", name, err)
	}
	return v, split, nil
}

// udfFile is the file at p in the ISO's UDF side, opened when placed (or
// copied in the kernel when its bytes lie in one range of the ISO).
func udfFile(ctx context.Context, iso, p string, size int64) disk.File {
	return disk.File{Path: "/" + p, Size: size, Copy: func(dst *os.File, ext []disk.Extent) error {
		return withUDF(ctx, iso, p, func(f *udf.File, src *os.File) error {
			if off, ok := f.Contiguous(); ok {
				return disk.CopyExtents(dst, ext, src, off)
			}
			_, err := io.Copy(disk.ExtentWriter(dst, ext), io.NewSectionReader(f, 0, size))
			return err
		})
	}, Open: func() (io.ReadCloser, error) {
		u, c, err := isoUDF(ctx, iso)
		if err != nil {
			return nil, err
		}
		f, err := u.Open(p)
		if err != nil {
			c.Close()
			return nil, err
		}
		return readCloser{f.(io.Reader), c}, nil
	}}
}

type readCloser struct {
	io.Reader
	io.Closer
}

// splitVolumeFiles plans the WIM at p as parts of at most maxFile bytes
// and adds each part to v, written through a pipe when placed.
func splitVolumeFiles(ctx context.Context, u *udf.FS, iso, p string, size, maxFile int64, v *disk.Volume) (*WindowsSplit, error) {
	f, err := u.Open(p)
	if err != nil {
		return nil, err
	}
	plan, err := wim.PlanSplit(f.(io.ReaderAt), size, maxFile, "install.swm")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	s := &WindowsSplit{Source: "/" + p, Size: size}
	dir := path.Dir("/" + p)
	for i, part := range plan.Parts {
		name := path.Join(dir, part.Name)
		s.Parts, s.Sizes = append(s.Parts, name), append(s.Sizes, part.Size)
		v.Files = append(v.Files, disk.File{Path: name, Size: part.Size, Copy: func(dst *os.File, ext []disk.Extent) error {
			return copyPart(ctx, iso, p, plan, i, dst, ext)
		}, Open: func() (io.ReadCloser, error) {
			return writePart(ctx, iso, p, plan, i)
		}})
	}
	return s, nil
}

// writePart streams part i of plan, read from the WIM at p in the ISO.
func writePart(ctx context.Context, iso, p string, plan *wim.SplitPlan, i int) (io.ReadCloser, error) {
	u, c, err := isoUDF(ctx, iso)
	if err != nil {
		return nil, err
	}
	f, err := u.Open(p)
	if err != nil {
		c.Close()
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		defer c.Close()
		pw.CloseWithError(plan.WritePart(pw, f.(io.ReaderAt), i))
	}()
	return pr, nil
}

// withUDF calls do with the file at p in the ISO's UDF side and the ISO
// file itself.
func withUDF(ctx context.Context, iso, p string, do func(f *udf.File, src *os.File) error) error {
	u, c, err := isoUDF(ctx, iso)
	if err != nil {
		return err
	}
	defer c.Close()
	f, err := u.Open(p)
	if err != nil {
		return err
	}
	return do(f.(*udf.File), c.(*os.File))
}

// copyPart writes part i of plan straight into the image's ranges ext:
// when the WIM lies in one range of the ISO and the part in one range of
// the image, wim copies its resources in the kernel.
func copyPart(ctx context.Context, iso, p string, plan *wim.SplitPlan, i int, dst *os.File, ext []disk.Extent) error {
	return withUDF(ctx, iso, p, func(f *udf.File, iso *os.File) error {
		var src io.ReaderAt = f
		if off, ok := f.Contiguous(); ok {
			src = io.NewSectionReader(iso, off, f.Size())
		}
		if len(ext) == 1 {
			return plan.WritePartAt(dst, ext[0].Offset, src, i)
		}
		return plan.WritePart(disk.ExtentWriter(dst, ext), src, i)
	})
}

// isoEditions reads the editions from the install image at p (the first
// part of a split one) in the ISO's UDF side.
func isoEditions(ctx context.Context, iso, p string) ([]bootloader.WindowsEdition, error) {
	u, c, err := isoUDF(ctx, iso)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	f, err := u.Open(strings.TrimPrefix(p, "/"))
	if err != nil {
		return nil, err
	}
	info, err := wim.ReadInfo(f.(io.ReaderAt), f.(*udf.File).Size())
	if err != nil {
		return nil, err
	}
	var out []bootloader.WindowsEdition
	for _, img := range info.Images {
		n := img.DisplayName
		if n == "" {
			n = img.Name
		}
		out = append(out, bootloader.WindowsEdition{Index: img.Index, Name: n, Arch: img.Arch})
	}
	return out, nil
}
