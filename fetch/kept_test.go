package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
)

// TestCheckListKeptCopy: a list read once is kept in the cache; when its
// server is gone (or offline), CheckList answers from the copy and says
// so, while ResolveList (which pins a lock) never does. A cache without a
// copy gives the network's error.
func TestCheckListKeptCopy(t *testing.T) {
	list := fmt.Sprintf("%s  x.iso\n", sha(testData))
	srv := newFaultServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, list) })
	url := srv.URL + "/SHA256SUMS"
	dir := t.TempDir()
	ctx := context.Background()
	if _, d, err := newTestFetcher(t, dir, nil).ResolveList(ctx, url, srv.URL+"/x.iso", nil); err != nil || d != sha(testData) {
		t.Fatalf("online: %s, %v", d, err)
	}
	srv.Close()
	f := newTestFetcher(t, dir, nil)
	_, d, kept, err := f.CheckList(ctx, url, srv.URL+"/x.iso", nil)
	if err != nil || !kept || d != sha(testData) {
		t.Fatalf("server gone: want the kept copy's digest, got %s kept=%v %v", d, kept, err)
	}
	if _, _, err := f.ResolveList(ctx, url, srv.URL+"/x.iso", nil); !errors.Is(err, ErrUnreachable) {
		t.Errorf("ResolveList must not pin from a kept copy: got %v", err)
	}
	off := newTestFetcher(t, dir, nil, func(o *Options) { o.Offline = true })
	if _, _, kept, err := off.CheckList(ctx, url, srv.URL+"/x.iso", nil); err != nil || !kept {
		t.Errorf("offline: want the kept copy, got kept=%v %v", kept, err)
	}
	bare := newTestFetcher(t, t.TempDir(), nil, func(o *Options) { o.Offline = true })
	if _, _, _, err := bare.CheckList(ctx, url, srv.URL+"/x.iso", nil); !errors.Is(err, ErrNotCached) {
		t.Errorf("offline without a copy: want ErrNotCached, got %v", err)
	}
}
