package fetch

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/usbkit/compose/config/crash"
)

// A panic in a FetchAll worker (here the Events callback's, for one source) fails that
// source with an internal error; the other source is fetched, and FetchAll returns.
func TestFetchAllWorkerPanicIsError(t *testing.T) {
	srv := newFaultServer(t, func(n int, w http.ResponseWriter, r *http.Request) { serve(w, r) })
	good, boom := src(srv.URL+"/x.iso", testData, true), src(srv.URL+"/y.iso", testData, true)
	boom.Name = "boom"
	f := newTestFetcher(t, t.TempDir(), nil, func(o *Options) {
		o.Events = func(e Event) {
			if e.Name == "boom" {
				panic("callback bug")
			}
		}
	})
	res, err := f.FetchAll(context.Background(), []Source{good, boom})
	if !errors.Is(err, crash.ErrInternal) || !strings.Contains(err.Error(), "internal error while fetching boom: callback bug") {
		t.Fatalf("want an internal error for boom, got %v", err)
	}
	if res[0].Err != nil || res[0].Path == "" || !errors.Is(res[1].Err, crash.ErrInternal) {
		t.Fatalf("results %+v", res)
	}
}
