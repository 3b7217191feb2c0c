package provision

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"

	version "github.com/hashicorp/go-version"

	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/provision/spec"
)

// SSH returns the target's one SSH connection, dialling it on first use;
// every guest phase shares it (one connection per host).
func (t *Target) SSH(ctx context.Context) (*guest.Conn, error) {
	if t.ssh != nil {
		return t.ssh, nil
	}
	if t.sshErr != nil {
		return nil, t.sshErr
	}
	if t.OS == nil || t.OS.Shell == nil {
		return nil, fmt.Errorf("%s: no shell for os %q: mtprep cannot run commands on it", t.Spec.Name, t.Spec.OS)
	}
	c, err := guest.Dial(ctx, SSHConfigFor(t.Spec, t.OS.Shell, t.Env, t.Log))
	if err != nil {
		// A plan checks every guest phase of an MT that may not be
		// installed yet: dial once, not once per phase (each waits for
		// the connect timeout). A build stops at the failing phase.
		if t.planning {
			t.sshErr = err
		}
		return nil, err
	}
	t.ssh = c
	t.sshDone = append(t.sshDone, c)
	t.OnClose(func() error { t.ssh = nil; return c.Close() })
	return c, nil
}

// SSHConfigFor builds the SSH settings of the spec's MT, whose OS runs
// commands the way sh says.
func SSHConfigFor(s *spec.Spec, sh guest.Shell, env spec.LookupEnv, log *slog.Logger) guest.Config {
	return guest.Config{
		Address: s.SSH.Address, Port: s.SSH.Port, User: s.SSH.User, PrivateKey: s.SSH.PrivateKey, Shell: sh,
		KeyPassphrase: s.SSH.KeyPassphrase, KnownHosts: s.SSH.KnownHosts, HostKey: s.SSH.HostKey, Env: env, Log: log,
	}
}

// SSHRoundTrips sums the SSH round trips of the run so far, also after
// Close: the guest phases' cost in latency (sessions) and connections.
func (t *Target) SSHRoundTrips() guest.Stats {
	var sum guest.Stats
	for _, c := range t.sshDone {
		s := c.Stats()
		sum.Dials += s.Dials
		sum.Sessions += s.Sessions
		sum.Commands += s.Commands
		sum.SFTP += s.SFTP
	}
	return sum
}

// OSInfo is the MT's OS as its release file says.
type OSInfo struct {
	ID, Version, Release string // "centos", "6.6", the file's line
}

var releaseRe = regexp.MustCompile(`^(CentOS|Red Hat Enterprise Linux Server|Red Hat Enterprise Linux)( Linux)? release ([0-9]+(\.[0-9]+)*)`)

// ParseRelease reads /etc/centos-release or /etc/redhat-release; CentOS 6
// has no /etc/os-release.
func ParseRelease(line string) (OSInfo, error) {
	line = strings.TrimSpace(line)
	m := releaseRe.FindStringSubmatch(line)
	if m == nil {
		return OSInfo{Release: line}, fmt.Errorf("unrecognised release %q", line)
	}
	id := "rhel"
	if m[1] == "CentOS" {
		id = "centos"
	}
	return OSInfo{ID: id, Version: m[3], Release: line}, nil
}

// releaseScript prints the MT's OS release line. CentOS 6 has no
// /etc/os-release; packages-state.sh prints the same line as "release …".
const releaseScript = "cat /etc/centos-release 2>/dev/null || cat /etc/redhat-release 2>/dev/null || { [ -f /etc/os-release ] && . /etc/os-release && echo \"$PRETTY_NAME\"; }\n"

// CheckOS refuses anything but CentOS 6.6 unless allowed: ASR's Linux MT
// procedure supports only CentOS 6.6 minimal. The release is read once
// per run (a reboot does not change it).
func (t *Target) CheckOS(ctx context.Context) (OSInfo, error) {
	if t.osRelease == "" {
		c, err := t.SSH(ctx)
		if err != nil {
			return OSInfo{}, err
		}
		out, err := c.Script(ctx, releaseScript, nil)
		if err != nil {
			return OSInfo{}, fmt.Errorf("reading the OS release: %w", err)
		}
		t.osRelease = firstLine(string(out))
	}
	return t.checkRelease(t.osRelease)
}

// checkRelease applies CheckOS's rule to a release line.
func (t *Target) checkRelease(line string) (OSInfo, error) {
	info, perr := ParseRelease(line)
	want := version.Must(version.NewVersion("6.6"))
	ok := perr == nil && info.ID == "centos"
	if ok {
		v, err := version.NewVersion(info.Version)
		ok = err == nil && v.Equal(want)
	}
	if !ok && !t.Options.AllowOS {
		return info, fmt.Errorf("the MT runs %q, not CentOS 6.6: ASR's Linux master target needs CentOS 6.6 minimal (--allow-os to go on anyway)", info.Release)
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
