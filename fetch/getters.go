package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	getter "github.com/hashicorp/go-getter/v2"
)

// newClient builds the one go-getter Client every source of f goes
// through. go-getter detects the source (an absolute path, file://,
// http(s)://, s3://, a forced "s3::"), picks the getter and calls it. The
// getters are compose's: the resumable HTTP getter, the SigV4 S3 getter
// (both download into the locked .partial the attempt carries in its
// context), and go-getter's own FileGetter for local files, asked for the
// file in place (Inplace) so that the copy into the cache hashes on the
// way. No decompressors (an .iso.xz is not unpacked), no symlinks.
func (f *Fetcher) newClient() *getter.Client {
	return &getter.Client{
		Getters:         []getter.Getter{&s3Getter{f}, &httpGetter{f}, new(getter.FileGetter)},
		Decompressors:   map[string]getter.Decompressor{},
		DisableSymlinks: true,
	}
}

// attemptKey carries the attempt (*attemptState) through go-getter's
// Client to compose's getters: what to download and the locked partial
// file to download it into.
type attemptKey struct{}

type attemptState struct {
	src Source
	p   *partial
}

// attemptOf is the attempt a getter was called for; dst is the request's
// destination, which must be the attempt's partial file.
func attemptOf(ctx context.Context, dst string) (*attemptState, error) {
	st, ok := ctx.Value(attemptKey{}).(*attemptState)
	if !ok || st.p.path != dst {
		return nil, fmt.Errorf("go-getter asked for %s, not a compose download", dst)
	}
	return st, nil
}

// request is the go-getter request for src: a local path becomes a
// file:// URL, escaping '?' and '#' in file names.
func request(src Source, dst string) *getter.Request {
	raw := src.URL
	if filepath.IsAbs(raw) {
		raw = (&url.URL{Scheme: "file", Path: filepath.Clean(raw)}).String()
	}
	return &getter.Request{Src: raw, Dst: dst, GetMode: getter.ModeFile, Inplace: true}
}

// detect asks go-getter which of f's getters takes raw, as Client.Get
// will, and checks what go-getter would read as its own syntax rather than
// as part of the file's address.
func (f *Fetcher) detect(raw string) (getter.Getter, error) {
	req := request(Source{URL: raw}, "")
	if _, sub := getter.SourceDirSubdir(req.Src); sub != "" {
		return nil, fmt.Errorf("URL %q has '//' in its path, which go-getter reads as a subdirectory to extract: write one '/'", redact(raw))
	}
	for _, g := range f.gg.Getters {
		ok, err := getter.Detect(req, g)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", redact(raw), err)
		}
		if ok {
			return g, checkRequest(g, req)
		}
	}
	return nil, fmt.Errorf("unsupported URL %q (want http, https, s3, s3::https, file or an absolute path)", redact(raw))
}

// magicParams are query parameters go-getter's Client takes for itself.
var magicParams = []string{"checksum", "archive", "filename"}

// checkRequest refuses what the chosen getter cannot read, before any
// cache file is opened for it.
func checkRequest(g getter.Getter, req *getter.Request) error {
	u, err := url.Parse(req.Src)
	if err != nil {
		return fmt.Errorf("bad URL: %w", err)
	}
	for _, k := range magicParams {
		if u.Query().Has(k) {
			return fmt.Errorf("URL %q: ?%s= is go-getter's own parameter, not part of the file's address (the manifest's checksum pins the digest)", redact(req.Src), k)
		}
	}
	switch g.(type) {
	case *s3Getter:
		_, err = parseS3(s3Raw(req))
		return err
	case *httpGetter:
		if req.Forced != "" && req.Forced != "http" && req.Forced != "https" {
			return fmt.Errorf("unsupported URL %q (the only forced getter is s3::)", redact(req.Src))
		}
		if u.Host == "" {
			return fmt.Errorf("URL %q has no host", req.Src)
		}
	case *getter.FileGetter:
		if req.Forced != "" || !filepath.IsAbs(u.Path) || (u.Host != "" && u.Host != "localhost") {
			return fmt.Errorf("file URL %q must name an absolute local path", req.Src)
		}
	}
	return nil
}

