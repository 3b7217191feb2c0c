package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
)

// hashChunk is the read size for hashing: large enough that syscalls do not
// matter, small enough for the RSS budget.
const hashChunk = 1 << 20

// hashFile returns the hex sha256 of the first size bytes of f, streamed.
// progress, if set, gets the bytes hashed so far.
func hashFile(ctx context.Context, f io.ReaderAt, size int64, progress func(done int64)) (string, error) {
	h := sha256.New()
	buf := make([]byte, hashChunk)
	for off := int64(0); off < size; {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n := min(int64(len(buf)), size-off)
		m, err := f.ReadAt(buf[:n], off)
		if int64(m) < n {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return "", fmt.Errorf("read at byte %d: %w", off+int64(m), err)
		}
		h.Write(buf[:n])
		off += n
		if progress != nil {
			progress(off)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// trailingHasher hashes a file that is still being written, following a
// watermark: every byte below the watermark is final. The remaster's output
// is final in increasing offset order once go-diskfs has laid it out, so
// its checksum is computed while the copy runs instead of in a second pass.
type trailingHasher struct {
	mu   sync.Mutex
	cond *sync.Cond
	mark int64
	done chan struct{}
	sum  string
	err  error
}

// startTrailingHasher hashes f[0:size) as advance() makes it final.
func startTrailingHasher(ctx context.Context, f io.ReaderAt, size int64) *trailingHasher {
	t := &trailingHasher{done: make(chan struct{})}
	t.cond = sync.NewCond(&t.mu)
	// Wake the reader when ctx ends so it does not wait forever.
	stop := context.AfterFunc(ctx, func() {
		t.mu.Lock()
		t.cond.Broadcast()
		t.mu.Unlock()
	})
	go func() {
		defer close(t.done)
		defer stop()
		h := sha256.New()
		buf := make([]byte, hashChunk)
		for off := int64(0); off < size; {
			t.mu.Lock()
			for t.mark <= off && ctx.Err() == nil {
				t.cond.Wait()
			}
			mark := t.mark
			t.mu.Unlock()
			if err := ctx.Err(); err != nil {
				t.err = err
				return
			}
			n := min(int64(len(buf)), mark-off, size-off)
			m, err := f.ReadAt(buf[:n], off)
			if int64(m) < n {
				if err == nil || errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				t.err = fmt.Errorf("read output at byte %d: %w", off+int64(m), err)
				return
			}
			h.Write(buf[:n])
			off += n
		}
		t.sum = hex.EncodeToString(h.Sum(nil))
	}()
	return t
}

// advance declares f[0:mark) final.
func (t *trailingHasher) advance(mark int64) {
	t.mu.Lock()
	if mark > t.mark {
		t.mark = mark
		t.cond.Broadcast()
	}
	t.mu.Unlock()
}

// wait returns the checksum once the whole file has been hashed.
func (t *trailingHasher) wait() (string, error) {
	<-t.done
	return t.sum, t.err
}
