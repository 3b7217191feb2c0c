package vsphere

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// DatastorePath is "[ds] p".
func DatastorePath(ds, p string) string { return fmt.Sprintf("[%s] %s", ds, p) }

// HeadFile is a datastore file's size, -1 when it does not exist: an HTTP
// HEAD on the file, no vSphere task (a datastore search is a task).
func (s *Session) HeadFile(ctx context.Context, ds *object.Datastore, p string) (int64, error) {
	res, err := s.Client.Client.DownloadRequest(ctx, ds.NewURL(p), &soap.Download{Method: http.MethodHead})
	if err != nil {
		return 0, &Error{Op: "look up", Object: DatastorePath(ds.Name(), p), Err: err}
	}
	res.Body.Close()
	switch res.StatusCode {
	case http.StatusOK:
		return res.ContentLength, nil
	case http.StatusNotFound:
		return -1, nil
	}
	return 0, fmt.Errorf("look up %s: HTTP %s", DatastorePath(ds.Name(), p), res.Status)
}

// ReadSmallFile reads a datastore file of at most 4 KiB; nil when absent.
func (s *Session) ReadSmallFile(ctx context.Context, ds *object.Datastore, p string) ([]byte, error) {
	res, err := s.Client.Client.DownloadRequest(ctx, ds.NewURL(p), &soap.Download{Method: http.MethodGet})
	if err != nil {
		return nil, &Error{Op: "read", Object: DatastorePath(ds.Name(), p), Err: err}
	}
	defer res.Body.Close()
	switch res.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, nil
	default:
		return nil, fmt.Errorf("read %s: HTTP %s", DatastorePath(ds.Name(), p), res.Status)
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, 4096))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", DatastorePath(ds.Name(), p), err)
	}
	return b, nil
}

// MakeDirectory creates dir and its parents on the datastore; one that
// exists already is fine.
func (s *Session) MakeDirectory(ctx context.Context, ds *object.Datastore, dir string) error {
	p := DatastorePath(ds.Name(), dir)
	if err := object.NewFileManager(s.Client).MakeDirectory(ctx, p, s.DC, true); err != nil && !IsFault[*types.FileAlreadyExists](err) {
		return &Error{Op: "create folder", Object: p, Err: err}
	}
	return nil
}

// Upload PUTs size bytes from r to the datastore file remote.
func (s *Session) Upload(ctx context.Context, ds *object.Datastore, r io.Reader, size int64, remote, contentType string) error {
	if err := ds.Upload(ctx, r, remote, &soap.Upload{Type: contentType, Method: "PUT", ContentLength: size}); err != nil {
		return &Error{Op: "upload", Object: DatastorePath(ds.Name(), remote), Err: err}
	}
	return nil
}

// DeleteFile deletes a datastore file (a task).
func (s *Session) DeleteFile(ctx context.Context, ds *object.Datastore, p string) error {
	dp := DatastorePath(ds.Name(), p)
	fm := object.NewFileManager(s.Client)
	_, err := s.Task(ctx, "delete", dp, func() (*object.Task, error) { return fm.DeleteDatastoreFile(ctx, dp, s.DC) }, nil)
	return err
}

// MoveFile moves a datastore file from to to (a task); force replaces a
// file at to.
func (s *Session) MoveFile(ctx context.Context, ds *object.Datastore, from, to string, force bool) error {
	src, dst := DatastorePath(ds.Name(), from), DatastorePath(ds.Name(), to)
	fm := object.NewFileManager(s.Client)
	_, err := s.Task(ctx, "move", src, func() (*object.Task, error) { return fm.MoveDatastoreFile(ctx, src, s.DC, dst, s.DC, force) }, nil)
	return err
}
