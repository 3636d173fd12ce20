// Package digest is the one list of digest algorithms the module accepts
// for pinned files ("sha256" and "sha512", as manifests, locks and the
// download cache spell them): the one place a name becomes a hash, or the
// length of its hex digest, and the one hashing of a reader that stops
// when its context is done (Of). The name must be exact: an empty or unknown
// one is an error (HexLen 0), so a caller whose input defaults to SHA-256
// says so itself. Like config/bytesize it imports nothing of the module,
// so config, fetch, compose/disk and compose/device may all use it.
package digest

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
)

// New returns a fresh hash for algorithm.
func New(algorithm string) (hash.Hash, error) {
	switch algorithm {
	case "sha256":
		return sha256.New(), nil
	case "sha512":
		return sha512.New(), nil
	}
	return nil, fmt.Errorf("unknown digest algorithm %q (want sha256 or sha512)", algorithm)
}

// HexLen is how many hex digits a digest of algorithm has; 0 for an
// unknown algorithm.
func HexLen(algorithm string) int {
	h, err := New(algorithm)
	if err != nil {
		return 0
	}
	return 2 * h.Size()
}

// Of hashes what r yields with algorithm, reading through buf, and returns
// the digest in lower-case hex. It checks ctx before every read, so that
// Ctrl-C ends the hashing of a 4 GiB ISO at the next read, not at its end.
func Of(ctx context.Context, algorithm string, r io.Reader, buf []byte) (string, error) {
	h, err := New(algorithm)
	if err != nil {
		return "", err
	}
	if _, err := io.CopyBuffer(h, ctxReader{ctx, r}, buf); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ctxReader stops a long read when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
