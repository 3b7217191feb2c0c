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
				progressbar.OptionShowBytes(true),
				progressbar.OptionSetWidth(30),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionOnCompletion(func() { _, _ = io.WriteString(w, "\n") }),
			)
		}
		_ = bar.Set64(done)
	}
}

func newLines(log *slog.Logger, interval time.Duration) Func {
	var mu sync.Mutex
	last := map[string]time.Time{}
	return func(stage string, done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		now := time.Now()
		end := total > 0 && done >= total
		if t, ok := last[stage]; ok && !end && now.Sub(t) < interval {
			return
		}
		last[stage] = now
		if total > 0 {
			log.Info("progress", "stage", stage, "done_mb", done>>20, "total_mb", total>>20, "percent", done*100/total)
		} else {
			log.Info("progress", "stage", stage, "done_mb", done>>20)
		}
	}
}
