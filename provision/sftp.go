package provision

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/pkg/sftp"

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

func (s *SSHConn) sftpTuning() (packet, concurrency int) {
	packet, concurrency = s.cfg.SFTPPacket, s.cfg.SFTPConcurrency
	if packet <= 0 {
		packet = DefaultSFTPPacket
	}
	if concurrency <= 0 {
		concurrency = DefaultSFTPConcurrency
	}
	return packet, concurrency
}

// UploadDir is where the MT's uploads go: /root/mtprep for root; for
// another user (whose commands go through sudo, but whose SFTP session
// cannot write under /root) mtprep/ in the user's SFTP home, which the
// scripts then read as root.
func (s *SSHConn) UploadDir() (string, error) {
	if s.cfg.User == "root" || s.cfg.User == "" {
		return rootWorkDir, nil
	}
	cl, err := s.sftpClient()
	if err != nil {
		return "", err
	}
	defer cl.Close()
	home, err := cl.Getwd()
	if err != nil {
		return "", fmt.Errorf("sftp %s: home directory of %s: %w", s.addr(), s.cfg.User, err)
	}
	return path.Join(home, "mtprep"), nil
}

// uploadDirText names UploadDir for a plan, without a connection.
func uploadDirText(user string) string {
	if user == "root" || user == "" {
		return rootWorkDir
	}
	return "~" + user + "/mtprep"
}

// sftpClient opens an SFTP session on the shared connection, with
// concurrent writes of DefaultSFTPPacket bytes.
func (s *SSHConn) sftpClient() (*sftp.Client, error) {
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
func (s *SSHConn) resumeWindow() int64 {
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
func (s *SSHConn) Upload(ctx context.Context, local, remote string, prog progress.Func) (*UploadResult, error) {
	sum, size, err := fileSHA256(ctx, local, 0)
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
		want, _, err := fileSHA256(ctx, local, at)
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
// with coreutils, which CentOS 6 has.
func (s *SSHConn) remoteSHA256(ctx context.Context, file string, n int64) (string, error) {
	var out []byte
	var err error
	if n >= 0 {
		out, err = s.Script(ctx, "head -c \"$2\" -- \"$1\" | sha256sum\n", nil, file, fmt.Sprint(n))
	} else {
		out, err = s.Run(ctx, "sha256sum", "--", file)
	}
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(out))
	if len(f) == 0 || len(f[0]) != 64 {
		return "", fmt.Errorf("sha256sum %s: unexpected output %q", file, out)
	}
	return f[0], nil
}

// fileSHA256 hashes a local file (the first n bytes when n > 0).
func fileSHA256(ctx context.Context, name string, n int64) (string, int64, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", 0, err
	}
	var r io.Reader = &ctxReader{ctx: ctx, r: f}
	if n > 0 {
		r = io.LimitReader(r, n)
	}
	h := sha256.New()
	if _, err := io.CopyBuffer(h, r, make([]byte, 1<<20)); err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), fi.Size(), nil
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
