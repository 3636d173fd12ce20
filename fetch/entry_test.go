package fetch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cachedOnce fetches testData into a fresh cache and returns the fetcher,
// the source, the entry's path and the server.
func cachedOnce(t *testing.T, mod ...func(*Options)) (*Fetcher, Source, string, *faultServer) {
	t.Helper()
	srv := newFaultServer(t, func(n int, w http.ResponseWriter, r *http.Request) { serve(w, r) })
	dir := t.TempDir()
	f := newTestFetcher(t, dir, nil, mod...)
	s := src(srv.URL+"/x.iso", testData, true)
	p, err := f.Fetch(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return f, s, p, srv
}

// tamper rewrites one byte of the entry in place, keeping its size.
func tamper(t *testing.T, p string) {
	t.Helper()
	os.Chmod(p, 0o644)
	b, _ := os.ReadFile(p)
	b[100] ^= 0xff
	if err := os.WriteFile(p, b, 0o444); err != nil {
		t.Fatal(err)
	}
}

func TestTamperedEntryIsRefetched(t *testing.T) {
	f, s, p, srv := cachedOnce(t, func(o *Options) { o.Rehash = true })
	tamper(t, p)
	rec := &recorder{}
	f.opts.Events = rec.add
	got, err := f.Fetch(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	wantOnlyVerified(t, f.CacheDir(), got)
	if rec.count(Cached) != 0 || rec.count(Done) != 1 || len(srv.requests()) != 2 {
		t.Fatalf("a tampered entry was answered from the cache (%d Cached, %d requests)", rec.count(Cached), len(srv.requests()))
	}
}

func TestTruncatedEntryIsRefetched(t *testing.T) {
	f, s, p, srv := cachedOnce(t) // no Rehash: the size check alone finds it
	os.Chmod(p, 0o644)
	os.Truncate(p, 1000)
	got, err := f.Fetch(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	wantOnlyVerified(t, f.CacheDir(), got)
	if len(srv.requests()) != 2 {
		t.Fatalf("a short entry was answered from the cache")
	}
}

func TestBadEntryOffline(t *testing.T) {
	f, s, p, _ := cachedOnce(t, func(o *Options) { o.Rehash = true })
	tamper(t, p)
	f.opts.Offline = true
	_, err := f.Fetch(context.Background(), s)
	if !errors.Is(err, ErrBadEntry) || !errors.Is(err, ErrNotCached) || !strings.Contains(err.Error(), "hashes to") {
		t.Fatalf("want a bad-entry error that says offline, got %v", err)
	}
	if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the bad entry was kept: %v", err)
	}
}

func TestVerifyAndRefetch(t *testing.T) {
	f, s, p, srv := cachedOnce(t)
	if _, err := f.Verify(context.Background(), s); err != nil {
		t.Fatalf("a good entry does not verify: %v", err)
	}
	tamper(t, p)
	if p, err := f.Lookup(s.Algorithm, s.Digest); p == "" || err != nil {
		t.Fatalf("Lookup checks type only; the same-size entry should still be found (%v)", err)
	}
	if _, err := f.Verify(context.Background(), s); !errors.Is(err, ErrBadEntry) {
		t.Fatalf("Verify: want ErrBadEntry, got %v", err)
	}
	if p, _ := f.Lookup(s.Algorithm, s.Digest); p != "" {
		t.Fatal("Verify kept the bad entry")
	}
	tamperAgain, err := f.Fetch(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	tamper(t, tamperAgain)
	got, err := f.Refetch(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	wantOnlyVerified(t, f.CacheDir(), got)
	if n := len(srv.requests()); n != 3 {
		t.Fatalf("%d requests, want 3 (fetch, fetch after Verify, Refetch)", n)
	}
}

// TestSymlinkEntry: a digest's name pointing elsewhere is not a cached file.
func TestSymlinkEntry(t *testing.T) {
	f, s, p, srv := cachedOnce(t)
	secret := filepath.Join(t.TempDir(), "shadow")
	os.WriteFile(secret, testData, 0o600) // same bytes: only the type can tell
	os.Remove(p)
	os.Symlink(secret, p)
	if p, err := f.Lookup(s.Algorithm, s.Digest); p != "" || err != nil {
		t.Fatalf("Lookup follows a symlink (%q, %v)", p, err)
	}
	if fh, err := f.Open(s); !errors.Is(err, ErrBadEntry) {
		t.Fatalf("Open: want ErrBadEntry, got %v", err)
	} else if fh != nil {
		fh.Close()
	}
	rec := &recorder{}
	f.opts.Events = rec.add
	got, err := f.Fetch(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(got); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("entry after refetch: %v %v", fi, err)
	}
	if why := rec.errs(Retry); !strings.Contains(why, "is a symbolic link, not a regular file") || strings.Contains(why, "L-") {
		t.Errorf("the bad entry is not named as a symbolic link: %q", why)
	}
	if len(srv.requests()) != 2 {
		t.Fatal("the symlinked entry was answered from the cache")
	}
}

// TestPlantedPartialSymlink: a .partial symlink must not be written through.
func TestPlantedPartialSymlink(t *testing.T) {
	srv := newFaultServer(t, func(n int, w http.ResponseWriter, r *http.Request) { serve(w, r) })
	dir := t.TempDir()
	s := src(srv.URL+"/x.iso", testData, true)
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("precious"), 0o600)
	os.MkdirAll(filepath.Join(dir, "sha256"), 0o755)
	os.Symlink(victim, filepath.Join(dir, "sha256", s.Digest+partialSuffix))
	_, err := newTestFetcher(t, dir, nil).Fetch(context.Background(), s)
	if err == nil {
		t.Fatal("fetch wrote through a planted symlink")
	}
	b, _ := os.ReadFile(victim)
	fi, _ := os.Stat(victim)
	if string(b) != "precious" || fi.Mode().Perm() != 0o600 {
		t.Fatalf("victim changed: %q %v", b, fi.Mode())
	}
}

func TestUnsafeCacheDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Log("not root: only the mode check runs")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o777)
	if _, err := New(Options{CacheDir: dir}); err == nil || !strings.Contains(err.Error(), "writable by its group or by others") {
		t.Fatalf("world-writable cache: %v", err)
	}
	os.Chmod(dir, 0o755)
	sub := filepath.Join(dir, "sha256")
	os.Mkdir(sub, 0o775)
	os.Chmod(sub, 0o775)
	f, err := New(Options{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Fetch(context.Background(), src("/nonexistent.iso", testData, true)); err == nil || !strings.Contains(err.Error(), "mode 0775") {
		t.Fatalf("group-writable algorithm directory: %v", err)
	}
	if os.Geteuid() == 0 {
		os.Chmod(sub, 0o755)
		os.Chown(dir, 12345, 12345)
		if _, err := New(Options{CacheDir: dir}); err == nil || !strings.Contains(err.Error(), "owned by uid 12345") {
			t.Fatalf("cache owned by another user: %v", err)
		}
	}
}

// TestEndlessBodyIsCapped: with no size pinned (lock), an endless body stops
// at MaxSize instead of filling the disk, and is not retried.
func TestEndlessBodyIsCapped(t *testing.T) {
	srv := newFaultServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		for {
			if _, err := w.Write(testData); err != nil {
				return
			}
		}
	})
	dir := t.TempDir()
	f := newTestFetcher(t, dir, nil, func(o *Options) { o.MaxSize = 8 << 20 })
	_, err := f.Fetch(context.Background(), src(srv.URL+"/x.iso", testData, false))
	if err == nil || !strings.Contains(err.Error(), "more than 8388608 bytes") {
		t.Fatalf("want the size cap, got %v", err)
	}
	if n := len(srv.requests()); n != 1 {
		t.Errorf("%d requests: the cap is not worth a retry", n)
	}
	wantEmptyCache(t, dir)
}

func TestMaxSizeFromEnv(t *testing.T) {
	for v, want := range map[string]int64{"": DefaultMaxSize, "100": 100, "2G": 2 << 30, "3MiB": 3 << 20} {
		t.Setenv("COMPOSE_MAX_DOWNLOAD", v)
		if got, err := maxSizeFromEnv(); err != nil || got != want {
			t.Errorf("%q: got %d, %v; want %d", v, got, err, want)
		}
	}
	t.Setenv("COMPOSE_MAX_DOWNLOAD", "lots")
	if _, err := maxSizeFromEnv(); err == nil {
		t.Error("accepted a size of \"lots\"")
	}
}

// TestIPv6Literal: "::" inside brackets is an address, not a forced getter.
func TestIPv6Literal(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Fatalf("no IPv6 loopback (::1) on this host: %v", err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(serve))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	dir := t.TempDir()
	url := fmt.Sprintf("http://%s/x.iso", ln.Addr())
	p, err := newTestFetcher(t, dir, nil).Fetch(context.Background(), src(url, testData, true))
	if err != nil {
		t.Fatal(err)
	}
	wantOnlyVerified(t, dir, p)
	if r := redact("http://u:pw@[::1]:80/a"); r != "http://u:xxxxx@[::1]:80/a" {
		t.Errorf("redact: %s", r)
	}
}

// TestUnsafeCacheDirOnHit: the ownership rules hold for every use of the
// cache, a hit included (F6: a sha256 directory chmodded 777 after the
// file was cached was used as before). Each way in, Fetch with and without
// rehashing, Lookup, Open, Verify and Refetch, refuses the cache, names the
// rule, and leaves the entry where it is.
func TestUnsafeCacheDirOnHit(t *testing.T) {
	type spoil struct {
		name, want string
		do, undo   func(root, sub string)
		rootOnly   bool
	}
	cases := []spoil{
		{name: "sha256 dir 0777", want: "mode 0777",
			do: func(_, sub string) { os.Chmod(sub, 0o777) }, undo: func(_, sub string) { os.Chmod(sub, 0o755) }},
		{name: "sha256 dir 0775", want: "mode 0775",
			do: func(_, sub string) { os.Chmod(sub, 0o775) }, undo: func(_, sub string) { os.Chmod(sub, 0o755) }},
		{name: "root 0757", want: "mode 0757",
			do: func(root, _ string) { os.Chmod(root, 0o757) }, undo: func(root, _ string) { os.Chmod(root, 0o755) }},
		{name: "sha256 dir owned by uid 12345", want: "owned by uid 12345", rootOnly: true,
			do: func(_, sub string) { os.Chown(sub, 12345, 12345) }, undo: func(_, sub string) { os.Chown(sub, 0, 0) }},
		{name: "root owned by uid 12345", want: "owned by uid 12345", rootOnly: true,
			do: func(root, _ string) { os.Chown(root, 12345, 12345) }, undo: func(root, _ string) { os.Chown(root, 0, 0) }},
	}
	uses := map[string]func(f *Fetcher, s Source) error{
		"Fetch": func(f *Fetcher, s Source) error { _, err := f.Fetch(context.Background(), s); return err },
		"Fetch rehash": func(f *Fetcher, s Source) error {
			f.opts.Rehash = true
			defer func() { f.opts.Rehash = false }()
			_, err := f.Fetch(context.Background(), s)
			return err
		},
		"Lookup": func(f *Fetcher, s Source) error { _, err := f.Lookup(s.Algorithm, s.Digest); return err },
		"Open": func(f *Fetcher, s Source) error {
			fh, err := f.Open(s)
			if fh != nil {
				fh.Close()
			}
			return err
		},
		"Verify":  func(f *Fetcher, s Source) error { _, err := f.Verify(context.Background(), s); return err },
		"Refetch": func(f *Fetcher, s Source) error { _, err := f.Refetch(context.Background(), s); return err },
	}
	f, s, p, srv := cachedOnce(t)
	root := f.CacheDir()
	sub := filepath.Dir(p)
	for _, c := range cases {
		if c.rootOnly && os.Geteuid() != 0 {
			t.Logf("%s: needs root", c.name)
			continue
		}
		for use, run := range uses {
			c.do(root, sub)
			err := run(f, s)
			c.undo(root, sub)
			if err == nil || !strings.Contains(err.Error(), "refusing cache directory") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s, %s: got %v, want a refusal saying %q", c.name, use, err, c.want)
			}
			if _, err := os.Lstat(p); err != nil {
				t.Fatalf("%s, %s: the entry went: %v", c.name, use, err)
			}
		}
	}
	if got, err := f.Fetch(context.Background(), s); err != nil || got != p {
		t.Fatalf("with the rules kept again: %q, %v", got, err)
	}
	if n := len(srv.requests()); n != 1 {
		t.Errorf("%d requests: a refused cache must not be downloaded into", n)
	}
}

// A bad entry is removed only while its name still refers to the file
// found bad: one another run renamed into place meanwhile stays.
func TestEvictKeepsReplacedEntry(t *testing.T) {
	f, s, p, _ := cachedOnce(t)
	tamper(t, p)
	fh, bad, err := f.open(s)
	if err != nil {
		t.Fatal(err)
	}
	fh.Close()
	good := p + ".new"
	if err := os.WriteFile(good, testData, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(good, p); err != nil { // another run's download lands
		t.Fatal(err)
	}
	if err := f.evictIf(context.Background(), s, bad); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(p); err != nil || sha(b) != s.Digest {
		t.Fatalf("the good entry that replaced the bad one went (%v)", err)
	}
	wantOnlyVerified(t, f.CacheDir(), p)
	cur, _ := os.Lstat(p)
	if err := f.evictIf(context.Background(), s, cur); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(p); !os.IsNotExist(err) {
		t.Fatalf("the entry seen was not removed: %v", err)
	}
}

// errs joins the errors of the events of kind k.
func (r *recorder) errs(k EventKind) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.ev {
		if e.Kind == k && e.Err != nil {
			out = append(out, e.Err.Error())
		}
	}
	return strings.Join(out, "; ")
}
