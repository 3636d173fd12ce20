package fetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var testData = func() []byte {
	b := make([]byte, 3<<20+12345)
	r := rand.NewChaCha8([32]byte{1})
	r.Read(b)
	return b
}()

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// faultServer answers GET number n (from 0) with step(n), after recording
// the Range header it got.
type faultServer struct {
	*httptest.Server
	mu     sync.Mutex
	ranges []string
	step   func(n int, w http.ResponseWriter, r *http.Request)
}

func newFaultServer(t *testing.T, step func(n int, w http.ResponseWriter, r *http.Request)) *faultServer {
	fs := &faultServer{step: step}
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead { // go-getter's probe: answered as a good server, not counted
			serve(w, r)
			return
		}
		fs.mu.Lock()
		n := len(fs.ranges)
		fs.ranges = append(fs.ranges, r.Header.Get("Range"))
		fs.mu.Unlock()
		fs.step(n, w, r)
	}))
	t.Cleanup(fs.Close)
	return fs
}

func (fs *faultServer) requests() []string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return slices.Clone(fs.ranges)
}

// serve answers like a good server: ranges honoured.
func serve(w http.ResponseWriter, r *http.Request) {
	http.ServeContent(w, r, "x.iso", time.Time{}, bytes.NewReader(testData))
}

// raw hijacks the connection and writes exactly head+body, then closes it:
// the way to lie about lengths or drop a body half way.
func raw(w http.ResponseWriter, head string, body []byte) {
	c, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	defer c.Close()
	buf.WriteString(head + "\r\n")
	buf.Write(body)
	buf.Flush()
}

func dropHalf(w http.ResponseWriter) {
	raw(w, fmt.Sprintf("HTTP/1.1 200 OK\r\nAccept-Ranges: bytes\r\nContent-Length: %d\r\n", len(testData)), testData[:len(testData)/2])
}

type recorder struct {
	mu sync.Mutex
	ev []Event
}

func (r *recorder) add(e Event) { r.mu.Lock(); r.ev = append(r.ev, e); r.mu.Unlock() }
func (r *recorder) count(k EventKind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.ev {
		if e.Kind == k {
			n++
		}
	}
	return n
}

