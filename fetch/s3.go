package fetch

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"
)

// An s3 source is an object GET signed with AWS Signature Version 4, sent
// through the same HTTP attempt as an https source, so S3 downloads resume
// by Range, fall under the idle watchdog and report status codes the same
// way. Credentials come from the URL (aws_access_key_id,
// aws_access_key_secret, aws_access_token, as go-getter names them) or from
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN; without
// any, the request goes unsigned (a public bucket). Profiles, shared
// credential files and instance metadata are not read.

// s3Object is where an s3 source lives and how to sign for it.
type s3Object struct {
	url    *url.URL // https (or the endpoint's scheme) object URL, no credentials in it
	region string
	creds  s3Creds
}

type s3Creds struct{ id, secret, token string }

const defaultS3Region = "us-east-1"

// parseS3 reads s3://bucket/key[?region=R&version=V] (virtual-hosted AWS
// endpoint) or s3::http(s)://endpoint/bucket/key (path style, any
// S3-compatible server).
func parseS3(raw string) (*s3Object, error) {
	rest, forced := strings.CutPrefix(raw, "s3::")
	u, err := url.Parse(rest)
	if err != nil {
		return nil, fmt.Errorf("bad s3 URL: %w", err)
	}
	if err := checkS3Query(u); err != nil {
		return nil, err
	}
	q := u.Query()
	o := &s3Object{region: q.Get("region"), creds: s3Credentials(q)}
	if o.region == "" {
		o.region = cmpOr(os.Getenv("AWS_REGION"), defaultS3Region)
	}
	obj := url.Values{}
	if v := q.Get("version"); v != "" {
		obj.Set("versionId", v)
	}
	key := strings.TrimPrefix(u.Path, "/")
	if forced {
		bucket, k, _ := strings.Cut(key, "/")
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || bucket == "" || k == "" {
			return nil, fmt.Errorf("bad s3 endpoint URL %q (want s3::https://host/bucket/key)", redact(raw))
		}
		o.url = &url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawQuery: obj.Encode()}
		return o, nil
	}
	if u.Host == "" || key == "" {
		return nil, fmt.Errorf("bad s3 URL %q (want s3://bucket/key)", redact(raw))
	}
	host := "s3." + o.region + ".amazonaws.com"
	path := "/" + u.Host + "/" + key // path style: a bucket with dots breaks the wildcard certificate
	if !strings.Contains(u.Host, ".") {
		host, path = u.Host+"."+host, "/"+key
	}
	o.url = &url.URL{Scheme: "https", Host: host, Path: path, RawQuery: obj.Encode()}
	return o, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func s3Credentials(q url.Values) s3Creds {
	if id := q.Get("aws_access_key_id"); id != "" {
		return s3Creds{id, q.Get("aws_access_key_secret"), q.Get("aws_access_token")}
	}
	return s3Creds{os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN")}
}

// checkS3Query rejects parameters this client does not implement, rather
// than ignoring what the user asked for.
func checkS3Query(u *url.URL) error {
	known := map[string]bool{"region": true, "version": true, "aws_access_key_id": true,
		"aws_access_key_secret": true, "aws_access_token": true}
	for k := range u.Query() {
		if !known[k] {
			return fmt.Errorf("s3 URL parameter %q is not supported (known: region, version, aws_access_key_id, aws_access_key_secret, aws_access_token)", k)
		}
	}
	if strings.Contains(strings.TrimPrefix(u.Path, "/"), "//") {
		return fmt.Errorf("s3 URL %q has '//' in its key", u.Redacted())
	}
	return nil
}

// s3Get is an HTTP attempt whose request is signed for the object raw
// names (s3://… or s3::http(s)://…).
func (f *Fetcher) s3Get(ctx context.Context, src Source, raw string, p *partial) error {
	o, err := parseS3(raw)
	if err != nil {
		return err
	}
	return f.httpGet(ctx, src, o.url.String(), p, func(r *http.Request) { o.sign(r, time.Now()) })
}

// emptySHA256 is the payload hash of a GET.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// sign adds SigV4 headers covering host, range and every x-amz-* header.
// Unsigned without credentials.
func (o *s3Object) sign(r *http.Request, now time.Time) {
	if o.creds.id == "" {
		return
	}
	stamp := now.UTC().Format("20060102T150405Z")
	day := stamp[:8]
	r.Header.Set("x-amz-date", stamp)
	r.Header.Set("x-amz-content-sha256", emptySHA256)
	if o.creds.token != "" {
		r.Header.Set("x-amz-security-token", o.creds.token)
	}
	r.URL.RawPath = awsEscape(r.URL.Path, true) // send the path exactly as signed
	names, canonHeaders := canonicalHeaders(r)
	canon := strings.Join([]string{r.Method, r.URL.RawPath, canonicalQuery(r.URL.Query()),
		canonHeaders, names, emptySHA256}, "\n")
	scope := day + "/" + o.region + "/s3/aws4_request"
	toSign := "AWS4-HMAC-SHA256\n" + stamp + "\n" + scope + "\n" + hexSHA256(canon)
	key := []byte("AWS4" + o.creds.secret)
	for _, part := range []string{day, o.region, "s3", "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	r.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		o.creds.id, scope, names, hex.EncodeToString(hmacSHA256(key, toSign))))
}

func canonicalHeaders(r *http.Request) (names, block string) {
	h := map[string]string{"host": r.URL.Host}
	for k, v := range r.Header {
		if lk := strings.ToLower(k); lk == "range" || strings.HasPrefix(lk, "x-amz-") {
			h[lk] = strings.TrimSpace(strings.Join(v, ","))
		}
	}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + ":" + h[k] + "\n")
	}
	return strings.Join(keys, ";"), b.String()
}

func canonicalQuery(q url.Values) string {
	var parts []string
	for k, vs := range q {
		for _, v := range vs {
			parts = append(parts, awsEscape(k, false)+"="+awsEscape(v, false))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, "&")
}

// awsEscape percent-encodes everything but RFC 3986 unreserved characters
// (and '/' in paths), as SigV4 requires.
func awsEscape(s string, path bool) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~', path && c == '/':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func hexSHA256(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func hmacSHA256(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}
