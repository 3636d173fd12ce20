package fetch

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path"
	"regexp"
	"strings"
)

const maxListSize = 16 << 20

var (
	gnuLine = regexp.MustCompile(`^\\?([0-9a-fA-F]+) [ *](.+)$`)
	bsdLine = regexp.MustCompile(`^([A-Za-z0-9-]+) ?\((.+)\) ?= ?([0-9a-fA-F]+)$`)
)

// ResolveList fetches a checksum list (http, https, file URL or absolute
// path), verifies its OpenPGP signature when sig is not nil, and returns the
// algorithm and lowercase digest it gives for fileName (matched on base
// names). GNU lines ("HEX  name", "HEX *name") take the algorithm from the
// digest length, BSD lines ("SHA256 (name) = HEX") from their tag. A
// clearsigned list is reduced to its signed text before parsing.
func (f *Fetcher) ResolveList(ctx context.Context, listURL, fileName string, sig *Signature) (alg, digest string, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("checksum list %s: %w", redact(listURL), err)
		}
	}()
	list, err := f.getSmall(ctx, listURL)
	if err != nil {
		return "", "", err
	}
	if list, err = f.checkSignature(ctx, list, sig); err != nil {
		return "", "", err
	}
	return pickDigest(list, fileName)
}

// pickDigest finds fileName in a list, preferring sha512 over sha256.
func pickDigest(list []byte, fileName string) (string, string, error) {
	want := path.Base(fileName)
	found := map[string]string{}
	var weak []string
	sc := bufio.NewScanner(bytes.NewReader(list))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		alg, hexd, name, ok := parseListLine(strings.TrimSpace(sc.Text()))
		if !ok || path.Base(strings.TrimPrefix(name, "./")) != want {
			continue
		}
		if checkDigest(alg, hexd) != nil {
			weak = append(weak, alg)
			continue
		}
		if prev, dup := found[alg]; dup && prev != hexd {
			return "", "", fmt.Errorf("two different %s digests for %s", alg, want)
		}
		found[alg] = hexd
	}
	for _, alg := range []string{"sha512", "sha256"} {
		if d, ok := found[alg]; ok {
			return alg, d, nil
		}
	}
	if len(weak) > 0 {
		return "", "", fmt.Errorf("%s has only %s digests; sha256 or sha512 is needed", want, strings.Join(weak, ", "))
	}
	return "", "", fmt.Errorf("no line for %s", want)
}

func parseListLine(line string) (alg, digest, name string, ok bool) {
	if m := bsdLine.FindStringSubmatch(line); m != nil {
		return strings.ToLower(strings.ReplaceAll(m[1], "-", "")), strings.ToLower(m[3]), m[2], true
	}
	if m := gnuLine.FindStringSubmatch(line); m != nil {
		alg := map[int]string{32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}[len(m[1])]
		return alg, strings.ToLower(m[1]), m[2], alg != ""
	}
	return "", "", "", false
}

// getSmall reads a small file (list, signature, key) from http(s) with the
// Fetcher's client and retries (not when Offline), or from a local path.
func (f *Fetcher) getSmall(ctx context.Context, raw string) ([]byte, error) {
	kind, target, err := parseLocation(raw)
	if err != nil {
		return nil, err
	}
	switch kind {
	case locFile:
		fh, _, err := openRegular(target)
		if err != nil {
			return nil, err
		}
		defer fh.Close()
		return readLimited(fh)
	case locHTTP:
		if f.opts.Offline {
			return nil, fmt.Errorf("%s: %w (offline)", redact(raw), ErrNotCached)
		}
		if b, ok := f.smallRead(raw); ok {
			return b, nil
		}
		var body []byte
		err := f.retrySmall(ctx, func() error {
			var err error
			body, err = f.httpSmall(ctx, target)
			return err
		})
		if err == nil {
			f.smallKeep(raw, body)
		}
		return body, err
	}
	return nil, fmt.Errorf("%s: only http, https and local paths are supported here", redact(raw))
}

// smallRead and smallKeep remember what getSmall read over http, so that
// one Fetcher reads a vendor's list once: apply checks the lock against it
// before fetching and again in the plan, and both must see the same list.
func (f *Fetcher) smallRead(url string) ([]byte, bool) {
	f.smallMu.Lock()
	defer f.smallMu.Unlock()
	b, ok := f.small[url]
	return b, ok
}

func (f *Fetcher) smallKeep(url string, b []byte) {
	f.smallMu.Lock()
	defer f.smallMu.Unlock()
	if f.small == nil {
		f.small = map[string][]byte{}
	}
	f.small[url] = b
}

func (f *Fetcher) retrySmall(ctx context.Context, get func() error) error {
	for failures := 1; ; failures++ {
		err := get()
		if err == nil || !isTransient(err) || ctx.Err() != nil || failures > f.opts.Retries {
			return err
		}
		if err := sleep(ctx, f.backoff(failures)); err != nil {
			return err
		}
	}
}

func (f *Fetcher) httpSmall(ctx context.Context, target string) ([]byte, error) {
	w := newWatchdog(ctx, f.opts.IdleTimeout)
	defer w.stop()
	req, err := http.NewRequestWithContext(w.ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept-Encoding", "identity")
	if f.opts.Netrc {
		addNetrcAuth(req)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, w.cause(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &StatusError{Code: resp.StatusCode, Status: resp.Status}
	}
	b, err := readLimited(resp.Body)
	return b, w.cause(err)
}

func readLimited(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxListSize+1))
	if err == nil && len(b) > maxListSize {
		err = fmt.Errorf("larger than %d bytes", maxListSize)
	}
	return b, err
}
