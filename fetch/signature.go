package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
)

// Signature says how a checksum list is signed. URL is a detached signature
// (binary or armored; Ubuntu's SHA256SUMS.gpg, Debian's SHA256SUMS.sign);
// leave it empty for a clearsigned list (Fedora's CHECKSUM). The signing key
// comes from KeyFile or KeyURL and must have the primary-key Fingerprint
// (hex, spaces allowed).
type Signature struct {
	URL         string
	Fingerprint string
	KeyURL      string
	KeyFile     string
}

// checkSignature returns the text to parse: the signed part of a
// clearsigned list, else the list itself. With sig set, a missing or bad
// signature is an error.
func (f *Fetcher) checkSignature(ctx context.Context, list []byte, sig *Signature) ([]byte, error) {
	block, _ := clearsign.Decode(list)
	if sig == nil {
		if block != nil {
			return block.Plaintext, nil
		}
		return list, nil
	}
	keys, err := f.loadKey(ctx, sig)
	if err != nil {
		return nil, err
	}
	var signer *openpgp.Entity
	switch {
	case block != nil:
		signer, err = openpgp.CheckDetachedSignature(keys, bytes.NewReader(block.Bytes), block.ArmoredSignature.Body, nil)
		list = block.Plaintext
	case sig.URL != "":
		signer, err = f.checkDetached(ctx, keys, list, sig.URL)
	default:
		return nil, errors.New("list is not clearsigned and no signature URL is given")
	}
	if err != nil {
		return nil, fmt.Errorf("bad signature: %w", err)
	}
	if fingerprint(signer) != normFingerprint(sig.Fingerprint) {
		return nil, fmt.Errorf("signed by %s, not %s", fingerprint(signer), normFingerprint(sig.Fingerprint))
	}
	return list, nil
}

func (f *Fetcher) checkDetached(ctx context.Context, keys openpgp.EntityList, list []byte, url string) (*openpgp.Entity, error) {
	s, err := f.getSmall(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	if bytes.Contains(s, []byte("-----BEGIN PGP SIGNATURE-----")) {
		return openpgp.CheckArmoredDetachedSignature(keys, bytes.NewReader(list), bytes.NewReader(s), nil)
	}
	return openpgp.CheckDetachedSignature(keys, bytes.NewReader(list), bytes.NewReader(s), nil)
}

// loadKey reads the key ring and keeps only the key with the pinned
// fingerprint, so a signature by any other key in the file fails.
func (f *Fetcher) loadKey(ctx context.Context, sig *Signature) (openpgp.EntityList, error) {
	want := normFingerprint(sig.Fingerprint)
	if len(want) != 40 && len(want) != 64 {
		return nil, fmt.Errorf("fingerprint %q is not 40 or 64 hex digits", sig.Fingerprint)
	}
	src := sig.KeyFile
	if src == "" {
		src = sig.KeyURL
	}
	if src == "" {
		return nil, errors.New("signature has no key file or key URL")
	}
	raw, err := f.getSmall(ctx, src)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	ring, err := readKeys(raw)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", redact(src), err)
	}
	var keep openpgp.EntityList
	for _, e := range ring {
		if fingerprint(e) == want {
			keep = append(keep, e)
		}
	}
	if len(keep) == 0 {
		return nil, fmt.Errorf("key %s has no key with fingerprint %s", redact(src), want)
	}
	return keep, nil
}

func fingerprint(e *openpgp.Entity) string {
	if e == nil || e.PrimaryKey == nil {
		return ""
	}
	return fmt.Sprintf("%X", e.PrimaryKey.Fingerprint)
}

func normFingerprint(s string) string {
	s = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "0x"), "0X")
	return strings.ToUpper(strings.ReplaceAll(s, " ", ""))
}

// readKeys reads binary keys or any number of armored key blocks one after
// the other (ReadArmoredKeyRing stops after the first).
func readKeys(raw []byte) (openpgp.EntityList, error) {
	const begin = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
	if !bytes.Contains(raw, []byte(begin)) {
		return openpgp.ReadKeyRing(bytes.NewReader(raw))
	}
	var all openpgp.EntityList
	for _, part := range strings.Split(string(raw), begin)[1:] {
		ring, err := openpgp.ReadArmoredKeyRing(strings.NewReader(begin + part))
		if err != nil {
			return nil, err
		}
		all = append(all, ring...)
	}
	return all, nil
}
