package fetch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"time"
)

// fillCache puts three real entries in a fresh cache (fetched from local
// files, so hashed and renamed into place as always), an interrupted
// .partial and a stray file, and returns the fetcher and the entries'
// digests.
func fillCache(t *testing.T) (*Fetcher, []string) {
	t.Helper()
	dir := t.TempDir()
	f := newTestFetcher(t, filepath.Join(dir, "cache"), nil)
	var digests []string
	for _, body := range []string{"alpha iso", "beta iso", "gamma iso"} {
		p := filepath.Join(dir, body)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		s := src(p, []byte(body), true)
		if _, err := f.Fetch(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		digests = append(digests, s.Digest)
	}
	partial := filepath.Join(f.CacheDir(), "sha256", sha([]byte("delta"))+partialSuffix)
	if err := os.WriteFile(partial, []byte("del"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.CacheDir(), "sha256", "README"), []byte("not an entry"), 0o644); err != nil {
		t.Fatal(err)
	}
	return f, append(digests, sha([]byte("delta")))
}

func listed(t *testing.T, f *Fetcher) map[string]CacheEntry {
	t.Helper()
	es, err := f.List()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]CacheEntry{}
	for _, e := range es {
		if e.Partial && e.Busy && e.Size == 0 {
			continue // a lock hold() took on a final entry
		}
		out[e.Digest] = e
	}
	return out
}

func TestCacheList(t *testing.T) {
	f, d := fillCache(t)
	got := listed(t, f)
	if len(got) != 4 {
		t.Fatalf("listed %d entries, want 3 entries and a partial (the stray file left out): %v", len(got), got)
	}
	if e := got[d[0]]; e.Partial || e.Size != int64(len("alpha iso")) || e.Algorithm != "sha256" || e.Path != filepath.Join(f.CacheDir(), "sha256", d[0]) {
		t.Errorf("entry: %+v", e)
	}
	if e := got[d[3]]; !e.Partial || e.Busy || e.Size != 3 {
		t.Errorf("partial: %+v", e)
	}
}

// hold locks the .partial of digest as a download in another process
// would, until the test ends.
func hold(t *testing.T, f *Fetcher, digest string) {
	t.Helper()
	fh, err := os.OpenFile(f.finalPath("sha256", digest)+partialSuffix, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fh.Close() })
	if err := syscall.Flock(int(fh.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
}

func TestCachePrune(t *testing.T) {
	f, d := fillCache(t)
	later := time.Now().Add(48 * time.Hour)
	if _, err := f.Prune(context.Background(), PruneOptions{}); !errors.Is(err, ErrNoPruneRule) {
		t.Fatalf("no rule: %v", err)
	}
	// nothing is a day old yet
	if rm, err := f.Prune(context.Background(), PruneOptions{OlderThan: 24 * time.Hour}); err != nil || len(rm) != 0 {
		t.Fatalf("pruned %v, %v", rm, err)
	}
	// a dry run removes nothing
	rm, err := f.Prune(context.Background(), PruneOptions{OlderThan: 24 * time.Hour, Now: later, DryRun: true})
	if err != nil || len(rm) != 4 || len(listed(t, f)) != 4 {
		t.Fatalf("dry run: %d selected, %d left, %v", len(rm), len(listed(t, f)), err)
	}
	// beta is in use (a download or check holds its lock): skipped;
	// alpha is referenced: kept
	hold(t, f, d[1])
	keep := func(alg, digest string) bool { return digest == d[0] }
	rm, err = f.Prune(context.Background(), PruneOptions{OlderThan: 24 * time.Hour, Now: later, Keep: keep})
	if err != nil {
		t.Fatal(err)
	}
	var gone []string
	for _, e := range rm {
		gone = append(gone, e.Digest)
	}
	if want := []string{d[2], d[3]}; !reflect.DeepEqual(gone, want) && !reflect.DeepEqual(gone, []string{d[3], d[2]}) {
		t.Fatalf("removed %v, want gamma and the partial %v", gone, want)
	}
	left := listed(t, f)
	if _, ok := left[d[0]]; !ok {
		t.Error("the referenced entry was removed")
	}
	if e, ok := left[d[1]]; !ok || e.Partial {
		t.Errorf("the entry in use was removed: %+v", left)
	}
	for _, g := range gone {
		if _, err := os.Lstat(f.finalPath("sha256", g)); !os.IsNotExist(err) {
			t.Errorf("%s still there", g)
		}
		if _, err := os.Lstat(f.finalPath("sha256", g) + partialSuffix); !os.IsNotExist(err) {
			t.Errorf("%s: its lock file was left", g)
		}
	}
	// a removed entry is fetched again as any missing one
	p := filepath.Join(t.TempDir(), "g")
	os.WriteFile(p, []byte("gamma iso"), 0o644)
	if _, err := f.Fetch(context.Background(), src(p, []byte("gamma iso"), true)); err != nil {
		t.Fatal(err)
	}
}

// A partial a running download holds is listed busy and never pruned.
func TestCachePruneSkipsRunningDownload(t *testing.T) {
	f, d := fillCache(t)
	hold(t, f, d[3])
	if e := listed(t, f)[d[3]]; !e.Busy {
		t.Fatalf("a held partial is not busy: %+v", e)
	}
	rm, err := f.Prune(context.Background(), PruneOptions{OlderThan: time.Nanosecond, Now: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range rm {
		if e.Digest == d[3] {
			t.Fatal("a running download's partial was pruned")
		}
	}
	if _, err := os.Lstat(f.finalPath("sha256", d[3]) + partialSuffix); err != nil {
		t.Fatal(err)
	}
}
