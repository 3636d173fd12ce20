package fetch

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMain lets the test binary act as a second compose process on one
// cache (COMPOSE_FETCH_CHILD): real processes, real flocks, real unlinks.
func TestMain(m *testing.M) {
	if op := os.Getenv("COMPOSE_FETCH_CHILD"); op != "" {
		if err := child(op); err != nil {
			fmt.Printf("error %v\n", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child runs one cache operation on $CACHE for $URL ($DIGEST, $SIZE) and
// prints its events ("event KIND MSG") and outcome ("path P SHA256",
// "read SHA256") a line each.
func child(op string) error {
	size, _ := strconv.ParseInt(os.Getenv("SIZE"), 10, 64)
	s := Source{Name: "demo", URL: os.Getenv("URL"), Algorithm: "sha256", Digest: os.Getenv("DIGEST"), Size: size}
	var mu sync.Mutex
	opts := Options{CacheDir: os.Getenv("CACHE"), Rehash: op == "rehash", Events: func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Printf("event %s %s\n", e.Kind, e.Msg)
	}}
	f, err := New(opts)
	if err != nil {
		return err
	}
	ctx := context.Background()
	var p string
	switch op {
	case "fetch", "rehash":
		p, err = f.Fetch(ctx, s)
	case "refetch":
		p, err = f.Refetch(ctx, s)
	case "read":
		p, err = readSlowly(ctx, f, s)
	default:
		return fmt.Errorf("unknown op %q", op)
	}
	if err != nil {
		return err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	fmt.Printf("path %s %s\n", p, sha(b))
	return nil
}

// readSlowly is a run placing the entry (as apply does): it reads half,
// says so, waits for $GO to exist, reads the rest and prints the sha256 of
// all it read; bytes that do not match the pin make it Refetch.
func readSlowly(ctx context.Context, f *Fetcher, s Source) (string, error) {
	fh, err := f.Open(s)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.CopyN(h, fh, s.Size/2); err != nil {
		return "", err
	}
	fmt.Println("event half")
	for {
		if _, err := os.Stat(os.Getenv("GO")); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := io.Copy(h, fh); err != nil {
		return "", err
	}
	got := hex.EncodeToString(h.Sum(nil))
	fmt.Printf("read %s\n", got)
	if got == s.Digest {
		return fh.Name(), nil
	}
	return f.Refetch(ctx, s)
}

// proc is a running child and the lines it printed.
type proc struct {
	cmd   *exec.Cmd
	lines chan string
	all   *bytes.Buffer
	mu    sync.Mutex
}

func startChild(t *testing.T, op, cache, url string, extra ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "COMPOSE_FETCH_CHILD="+op, "CACHE="+cache, "URL="+url,
		"DIGEST="+sha(testData), "SIZE="+strconv.Itoa(len(testData)))
	cmd.Env = append(cmd.Env, extra...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, lines: make(chan string, 100), all: &bytes.Buffer{}}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.mu.Lock()
			p.all.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return p
}

// waitFor returns the first line starting with prefix, failing after 30 s
// or when the child ends without printing it.
func (p *proc) waitFor(t *testing.T, prefix string) string {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("pid %d ended without %q:\n%s", p.cmd.Process.Pid, prefix, p.output())
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-timeout:
			t.Fatalf("pid %d: no %q after 30 s:\n%s", p.cmd.Process.Pid, prefix, p.output())
		}
	}
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.all.String()
}

// gatedServer serves testData in 64 KiB pieces; the first GET stops after
// its first piece until release is closed. sent is closed once that piece
// went out.
type gatedServer struct {
	*httptest.Server
	mu            sync.Mutex
	gets          int
	sent, release chan struct{}
}

func newGatedServer(t *testing.T) *gatedServer {
	g := &gatedServer{sent: make(chan struct{}), release: make(chan struct{})}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.gets++
		first := g.gets == 1
		g.mu.Unlock()
		w.Header().Set("Content-Length", strconv.Itoa(len(testData)))
		for off := 0; off < len(testData); off += 64 << 10 {
			w.Write(testData[off:min(off+64<<10, len(testData))])
			w.(http.Flusher).Flush()
			if first && off == 0 {
				close(g.sent)
				<-g.release
			}
		}
	}))
	t.Cleanup(func() {
		select {
		case <-g.release:
		default:
			close(g.release)
		}
		g.Close()
	})
	return g
}

func (g *gatedServer) count() int { g.mu.Lock(); defer g.mu.Unlock(); return g.gets }

// wantGoodCache checks that the cache holds exactly the verified entry.
func wantGoodCache(t *testing.T, cache string) string {
	t.Helper()
	p := filepath.Join(cache, "sha256", sha(testData))
	b, err := os.ReadFile(p)
	if err != nil || sha(b) != sha(testData) {
		t.Fatalf("the cache entry is gone or bad (%v)", err)
	}
	if files := cacheFiles(t, cache); len(files) != 1 {
		t.Fatalf("the cache holds %v, want the entry alone", files)
	}
	return p
}

