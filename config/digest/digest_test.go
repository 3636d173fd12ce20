package digest

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	for _, c := range []struct{ alg, abc string }{
		{"sha256", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"sha512", "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a" +
			"2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
	} {
		h, err := New(c.alg)
		if err != nil {
			t.Fatalf("New(%q): %v", c.alg, err)
		}
		if n := HexLen(c.alg); n != len(c.abc) {
			t.Errorf("HexLen(%q) = %d, want %d", c.alg, n, len(c.abc))
		}
		h.Write([]byte("abc"))
		if got := hex.EncodeToString(h.Sum(nil)); got != c.abc {
			t.Errorf("%s(abc) = %s, want %s", c.alg, got, c.abc)
		}
	}
}

func TestNewUnknown(t *testing.T) {
	// "" is not SHA-256 here: callers that default say so themselves.
	for _, alg := range []string{"", "md5", "sha1", "SHA256", "sha384"} {
		if n := HexLen(alg); n != 0 {
			t.Errorf("HexLen(%q) = %d, want 0", alg, n)
		}
		h, err := New(alg)
		if err == nil || h != nil {
			t.Errorf("New(%q) = %v, %v; want an error", alg, h, err)
			continue
		}
		if !strings.Contains(err.Error(), "unknown digest algorithm") || !strings.Contains(err.Error(), "sha256 or sha512") {
			t.Errorf("New(%q): error %q does not name the choices", alg, err)
		}
	}
}

// Of hashes a reader, and a cancelled context ends it before the next read.
func TestOf(t *testing.T) {
	got, err := Of(context.Background(), "sha256", strings.NewReader("abc"), make([]byte, 2))
	if want := "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; err != nil || got != want {
		t.Fatalf("Of(abc) = %s, %v; want %s", got, err, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &cancelAfter{n: 3, cancel: cancel}
	if _, err := Of(ctx, "sha512", r, make([]byte, 1)); !errors.Is(err, context.Canceled) || r.reads != 3 {
		t.Errorf("cancelled after 3 reads: %v after %d reads", err, r.reads)
	}
	if _, err := Of(context.Background(), "md5", r, nil); err == nil {
		t.Error("md5 accepted")
	}
}

// cancelAfter yields one byte a read, cancels its context at read n and
// ends at read 10.
type cancelAfter struct {
	n, reads int
	cancel   func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	if c.reads++; c.reads == c.n {
		c.cancel()
	} else if c.reads >= 10 {
		return 0, io.EOF
	}
	p[0] = 'x'
	return 1, nil
}
