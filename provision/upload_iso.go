package provision

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/internal/progress"
	"github.com/mtprep/mtprep/provision/vsphere"
)

// The upload phase's transfer of one ISO to the datastore, through
// provision/vsphere: a temporary name, the size checked on the datastore,
// the checksum file, then a move into place.

// uploadISO puts one local ISO on the datastore under u.n.
func uploadISO(ctx context.Context, s *vsphere.Session, t *Target, ds *object.Datastore, u uploadState) (string, error) {
	li, n, st := u.li, u.n, u.st
	if err := s.MakeDirectory(ctx, ds, n.dir); err != nil {
		return "", err
	}
	// A random suffix: two builds uploading the same ISO at once do not
	// write into one file.
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	tmp := path.Join(n.dir, "."+path.Base(n.file)+"."+hex.EncodeToString(rnd[:])+".part")
	cleanup := func() {
		// The run's context may be cancelled: clean up with a fresh one.
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.DeleteFile(cctx, ds, tmp); err != nil && !vsphere.IsFault[*types.FileNotFound](err) {
			s.Log().Warn("could not delete the partial upload; delete it by hand", "file", vsphere.DatastorePath(ds.Name(), tmp), "err", err)
		}
	}
	start := time.Now()
	if err := uploadFile(ctx, s, ds, li, tmp, t.Progress); err != nil {
		cleanup()
		return "", err
	}
	if sz, err := s.HeadFile(ctx, ds, tmp); err != nil || sz != li.size {
		cleanup()
		if err != nil {
			return "", err
		}
		return "", fmt.Errorf("upload %s: the datastore holds %d bytes, not %d", vsphere.DatastorePath(ds.Name(), tmp), sz, li.size)
	}
	sum := fmt.Sprintf("%s  %s\n", li.sha256, path.Base(n.file))
	if err := s.Upload(ctx, ds, strings.NewReader(sum), int64(len(sum)), n.sum, "text/plain"); err != nil {
		cleanup()
		return "", err
	}
	// force only replaces a file under our name that is not this ISO
	// (Check found it incomplete); another build's finished copy is left.
	force := st.size >= 0
	if err := s.MoveFile(ctx, ds, tmp, n.file, force); err != nil {
		cleanup()
		if !vsphere.IsFault[*types.FileAlreadyExists](err) {
			return "", err
		}
	}
	return fmt.Sprintf("uploaded %s to %s (%s in %s)", li.path, vsphere.DatastorePath(ds.Name(), n.file), sizeText(li.size), time.Since(start).Round(time.Millisecond)), nil
}

// uploadFile PUTs the file to the datastore path. The file's size and
// modification time are compared before and after: the name says which
// content it is (its sha256, computed before), so a file rewritten in the
// meantime must not be moved into place under it. (Hashing the stream
// again would cost a third of the upload's time on a fast link.)
func uploadFile(ctx context.Context, s *vsphere.Session, ds *object.Datastore, li *localISO, remote string, prog progress.Func) error {
	f, err := os.Open(li.path)
	if err != nil {
		return fmt.Errorf("upload %s: %w", li.path, err)
	}
	defer f.Close()
	changed := func() error {
		fi, err := f.Stat()
		if err != nil {
			return fmt.Errorf("upload %s: %w", li.path, err)
		}
		if fi.Size() != li.size || !fi.ModTime().Equal(li.modTime) {
			return fmt.Errorf("the MT's ISO %s changed since it was hashed: run the build again", li.path)
		}
		return nil
	}
	if err := changed(); err != nil {
		return err
	}
	r := &uploadReader{ctx: ctx, f: f, prog: prog, stage: "upload " + path.Base(li.path), total: li.size}
	if err := s.Upload(ctx, ds, r, li.size, remote, "application/octet-stream"); err != nil {
		return err
	}
	if r.n != li.size {
		return fmt.Errorf("upload %s: sent %d bytes of %d", li.path, r.n, li.size)
	}
	return changed()
}

// uploadReader counts what the HTTP client sends, reports progress and
// stops at cancellation. (net/http reads it through an io.LimitedReader in
// 32 KiB pieces, as it reads the *os.File of a plain UploadFile.)
type uploadReader struct {
	ctx   context.Context
	f     *os.File
	prog  progress.Func
	stage string
	n     int64
	total int64
}

func (u *uploadReader) Read(p []byte) (int, error) {
	if err := u.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := u.f.Read(p)
	if n > 0 {
		u.n += int64(n)
		if u.prog != nil {
			u.prog(u.stage, u.n, u.total)
		}
	}
	return n, err
}
