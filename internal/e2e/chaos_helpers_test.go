package e2e

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// teeLog is the lab's log: kept (for the secret scan) and shown in the
// test log until close.
type teeLog struct {
	t      testing.TB
	mu     sync.Mutex
	buf    bytes.Buffer
	closed bool
}

func (w *teeLog) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (w *teeLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.closed && !bytes.Contains(p, []byte("level=DEBUG")) {
		w.t.Log("lab: " + strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *teeLog) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
}

func (w *teeLog) bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return bytes.Clone(w.buf.Bytes())
}

// devOf is the device of the file system holding p (0 when unknown).
func devOf(p string) uint64 {
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return 0
	}
	return uint64(st.Dev)
}
