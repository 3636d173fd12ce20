package fetch

import (
	"context"
	"net/url"

	getter "github.com/hashicorp/go-getter/v2"
)

// localGetter resolves file:// URLs and absolute paths through go-getter
// v2's FileGetter alone: no detectors but its own, no decompressors (an
// .iso.xz is not unpacked), no symlinks followed into the cache.
var localGetter = &getter.Client{
	Getters:         []getter.Getter{new(getter.FileGetter)},
	Decompressors:   map[string]getter.Decompressor{},
	DisableSymlinks: true,
}

// resolveLocal asks go-getter where the file is and whether it is one.
// Inplace: go-getter checks the source and hands back its path, and the
// copy into the cache is made here with the hash taken on the way (see the
// package doc for why not go-getter's Copy).
func resolveLocal(ctx context.Context, path string) (string, error) {
	u := url.URL{Scheme: "file", Path: path} // escapes '?' and '#' in file names
	res, err := localGetter.Get(ctx, &getter.Request{Src: u.String(), GetMode: getter.ModeFile, Inplace: true})
	if err != nil {
		return "", err
	}
	return res.Dst, nil
}

// fileAttempt copies a local file into the partial, hashing on the way.
func (f *Fetcher) fileAttempt(ctx context.Context, src Source, path string, p *partial) error {
	// Opened first: its errors keep their kind (fs.ErrNotExist, not a
	// regular file), which go-getter's flatten into text.
	in, fi, err := openRegular(path)
	if err != nil {
		return err
	}
	defer in.Close()
	if _, err := resolveLocal(ctx, path); err != nil {
		return err
	}
	if src.Size > 0 && fi.Size() != src.Size {
		return &SizeError{What: path + " is", Got: fi.Size(), Want: src.Size}
	}
	if err := p.reset(); err != nil {
		return err
	}
	return f.copyBody(ctx, in, src, p, nil)
}
