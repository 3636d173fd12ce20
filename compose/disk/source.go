package disk

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/usbkit/compose/config/digest"
)

// ErrSourceMismatch is matched (errors.Is) by a *SourceError.
var ErrSourceMismatch = errors.New("source does not match its digest")

// SourceError says a host file's bytes, as placed, did not hash to the
// digest File declared: the file changed (or was damaged) after whoever
// pinned it verified it. Nothing was renamed into place.
type SourceError struct {
	Source    string // the host file
	Path      string // where it was going on the volume
	Algorithm string
	Want, Got string
}

func (e *SourceError) Error() string {
	return fmt.Sprintf("%s (for %s) hashes to %s:%s, not the pinned %s:%s", e.Source, e.Path, e.Algorithm, short(e.Got), e.Algorithm, short(e.Want))
}

// Is makes errors.Is(err, ErrSourceMismatch) true.
func (e *SourceError) Is(target error) bool { return target == ErrSourceMismatch }

func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return h
}

// checkSum compares what f's bytes hashed to with its pinned digest.
func checkSum(f File, sum []byte) error {
	got := hex.EncodeToString(sum)
	if f.Digest == "" || strings.EqualFold(got, f.Digest) {
		return nil
	}
	return &SourceError{Source: f.Source, Path: f.Path, Algorithm: f.Algorithm, Want: strings.ToLower(f.Digest), Got: got}
}

// pinned wraps r so that its bytes also feed the hash of f's pinned
// algorithm when that is not the SHA-256 pump computes anyway; sum then
// returns the digest to check.
func pinned(f File, r io.Reader) (io.Reader, func(sha256sum []byte) []byte, error) {
	if f.Digest == "" || f.Algorithm == "sha256" {
		return r, func(s []byte) []byte { return s }, nil
	}
	h, err := digest.New(f.Algorithm)
	if err != nil {
		return nil, nil, err
	}
	return io.TeeReader(r, h), func([]byte) []byte { return h.Sum(nil) }, nil
}

// hashFile hashes the host file at path with alg, checking ctx between
// reads (see the builder's kernel copy, which runs beside it).
func hashFile(done <-chan struct{}, path, alg string) ([]byte, error) {
	h, err := digest.New(alg)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, 4<<20)
	for {
		select {
		case <-done:
			return nil, errors.New("stopped")
		default:
		}
		n, err := f.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			return h.Sum(nil), nil
		}
		if err != nil {
			return nil, err
		}
	}
}
