package main

import (
	"net/http"
	"strconv"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// slowly makes h send at most rate[0] bytes a second, in 64 KiB steps (no
// rate: h as it is), so that two compose runs overlap on one download.
func slowly(ts *testscript.TestScript, h http.Handler, rate []string) http.Handler {
	if len(rate) == 0 {
		return h
	}
	n, err := strconv.Atoi(rate[0])
	if err != nil || n <= 0 {
		ts.Fatalf("serve: bad rate %q", rate[0])
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(slowWriter{w, n}, r)
	})
}

type slowWriter struct {
	http.ResponseWriter
	rate int
}

func (s slowWriter) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		k := min(len(b), 64<<10)
		w, err := s.ResponseWriter.Write(b[:k])
		n += w
		if err != nil {
			return n, err
		}
		s.ResponseWriter.(http.Flusher).Flush()
		time.Sleep(time.Duration(k) * time.Second / time.Duration(s.rate))
		b = b[k:]
	}
	return n, nil
}
