package fetch

import (
	"context"
	"fmt"
)

// fileAttempt copies a local file into the partial, hashing on the way.
func (f *Fetcher) fileAttempt(ctx context.Context, src Source, path string, p *partial) error {
	in, fi, err := openRegular(path)
	if err != nil {
		return err
	}
	defer in.Close()
	if src.Size > 0 && fi.Size() != src.Size {
		return fmt.Errorf("%s is %d bytes, expected %d", path, fi.Size(), src.Size)
	}
	if err := p.reset(); err != nil {
		return err
	}
	return f.copyBody(ctx, in, src, p, nil)
}
