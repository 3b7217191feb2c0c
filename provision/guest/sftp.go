package guest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/pkg/sftp"

	"github.com/mtprep/mtprep/internal/files"
	"github.com/mtprep/mtprep/internal/progress"
)

// SFTP write tuning (docs/PERFORMANCE.md, bench-sftp). With pkg/sftp's defaults (one
// 32 KiB write at a time) an upload runs at about half of scp's rate;
// concurrent writes close the gap, and larger writes go past scp.
const (
	// DefaultSFTPPacket is the data size of one SFTP write. OpenSSH's
	// sftp-server (5.3p1 on CentOS 6.6, as today's) drops the connection
	// on a message above 256 KiB (SFTP_MAX_MSG_LENGTH); a write carries
	// its data plus about 30 bytes of header and handle.
	DefaultSFTPPacket = 255 << 10
	// DefaultSFTPConcurrency is how many writes are in flight at once.
	DefaultSFTPConcurrency = 16
)

func (s *Conn) sftpTuning() (packet, concurrency int) {
	packet, concurrency = s.cfg.SFTPPacket, s.cfg.SFTPConcurrency
	if packet <= 0 {
		packet = DefaultSFTPPacket
	}
	if concurrency <= 0 {
		concurrency = DefaultSFTPConcurrency
	}
	return packet, concurrency
}

// UploadDir is where the MT's uploads go, as its Shell says: for the
// administrator a work directory of its own; for another user (whose
// commands are elevated, but whose SFTP session cannot write where the
// administrator's files are) a directory in the user's SFTP home.
func (s *Conn) UploadDir() (string, error) {
	return s.cfg.Shell.WorkDir(s.cfg.User, func() (string, error) {
		cl, err := s.sftpClient()
		if err != nil {
			return "", err
		}
		defer cl.Close()
		home, err := cl.Getwd()
		if err != nil {
			return "", fmt.Errorf("sftp %s: home directory of %s: %w", s.addr(), s.cfg.User, err)
		}
		return home, nil
	})
}

// sftpClient opens an SFTP session on the shared connection, with
// concurrent writes of DefaultSFTPPacket bytes.
func (s *Conn) sftpClient() (*sftp.Client, error) {
	s.mu.Lock()
	c := s.client
	s.mu.Unlock()
	if c == nil {
		return nil, fmt.Errorf("sftp %s: not connected", s.addr())
	}
	s.stats.sftp.Add(1)
	packet, concurrency := s.sftpTuning()
	cl, err := sftp.NewClient(c, sftp.UseConcurrentWrites(true), sftp.MaxConcurrentRequestsPerFile(concurrency), sftp.MaxPacketUnchecked(packet))
	if err != nil {
		return nil, fmt.Errorf("sftp %s: %w", s.addr(), err)
	}
	return cl, nil
}

// resumeWindow covers every write that may have been in flight when a
// transfer broke, twice over: concurrent writes land out of order, so the
// end of an interrupted file may have holes.
func (s *Conn) resumeWindow() int64 {
	packet, concurrency := s.sftpTuning()
	return 2 * int64(packet) * int64(concurrency)
}

// UploadResult says what an upload did.
type UploadResult struct {
	SHA256  string
	Sent    int64 // bytes sent this time
	Resumed int64 // bytes already there from an interrupted upload
	Skipped bool  // the file was already there with the same hash
}

