package images

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteImageReportsDroppedWrites: go-diskfs's Finalize ignores most
// WriteAt errors, so the image writers ask the backend. A file that
// refuses writes (opened read-only), a context cancelled before the
// write, and one cancelled during it (after the system area went out:
// the writes go-diskfs then drops used to leave a nil error over an
// incomplete image) all end in an error naming the cause.
func TestWriteImageReportsDroppedWrites(t *testing.T) {
	for _, tt := range []struct {
		name     string
		readOnly bool
		cancel   bool
		want     string
		wantIs   error
	}{
		{name: "writes refused by the file", readOnly: true, want: "seed: write"},
		{name: "cancelled", cancel: true, wantIs: context.Canceled},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ws := seedWorkspace(t, dir)
			path := filepath.Join(dir, "seed.iso")
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			flag := os.O_RDWR
			if tt.readOnly {
				flag = os.O_RDONLY
			}
			f, err := os.OpenFile(path, flag, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				cancel()
			}
			err = writeSeedImage(ctx, f, ws, false)
			switch {
			case err == nil:
				t.Fatal("writeSeedImage returned nil over an image it could not write")
			case tt.wantIs != nil && !errors.Is(err, tt.wantIs):
				t.Errorf("err = %v, want %v", err, tt.wantIs)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Errorf("err = %v, want %q", err, tt.want)
			}
			t.Logf("err: %v", err)
		})
	}
}

// TestWriteImageCancelledAtEveryWrite cancels the seed's write at each of
// its writes in turn: every run that saw the cancellation reports it.
// Most of Finalize's writes (directory records, path tables, volume
// descriptors) are ones go-diskfs does not check.
func TestWriteImageCancelledAtEveryWrite(t *testing.T) {
	for at := 1; ; at++ {
		// go-diskfs deletes the workspace it wrote from: a new one each time.
		dir := t.TempDir()
		ws := seedWorkspace(t, dir)
		f, err := os.Create(filepath.Join(dir, "seed.iso"))
		if err != nil {
			t.Fatal(err)
		}
		ctx := &cancelLater{Context: context.Background(), at: at}
		err = writeSeedImage(ctx, f, ws, false)
		f.Close()
		if ctx.calls < at { // never cancelled: the whole image was written
			if err != nil {
				t.Fatalf("uncancelled write failed: %v", err)
			}
			t.Logf("%d writes, each cancelled in turn", at-1)
			return
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled at Err call %d of the write: err = %v, want context.Canceled", at, err)
		}
	}
}

func seedWorkspace(t *testing.T, dir string) string {
	t.Helper()
	ws := filepath.Join(dir, "ws")
	if err := os.Mkdir(ws, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws, "ks.cfg"), []byte(testKS), 0o600); err != nil {
		t.Fatal(err)
	}
	return ws
}

// cancelLater is a context that turns cancelled at its at-th Err call:
// a Ctrl-C at a chosen write.
type cancelLater struct {
	context.Context
	at, calls int
}

func (c *cancelLater) Err() error {
	c.calls++
	if c.calls >= c.at {
		return context.Canceled
	}
	return nil
}
