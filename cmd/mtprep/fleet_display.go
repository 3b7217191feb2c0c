package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/mtprep/mtprep/internal/progress"
	"github.com/mtprep/mtprep/provision"
)

// fleetDisplay is `mtprep fleet` on a terminal: one line per MT. The MTs
// being worked on sit in a live area at the bottom, each with its phase
// and the progress of a long step (an upload's percentage), redrawn in
// place; an MT that ends leaves a permanent line above it (done in 2m,
// failed at enable-uuid: why), as do warnings. The live area never has
// more lines than --concurrency plus a count, so it fits any terminal.
type fleetDisplay struct {
	mu      sync.Mutex
	w       io.Writer
	order   []string // inventory order
	live    map[string]*liveLine
	ended   map[string]string // host -> result
	pending []string          // permanent lines to print at the next draw
	drawn   int               // lines of the live area on screen
	last    time.Time
	now     func() time.Time
}

type liveLine struct {
	phase, detail string
	since         time.Time
}

func newFleetDisplay(w io.Writer, hosts []string) *fleetDisplay {
	return &fleetDisplay{w: w, order: hosts, live: map[string]*liveLine{}, ended: map[string]string{}, now: time.Now}
}

// phase is FleetOptions.OnPhase: a phase name, or the host's result.
func (d *fleetDisplay) phase(host, phase string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch phase {
	case provision.HostDone, provision.HostFailed, provision.HostInterrupted:
		l := d.live[host]
		took := ""
		if l != nil {
			took = " after " + d.now().Sub(l.since).Round(time.Second).String()
		}
		delete(d.live, host)
		d.ended[host] = phase
		d.pending = append(d.pending, fmt.Sprintf("%-20s %s%s", host, phase, took))
	default:
		l := d.live[host]
		if l == nil {
			l = &liveLine{since: d.now()}
			d.live[host] = l
		}
		l.phase, l.detail = phase, ""
	}
	d.drawLocked(true)
}

// progress is FleetOptions.Progress: the host's current long step.
func (d *fleetDisplay) progress(host string) progress.Func {
	return func(stage string, done, total int64) {
		d.mu.Lock()
		defer d.mu.Unlock()
		l := d.live[host]
		if l == nil {
			return
		}
		if total > 0 {
			l.detail = fmt.Sprintf("%s %3d%% (%d/%d MB)", stage, done*100/total, done>>20, total>>20)
		} else {
			l.detail = fmt.Sprintf("%s %d MB", stage, done>>20)
		}
		d.drawLocked(false)
	}
}

// Write prints log records (the run's warnings) above the live area.
func (d *fleetDisplay) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pending = append(d.pending, strings.TrimRight(string(p), "\n"))
	d.drawLocked(true)
	return len(p), nil
}

// finish draws the last state and leaves the cursor below it.
func (d *fleetDisplay) finish() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.drawLocked(true)
}

// drawLocked redraws: up over the old live area, clear it, the new
// permanent lines, then the live area. Progress alone redraws at most
// five times a second.
func (d *fleetDisplay) drawLocked(force bool) {
	now := d.now()
	if !force && now.Sub(d.last) < 200*time.Millisecond {
		return
	}
	d.last = now
	var b strings.Builder
	if d.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA\r\x1b[J", d.drawn)
	}
	for _, l := range d.pending {
		b.WriteString(l + "\n")
	}
	d.pending = d.pending[:0]
	d.drawn = 0
	count := map[string]int{}
	for _, h := range d.order {
		if l := d.live[h]; l != nil {
			fmt.Fprintf(&b, "%-20s %-12s %s\n", h, l.phase, l.detail)
			d.drawn++
		} else if r, ok := d.ended[h]; ok {
			count[r]++
		}
	}
	waiting := len(d.order) - len(d.live) - len(d.ended)
	fmt.Fprintf(&b, "%d/%d MTs: %d running, %d done, %d failed, %d interrupted, %d waiting\n",
		len(d.ended), len(d.order), len(d.live), count[provision.HostDone], count[provision.HostFailed], count[provision.HostInterrupted], waiting)
	d.drawn++
	_, _ = io.WriteString(d.w, b.String())
}
