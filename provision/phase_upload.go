package provision

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"strings"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/internal/progress"
)

// uploadPhase puts the MT's ISO on the datastore as
// <isoFolder>/<sha256>.iso with a sha256sum-style <sha256>.iso.sha256
// beside it. Named by content, a second build or a second MT with the same
// ISO uploads nothing. Data goes to a temporary name and is moved into
// place only after its size is checked on the datastore (and the local
// file is unchanged since it was hashed), so an interrupted upload never
// looks complete.
type uploadPhase struct{}

func (uploadPhase) Name() string { return "upload" }

// localISO is the local ISO's identity, hashed once per run.
type localISO struct {
	path    string
	size    int64
	modTime time.Time
	sha256  string
}

// isoLocalPath is the ISO the upload takes: the iso phase's output, or
// what a caller put in Facts.ISOLocal.
func (t *Target) isoLocalPath() string {
	if t.Facts.ISOLocal != "" {
		return t.Facts.ISOLocal
	}
	return isoPath(t)
}

// localISOHash returns the local ISO's sha256. The iso phase's sidecar
// already records it; it is trusted when the ISO has its recorded size and
// was not modified after the sidecar was written. Otherwise the ISO is
// hashed (once per run).
func (t *Target) localISOHash(ctx context.Context) (*localISO, error) {
	p := t.isoLocalPath()
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("the MT's ISO %s: %w (the iso phase writes it)", p, unwrapPathError(err))
	}
	if c := t.iso; c != nil && c.path == p && c.size == fi.Size() && c.modTime.Equal(fi.ModTime()) {
		return c, nil
	}
	li := &localISO{path: p, size: fi.Size(), modTime: fi.ModTime()}
	if r, err := ReadISOResult(p); err == nil && r.Size == fi.Size() && sha256Re.MatchString(r.SHA256) {
		if side, err := os.Stat(p + ".json"); err == nil && !fi.ModTime().After(side.ModTime()) {
			li.sha256 = r.SHA256
		}
	}
	if li.sha256 == "" {
		sum, _, err := fileSHA256(ctx, p, 0)
		if err != nil {
			return nil, fmt.Errorf("hashing the MT's ISO: %w", err)
		}
		if after, err := os.Stat(p); err != nil || after.Size() != li.size || !after.ModTime().Equal(li.modTime) {
			return nil, fmt.Errorf("the MT's ISO %s changed while it was hashed", p)
		}
		li.sha256 = sum
	}
	t.iso = li
	return li, nil
}

// isoNames are the datastore paths of one ISO.
type isoNames struct {
	dir, file, sum string // "mtprep-iso", "mtprep-iso/<sha>.iso", "….iso.sha256"
}

func isoNamesFor(folder, sha string) isoNames {
	f := path.Join(folder, sha+".iso")
	return isoNames{dir: folder, file: f, sum: f + ".sha256"}
}

func dsPath(ds, p string) string { return fmt.Sprintf("[%s] %s", ds, p) }

// isoOnDatastore is what the datastore holds under an ISO's name.
type isoOnDatastore struct {
	size      int64 // -1: absent
	sumRecord string
}

func (o isoOnDatastore) complete(li *localISO) bool {
	return o.size == li.size && o.sumRecord == li.sha256
}

// statISO looks the ISO up with an HTTP HEAD on the datastore file (no
// vSphere task: a datastore search is a task, and a build that changes
// nothing starts none) and reads the checksum file beside it.
func (s *vsphereSession) statISO(ctx context.Context, n isoNames) (isoOnDatastore, error) {
	inv, err := s.inventory(ctx)
	if err != nil {
		return isoOnDatastore{}, err
	}
	out := isoOnDatastore{size: -1}
	if out.size, err = s.headFile(ctx, inv.datastore, n.file); err != nil {
		return out, err
	}
	b, err := s.readSmallFile(ctx, inv.datastore, n.sum)
	if err != nil || b == nil {
		return out, err
	}
	// sha256sum format: "<hex>  <name>"
	if f := strings.Fields(string(b)); len(f) == 2 && f[1] == path.Base(n.file) {
		out.sumRecord = f[0]
	}
	return out, nil
}

