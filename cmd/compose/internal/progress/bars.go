package progress

import (
	"io"
	"sync"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// bars draws one mpb bar per task and a total bar kept last.
type bars struct {
	p     *mpb.Progress
	total *mpb.Bar
	tasks map[string]*task
	order []string
	color bool
}

type task struct {
	bar   *mpb.Bar
	mu    sync.Mutex
	state State
	msg   string
	u     Update
}

func newBars(w io.Writer, color bool) *bars {
	// Auto refresh also when w is not a terminal, so tests see the bars.
	p := mpb.New(mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithAutoRefresh())
	b := &bars{p: p, tasks: map[string]*task{}, color: color}
	b.total = p.AddBar(0,
		mpb.BarPriority(1<<30),
		mpb.PrependDecorators(decor.Name("total", decor.WCSyncSpaceR)),
		mpb.AppendDecorators(
			decor.Counters(decor.SizeB1024(0), "% .1f / % .1f", decor.WCSyncSpace),
			decor.AverageSpeed(decor.SizeB1024(0), "% .1f", decor.WCSyncSpace),
			decor.AverageETA(decor.ET_STYLE_GO, decor.WCSyncSpace),
		))
	return b
}

func (b *bars) update(u Update) {
	t, ok := b.tasks[u.ID]
	if !ok {
		t = &task{}
		t.bar = b.p.AddBar(max(u.Total, 0),
			mpb.PrependDecorators(
				decor.Name(u.Label, decor.WCSyncSpaceR),
				decor.Any(t.status(b.color), decor.WCSyncSpaceR)),
			mpb.AppendDecorators(
				decor.Counters(decor.SizeB1024(0), "% .1f / % .1f", decor.WCSyncSpace),
				decor.Percentage(decor.WCSyncSpace)),
			mpb.BarFillerOnComplete(""))
		b.tasks[u.ID] = t
		b.order = append(b.order, u.ID)
	}
	t.mu.Lock()
	t.state, t.msg, t.u = u.State, u.Message, u
	t.mu.Unlock()
	if u.Total > 0 {
		t.bar.SetTotal(u.Total, false)
	}
	t.bar.SetCurrent(u.Done)
	switch u.State {
	case Done, Skipped:
		t.bar.SetTotal(-1, true)
	case Failed:
		t.bar.Abort(false)
	}
	b.sum()
}

// sum moves the total bar: unknown sizes count as what arrived so far.
func (b *bars) sum() {
	var done, total int64
	for _, id := range b.order {
		t := b.tasks[id]
		t.mu.Lock()
		done += t.u.Done
		total += max(t.u.Total, t.u.Done)
		t.mu.Unlock()
	}
	b.total.SetTotal(total, false)
	b.total.SetCurrent(done)
}

func (t *task) status(color bool) func(decor.Statistics) string {
	return func(decor.Statistics) string {
		t.mu.Lock()
		defer t.mu.Unlock()
		s := string(t.state)
		if t.msg != "" && (t.state == Failed || t.state == Retrying) {
			s += ": " + t.msg
		}
		if color && t.state == Failed {
			return "\x1b[31m" + s + "\x1b[0m"
		}
		return s
	}
}

func (b *bars) close() {
	for _, id := range b.order {
		t := b.tasks[id]
		if !t.bar.Completed() && !t.bar.Aborted() {
			t.bar.Abort(false)
		}
	}
	b.total.SetTotal(-1, true)
	b.p.Wait()
}
