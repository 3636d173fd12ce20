package fetch

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

const maxListSize = 16 << 20

var (
	gnuLine = regexp.MustCompile(`^\\?([0-9a-fA-F]+) [ *](.+)$`)
	bsdLine = regexp.MustCompile(`^([A-Za-z0-9-]+) ?\((.+)\) ?= ?([0-9a-fA-F]+)$`)
)

// ResolveList fetches a checksum list (http, https, file URL or absolute
// path), verifies its OpenPGP signature when sig is not nil, and returns the
// algorithm and lowercase digest it gives for the file at loc (the ISO's URL
// or path; a bare name stands for itself), under the name ListName gives.
// GNU lines ("HEX  name", "HEX *name") take the algorithm from the digest
// length, BSD lines ("SHA256 (name) = HEX") from their tag. A clearsigned
// list is reduced to its signed text before parsing.
func (f *Fetcher) ResolveList(ctx context.Context, listURL, loc string, sig *Signature) (alg, digest string, err error) {
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
	return pickDigest(list, ListName(listURL, loc))
}

// ListName is the name a checksum list at listURL must give the file at
// loc: its path relative to the list's directory when the file lies under
// that directory on the same server (or, for local paths, disk), else its
// base name. A list names files relative to where it lies, so a line for
// "other/x.iso" is about another file than "x.iso" beside the list, and a
// mirror on another host must keep the file's name.
func ListName(listURL, loc string) string {
	lo, lp, okList := originPath(listURL)
	fo, fp, okFile := originPath(loc)
	if !okFile {
		return path.Base(filepath.ToSlash(loc))
	}
	if okList && lo == fo {
		dir := strings.TrimSuffix(path.Dir(lp), "/") + "/"
		if rel, found := strings.CutPrefix(fp, dir); found && rel != "" {
			return rel
		}
	}
	return path.Base(fp)
}

// originPath splits an http(s) URL or a local path into where it is served
// from and its slash-separated, cleaned path.
func originPath(raw string) (origin, p string, ok bool) {
	kind, target, err := parseLocation(raw)
	switch {
	case err != nil:
		return "", "", false
	case kind == locFile:
		return "file", filepath.ToSlash(target), true
	case kind == locHTTP:
		u, err := url.Parse(target)
		if err != nil {
			return "", "", false
		}
		return strings.ToLower(u.Scheme + "://" + u.Host), path.Clean("/" + u.Path), true
	}
	return "", "", false
}

// pickDigest finds the line for name in a list, preferring sha512 over
// sha256. A line matches only the exact name, after the "./" prefixes
// sha256sum writes for "./name"; a line for the same base name in another
// directory is named in the error when nothing matched.
func pickDigest(list []byte, name string) (string, string, error) {
	found := map[string]string{}
	var weak, elsewhere []string
	err := eachListLine(list, func(alg, hexd, entry string) error {
		if entry != name {
			if path.Base(entry) == path.Base(name) && len(elsewhere) < 3 {
				elsewhere = append(elsewhere, strconv.Quote(entry))
			}
			return nil
		}
		if checkDigest(alg, hexd) != nil {
			weak = append(weak, alg)
			return nil
		}
		if prev, dup := found[alg]; dup && prev != hexd {
			return fmt.Errorf("two different %s digests for %s", alg, name)
		}
		found[alg] = hexd
		return nil
	})
	if err != nil {
		return "", "", err
	}
	for _, alg := range []string{"sha512", "sha256"} {
		if d, ok := found[alg]; ok {
			return alg, d, nil
		}
	}
	if len(weak) > 0 {
		return "", "", fmt.Errorf("%s has only %s digests; sha256 or sha512 is needed", name, strings.Join(weak, ", "))
	}
	if len(elsewhere) > 0 {
		return "", "", noLine(fmt.Sprintf("no line for %s (its path relative to the list's directory); %s names another directory's file", name, strings.Join(elsewhere, ", ")))
	}
	return "", "", noLine("no line for " + name)
}

// eachListLine calls fn with every GNU or BSD line of list (a byte order
// mark and blanks dropped, the "./" prefixes sha256sum writes removed);
// other lines are skipped. fn's error ends the walk.
func eachListLine(list []byte, fn func(alg, hexd, name string) error) error {
	sc := bufio.NewScanner(bytes.NewReader(bytes.TrimPrefix(list, []byte("\ufeff"))))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		alg, hexd, entry, ok := parseListLine(strings.TrimSpace(sc.Text()))
		if !ok {
			continue
		}
		for strings.HasPrefix(entry, "./") {
			entry = entry[2:]
		}
		if err := fn(alg, hexd, entry); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading the list: %w", err)
	}
	return nil
}

func parseListLine(line string) (alg, digest, name string, ok bool) {
	if m := bsdLine.FindStringSubmatch(line); m != nil {
		return strings.ToLower(strings.ReplaceAll(m[1], "-", "")), strings.ToLower(m[3]), m[2], true
	}
	if m := gnuLine.FindStringSubmatch(line); m != nil {
		alg := map[int]string{32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}[len(m[1])]
		name := m[2]
		if strings.HasPrefix(line, "\\") { // GNU escapes a name holding "\\" or a newline
			name = gnuUnescape.Replace(name)
		}
		return alg, strings.ToLower(m[1]), name, alg != ""
	}
	return "", "", "", false
}

var gnuUnescape = strings.NewReplacer(`\\`, `\`, `\n`, "\n", `\r`, "\r")

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
			return f.fromKept(ctx, raw, fmt.Errorf("%s: %w (offline)", redact(raw), ErrNotCached))
		}
		if b, ok := f.smallRead(raw); ok {
			return b, nil
		}
		var body []byte
		get := func() error {
			var err error
			body, err = f.httpSmall(ctx, target)
			return err
		}
		var err error
		if checking(ctx) { // a kept copy or a warning is the fallback: one short try
			tctx, cancel := context.WithTimeout(ctx, checkTimeout)
			defer cancel()
			body, err = f.httpSmall(tctx, target)
		} else {
			err = f.retrySmall(ctx, get)
		}
		if err != nil {
			return f.fromKept(ctx, raw, err)
		}
		f.smallKeep(raw, body)
		f.keep(raw, body)
		return body, nil
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
	resp, err := f.send(w, http.MethodGet, target, 0, nil)
	if err != nil {
		return nil, err
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
