package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// copyChunk bounds one copy step, so cancellation is seen within a few
// milliseconds and progress moves smoothly.
const copyChunk = 16 << 20

// rangeCopier copies byte ranges between files: with copy_file_range where
// the kernel supports it (no data passes through this process), else with
// pread/pwrite and a 1 MiB buffer.
type rangeCopier struct {
	noKernelCopy bool   // set once the kernel refused copy_file_range
	buf          []byte // fallback buffer, allocated on first use
}

// copyRange copies n bytes from src at srcOff to dst at dstOff. progress, if
// set, gets the number of bytes copied by each step.
func (c *rangeCopier) copyRange(ctx context.Context, dst *os.File, dstOff int64, src *os.File, srcOff, n int64, progress func(int64)) error {
	for n > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		step := min(n, copyChunk)
		var (
			m   int64
			err error
		)
		if !c.noKernelCopy {
			m, err = kernelCopy(dst, dstOff, src, srcOff, step)
			if errors.Is(err, errNoKernelCopy) {
				c.noKernelCopy = true
				continue
			}
		} else {
			m, err = c.bufferCopy(dst, dstOff, src, srcOff, step)
		}
		if err != nil {
			return err
		}
		if m == 0 {
			return fmt.Errorf("read at byte %d: %w", srcOff, io.ErrUnexpectedEOF)
		}
		srcOff, dstOff, n = srcOff+m, dstOff+m, n-m
		if progress != nil {
			progress(m)
		}
	}
	return nil
}

func (c *rangeCopier) bufferCopy(dst *os.File, dstOff int64, src *os.File, srcOff, n int64) (int64, error) {
	if c.buf == nil {
		c.buf = make([]byte, 1<<20)
	}
	var done int64
	for done < n {
		k := min(int64(len(c.buf)), n-done)
		r, err := src.ReadAt(c.buf[:k], srcOff+done)
		if r > 0 {
			if _, werr := dst.WriteAt(c.buf[:r], dstOff+done); werr != nil {
				return done, werr
			}
			done += int64(r)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return done, nil
			}
			return done, err
		}
	}
	return done, nil
}

// errNoKernelCopy means: fall back to copying through a buffer.
var errNoKernelCopy = errors.New("kernel copy not available")
