package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	getter "github.com/hashicorp/go-getter/v2"
	"github.com/usbkit/compose/config/crash"
	"github.com/usbkit/compose/config/digest"
)

// ErrChecksumMismatch means the bytes arrived but hash to another digest
// than the one pinned; the download was deleted.
var ErrChecksumMismatch = errors.New("checksum mismatch")

// ErrNotCached means Offline was set and the file (or a checksum list,
// signature or key on the network) is not available from the cache.
var ErrNotCached = errors.New("not in the cache")

// NoRetries as Options.Retries disables retrying.
const NoRetries = -1

// Defaults applied by New to zero option values.
const (
	DefaultJobs        = 3
	DefaultIdleTimeout = 60 * time.Second
	DefaultRetries     = 5
	DefaultBackoff     = time.Second
	maxBackoff         = 30 * time.Second
)

// Source is one file to fetch, already resolved to a pinned digest.
type Source struct {
	Name      string // shown in events and errors, e.g. "debian"
	URL       string // http(s)://, s3://bucket/key, s3::http(s)://endpoint/bucket/key, file:// or an absolute path
	Algorithm string // "sha256" or "sha512"
	Digest    string // lowercase hex
	Size      int64  // bytes; 0 = unknown
}

// Options configure a Fetcher. Zero values take the defaults above.
type Options struct {
	CacheDir    string        // default DefaultCacheDir()
	Jobs        int           // parallel fetches in FetchAll
	IdleTimeout time.Duration // fail an attempt after this long without a byte
	Retries     int           // retries after a failed attempt; NoRetries for none
	Backoff     time.Duration // first retry delay; doubles up to 30s
	Offline     bool          // use the cache only
	// NoDownload takes ISOs from the cache only, as Offline, but still
	// reads checksum lists, signatures and keys (compose plan).
	NoDownload bool
	// Events receives progress; calls are serialized and must return quickly.
	Events     func(Event)
	HTTPClient *http.Client // default: own transport, proxy from the environment
	Netrc      bool         // add basic auth from $NETRC or ~/.netrc for http(s)
	// Rehash makes Fetch hash a cached file again before it answers Cached
	// (size and file type are always checked).
	Rehash bool
	// MaxSize caps a download whose size is not known yet; default
	// $COMPOSE_MAX_DOWNLOAD, else DefaultMaxSize. A known size is its own cap.
	MaxSize int64
}

// DefaultMaxSize is the cap on a download of unknown size: larger than any
// installer ISO, small enough that an endless body cannot fill the disk.
const DefaultMaxSize = 64 << 30

// maxSizeFromEnv reads COMPOSE_MAX_DOWNLOAD: bytes, or a number with a
// K, M, G or T suffix (powers of 1024, "iB" allowed).
func maxSizeFromEnv() (int64, error) {
	v := strings.TrimSpace(os.Getenv("COMPOSE_MAX_DOWNLOAD"))
	if v == "" {
		return DefaultMaxSize, nil
	}
	num := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(v), "IB"), "B")
	shift := 0
	if i := strings.IndexAny(num, "KMGT"); i >= 0 && i == len(num)-1 {
		shift = 10 * (strings.IndexByte("KMGT", num[i]) + 1)
		num = num[:i]
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("COMPOSE_MAX_DOWNLOAD=%q: want a positive size such as 64G or 68719476736", v)
	}
	return n << shift, nil
}

// Result is the outcome of one source in FetchAll.
type Result struct {
	Source Source
	Path   string // set when Err is nil
	Cached bool   // true when no transfer was needed
	Err    error
}

// Fetcher downloads Sources into the cache. It is safe for concurrent use.
type Fetcher struct {
	opts    Options
	client  *http.Client
	evMu    sync.Mutex
	gg      *getter.Client // dispatches every source to its getter (getters.go)
	smallMu sync.Mutex
	small   map[string][]byte // lists, signatures and keys read over http, by URL
}

