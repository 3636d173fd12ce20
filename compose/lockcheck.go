package compose

import (
	"context"
	"errors"
	"fmt"

	"github.com/usbkit/compose/config"
	"github.com/usbkit/compose/fetch"
)

// checkListedDigests compares the lock's digest of every `checksum: file:`
// entry (signed or not) with the vendor's list, so that a hand-edited lock,
// or one the vendor's list has moved on from, cannot point an entry at
// other bytes. A list that cannot be read here (offline, or the network is
// down) gives a warning, in manifest order, saying the entry was not
// checked; a disagreement is an invalid lock, positioned at its digest.
func checkListedDigests(ctx context.Context, m *config.Manifest, l *config.Lock, f *fetch.Fetcher) ([]string, error) {
	unchecked, err := listedDigests(ctx, m, l, f)
	var warns []string
	for i := range m.ISOs {
		if w, ok := unchecked[m.ISOs[i].Name]; ok {
			warns = append(warns, w)
		}
	}
	return warns, err
}

// listedDigests is checkListedDigests with the warnings by ISO name.
func listedDigests(ctx context.Context, m *config.Manifest, l *config.Lock, f *fetch.Fetcher) (map[string]string, error) {
	warns := map[string]string{}
	var bad config.Diagnostics
	for i := range m.ISOs {
		iso := &m.ISOs[i]
		if iso.Checksum.ListURL == "" {
			continue
		}
		alg, digest, err := pinDigest(ctx, iso, f)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			why := "it could not be read"
			if errors.Is(err, fetch.ErrNotCached) {
				why = "offline"
			}
			warns[iso.Name] = fmt.Sprintf("%s: the lock's digest was not checked against %s (%s): %v", iso.Name, iso.Checksum.ListURL, why, err)
			continue
		}
		for j, e := range l.ISOs {
			if e.Name == iso.Name && (e.Algorithm != alg || e.Digest != digest) {
				p := fmt.Sprintf("isos[%d].digest", j)
				pos := l.Positions[p]
				bad = append(bad, config.Diagnostic{File: l.File, Line: pos.Line, Col: pos.Col,
					Msg: fmt.Sprintf("%s: %s %s is not what %s lists for %s (%s %s): was the lock edited, or did the vendor change the file? 'compose lock' pins what the list says now", p, e.Algorithm, e.Digest, iso.Checksum.ListURL, fetch.ListName(iso.Checksum.ListURL, location(iso)), alg, digest)})
			}
		}
	}
	if len(bad) > 0 {
		return warns, bad
	}
	return warns, nil
}
