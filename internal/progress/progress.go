// Package progress reports the progress of long work (ISO writes, uploads,
// waits): a bar on a terminal, and plain periodic log lines otherwise, so
// CI logs stay readable.
package progress

import (
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Func is what long operations call: stage names the step, done and total
// are bytes (total 0 when unknown).
type Func func(stage string, done, total int64)

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// New returns a Func that draws a bar on w when it is a terminal, and
// otherwise logs a line at most every interval per stage (and at the end).
func New(w io.Writer, log *slog.Logger, interval time.Duration) Func {
	if IsTerminal(w) {
		return newBar(w)
	}
	return newLines(log, interval)
}

func newBar(w io.Writer) Func {
	var mu sync.Mutex
	var bar *progressbar.ProgressBar
	var cur string
	return func(stage string, done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		if bar == nil || stage != cur {
			if bar != nil {
				_ = bar.Finish()
			}
			cur = stage
			bar = progressbar.NewOptions64(total,
				progressbar.OptionSetWriter(w),
				progressbar.OptionSetDescription(stage),
				progressbar.OptionShowBytes(true),      // the rate, in bytes/s
				progressbar.OptionSetPredictTime(true), // elapsed:ETA
				progressbar.OptionSetWidth(30),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionOnCompletion(func() { _, _ = io.WriteString(w, "\n") }),
			)
		}
		_ = bar.Set64(done)
	}
}

func newLines(log *slog.Logger, interval time.Duration) Func {
	return newLinesAt(log, interval, time.Now)
}

// stageClock is when a stage started and how far it was then: the rate is
// measured from there, so a resumed transfer's skipped bytes do not count.
type stageClock struct {
	start, last time.Time
	from        int64
}

func newLinesAt(log *slog.Logger, interval time.Duration, now func() time.Time) Func {
	var mu sync.Mutex
	stages := map[string]*stageClock{}
	return func(stage string, done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		t := now()
		end := total > 0 && done >= total
		c, ok := stages[stage]
		if !ok {
			c = &stageClock{start: t, from: done}
			stages[stage] = c
		} else if !end && t.Sub(c.last) < interval {
			return
		}
		c.last = t
		attrs := []any{"stage", stage, "done_mb", done >> 20}
		if total > 0 {
			attrs = append(attrs, "total_mb", total>>20, "percent", done*100/total)
		}
		if el := t.Sub(c.start); el > 0 && done > c.from {
			rate := float64(done-c.from) / el.Seconds()
			attrs = append(attrs, "mb_per_s", float64(int64(rate*10/(1<<20)))/10)
			if total > done {
				attrs = append(attrs, "eta", time.Duration(float64(total-done)/rate*float64(time.Second)).Round(time.Second).String())
			}
		}
		log.Info("progress", attrs...)
	}
}