// DefaultCacheDir is $COMPOSE_CACHE_DIR when set, else the user cache
// directory ($XDG_CACHE_HOME or ~/.cache) plus "compose".
func DefaultCacheDir() (string, error) {
	if d := os.Getenv("COMPOSE_CACHE_DIR"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the cache directory: %w", err)
	}
	return filepath.Join(d, "compose"), nil
}

// New applies defaults and creates the cache directory.
func New(opts Options) (*Fetcher, error) {
	if opts.CacheDir == "" {
		d, err := DefaultCacheDir()
		if err != nil {
			return nil, err
		}
		opts.CacheDir = d
	}
	if opts.Jobs <= 0 {
		opts.Jobs = DefaultJobs
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.Retries == 0 {
		opts.Retries = DefaultRetries
	} else if opts.Retries < 0 {
		opts.Retries = 0
	}
	if opts.Backoff <= 0 {
		opts.Backoff = DefaultBackoff
	}
	if opts.MaxSize <= 0 {
		n, err := maxSizeFromEnv()
		if err != nil {
			return nil, err
		}
		opts.MaxSize = n
	}
	if err := makeCacheDir(opts.CacheDir); err != nil {
		return nil, err
	}
	client := opts.HTTPClient
	if client == nil {
		client = newHTTPClient(opts.Jobs)
	}
	f := &Fetcher{opts: opts, client: client}
	f.gg = f.newClient()
	return f, nil
}

// cacheOnly says whether ISOs come from the cache alone.
func (f *Fetcher) cacheOnly() bool { return f.opts.Offline || f.opts.NoDownload }

// CacheDir is the directory the Fetcher stores files in.
func (f *Fetcher) CacheDir() string { return f.opts.CacheDir }

// Lookup returns the cached file for a digest, "" when there is none: a
// regular file, never a symlink (a bad entry counts as none; Fetch
// replaces it). It does not hash; see Verify and Open. A cache directory
// that breaks the ownership rules is an error, as it is for Fetch.
func (f *Fetcher) Lookup(alg, digest string) (string, error) {
	alg, digest = strings.ToLower(alg), strings.ToLower(digest) // as Fetch does
	if err := checkDigest(alg, digest); err != nil {
		return "", err
	}
	p, _, err := f.entry(alg, digest, 0)
	if errors.Is(err, ErrBadEntry) {
		return "", nil
	}
	return p, err
}

// Fetch returns the path of the verified file for src, downloading it first
// unless it is cached.
func (f *Fetcher) Fetch(ctx context.Context, src Source) (string, error) {
	r := f.fetch(ctx, src)
	return r.Path, r.Err
}

// FetchAll fetches every source, Jobs at a time. Results follow the order of
// srcs; the error joins every failure (nil when all succeeded).
func (f *Fetcher) FetchAll(ctx context.Context, srcs []Source) ([]Result, error) {
	results := make([]Result, len(srcs))
	sem := make(chan struct{}, f.opts.Jobs)
	var wg sync.WaitGroup
	for i, s := range srcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			// A bug (here or in the Events callback) fails this source, not the process.
			defer crash.Recover(&results[i].Err, "fetching %s", s.Name)
			results[i] = f.fetch(ctx, s)
		}()
	}
	wg.Wait()
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return results, errors.Join(errs...)
}

func (f *Fetcher) fetch(ctx context.Context, src Source) Result {
	res := Result{Source: src}
	src.normalize()
	if err := f.validate(src); err != nil {
		res.Err = fmt.Errorf("fetching %s: %w", src.Name, err)
		f.emit(Event{Name: src.Name, Kind: Failed, Err: res.Err})
		return res
	}
	p, bad, err := f.cached(ctx, src)
	if err == nil && p != "" {
		f.emitCached(src, p)
		return Result{Source: src, Path: p, Cached: true}
	}
	if err != nil && !errors.Is(err, ErrBadEntry) { // an untrusted cache directory: nothing to fetch into
		res.Err = fmt.Errorf("fetching %s: %w", src.Name, err)
		f.emit(Event{Name: src.Name, Kind: Failed, Err: res.Err})
		return res
	}
	return f.replace(ctx, src, bad, err)
}

