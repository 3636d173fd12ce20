package fetch

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNetrcOptIn(t *testing.T) {
	srv := newFaultServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "lab" || p != "pw" {
			http.Error(w, "who", http.StatusUnauthorized)
			return
		}
		serve(w, r)
	})
	netrc := filepath.Join(t.TempDir(), "netrc")
	os.WriteFile(netrc, []byte("machine 127.0.0.1 login lab password pw\n"), 0o600)
	t.Setenv("NETRC", netrc)
	s := src(srv.URL+"/x.iso", testData, true)

	_, err := newTestFetcher(t, t.TempDir(), nil).Fetch(context.Background(), s)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("without Netrc the password must not be sent; got %v", err)
	}
	dir := t.TempDir()
	p, err := newTestFetcher(t, dir, nil, func(o *Options) { o.Netrc = true }).Fetch(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	wantOnlyVerified(t, dir, p)

	os.WriteFile(netrc, []byte("default login lab password pw\n"), 0o600)
	_, err = newTestFetcher(t, t.TempDir(), nil, func(o *Options) { o.Netrc = true }).Fetch(context.Background(), s)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("the netrc default entry must not be used; got %v", err)
	}
}

func TestResolveListLocalAndOffline(t *testing.T) {
	list := filepath.Join(t.TempDir(), "SHA512SUMS")
	os.WriteFile(list, []byte(d512+"  kit.iso\n"), 0o644)
	alg, d, err := newTestFetcher(t, t.TempDir(), nil).ResolveList(context.Background(), list, "kit.iso", nil)
	if err != nil || alg != "sha512" || d != d512 {
		t.Fatalf("got %s %s %v", alg, d, err)
	}
	off := newTestFetcher(t, t.TempDir(), nil, func(o *Options) { o.Offline = true })
	if _, _, err := off.ResolveList(context.Background(), list, "kit.iso", nil); err != nil {
		t.Fatalf("a local list needs no network: %v", err)
	}
	if _, _, err := off.ResolveList(context.Background(), "http://127.0.0.1:9/SUMS", "kit.iso", nil); !errors.Is(err, ErrNotCached) {
		t.Fatalf("offline http list: want ErrNotCached, got %v", err)
	}
}
