package fetch

import "time"

// EventKind says what happened to a source.
type EventKind int

// Event kinds, in the order a download usually sees them.
const (
	Start    EventKind = iota // transfer begins; Bytes is a resumed prefix
	Progress                  // Bytes of Total arrived (Total: the pinned size, else the announced one; 0 = unknown)
	Retry                     // attempt Attempt failed with Err; retrying after a backoff
	Done                      // verified and in the cache
	Cached                    // was already in the cache; nothing transferred
	Failed                    // gave up; Err says why
	Wait                      // another process holds the cache entry; Msg says which
)

var kindNames = [...]string{"start", "progress", "retry", "done", "cached", "failed", "wait"}

func (k EventKind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Event reports the state of one source. Progress events are emitted at
// most every progressInterval per download, plus one where it ends (the
// last byte, or where a dropped or interrupted transfer left its .partial).
type Event struct {
	Name    string
	Kind    EventKind
	Bytes   int64
	Total   int64
	Attempt int
	Err     error
	Msg     string // for Wait: who holds the entry
}

const progressInterval = 100 * time.Millisecond

func (f *Fetcher) emit(e Event) {
	if f.opts.Events == nil {
		return
	}
	f.evMu.Lock()
	defer f.evMu.Unlock()
	f.opts.Events(e)
}
