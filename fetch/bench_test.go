package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkFetchVsPlain downloads the same deterministic random bytes
// (default 1 GiB, env COMPOSE_BENCH_BYTES) from a local server with the
// Fetcher and with a plain net/http + io.Copy + sha256 loop, alternating,
// and prints the speed ratio and the peak RSS. Run it with
//
//	go test -run '^$' -bench FetchVsPlain -benchtime 1x ./fetch/
func BenchmarkFetchVsPlain(b *testing.B) {
	size := int64(1 << 30)
	if s := os.Getenv("COMPOSE_BENCH_BYTES"); s != "" {
		size, _ = strconv.ParseInt(s, 10, 64)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		io.Copy(w, io.LimitReader(rand.NewChaCha8([32]byte{7}), size))
	}))
	defer srv.Close()
	dir := b.TempDir()
	for range b.N {
		var plainBest, fetchBest time.Duration
		var digest string
		for round := range 2 {
			d, sum := plainDownload(b, srv.URL, filepath.Join(dir, "plain"))
			digest = sum
			plainBest = best(plainBest, d)
			os.Remove(filepath.Join(dir, "plain"))

			cache := filepath.Join(dir, fmt.Sprint("cache", round))
			f, err := New(Options{CacheDir: cache})
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			if _, err := f.Fetch(context.Background(), Source{Name: "bench", URL: srv.URL + "/x.iso", Algorithm: "sha256", Digest: digest, Size: size}); err != nil {
				b.Fatal(err)
			}
			fetchBest = best(fetchBest, time.Since(start))
			os.RemoveAll(cache)
		}
		mib := float64(size) / (1 << 20)
		b.ReportMetric(plainBest.Seconds()/fetchBest.Seconds(), "speed-ratio")
		b.Logf("%d bytes: plain %.0f MiB/s, fetcher %.0f MiB/s (fsync included), ratio %.2f; peak RSS %s",
			size, mib/plainBest.Seconds(), mib/fetchBest.Seconds(), plainBest.Seconds()/fetchBest.Seconds(), vmHWM())
	}
}

func best(a, b time.Duration) time.Duration {
	if a == 0 || b < a {
		return b
	}
	return a
}

func plainDownload(b *testing.B, url, path string) (time.Duration, string) {
	start := time.Now()
	c := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	resp, err := c.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(out, h), resp.Body); err != nil {
		b.Fatal(err)
	}
	out.Close()
	return time.Since(start), hex.EncodeToString(h.Sum(nil))
}

func vmHWM() string {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			return strings.Join(strings.Fields(l)[1:], " ")
		}
	}
	return "unknown"
}
