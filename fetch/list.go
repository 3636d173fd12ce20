package fetch

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"regexp"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
)

// ErrNotListed means a checksum list has no line for the file.
var ErrNotListed = errors.New("file not in the checksum list")

// ErrBadSignature means a checksum list's OpenPGP signature is missing,
// does not verify, or was made by another key than the pinned one.
var ErrBadSignature = errors.New("bad signature")

// Signature pins who must have signed a checksum list. URL names a detached
// signature (binary or armored); empty means the list is clearsigned. The
// key comes from KeyURL or KeyFile, which may hold many keys: only the one
// whose fingerprint is Fingerprint (hex, any case) is trusted.
type Signature struct {
	URL         string
	Fingerprint string
	KeyURL      string
	KeyFile     string
}

// maxSmall bounds checksum lists, signatures and keys: they are small, and a
// server that sends gigabytes instead must not fill memory.
const maxSmall = 8 << 20

// ResolveList reads the GNU-style ("HEX  name", "HEX *name") or BSD-style
// ("SHA256 (name) = HEX") checksum list at listURL, verifying its signature
// first when sig is set, and returns the algorithm and digest it gives for
// fileName (matched on the base name).
func (f *Fetcher) ResolveList(ctx context.Context, listURL, fileName string, sig *Signature) (alg, digest string, err error) {
	list, err := f.getSmall(ctx, listURL)
	if err != nil {
		return "", "", fmt.Errorf("checksum list: %w", err)
	}
	if sig != nil {
		if list, err = f.verifyList(ctx, list, sig); err != nil {
			return "", "", fmt.Errorf("checksum list %s: %w", redact(listURL), err)
		}
	}
	alg, digest, ok := findInList(list, path.Base(fileName))
	if !ok {
		return "", "", fmt.Errorf("%s: %q: %w", redact(listURL), fileName, ErrNotListed)
	}
	return alg, digest, nil
}

var (
	gnuLine = regexp.MustCompile(`^([0-9a-fA-F]{64}|[0-9a-fA-F]{128}) [ *]?(.+)$`)
	bsdLine = regexp.MustCompile(`^(SHA256|SHA512) ?\((.+)\) ?= ?([0-9a-fA-F]{64}|[0-9a-fA-F]{128})$`)
)

// findInList returns the digest listed for name. The algorithm follows from
// the BSD tag or, in GNU lists, the digest's length.
func findInList(list []byte, name string) (alg, digest string, ok bool) {
	sc := bufio.NewScanner(bytes.NewReader(list))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m := bsdLine.FindStringSubmatch(line); m != nil && path.Base(m[2]) == name {
			a := strings.ToLower(m[1])
			if len(m[3]) == digestLen[a] {
				return a, strings.ToLower(m[3]), true
			}
		}
		if m := gnuLine.FindStringSubmatch(line); m != nil && path.Base(strings.TrimPrefix(m[2], "./")) == name {
			a := "sha256"
			if len(m[1]) == 128 {
				a = "sha512"
			}
			return a, strings.ToLower(m[1]), true
		}
	}
	return "", "", false
}

var digestLen = map[string]int{"sha256": 64, "sha512": 128}

// verifyList checks list's signature and returns the signed text: for a
// clearsigned list only what the signature covers, never the text around it.
func (f *Fetcher) verifyList(ctx context.Context, list []byte, sig *Signature) ([]byte, error) {
	keys, err := f.pinnedKey(ctx, sig)
	if err != nil {
		return nil, err
	}
	if sig.URL == "" {
		block, _ := clearsign.Decode(list)
		if block == nil {
			return nil, fmt.Errorf("%w: the list is not clearsigned and no signature URL is given", ErrBadSignature)
		}
		if _, err := block.VerifySignature(keys, nil); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
		}
		return block.Plaintext, nil
	}
	s, err := f.getSmall(ctx, sig.URL)
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	if _, err := openpgp.CheckDetachedSignature(keys, bytes.NewReader(list), dearmor(s), nil); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return list, nil
}

// pinnedKey loads the key ring sig names and keeps only the entity whose
// primary key has the pinned fingerprint.
func (f *Fetcher) pinnedKey(ctx context.Context, sig *Signature) (openpgp.EntityList, error) {
	var (
		raw []byte
		err error
	)
	if sig.KeyFile != "" {
		raw, err = os.ReadFile(sig.KeyFile)
	} else {
		raw, err = f.getSmall(ctx, sig.KeyURL)
	}
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	ring, err := openpgp.ReadKeyRing(dearmor(raw))
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	want := strings.ToUpper(strings.ReplaceAll(sig.Fingerprint, " ", ""))
	for _, e := range ring {
		if fmt.Sprintf("%X", e.PrimaryKey.Fingerprint) == want {
			return openpgp.EntityList{e}, nil
		}
	}
	return nil, fmt.Errorf("%w: no key with fingerprint %s in the key file", ErrBadSignature, want)
}

// dearmor returns the binary packets of data, armored or not.
func dearmor(data []byte) io.Reader {
	if b, err := armor.Decode(bytes.NewReader(data)); err == nil {
		return b.Body
	}
	return bytes.NewReader(data)
}

// getSmall reads a small file (a list, a signature, a key) from an http(s)
// URL or a local path, with the fetcher's client and retries.
func (f *Fetcher) getSmall(ctx context.Context, raw string) ([]byte, error) {
	kind, target, err := parseLocation(raw)
	if err != nil {
		return nil, err
	}
	switch kind {
	case locFile:
		return readLimited(os.Open(target))
	case locHTTP:
	default:
		return nil, fmt.Errorf("%s: checksum lists, signatures and keys are read over http(s) or from local files", redact(raw))
	}
	for failures := 0; ; failures++ {
		b, err := f.getOnce(ctx, target)
		if err == nil || !isTransient(err) || failures >= f.opts.Retries {
			return b, err
		}
		if err := sleep(ctx, f.backoff(failures+1)); err != nil {
			return nil, err
		}
	}
}

func (f *Fetcher) getOnce(ctx context.Context, raw string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, retryable("%s: %w", redact(raw), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		serr := &StatusError{Status: resp.Status, Code: resp.StatusCode}
		if resp.StatusCode >= 500 || resp.StatusCode == 408 || resp.StatusCode == 429 {
			return nil, retryable("%s: %w", redact(raw), serr)
		}
		return nil, fmt.Errorf("%s: %w", redact(raw), serr)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxSmall+1))
	if err != nil {
		return nil, retryable("%s: %w", redact(raw), err)
	}
	if len(b) > maxSmall {
		return nil, fmt.Errorf("%s: larger than %d bytes", redact(raw), maxSmall)
	}
	return b, nil
}

func readLimited(fh *os.File, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxSmall+1))
	if err == nil && len(b) > maxSmall {
		err = fmt.Errorf("%s: larger than %d bytes", fh.Name(), maxSmall)
	}
	return b, err
}
