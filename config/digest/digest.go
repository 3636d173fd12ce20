// Package digest is the one list of digest algorithms the module accepts
// for pinned files ("sha256" and "sha512", as manifests, locks and the
// download cache spell them) and the one place a name becomes a hash.
// The name must be exact: an empty or unknown one is an error, so a caller
// whose input defaults to SHA-256 says so itself. Like config/bytesize it
// imports nothing of the module, so fetch, compose/disk and compose/device
// may all use it.
package digest

import (
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
)

// New returns a fresh hash for algorithm.
func New(algorithm string) (hash.Hash, error) {
	switch algorithm {
	case "sha256":
		return sha256.New(), nil
	case "sha512":
		return sha512.New(), nil
	}
	return nil, fmt.Errorf("unknown digest algorithm %q (want sha256 or sha512)", algorithm)
}
