package provision

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mtprep/mtprep/provision/guest"
)

// SSH returns the target's one SSH connection, dialling it on first use;
// every guest phase shares it (one connection per host).
func (t *Target) SSH(ctx context.Context) (*guest.Conn, error) {
	if t.clients.ssh != nil {
		return t.clients.ssh, nil
	}
	if t.clients.sshErr != nil {
		return nil, t.clients.sshErr
	}
	if t.OS == nil || t.OS.Shell == nil {
		return nil, fmt.Errorf("%s: no shell for os %q: mtprep cannot run commands on it", t.Spec.Name, t.Spec.OS)
	}
	c, err := guest.Dial(ctx, guest.ConfigFor(t.Spec, t.OS.Shell, t.Env, t.Log))
	if err != nil && transientDial(err) {
		c, err = t.waitRebootingMT(ctx, err)
	}
	if err != nil {
		// A plan checks every guest phase of an MT that may not be
		// installed yet: dial once, not once per phase (each waits for
		// the connect timeout). A build stops at the failing phase.
		if t.run.planning {
			t.clients.sshErr = err
		}
		return nil, err
	}
	t.clients.ssh = c
	t.clients.sshDone = append(t.clients.sshDone, c)
	t.OnClose(func() error { t.clients.ssh = nil; return c.Close() })
	return c, nil
}

// rebootMarker is a local file the agent phase writes before it reboots
// the MT and removes once the MT is back: a run killed during the reboot
// leaves it, so the next run knows the MT is coming back and waits for it
// rather than failing on a dead connection.
func (t *Target) rebootMarker() string {
	return filepath.Join(t.Options.WorkDir, t.Spec.Name+".rebooting")
}

func (t *Target) rebootTimeout() time.Duration {
	if t.Options.RebootTimeout > 0 {
		return t.Options.RebootTimeout
	}
	return 10 * time.Minute
}

// transientDial: an error an MT going down or coming up gives (refused,
// reset, EOF in the handshake, a timeout); a host key or authentication
// failure is not.
func transientDial(err error) bool {
	var ne net.Error
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.EHOSTUNREACH) || (errors.As(err, &ne) && ne.Timeout())
}

// waitRebootingMT dials again until the reboot mtprep started (its marker)
// is older than the reboot timeout; without a marker it returns err.
func (t *Target) waitRebootingMT(ctx context.Context, err error) (*guest.Conn, error) {
	b, rerr := os.ReadFile(t.rebootMarker())
	if rerr != nil {
		return nil, err
	}
	since, perr := time.Parse(time.RFC3339, strings.TrimSpace(string(b)))
	if perr != nil {
		return nil, err
	}
	deadline := since.Add(t.rebootTimeout())
	last := time.Time{}
	for time.Now().Before(deadline) {
		if now := time.Now(); now.Sub(last) >= 15*time.Second {
			last = now
			t.Log.Info("the MT is coming back from the reboot mtprep started; waiting for SSH", "mt", t.Spec.Name, "rebooted_at", since.Format(time.RFC3339),
				"remaining", time.Until(deadline).Round(time.Second), "last_error", err.Error())
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Second):
		}
		var c *guest.Conn
		if c, err = guest.Dial(ctx, guest.ConfigFor(t.Spec, t.OS.Shell, t.Env, t.Log)); err == nil {
			return c, nil
		}
		if !transientDial(err) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("%w (the MT did not come back within %s of the reboot mtprep started at %s: check its console, or raise --reboot-timeout)", err, t.rebootTimeout(), since.Format(time.RFC3339))
}

// SSHRoundTrips sums the SSH round trips of the run so far, also after
// Close: the guest phases' cost in latency (sessions) and connections.
func (t *Target) SSHRoundTrips() guest.Stats {
	var sum guest.Stats
	for _, c := range t.clients.sshDone {
		s := c.Stats()
		sum.Dials += s.Dials
		sum.Sessions += s.Sessions
		sum.Commands += s.Commands
		sum.SFTP += s.SFTP
	}
	return sum
}

// CheckOS refuses an MT that does not run its OS's release (--allow-os
// goes on anyway): ASR's Linux MT procedure is written for one release.
// The release is read once per run (a reboot does not change it).
func (t *Target) CheckOS(ctx context.Context) (guest.ReleaseInfo, error) {
	if t.OS == nil || t.OS.Release == nil {
		return guest.ReleaseInfo{}, fmt.Errorf("no release check for os %q", t.Spec.OS)
	}
	if t.run.osRelease == "" {
		c, err := t.SSH(ctx)
		if err != nil {
			return guest.ReleaseInfo{}, err
		}
		info, err := t.OS.Release.Read(ctx, c)
		if err != nil {
			return guest.ReleaseInfo{}, err
		}
		t.run.osRelease = info.Line
	}
	return t.checkRelease(t.run.osRelease)
}

// checkRelease applies CheckOS's rule to a release line.
func (t *Target) checkRelease(line string) (guest.ReleaseInfo, error) {
	info := t.OS.Release.Parse(line)
	if !info.Supported && !t.Options.AllowOS {
		want := t.OS.Release.Want()
		return info, fmt.Errorf("the MT runs %q, not %s: ASR's Linux master target needs %s minimal (--allow-os to go on anyway)", info.Line, want, want)
	}
	return info, nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// lookupOS is l(name), false when there is no lookup.
func lookupOS(l guest.Lookup, name string) (*guest.OS, bool) {
	if l == nil {
		return nil, false
	}
	return l(name)
}
