package progress

import (
	"fmt"
	"io"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// bars draws one bar per task and a total with speed and ETA.
type bars struct {
	p     *mpb.Progress
	tasks map[string]*task
	total *mpb.Bar
	sum   int64 // sum of all tasks' totals
}

type task struct {
	bar        *mpb.Bar
	done, size int64
}

func newBars(w io.Writer) *bars {
	return &bars{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithAutoRefresh()), tasks: map[string]*task{}}
}

func (b *bars) update(u Update) {
	if u.State == Waiting { // a line above the bars: a bar would show nothing moving
		fmt.Fprintf(b.p, "compose: %s\n", line(u))
		return
	}
	t := b.tasks[u.ID]
	if t == nil {
		t = &task{size: u.Total, bar: b.p.AddBar(u.Total,
			mpb.PrependDecorators(decor.Name(u.Phase+" "+u.ID, decor.WCSyncSpaceR)),
			mpb.AppendDecorators(decor.CountersKibiByte("% .1f / % .1f"), decor.Name(" "), decor.Percentage()))}
		b.tasks[u.ID] = t
		b.sum += u.Total
		b.ensureTotal()
	}
	if delta := u.Done - t.done; delta > 0 {
		t.bar.IncrInt64(delta)
		b.total.IncrInt64(delta)
	} else if delta < 0 { // a restart from zero
		t.bar.SetCurrent(u.Done)
	}
	t.done = u.Done
	switch u.State {
	case Done:
		t.bar.SetTotal(-1, true)
	case Failed:
		t.bar.Abort(false)
	}
}

func (b *bars) ensureTotal() {
	if b.total == nil {
		b.total = b.p.AddBar(b.sum, mpb.BarPriority(1<<30),
			mpb.PrependDecorators(decor.Name("total", decor.WCSyncSpaceR)),
			mpb.AppendDecorators(decor.CountersKibiByte("% .1f / % .1f"), decor.Name("  "),
				decor.AverageSpeed(decor.SizeB1024(0), "% .1f"), decor.Name("  ETA "), decor.AverageETA(decor.ET_STYLE_GO)))
		return
	}
	b.total.SetTotal(b.sum, false)
}

func (b *bars) close() {
	if b.total != nil {
		b.total.SetTotal(-1, true)
	}
	for _, t := range b.tasks {
		if !t.bar.Completed() && !t.bar.Aborted() {
			t.bar.Abort(false)
		}
	}
	b.p.Wait()
}
