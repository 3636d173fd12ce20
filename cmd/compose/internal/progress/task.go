package progress

import (
	"slices"
	"time"
)

// window is how far back a task's speed looks.
const window = 5 * time.Second

// board holds every task seen, in the order first seen.
type board struct {
	tasks  []*task
	byKey  map[string]*task
	phases []string // in the order first seen
}

type task struct {
	phase, id  string
	size, done int64
	base       int64 // bytes there before this run moved any: a resumed prefix, all of a cached item
	state      State
	cached     bool
	ran        bool // a running update arrived: base is set
	started    time.Time
	ended      time.Time // zero while unfinished
	samples    []sample  // recent (time, done) pairs, for the speed
	shown      time.Time // Lines: when its last line was printed
}

type sample struct {
	at   time.Time
	done int64
}

func newBoard() *board { return &board{byKey: map[string]*task{}} }

// apply records u and returns its task and what to announce: a line when
// the task starts, changes state or says something (retry, wait, warning),
// "" otherwise. start is true when the line only says that the task began.
func (b *board) apply(u Update, now time.Time) (t *task, news string, start bool) {
	key := u.Phase + "\x00" + u.ID
	t = b.byKey[key]
	if t == nil {
		t = &task{phase: u.Phase, id: u.ID, state: Running, started: now}
		b.byKey[key] = t
		b.tasks = append(b.tasks, t)
		if !slices.Contains(b.phases, u.Phase) {
			b.phases = append(b.phases, u.Phase)
		}
		start = true
	}
	if t.finished() && (u.State == Done || u.State == Failed) {
		return t, "", false // a repeated end
	}
	if t.finished() { // begun again: a new run of the same task
		*t = task{phase: t.phase, id: t.id, size: t.size, started: now, shown: t.shown}
	}
	t.record(u, now)
	switch {
	case u.State == Done && u.Cached:
		return t, t.cachedLine(), false
	case u.State == Done:
		return t, t.doneLine(), false
	case u.State == Failed:
		return t, t.failedLine(u.Msg), false
	case u.State != Running:
		return t, t.noteLine(u), false
	case start:
		return t, t.startLine(), true
	}
	return t, "", false
}

// record takes in u's numbers: a size when it says one, bytes unless a
// failure sent none (a wait or a warning carries none either), and a
// restart when the bytes went back.
func (t *task) record(u Update, now time.Time) {
	if u.Total > 0 {
		t.size = u.Total
	}
	if !t.ran && (u.State == Running || u.State == Retrying) {
		t.ran, t.base, t.samples = true, u.Done, nil // its start (perhaps after a wait): a resumed prefix was there
	}
	if u.State != Waiting && u.State != Warning && (u.State != Failed || u.Done > 0) {
		if u.Done < t.done { // restarted: what went before is to be moved again
			t.samples = nil
			t.base = min(t.base, u.Done)
		}
		t.done = u.Done
	}
	if t.size > 0 && t.done > t.size { // the size sent was wrong: the bytes are the truth
		t.size = t.done
	}
	switch u.State {
	case Waiting:
		if !t.ran {
			t.state = Waiting // not begun: its bar says so
		}
	case Warning:
		// the task goes on in the state it was in
	case Retrying:
		t.state, t.samples = Retrying, nil
	default:
		t.state = u.State
	}
	if u.Cached {
		t.cached, t.base = true, t.done
	}
	if u.State == Done || u.State == Failed {
		t.ended = now
		return
	}
	if t.state == Running { // a wait or a retry moves nothing
		t.samples = append(t.samples, sample{now, t.done})
		t.trim(now)
	}
}

// trim keeps the samples of the last window and the one just before it,
// the anchor the speed is measured from.
func (t *task) trim(now time.Time) {
	i := 0
	for i+1 < len(t.samples) && now.Sub(t.samples[i+1].at) >= window {
		i++
	}
	t.samples = t.samples[i:]
}

func (t *task) finished() bool { return !t.ended.IsZero() }

// speed is bytes a second over the last window, or -1 when unknown: less
// than a second measured, or a retry since.
func (t *task) speed(now time.Time) float64 {
	t.trim(now)
	if len(t.samples) == 0 || t.state != Running {
		return -1
	}
	a := t.samples[0]
	el := now.Sub(a.at)
	if el < time.Second {
		return -1
	}
	return float64(t.done-a.done) / el.Seconds()
}

// eta is the time left at speed, or -1 when unknown.
func eta(left int64, speed float64, sized bool) time.Duration {
	switch {
	case !sized || speed < 0:
		return -1
	case left <= 0:
		return 0
	case speed == 0:
		return -1
	}
	return time.Duration(float64(left) / speed * float64(time.Second))
}

// todo and moved are what this run has to move for t, and has moved.
func (t *task) todo() int64 {
	if t.state == Failed {
		return t.moved()
	}
	return max(t.size-t.base, 0)
}

func (t *task) moved() int64 {
	n := max(t.done-t.base, 0)
	if t.size > 0 && t.state != Failed {
		n = min(n, t.size-t.base)
	}
	return n
}

// total sums a phase's tasks that move bytes in this run: shown when two
// of them or more do and one still runs.
type total struct {
	phase           string
	tasks, finished int
	failed          int
	todo, moved     int64
	sized           bool
	speed           float64
	speedKnown      bool
}

func (b *board) total(phase string, now time.Time) (total, bool) {
	s := total{phase: phase, sized: true}
	for _, t := range b.tasks {
		if t.phase != phase || t.cached {
			continue
		}
		s.tasks++
		s.todo += t.todo()
		s.moved += t.moved()
		if t.finished() {
			s.finished++
			if t.state == Failed {
				s.failed++
			}
			continue
		}
		s.sized = s.sized && t.size > 0
		if v := t.speed(now); v >= 0 {
			s.speed += v
			s.speedKnown = true
		}
	}
	if !s.speedKnown {
		s.speed = -1
	}
	return s, s.tasks >= 2 && s.finished < s.tasks
}
