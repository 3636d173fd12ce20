package compose

import (
	"context"

	"github.com/usbkit/compose/compose/pin"
	"github.com/usbkit/compose/config"
	"github.com/usbkit/compose/fetch"
)

// UpdateResult is what Update found and did.
type UpdateResult struct {
	File string `json:"file"`
	// Written is true when the lock file was rewritten (never with
	// DryRun).
	Written bool `json:"written"`
	// Changes are the entries whose pin moved, in manifest order.
	Changes []PinChange `json:"changes"`
}

// PinChange is one lock entry before and after an update.
type PinChange struct {
	Name string `json:"name"`
	// From is the entry the lock held; nil when it had none.
	From *config.LockedISO `json:"from,omitempty"`
	To   config.LockedISO  `json:"to"`
}

// Update resolves every named ISO (none: all) to the newest release its
// `version:` constraint admits, reading each checksum list (its signature
// checked before any name in it is trusted) or directory index anew, and
// reports each entry whose version, URL, digest or size moved. It writes
// the lock unless dryRun; a lock written for another manifest is refused.
func (k *Kit) Update(ctx context.Context, dryRun bool, names ...string) (*UpdateResult, error) {
	f, old, err := k.repinning()
	if err != nil {
		return nil, err
	}
	l, res, err := pin.Update(ctx, k.m, f, old, names)
	if err != nil {
		return nil, err
	}
	out := &UpdateResult{File: k.lockPath, Changes: changes(old, l)}
	if dryRun {
		return out, nil
	}
	k.remember(res)
	if out.Written, err = k.writeLock(l); err != nil {
		return nil, err
	}
	return out, nil
}

// changes lists the entries of l that old pins otherwise (or not at all).
func changes(old, l *config.Lock) []PinChange {
	var out []PinChange
	for _, e := range l.ISOs {
		var was *config.LockedISO
		if old != nil {
			was = old.ISO(e.Name)
		}
		if was != nil && was.Version == e.Version && was.URL == e.URL && was.Path == e.Path &&
			was.Algorithm == e.Algorithm && was.Digest == e.Digest && was.Size == e.Size {
			continue
		}
		c := PinChange{Name: e.Name, To: e}
		if was != nil {
			w := *was
			c.From = &w
		}
		out = append(out, c)
	}
	return out
}

// remember keeps what this run downloaded while pinning, so that Fetch
// does not download it again.
func (k *Kit) remember(res []fetch.Result) {
	for _, r := range res {
		if k.fetched == nil {
			k.fetched = map[string]fetch.Result{}
		}
		k.fetched[fetchedKey(r.Source)] = r
	}
}