// replace downloads src into the cache, in place of the entry bad (nil:
// there is none) that failed its check with why. Offline, the bad entry is
// removed instead and the result is ErrNotCached.
func (f *Fetcher) replace(ctx context.Context, src Source, bad os.FileInfo, why error) Result {
	res := Result{Source: src}
	if f.cacheOnly() {
		res.Err = fmt.Errorf("fetching %s: %s:%s is %w %s (offline)",
			src.Name, src.Algorithm, src.Digest, ErrNotCached, f.opts.CacheDir)
		if why != nil {
			if err := f.evictIf(ctx, src, bad); err != nil {
				res.Err = fmt.Errorf("fetching %s: %w; removing it: %w", src.Name, why, err)
			} else {
				res.Err = fmt.Errorf("fetching %s: %w; removed it, and offline it is %w", src.Name, why, ErrNotCached)
			}
		}
		f.emit(Event{Name: src.Name, Kind: Failed, Err: res.Err})
		return res
	}
	if why != nil {
		f.emit(Event{Name: src.Name, Kind: Retry, Err: why, Total: src.Size}) // fetched again below
	}
	wasCached, err := f.download(ctx, src, bad)
	if err != nil {
		res.Err = fmt.Errorf("fetching %s from %s: %w", src.Name, redact(src.URL), err)
		f.emit(Event{Name: src.Name, Kind: Failed, Err: res.Err})
		return res
	}
	p := f.finalPath(src.Algorithm, src.Digest)
	if wasCached {
		f.emitCached(src, p)
	} else {
		n := fileSize(p, src.Size) // the source may not have said its size
		f.emit(Event{Name: src.Name, Kind: Done, Bytes: n, Total: n})
	}
	return Result{Source: src, Path: p, Cached: wasCached}
}

// cached returns the verified cache entry of src, "" when there is none,
// and ErrBadEntry with the file found (to be replaced, see download) when
// the entry is not what its name says.
func (f *Fetcher) cached(ctx context.Context, src Source) (string, os.FileInfo, error) {
	p, fi, err := f.entry(src.Algorithm, src.Digest, src.Size)
	if err == nil && p != "" && f.opts.Rehash {
		return f.hashEntry(ctx, src)
	}
	return p, fi, err
}

func (s *Source) normalize() {
	s.Algorithm = strings.ToLower(s.Algorithm)
	s.Digest = strings.ToLower(s.Digest)
}

func (f *Fetcher) emitCached(src Source, p string) {
	n := fileSize(p, src.Size)
	f.emit(Event{Name: src.Name, Kind: Cached, Bytes: n, Total: n})
}

func fileSize(p string, fallback int64) int64 {
	if fi, err := os.Lstat(p); err == nil {
		return fi.Size()
	}
	return fallback
}

func (f *Fetcher) validate(s Source) error {
	if s.Name == "" {
		return errors.New("source has no name")
	}
	if s.URL == "" {
		return errors.New("source has no URL")
	}
	if s.Size < 0 {
		return fmt.Errorf("negative size %d", s.Size)
	}
	if _, err := f.detect(s.URL); err != nil {
		return err
	}
	return checkDigest(s.Algorithm, s.Digest)
}

func checkDigest(alg, hexd string) error {
	want := digest.HexLen(alg)
	if want == 0 {
		return fmt.Errorf("unsupported checksum algorithm %q (want sha256 or sha512)", alg)
	}
	if len(hexd) != want || strings.Trim(hexd, "0123456789abcdef") != "" {
		return fmt.Errorf("%s digest %q is not %d lowercase hex digits", alg, hexd, want)
	}
	return nil
}
