package pin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/usbkit/compose/config"
	"github.com/usbkit/compose/fetch"
)

// CheckListedDigests compares the lock's digest of every `checksum: file:`
// entry (signed or not) with the vendor's list, so that a hand-edited lock,
// or one the vendor's list has moved on from, cannot point an entry at
// other bytes. The list is read when its server can be reached; offline or
// when it cannot, the copy kept when it was last read is used
// (fetch.CheckList). Without one, a warning per entry, in manifest order,
// says that it was not checked and why, naming the list once; a
// disagreement is an invalid lock, positioned at its digest.
func CheckListedDigests(ctx context.Context, m *config.Manifest, l *config.Lock, f *fetch.Fetcher) ([]string, error) {
	unchecked, err := ListedDigests(ctx, m, l, f)
	var warns []string
	for i := range m.ISOs {
		if w, ok := unchecked[m.ISOs[i].Name]; ok {
			warns = append(warns, w)
		}
	}
	return warns, err
}

// ListedDigests is CheckListedDigests with the warnings by ISO name.
func ListedDigests(ctx context.Context, m *config.Manifest, l *config.Lock, f *fetch.Fetcher) (map[string]string, error) {
	warns := map[string]string{}
	var bad config.Diagnostics
	for i := range m.ISOs {
		iso := &m.ISOs[i]
		if iso.Checksum.ListURL == "" {
			continue
		}
		at := iso.At(lockedVersion(l, iso.Name))
		loc := Location(iso)
		if iso.URL != "" {
			loc = at.URL
		}
		alg, digest, _, err := f.CheckList(ctx, at.ListURL, loc, listSignature(iso, at.SignatureURL))
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			warns[iso.Name] = uncheckedWarning(iso.Name, at.ListURL, err)
			continue
		}
		for j, e := range l.ISOs {
			if e.Name == iso.Name && (e.Algorithm != alg || e.Digest != digest) {
				p := fmt.Sprintf("isos[%d].digest", j)
				pos := l.Positions[p]
				bad = append(bad, config.Diagnostic{File: l.File, Line: pos.Line, Col: pos.Col,
					Msg: fmt.Sprintf("%s: %s %s is not what %s lists for %s (%s %s): was the lock edited, or did the vendor change the file? 'compose lock' pins what the list says now", p, e.Algorithm, e.Digest, at.ListURL, fetch.ListName(at.ListURL, loc), alg, digest)})
			}
		}
	}
	if len(bad) > 0 {
		return warns, bad
	}
	return warns, nil
}

// uncheckedWarning says that iso's lock entry was not checked against its
// list, and why, naming the list once (err names it at every level).
func uncheckedWarning(name, url string, err error) string {
	why := "offline, and no copy of the list is kept in the cache: 'compose lock' or 'compose fetch' while online keeps one"
	if !errors.Is(err, fetch.ErrNotCached) {
		why = err.Error()
		for _, prefix := range []string{"checksum list " + url + ": ", url + ": "} {
			why = strings.ReplaceAll(why, prefix, "")
		}
		why = "it could not be read: " + why
	}
	return fmt.Sprintf("%s: the lock's digest was not checked against %s (%s)", name, url, why)
}

// lockedVersion is the version l pins for the ISO called name ("" for
// none).
func lockedVersion(l *config.Lock, name string) string {
	if e := l.ISO(name); e != nil {
		return e.Version
	}
	return ""
}
