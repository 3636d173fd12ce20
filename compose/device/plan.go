package device

import (
	"fmt"
	"io"
	"os"
	"sort"
)

// span is a byte range [Off, End) of the image or the device.
type span struct{ Off, End int64 }

func (s span) len() int64 { return s.End - s.Off }

const (
	align    = 4096    // extents are rounded out to this; O_DIRECT needs ≤ it
	edgeSize = 1 << 20 // head and tail regions, and the guard at each partition start
)

// image is the source file and what the writer derived from it once, for
// every target: the body spans (same bytes on every device) and the GPT.
type image struct {
	f    *os.File
	size int64
	gpt  *gpt
	head span     // [0, 1 MiB): written last, per device, with the MBR/GPT patched
	tail span     // the image's last MiB when it has a GPT, else empty
	body []span   // everything else worth writing, in order
	ov   *overlay // the files streamed from their sources; nil when none
}

func openImage(path string, open *os.File, files []File, zeros []Extent) (*image, error) {
	var f *os.File
	var err error
	if open != nil {
		f, err = dupFile(open)
	} else {
		f, err = os.Open(path)
	}
	if err != nil {
		return nil, fmt.Errorf("opening image: %w", err)
	}
	img, err := planImage(f, files, zeros)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("image %s: %w", path, err)
	}
	return img, nil
}

func (img *image) close() {
	img.f.Close()
	if img.ov != nil {
		img.ov.close()
	}
}

func planImage(f *os.File, files []File, zeros []Extent) (*image, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file")
	}
	img := &image{f: f, size: fi.Size()}
	if img.size == 0 || img.size%512 != 0 {
		return nil, fmt.Errorf("size %d is not a positive multiple of 512", img.size)
	}
	if img.gpt, err = readGPT(f, img.size); err != nil {
		return nil, err
	}
	img.head = span{0, min(edgeSize, img.size)}
	if img.gpt != nil {
		img.tail = span{max(img.head.End, alignDown(img.size-edgeSize)), img.size}
	}
	data, err := dataExtents(f, img.size)
	if err != nil {
		return nil, fmt.Errorf("finding allocated ranges: %w", err)
	}
	guard, err := img.guarded()
	if err != nil {
		return nil, err
	}
	if len(files) > 0 {
		if img.ov, err = newOverlay(files, img.size, img.head); err != nil {
			return nil, err
		}
		data = append(data, img.ov.spans()...)
	}
	for _, z := range zeros {
		data = append(data, span{z.Offset, z.Offset + z.Length})
	}
	body := merge(append(data, guard...))
	body = subtract(body, img.head)
	img.body = clip(subtract(body, img.tail), img.size)
	return img, nil
}

// guarded are the ranges written even where the image has a hole, because
// old data there would be read as metadata: the first MiB of every
// partition and all of a FAT partition's reserved sectors and FATs.
func (img *image) guarded() ([]span, error) {
	if img.gpt == nil {
		return nil, nil
	}
	var out []span
	boot := make([]byte, 512)
	for _, p := range img.gpt.parts {
		n := int64(edgeSize)
		if _, err := img.f.ReadAt(boot, p.Off); err != nil && err != io.EOF {
			return nil, fmt.Errorf("reading partition at %d: %w", p.Off, err)
		}
		n = max(n, fatMetadata(boot))
		out = append(out, span{p.Off, min(p.Off+n, p.End, img.size)})
	}
	return out, nil
}

// bodyBytes is how many bytes the body writes.
func (img *image) bodyBytes() int64 {
	var n int64
	for _, s := range img.body {
		n += s.len()
	}
	return n
}

func alignDown(n int64) int64 { return n &^ (align - 1) }
func alignUp(n int64) int64   { return (n + align - 1) &^ (align - 1) }

// merge rounds spans out to the alignment, sorts and joins them.
func merge(in []span) []span {
	var s []span
	for _, x := range in {
		if x.End > x.Off {
			s = append(s, span{alignDown(x.Off), alignUp(x.End)})
		}
	}
	sort.Slice(s, func(i, j int) bool { return s[i].Off < s[j].Off })
	var out []span
	for _, x := range s {
		if n := len(out); n > 0 && x.Off <= out[n-1].End {
			out[n-1].End = max(out[n-1].End, x.End)
			continue
		}
		out = append(out, x)
	}
	return out
}

// subtract removes cut from every span.
func subtract(in []span, cut span) []span {
	if cut.len() <= 0 {
		return in
	}
	var out []span
	for _, x := range in {
		if x.End <= cut.Off || x.Off >= cut.End {
			out = append(out, x)
			continue
		}
		if x.Off < cut.Off {
			out = append(out, span{x.Off, cut.Off})
		}
		if x.End > cut.End {
			out = append(out, span{cut.End, x.End})
		}
	}
	return out
}

// clip keeps spans inside [0, size).
func clip(in []span, size int64) []span {
	var out []span
	for _, x := range in {
		x.End = min(x.End, size)
		if x.End > x.Off {
			out = append(out, x)
		}
	}
	return out
}