// Two processes want one file at once: the second says it waits for the
// first, naming its pid, then finds the file cached; the server sends it
// once.
func TestTwoProcessesOneDownload(t *testing.T) {
	srv := newGatedServer(t)
	cache := t.TempDir()
	a := startChild(t, "fetch", cache, srv.URL+"/x.iso")
	<-srv.sent
	b := startChild(t, "fetch", cache, srv.URL+"/x.iso")
	w := b.waitFor(t, "event wait")
	if want := fmt.Sprintf("waiting for another compose (pid %d) downloading or checking demo", a.cmd.Process.Pid); !strings.Contains(w, want) {
		t.Errorf("the waiting run says %q, want %q", w, want)
	}
	close(srv.release)
	a.waitFor(t, "path ")
	b.waitFor(t, "event cached")
	if l := b.waitFor(t, "path "); !strings.HasSuffix(l, sha(testData)) {
		t.Fatalf("second run: %s", l)
	}
	if n := srv.count(); n != 1 {
		t.Errorf("%d downloads, want 1", n)
	}
	wantGoodCache(t, cache)
}

// badEntry caches testData, then rewrites one byte of the entry in place.
func badEntry(t *testing.T, cache string) string {
	t.Helper()
	p := filepath.Join(cache, "sha256", sha(testData))
	os.MkdirAll(filepath.Dir(p), 0o755)
	b := bytes.Clone(testData)
	b[len(b)-1] ^= 0xff
	if err := os.WriteFile(p, b, 0o444); err != nil {
		t.Fatal(err)
	}
	return sha(b)
}

// An apply that found the entry bad while placing it (Refetch) runs after
// another process (compose fetch) replaced it with the good file, and
// again while that process is still downloading: either way the good file
// stays, the same inode, and nothing is downloaded twice.
func TestRefetchKeepsAnotherRunsGoodFile(t *testing.T) {
	for _, during := range []bool{false, true} {
		t.Run(fmt.Sprintf("during=%t", during), func(t *testing.T) {
			srv := newGatedServer(t)
			cache := t.TempDir()
			badEntry(t, cache)
			a := startChild(t, "rehash", cache, srv.URL+"/x.iso")
			<-srv.sent
			var b *proc
			if during {
				b = startChild(t, "refetch", cache, srv.URL+"/x.iso")
				b.waitFor(t, "event wait")
			}
			close(srv.release)
			a.waitFor(t, "path ")
			good, err := os.Stat(filepath.Join(cache, "sha256", sha(testData)))
			if err != nil {
				t.Fatal(err)
			}
			if !during {
				b = startChild(t, "refetch", cache, srv.URL+"/x.iso")
			}
			if l := b.waitFor(t, "path "); !strings.HasSuffix(l, sha(testData)) {
				t.Fatalf("refetching run: %s", l)
			}
			now, err := os.Stat(wantGoodCache(t, cache))
			if err != nil || !os.SameFile(good, now) {
				t.Errorf("the good file the first run put in place was replaced (%v)", err)
			}
			if n := srv.count(); n != 1 {
				t.Errorf("%d downloads, want 1", n)
			}
		})
	}
}

// A run reading a bad entry (as apply places it) while another removes it
// and downloads the good file: the reader reads the whole bad file it
// opened, never a mix of old and new bytes; when its hash fails and it
// refetches, it keeps the other run's good file.
func TestBadEntryRemovalRacesReader(t *testing.T) {
	srv := newGatedServer(t)
	cache := t.TempDir()
	badSum := badEntry(t, cache)
	gate := filepath.Join(t.TempDir(), "go")
	r := startChild(t, "read", cache, srv.URL+"/x.iso", "GO="+gate)
	r.waitFor(t, "event half")
	e := startChild(t, "rehash", cache, srv.URL+"/x.iso")
	<-srv.sent
	close(srv.release)
	e.waitFor(t, "path ")
	good, err := os.Stat(filepath.Join(cache, "sha256", sha(testData)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if l := r.waitFor(t, "read "); l != "read "+badSum {
		t.Fatalf("the reader read %s, want the bad file it opened whole (%s)", l, badSum)
	}
	if l := r.waitFor(t, "path "); !strings.HasSuffix(l, sha(testData)) {
		t.Fatalf("reader after refetching: %s", l)
	}
	now, err := os.Stat(wantGoodCache(t, cache))
	if err != nil || !os.SameFile(good, now) {
		t.Errorf("the reader's refetch replaced the good file (%v)", err)
	}
	if n := srv.count(); n != 1 {
		t.Errorf("%d downloads, want 1", n)
	}
}
