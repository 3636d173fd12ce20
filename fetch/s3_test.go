package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestS3 runs the S3 client against a minimal S3-compatible server on
// 127.0.0.1 (path-style GET /bucket/key). The first answer drops half way,
// so the second must be a signed Range request.
func TestS3(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	srv := newFaultServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=test/") || !strings.Contains(auth, "/us-east-1/s3/aws4_request, SignedHeaders=host;") {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, `<Error><Code>AccessDenied</Code><Message>%s</Message></Error>`, auth)
			return
		}
		if r.Header.Get("Range") != "" && !strings.Contains(auth, ";range;") {
			http.Error(w, "range not signed", http.StatusForbidden)
			return
		}
		switch {
		case r.URL.Path == "/lab/debian.iso" && n == 0:
			dropHalf(w)
		case r.URL.Path == "/lab/debian.iso":
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
	if got := srv.requests(); len(got) != 2 || got[1] != fmt.Sprintf("bytes=%d-", len(testData)/2) {
		t.Errorf("Range headers %q: want a resume after the dropped answer", got)
	}

	other := src("s3::"+srv.URL+"/lab/debian.iso"+creds, []byte("other"), false)
	if _, err := f.Fetch(context.Background(), other); !errors.Is(err, ErrChecksumMismatch) {
		t.Fatalf("want a mismatch, got %v", err)
	}
	missing := src("s3::"+srv.URL+"/lab/gone.iso"+creds, []byte("gone"), false)
	_, err = f.Fetch(context.Background(), missing)
	if err == nil || strings.Contains(err.Error(), "secret&") || !strings.Contains(err.Error(), "404") {
		t.Fatalf("want a 404 error with the secret redacted, got %v", err)
	}
	unsigned := src("s3::"+srv.URL+"/lab/debian.iso", []byte("x"), false)
	if _, err := f.Fetch(context.Background(), unsigned); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("without credentials the request goes unsigned and is refused here; got %v", err)
	}
	wantOnlyVerified(t, dir, p)
}

// TestSigV4Vector signs the GET Object example of Amazon's SigV4
// documentation and must produce its published signature.
func TestSigV4Vector(t *testing.T) {
	o := &s3Object{region: "us-east-1", creds: s3Creds{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""}}
	r, _ := http.NewRequest(http.MethodGet, "https://examplebucket.s3.amazonaws.com/test.txt", nil)
	r.Header.Set("Range", "bytes=0-9")
	o.sign(r, time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC))
	want := "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, " +
		"SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, " +
		"Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
	if got := r.Header.Get("Authorization"); got != want {
		t.Fatalf("Authorization\n got %s\nwant %s", got, want)
	}
}

func TestS3URLs(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	for raw, want := range map[string]string{
		"s3://lab-mirror/isos/debian.iso?region=eu-west-1&version=3": "https://lab-mirror.s3.eu-west-1.amazonaws.com/isos/debian.iso?versionId=3",
		"s3://lab.mirror/a b.iso":                                    "https://s3.us-east-1.amazonaws.com/lab.mirror/a%20b.iso",
		"s3::http://127.0.0.1:9000/bucket/k.iso?region=lab":          "http://127.0.0.1:9000/bucket/k.iso",
	} {
		o, err := parseS3(raw)
		if err != nil || o.url.String() != want {
			t.Errorf("%s: got %v, %v; want %s", raw, o, err, want)
		}
	}
	for _, bad := range []string{"s3://bucket/k?archive=zip", "s3://bucket/k?aws_profile=x", "s3://bucket", "s3::ftp://h/b/k", "s3::http://h/bucketonly"} {
		if _, err := parseS3(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
	if r := redact("s3::http://h/b/k?aws_access_key_id=id&aws_access_key_secret=topsecret"); strings.Contains(r, "topsecret") {
		t.Errorf("secret not redacted: %s", r)
	}
}
