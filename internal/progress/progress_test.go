package progress

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestLinesRateAndETA: log lines carry the rate since the stage began and
// the time left at that rate.
func TestLinesRateAndETA(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	clock := time.Unix(0, 0)
	f := newLinesAt(log, time.Second, func() time.Time { return clock })
	steps := []struct {
		at   time.Duration
		done int64
		want string // "" when the line is throttled
	}{
		{0, 100 << 20, "done_mb=100 total_mb=1000 percent=10\n"},
		{500 * time.Millisecond, 150 << 20, ""},
		{2 * time.Second, 300 << 20, "done_mb=300 total_mb=1000 percent=30 mb_per_s=100 eta=7s\n"},
		{10 * time.Second, 1000 << 20, "done_mb=1000 total_mb=1000 percent=100 mb_per_s=90\n"},
	}
	for _, s := range steps {
		buf.Reset()
		clock = time.Unix(0, 0).Add(s.at)
		f("scan", s.done, 1000<<20)
		got := buf.String()
		if s.want == "" {
			if got != "" {
				t.Errorf("at %s: logged %q, want nothing (throttled)", s.at, got)
			}
			continue
		}
		if !strings.HasSuffix(got, s.want) {
			t.Errorf("at %s: logged %q, want it to end with %q", s.at, got, s.want)
		}
	}
}