// Upload copies local to remote over SFTP and proves it arrived by the
// guest's own sha256sum. A file already there with the same hash is not
// sent again. Data goes to remote.part first; an interrupted upload resumes
// from what arrived, after checking that prefix's hash, and only a verified
// file is renamed to remote, so a later run never mistakes a partial file
// for a complete one.
func (s *Conn) Upload(ctx context.Context, local, remote string, prog progress.Func) (*UploadResult, error) {
	sum, size, err := files.SHA256(ctx, local, 0)
	if err != nil {
		return nil, fmt.Errorf("upload %s: %w", local, err)
	}
	res := &UploadResult{SHA256: sum}
	cl, err := s.sftpClient()
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	// A stat on the SFTP session the upload needs anyway: only a file of
	// the same size is worth hashing on the guest (a separate session).
	if fi, err := cl.Stat(remote); err == nil && fi.Mode().IsRegular() && fi.Size() == size {
		if got, err := s.remoteSHA256(ctx, remote, -1); err == nil && got == sum {
			res.Skipped = true
			return res, nil
		}
	}
	part := remote + ".part"
	if err := cl.MkdirAll(path.Dir(remote)); err != nil {
		return nil, fmt.Errorf("upload %s: mkdir %s: %w", local, path.Dir(remote), err)
	}
	var offset int64
	window := s.resumeWindow()
	if fi, err := cl.Stat(part); err == nil && fi.Size() > window && fi.Size() <= size {
		// Concurrent writes land out of order, so the last window of an
		// interrupted file may have holes: resume before it, and only from
		// a prefix whose hash matches byte for byte.
		at := fi.Size() - window
		want, _, err := files.SHA256(ctx, local, at)
		if err != nil {
			return nil, fmt.Errorf("upload %s: %w", local, err)
		}
		if got, err := s.remoteSHA256(ctx, part, at); err == nil && got == want {
			offset = at
		}
	}
	flags := os.O_WRONLY | os.O_CREATE
	if offset == 0 {
		flags |= os.O_TRUNC
	}
	f, err := cl.OpenFile(part, flags)
	if err != nil {
		return nil, fmt.Errorf("upload %s: open %s: %w", local, part, err)
	}
	src, err := os.Open(local)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("upload %s: %w", local, err)
	}
	defer src.Close()
	if _, err := src.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("upload %s: %w", local, err)
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("upload %s: seek %s: %w", local, part, err)
	}
	res.Resumed = offset
	r := &ctxReader{ctx: ctx, r: src, done: offset, total: size, prog: prog, stage: "upload " + path.Base(remote)}
	n, err := f.ReadFromWithConcurrency(r, 0)
	res.Sent = n
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return res, fmt.Errorf("upload %s to %s:%s after %d bytes (a re-run resumes): %w", local, s.cfg.Address, part, offset+n, err)
	}
	got, err := s.remoteSHA256(ctx, part, -1)
	if err != nil {
		return res, fmt.Errorf("upload %s: checking %s: %w", local, part, err)
	}
	if got != sum {
		_ = cl.Remove(part)
		return res, fmt.Errorf("upload %s: %s has sha256 %s on the MT, want %s; removed it, re-run to send it again", local, part, got, sum)
	}
	if err := cl.PosixRename(part, remote); err != nil {
		return res, fmt.Errorf("upload %s: rename %s: %w", local, part, err)
	}
	return res, nil
}

// remoteSHA256 hashes a file on the MT (the first n bytes when n >= 0)
// with the command its Shell names.
func (s *Conn) remoteSHA256(ctx context.Context, file string, n int64) (string, error) {
	out, err := s.runLine(ctx, nil, s.cfg.Shell.SHA256(file, n, s.elevate()), "sha256 "+file)
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(out))
	if len(f) == 0 || len(f[0]) != 64 {
		return "", fmt.Errorf("sha256 %s: unexpected output %q", file, out)
	}
	return strings.ToLower(f[0]), nil
}

// ctxReader stops a copy when the context ends and reports progress.
type ctxReader struct {
	ctx         context.Context
	r           io.Reader
	done, total int64
	prog        progress.Func
	stage       string
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	c.done += int64(n)
	if c.prog != nil {
		c.prog(c.stage, c.done, c.total)
	}
	if errors.Is(err, io.EOF) && c.prog != nil {
		c.prog(c.stage, c.done, c.total)
	}
	return n, err
}