// headFile is a datastore file's size, -1 when it does not exist.
func (s *vsphereSession) headFile(ctx context.Context, ds *object.Datastore, p string) (int64, error) {
	res, err := s.c.Client.DownloadRequest(ctx, ds.NewURL(p), &soap.Download{Method: http.MethodHead})
	if err != nil {
		return 0, &VSphereError{Op: "look up", Object: dsPath(ds.Name(), p), Err: err}
	}
	res.Body.Close()
	switch res.StatusCode {
	case http.StatusOK:
		return res.ContentLength, nil
	case http.StatusNotFound:
		return -1, nil
	}
	return 0, fmt.Errorf("look up %s: HTTP %s", dsPath(ds.Name(), p), res.Status)
}

// readSmallFile reads a datastore file of at most 4 KiB; nil when absent.
func (s *vsphereSession) readSmallFile(ctx context.Context, ds *object.Datastore, p string) ([]byte, error) {
	res, err := s.c.Client.DownloadRequest(ctx, ds.NewURL(p), &soap.Download{Method: http.MethodGet})
	if err != nil {
		return nil, &VSphereError{Op: "read", Object: dsPath(ds.Name(), p), Err: err}
	}
	defer res.Body.Close()
	switch res.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, nil
	default:
		return nil, fmt.Errorf("read %s: HTTP %s", dsPath(ds.Name(), p), res.Status)
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, 4096))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dsPath(ds.Name(), p), err)
	}
	return b, nil
}

func (uploadPhase) Check(ctx context.Context, t *Target) (Check, error) {
	s, err := t.vsphere(ctx)
	if err != nil {
		return Check{}, err
	}
	inv, err := s.inventory(ctx)
	if err != nil {
		return Check{}, err
	}
	ds, folder := inv.datastore.Name(), t.Spec.VSphere.ISOFolder
	li, err := t.localISOHash(ctx)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Check{Changes: []string{fmt.Sprintf("upload %s (once the iso phase has written it) to %s", t.isoLocalPath(), dsPath(ds, folder+"/<sha256>.iso"))}, Observed: "no local ISO yet"}, nil
		}
		return Check{}, err
	}
	n := isoNamesFor(folder, li.sha256)
	t.Facts.ISODatastore = dsPath(ds, n.file)
	st, err := s.statISO(ctx, n)
	if err != nil {
		return Check{}, err
	}
	t.keep("upload", st)
	if st.complete(li) {
		return Check{Done: true, Observed: fmt.Sprintf("%s is there (%d MB, sha256 recorded in %s)", t.Facts.ISODatastore, li.size>>20, path.Base(n.sum))}, nil
	}
	obs := "not on the datastore"
	switch {
	case st.size >= 0 && st.size != li.size:
		obs = fmt.Sprintf("%s has %d bytes, not %d: it will be replaced", t.Facts.ISODatastore, st.size, li.size)
	case st.size >= 0:
		obs = fmt.Sprintf("%s has no matching %s: it will be replaced", t.Facts.ISODatastore, path.Base(n.sum))
	}
	return Check{
		Changes:  []string{fmt.Sprintf("upload %s (%d MB, sha256 %s) to %s", li.path, li.size>>20, li.sha256[:12], t.Facts.ISODatastore)},
		Observed: obs,
	}, nil
}

