package fetch

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestS3 runs go-getter's S3Getter against a minimal S3-compatible server
// on 127.0.0.1 (path-style GET /bucket/key, signature not checked).
func TestS3(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	srv := newFaultServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/lab/debian.iso":
			http.ServeContent(w, r, "debian.iso", time.Time{}, bytes.NewReader(testData))
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`<?xml version="1.0"?><Error><Code>NoSuchKey</Code><Message>gone</Message></Error>`))
		}
	})
	creds := "?aws_access_key_id=test&aws_access_key_secret=secret"
	dir := t.TempDir()
	rec := &recorder{}
	f := newTestFetcher(t, dir, rec)
	p, err := f.Fetch(context.Background(), src("s3::"+srv.URL+"/lab/debian.iso"+creds, testData, true))
	if err != nil {
		t.Fatal(err)
	}
	wantOnlyVerified(t, dir, p)

	other := src("s3::"+srv.URL+"/lab/debian.iso"+creds, []byte("other"), false)
	if _, err := f.Fetch(context.Background(), other); !errors.Is(err, ErrChecksumMismatch) {
		t.Fatalf("want a mismatch, got %v", err)
	}
	missing := src("s3::"+srv.URL+"/lab/gone.iso"+creds, []byte("gone"), false)
	_, err = f.Fetch(context.Background(), missing)
	if err == nil || strings.Contains(err.Error(), "secret&") || !strings.Contains(err.Error(), "404") {
		t.Fatalf("want a 404 error with the secret redacted, got %v", err)
	}
	t.Log(err)
	wantOnlyVerified(t, dir, p)
}
