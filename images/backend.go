package images

import (
	"context"
	"io/fs"
	"os"
	"sync"

	"github.com/diskfs/go-diskfs/backend"
)

// outputBackend is the go-diskfs backend for the new ISO: the temporary
// file, with writes that fail once ctx is cancelled, which makes go-diskfs
// Finalize (which takes no context) stop early on Ctrl-C. go-diskfs API
// has no context, hence the stored one.
type outputBackend struct {
	ctx context.Context
	f   *os.File

	mu  sync.Mutex
	err error // the first write that failed
}

// writeErr is the first write that failed, if any. go-diskfs's Finalize
// drops most WriteAt errors (finalize.go: `_, _ = f.WriteAt`), so a nil
// error from it proves nothing: a refused write (ctx cancelled) or a
// failed one (disk full) leaves an incomplete image. Callers check this.
func (s *outputBackend) writeErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

var (
	_ backend.Storage      = (*outputBackend)(nil)
	_ backend.WritableFile = (*outputWriter)(nil)
)

func (s *outputBackend) Stat() (fs.FileInfo, error)                { return s.f.Stat() }
func (s *outputBackend) Read(b []byte) (int, error)                { return s.f.Read(b) }
func (s *outputBackend) ReadAt(b []byte, off int64) (int, error)   { return s.f.ReadAt(b, off) }
func (s *outputBackend) Seek(off int64, whence int) (int64, error) { return s.f.Seek(off, whence) }
func (s *outputBackend) Sys() (*os.File, error)                    { return s.f, nil }
func (s *outputBackend) Path() string                              { return s.f.Name() }

// Close is a no-op: the remaster owns the file and closes it itself.
func (s *outputBackend) Close() error { return nil }

func (s *outputBackend) Writable() (backend.WritableFile, error) { return &outputWriter{s}, nil }

type outputWriter struct{ *outputBackend }

func (w *outputWriter) WriteAt(b []byte, off int64) (int, error) {
	err := w.ctx.Err()
	n := 0
	if err == nil {
		n, err = w.f.WriteAt(b, off)
	}
	if err != nil {
		w.mu.Lock()
		if w.err == nil {
			w.err = err
		}
		w.mu.Unlock()
	}
	return n, err
}