func newTestFetcher(t *testing.T, dir string, rec *recorder, mod ...func(*Options)) *Fetcher {
	t.Helper()
	o := Options{CacheDir: dir, IdleTimeout: faultIdle, Backoff: 5 * time.Millisecond, Retries: 3}
	if rec != nil {
		o.Events = rec.add
	}
	for _, m := range mod {
		m(&o)
	}
	f, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func src(url string, data []byte, size bool) Source {
	s := Source{Name: "demo", URL: url, Algorithm: "sha256", Digest: sha(data)}
	if size {
		s.Size = int64(len(data))
	}
	return s
}

// cacheFiles lists every file under dir, relative, sorted.
func cacheFiles(t *testing.T, dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

// wantOnlyVerified asserts the cache holds exactly the verified testData.
func wantOnlyVerified(t *testing.T, dir, path string) {
	t.Helper()
	if err := onlyVerified(dir, path); err != nil {
		t.Fatal(err)
	}
}

func onlyVerified(dir, path string) error {
	want := []string{filepath.Join("sha256", sha(testData))}
	if got := cacheFiles(nil, dir); !slices.Equal(got, want) {
		return fmt.Errorf("cache holds %v, want %v", got, want)
	}
	b, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(b, testData) {
		return fmt.Errorf("cached file differs from the served data (err %v, %d bytes)", err, len(b))
	}
	return nil
}

func wantEmptyCache(t *testing.T, dir string) {
	t.Helper()
	if got := cacheFiles(t, dir); len(got) != 0 {
		t.Fatalf("cache should be empty, holds %v", got)
	}
}

// faultCase is a server misbehaving in a way a download must survive.
type faultCase struct {
	name      string
	sized     bool
	step      func(n int, w http.ResponseWriter, r *http.Request)
	wantRange []string // Range headers the server must have seen, in order
	wantRetry int
}

func faultCases() []faultCase {
	half := len(testData) / 2
	resumeRange := fmt.Sprintf("bytes=%d-", half)
	return []faultCase{
		{"clean", true, func(n int, w http.ResponseWriter, r *http.Request) { serve(w, r) }, []string{""}, 0},
		{"drop mid-body, resume", false, func(n int, w http.ResponseWriter, r *http.Request) {
			if n == 0 {
				dropHalf(w)
				return
			}
			serve(w, r)
		}, []string{"", resumeRange}, 1},
		{"stall, resume", true, func(n int, w http.ResponseWriter, r *http.Request) {
			if n == 0 {
				w.Header().Set("Content-Length", fmt.Sprint(len(testData)))
				w.Write(testData[:half])
				w.(http.Flusher).Flush()
				<-r.Context().Done()
				return
			}
			serve(w, r)
		}, []string{"", resumeRange}, 1},
		{"ranges advertised, 200 answered", false, func(n int, w http.ResponseWriter, r *http.Request) {
			if n == 0 {
				dropHalf(w)
				return
			}
			w.Header().Set("Accept-Ranges", "bytes")
			w.Write(testData) // ignores Range
		}, []string{"", resumeRange}, 1},
		{"206 with wrong Content-Range", true, func(n int, w http.ResponseWriter, r *http.Request) {
			switch n {
			case 0:
				dropHalf(w)
			case 1:
				w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-%d/%d", len(testData)-1, len(testData)))
				w.WriteHeader(http.StatusPartialContent)
				w.Write(testData)
			default:
				serve(w, r)
			}
		}, []string{"", resumeRange, ""}, 2},
		{"500 twice", true, func(n int, w http.ResponseWriter, r *http.Request) {
			if n < 2 {
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return
			}
			serve(w, r)
		}, []string{"", "", ""}, 2},
		{"redirect", true, func(n int, w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/x.iso" {
				http.Redirect(w, r, "/mirror/x.iso", http.StatusFound)
				return
			}
			serve(w, r)
		}, []string{"", ""}, 0},
		{"more bytes than Content-Length", true, func(n int, w http.ResponseWriter, r *http.Request) {
			raw(w, fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n", len(testData)), append(slices.Clone(testData), "trailing junk"...))
		}, []string{""}, 0},
	}
}

// faultIdle is the idle timeout of the tests: far above any pause a loaded
// 2-core machine (-race, load 30) puts between two reads of a local
// transfer (300 ms was not), and paid only by the one case that stalls.
const faultIdle = 2 * time.Second

// run fetches through a server playing c and returns the first way the
// outcome differs from what c expects.
func (c faultCase) run(t *testing.T, mod func(*Fetcher)) error {
	srv := newFaultServer(t, c.step)
	dir := t.TempDir()
	rec := &recorder{}
	f := newTestFetcher(t, dir, rec)
	if mod != nil {
		mod(f)
	}
	p, err := f.Fetch(context.Background(), src(srv.URL+"/x.iso", testData, c.sized))
	if err != nil {
		return err
	}
	if err := onlyVerified(dir, p); err != nil {
		return err
	}
	if got := srv.requests(); !slices.Equal(got, c.wantRange) {
		return fmt.Errorf("server saw Range headers %q, want %q", got, c.wantRange)
	}
	if got := rec.count(Retry); got != c.wantRetry {
		return fmt.Errorf("%d retry events, want %d", got, c.wantRetry)
	}
	if rec.count(Done) != 1 {
		return errors.New("no Done event")
	}
	return nil
}

func TestFaults(t *testing.T) {
	for _, c := range faultCases() {
		t.Run(c.name, func(t *testing.T) {
			if err := c.run(t, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// failCase is a server that must make the download fail, cleanly.
type failCase struct {
	name     string
	sized    bool
	step     func(n int, w http.ResponseWriter, r *http.Request)
	requests int
	want     []string
	is       error
}

func failCases() []failCase {
	other := slices.Clone(testData)
	other[12345] ^= 1
	return []failCase{
		{"different body", true, func(n int, w http.ResponseWriter, r *http.Request) {
			http.ServeContent(w, r, "x.iso", time.Time{}, bytes.NewReader(other))
		}, 1, []string{"checksum mismatch", sha(testData), sha(other)}, ErrChecksumMismatch},
		{"404", true, func(n int, w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, 1, []string{"404"}, nil},
		{"500 forever", true, func(n int, w http.ResponseWriter, r *http.Request) {
			http.Error(w, "down", http.StatusInternalServerError)
		}, 4, []string{"giving up after 4 attempts", "500"}, nil},
		{"stall forever", true, func(n int, w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}, 4, []string{"no data received for 300ms"}, nil},
		{"body longer than the pinned size", true, func(n int, w http.ResponseWriter, r *http.Request) {
			w.Write(append(slices.Clone(testData), "more"...)) // chunked, no length announced
		}, 1, []string{"more than the expected"}, nil},
		{"longer body, size unknown", false, func(n int, w http.ResponseWriter, r *http.Request) {
			w.Write(append(slices.Clone(testData), "more"...))
		}, 1, []string{"checksum mismatch"}, ErrChecksumMismatch},
		{"announced size differs", true, func(n int, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "10")
			w.Write(testData[:10])
		}, 1, []string{"announces 10 bytes"}, nil},
	}
}

func (c failCase) run(t *testing.T, mod func(*Fetcher)) error {
	srv := newFaultServer(t, c.step)
	dir := t.TempDir()
	rec := &recorder{}
	f := newTestFetcher(t, dir, rec, func(o *Options) {
		if c.name == "stall forever" { // the one case where a spurious stall changes nothing
			o.IdleTimeout = 300 * time.Millisecond
		}
	})
	if mod != nil {
		mod(f)
	}
	url := srv.URL + "/x.iso"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // a getter that retries forever fails the case
	defer cancel()
	_, err := f.Fetch(ctx, src(url, testData, c.sized))
	if err == nil {
		return errors.New("fetch succeeded")
	}
	var errs []error
	for _, w := range append(c.want, "fetching demo from "+url) {
		if !strings.Contains(err.Error(), w) {
			errs = append(errs, fmt.Errorf("error %q does not mention %q", err, w))
		}
	}
	if c.is != nil && !errors.Is(err, c.is) {
		errs = append(errs, fmt.Errorf("error %v is not %v", err, c.is))
	}
	if got := len(srv.requests()); got != c.requests {
		errs = append(errs, fmt.Errorf("%d requests, want %d", got, c.requests))
	}
	if rec.count(Failed) != 1 {
		errs = append(errs, errors.New("want one Failed event"))
	}
	if got := cacheFiles(t, dir); len(got) != 0 {
		errs = append(errs, fmt.Errorf("cache should be empty, holds %v", got))
	}
	return errors.Join(errs...)
}

func TestFaultsFail(t *testing.T) {
	for _, c := range failCases() {
		t.Run(c.name, func(t *testing.T) {
			if err := c.run(t, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestStalePartialIsReplaced(t *testing.T) {
	srv := newFaultServer(t, func(n int, w http.ResponseWriter, r *http.Request) { serve(w, r) })
	dir := t.TempDir()
	s := src(srv.URL+"/x.iso", testData, true)
	stale := filepath.Join(dir, "sha256", s.Digest+partialSuffix)
	os.MkdirAll(filepath.Dir(stale), 0o755)
	junk := bytes.Repeat([]byte{'x'}, 1000) // a prefix of some other file
	os.WriteFile(stale, junk, 0o644)
	p, err := newTestFetcher(t, dir, nil).Fetch(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	wantOnlyVerified(t, dir, p)
	if got, want := srv.requests(), []string{"bytes=1000-", ""}; !slices.Equal(got, want) {
		t.Errorf("Range headers %q, want %q (resume, then restart from zero)", got, want)
	}
}

func TestCancelThenResume(t *testing.T) {
	var sent atomic.Int64
	srv := newFaultServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n > 0 {
			serve(w, r)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(testData)))
		for i := 0; i < len(testData); i += 64 << 10 {
			if _, err := w.Write(testData[i:min(i+64<<10, len(testData))]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			sent.Store(int64(i))
			time.Sleep(20 * time.Millisecond)
		}
	})
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	f := newTestFetcher(t, dir, nil, func(o *Options) {
		o.Events = func(e Event) {
			if e.Kind == Progress && e.Bytes > 1<<20 {
				cancel()
			}
		}
	})
	s := src(srv.URL+"/x.iso", testData, true)
	if _, err := f.Fetch(ctx, s); !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	files := cacheFiles(t, dir)
	if len(files) != 1 || !strings.HasSuffix(files[0], partialSuffix) {
		t.Fatalf("after cancel the cache holds %v, want one .partial", files)
	}
	if p, _ := f.Lookup("sha256", s.Digest); p != "" {
		t.Fatal("Lookup finds a file that was never verified")
	}
	fi, _ := os.Stat(filepath.Join(dir, files[0]))
	p, err := newTestFetcher(t, dir, nil).Fetch(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	wantOnlyVerified(t, dir, p)
	if got := srv.requests(); len(got) != 2 || got[1] != fmt.Sprintf("bytes=%d-", fi.Size()) {
		t.Errorf("second run sent Range %q, want a resume from %d", got, fi.Size())
	}
}

func TestCachedAndOffline(t *testing.T) {
	srv := newFaultServer(t, func(n int, w http.ResponseWriter, r *http.Request) { serve(w, r) })
	dir := t.TempDir()
	s := src(srv.URL+"/x.iso", testData, true)
	off := newTestFetcher(t, dir, nil, func(o *Options) { o.Offline = true })
	if _, err := off.Fetch(context.Background(), s); !errors.Is(err, ErrNotCached) || !strings.Contains(err.Error(), s.Digest) {
		t.Fatalf("offline miss: %v", err)
	}
	if _, err := newTestFetcher(t, dir, nil).Fetch(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	off = newTestFetcher(t, dir, rec, func(o *Options) { o.Offline = true })
	p, err := off.Fetch(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	wantOnlyVerified(t, dir, p)
	if len(srv.requests()) != 1 || rec.count(Cached) != 1 {
		t.Errorf("cached fetch: %d requests, %d Cached events", len(srv.requests()), rec.count(Cached))
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm()&0o222 != 0 {
		t.Errorf("cached file is writable: %v", fi.Mode())
	}
}

func TestLocalFile(t *testing.T) {
	dir := t.TempDir()
	local := filepath.Join(t.TempDir(), "rescue.iso")
	os.WriteFile(local, testData, 0o644)
	f := newTestFetcher(t, dir, nil)
	for _, u := range []string{local, "file://" + local} {
		p, err := f.Fetch(context.Background(), src(u, testData, true))
		if err != nil {
			t.Fatal(err)
		}
		wantOnlyVerified(t, dir, p)
	}
	bad := src(local, testData, false)
	bad.Digest = sha([]byte("other"))
	if _, err := f.Fetch(context.Background(), bad); !errors.Is(err, ErrChecksumMismatch) {
		t.Fatalf("want mismatch, got %v", err)
	}
	wantOnlyVerified(t, dir, filepath.Join(dir, "sha256", sha(testData)))
}

func TestFetchAllParallel(t *testing.T) {
	bodies := make([][]byte, 6)
	for i := range bodies {
		bodies[i] = testData[i*1000 : i*1000+1<<20]
	}
	var active, peak atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := active.Add(1)
		defer active.Add(-1)
		for p := peak.Load(); a > p && !peak.CompareAndSwap(p, a); p = peak.Load() {
		}
		var i int
		fmt.Sscanf(r.URL.Path, "/%d.iso", &i)
		time.Sleep(50 * time.Millisecond)
		http.ServeContent(w, r, "x.iso", time.Time{}, bytes.NewReader(bodies[i]))
	}))
	defer srv.Close()
	var srcs []Source
	for i, b := range bodies {
		s := src(fmt.Sprintf("%s/%d.iso", srv.URL, i), b, i%2 == 0)
		s.Name = fmt.Sprint("iso", i)
		srcs = append(srcs, s)
	}
	srcs = append(srcs, srcs[1], srcs[4]) // same digests twice: stored once
	dir := t.TempDir()
	rec := &recorder{}
	res, err := newTestFetcher(t, dir, rec).FetchAll(context.Background(), srcs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		b, _ := os.ReadFile(r.Path)
		if sha(b) != srcs[i].Digest {
			t.Errorf("result %d: wrong content", i)
		}
	}
	if n := len(cacheFiles(t, dir)); n != 6 {
		t.Errorf("cache holds %d files, want 6", n)
	}
	if p := peak.Load(); p > 3 || p < 2 {
		t.Errorf("peak parallel requests %d, want 2..3", p)
	}
	if rec.count(Done)+rec.count(Cached) != 8 {
		t.Errorf("want 8 Done/Cached events, got %d+%d", rec.count(Done), rec.count(Cached))
	}
}

func TestFetchAllJoinsErrors(t *testing.T) {
	srv := newFaultServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "gone") {
			http.NotFound(w, r)
			return
		}
		serve(w, r)
	})
	good := src(srv.URL+"/x.iso", testData, true)
	bad := src(srv.URL+"/gone.iso", []byte("gone"), false)
	bad.Name = "gone"
	dir := t.TempDir()
	res, err := newTestFetcher(t, dir, nil).FetchAll(context.Background(), []Source{good, bad})
	if err == nil || !strings.Contains(err.Error(), "fetching gone from") {
		t.Fatalf("want the failure of gone, got %v", err)
	}
	if res[0].Err != nil || res[1].Err == nil {
		t.Fatalf("per-source results wrong: %+v", res)
	}
	wantOnlyVerified(t, dir, res[0].Path)
}

func TestBadSources(t *testing.T) {
	f := newTestFetcher(t, t.TempDir(), nil)
	for _, s := range []Source{
		{Name: "a", URL: "ftp://h/x", Algorithm: "sha256", Digest: sha(nil)},
		{Name: "a", URL: "git::https://h/x", Algorithm: "sha256", Digest: sha(nil)},
		{Name: "a", URL: "relative/x.iso", Algorithm: "sha256", Digest: sha(nil)},
		{Name: "a", URL: "http://h/x", Algorithm: "md5", Digest: "d41d8cd98f00b204e9800998ecf8427e"},
		{Name: "a", URL: "http://h/x", Algorithm: "sha256", Digest: "abc"},
		{Name: "a", URL: "s3://bucket/k?archive=zip", Algorithm: "sha256", Digest: sha(nil)},
	} {
		if _, err := f.Fetch(context.Background(), s); err == nil || !strings.Contains(err.Error(), "fetching a") {
			t.Errorf("%+v: want a clear error, got %v", s, err)
		}
	}
}