// attempt is one try at src through go-getter. compose's getters write
// into p; go-getter's FileGetter hands back the local file in place
// (res.Dst), which is then copied into p.
func (f *Fetcher) attempt(ctx context.Context, src Source, p *partial) error {
	ctx = context.WithValue(ctx, attemptKey{}, &attemptState{src: src, p: p})
	res, err := f.gg.Get(ctx, request(src, p.path))
	if err != nil {
		return f.getterError(src, err)
	}
	if res.Dst == p.path {
		return nil
	}
	return f.copyLocal(ctx, src, res.Dst, p)
}

// getterError gives back what go-getter's FileGetter flattens into text
// ("source path error: …", "source path must be a file"): a missing local
// file is fs.ErrNotExist with its path, and any other kind of file is
// named in words, as openRegular names it everywhere.
func (f *Fetcher) getterError(src Source, err error) error {
	if u, perr := url.Parse(request(src, "").Src); perr == nil && u.Scheme == "file" {
		in, _, oerr := openRegular(u.Path)
		if oerr != nil {
			return oerr
		}
		in.Close()
	}
	return err
}

// copyLocal copies a local file into the partial, hashing on the way.
func (f *Fetcher) copyLocal(ctx context.Context, src Source, path string, p *partial) error {
	in, fi, err := openRegular(path) // non-blocking: a FIFO must not hang the open
	if err != nil {
		return err
	}
	defer in.Close()
	if src.Size > 0 && fi.Size() != src.Size {
		return &SizeError{What: path + " is", Got: fi.Size(), Want: src.Size}
	}
	if err := p.reset(); err != nil {
		return err
	}
	return f.copyBody(ctx, in, src, p, nil)
}

// resumes says whether g's downloads go on from a kept prefix; a local
// copy starts over.
func resumes(g getter.Getter) bool {
	_, local := g.(*getter.FileGetter)
	return !local
}

// errNoDir: compose's getters fetch files only.
var errNoDir = errors.New("compose fetches single files, not directories")

// httpGetter is compose's resumable HTTP getter (http.go).
type httpGetter struct{ f *Fetcher }

func (g *httpGetter) Detect(req *getter.Request) (bool, error) {
	if req.Forced != "" {
		return req.Forced == "http" || req.Forced == "https", nil
	}
	u, err := url.Parse(req.Src)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https"), nil
}

func (g *httpGetter) Mode(context.Context, *url.URL) (getter.Mode, error) {
	return getter.ModeFile, nil
}

func (g *httpGetter) Get(context.Context, *getter.Request) error { return errNoDir }

func (g *httpGetter) GetFile(ctx context.Context, req *getter.Request) error {
	st, err := attemptOf(ctx, req.Dst)
	if err != nil {
		return err
	}
	return g.f.httpGet(ctx, st.src, req.URL().String(), st.p, nil)
}

// s3Getter signs each request for the object with AWS Signature Version 4
// and sends it through the HTTP getter's path (s3.go).
type s3Getter struct{ f *Fetcher }

func (g *s3Getter) Detect(req *getter.Request) (bool, error) {
	if req.Forced != "" {
		return req.Forced == "s3", nil
	}
	u, err := url.Parse(req.Src)
	return err == nil && u.Scheme == "s3", nil
}

func (g *s3Getter) Mode(context.Context, *url.URL) (getter.Mode, error) { return getter.ModeFile, nil }

func (g *s3Getter) Get(context.Context, *getter.Request) error { return errNoDir }

func (g *s3Getter) GetFile(ctx context.Context, req *getter.Request) error {
	st, err := attemptOf(ctx, req.Dst)
	if err != nil {
		return err
	}
	return g.f.s3Get(ctx, st.src, s3Raw(req), st.p)
}

// s3Raw puts back the "s3::" go-getter took off a forced source.
func s3Raw(req *getter.Request) string {
	raw := req.Src
	if u := req.URL(); u != nil {
		raw = u.String()
	}
	if req.Forced == "s3" && !strings.HasPrefix(raw, "s3::") {
		return "s3::" + raw
	}
	return raw
}