func (uploadPhase) Apply(ctx context.Context, t *Target) error {
	s, err := t.vsphere(ctx)
	if err != nil {
		return err
	}
	inv, err := s.inventory(ctx)
	if err != nil {
		return err
	}
	li, err := t.localISOHash(ctx)
	if err != nil {
		return err
	}
	ds := inv.datastore
	n := isoNamesFor(t.Spec.VSphere.ISOFolder, li.sha256)
	st, ok := t.take("upload").(isoOnDatastore)
	if !ok {
		if st, err = s.statISO(ctx, n); err != nil {
			return err
		}
	}
	if st.complete(li) {
		return nil
	}
	fm := object.NewFileManager(s.c)
	if err := fm.MakeDirectory(ctx, dsPath(ds.Name(), n.dir), s.dc, true); err != nil && !isFault[*types.FileAlreadyExists](err) {
		return &VSphereError{Op: "create folder", Object: dsPath(ds.Name(), n.dir), Err: err}
	}
	// A random suffix: two builds uploading the same ISO at once do not
	// write into one file.
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	tmp := path.Join(n.dir, "."+li.sha256+".iso."+hex.EncodeToString(rnd[:])+".part")
	cleanup := func() {
		// The run's context may be cancelled: clean up with a fresh one.
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := s.task(cctx, "delete", dsPath(ds.Name(), tmp), func() (*object.Task, error) {
			return fm.DeleteDatastoreFile(cctx, dsPath(ds.Name(), tmp), s.dc)
		}, nil); err != nil && !isFault[*types.FileNotFound](err) {
			s.log.Warn("could not delete the partial upload; delete it by hand", "file", dsPath(ds.Name(), tmp), "err", err)
		}
	}
	start := time.Now()
	if err := uploadFile(ctx, ds, li, tmp, t.Progress); err != nil {
		cleanup()
		return err
	}
	if sz, err := s.headFile(ctx, ds, tmp); err != nil || sz != li.size {
		cleanup()
		if err != nil {
			return err
		}
		return fmt.Errorf("upload %s: the datastore holds %d bytes, not %d", dsPath(ds.Name(), tmp), sz, li.size)
	}
	sum := fmt.Sprintf("%s  %s\n", li.sha256, path.Base(n.file))
	if err := ds.Upload(ctx, strings.NewReader(sum), n.sum, &soap.Upload{Type: "text/plain", Method: "PUT", ContentLength: int64(len(sum))}); err != nil {
		cleanup()
		return &VSphereError{Op: "upload", Object: dsPath(ds.Name(), n.sum), Err: err}
	}
	// force only replaces a file under our name that is not this ISO
	// (Check found it incomplete); another build's finished copy is left.
	force := st.size >= 0
	_, err = s.task(ctx, "move", dsPath(ds.Name(), tmp), func() (*object.Task, error) {
		return fm.MoveDatastoreFile(ctx, dsPath(ds.Name(), tmp), s.dc, dsPath(ds.Name(), n.file), s.dc, force)
	}, nil)
	if err != nil {
		cleanup()
		if !isFault[*types.FileAlreadyExists](err) {
			return err
		}
	}
	t.Facts.ISODatastore = dsPath(ds.Name(), n.file)
	el := time.Since(start)
	t.Note("upload", fmt.Sprintf("uploaded %s to %s (%d MB in %s)", li.path, t.Facts.ISODatastore, li.size>>20, el.Round(time.Millisecond)))
	return nil
}

func (uploadPhase) Verify(ctx context.Context, t *Target) error {
	c, err := uploadPhase{}.Check(ctx, t)
	if err != nil {
		return err
	}
	if !c.Done {
		return fmt.Errorf("%s: %s", t.Facts.ISODatastore, c.Observed)
	}
	return nil
}

// uploadFile PUTs the file to the datastore path. The file's size and
// modification time are compared before and after: the name says which
// content it is (its sha256, computed before), so a file rewritten in the
// meantime must not be moved into place under it. (Hashing the stream
// again would cost a third of the upload's time on a fast link.)
func uploadFile(ctx context.Context, ds *object.Datastore, li *localISO, remote string, prog progress.Func) error {
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
	if err := ds.Upload(ctx, r, remote, &soap.Upload{Type: "application/octet-stream", Method: "PUT", ContentLength: li.size}); err != nil {
		return &VSphereError{Op: "upload", Object: dsPath(ds.Name(), remote), Err: err}
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
