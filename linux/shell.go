package linux

import (
	"fmt"
	"path"
)

// Paths on a Linux MT (CentOS 6.6 and Ubuntu 16.04 alike). The home
// directory, never /usr/local (ASR docs: an agent unpacked there fails to
// install).
const (
	// WorkDir is where root's uploads go and the agent is unpacked under.
	WorkDir = "/root/mtprep"
	// StateDir holds mtprep's markers and the guest lock.
	StateDir = "/root/.mtprep"
)

// Shell runs commands on a Linux MT: POSIX quoting, scripts on bash's
// stdin (bash 4.1 on CentOS 6, 4.3 on Ubuntu 16.04, where sh is dash),
// sudo -n for a user other than root (it needs a NOPASSWD rule). It
// implements guest.Shell.
type Shell struct {
	// RunDir is emptied by every boot, which the reboot marker relies
	// on: "" is /var/run (CentOS 6's rc.sysinit deletes its files); Ubuntu
	// 16.04 gives /run (a tmpfs systemd mounts at every boot).
	RunDir string
}

// Admin is root.
func (Shell) Admin() string { return "root" }

func elevated(line string, elevate bool) string {
	if elevate {
		return "sudo -n -- " + line
	}
	return line
}

// Command quotes every argument for a POSIX shell.
func (Shell) Command(args []string, elevate bool) string {
	return elevated(QuoteCommand(args...), elevate)
}

// Script runs the script under bash with its arguments quoted. Braces make
// bash parse the whole script before running any of it, so a `read` in
// the script gets the stdin data that follows, not the script's own next
// line.
func (Shell) Script(script string, args []string, elevate bool) (string, string) {
	return elevated("bash -s -- "+QuoteCommand(args...), elevate), "{\n" + script + "\n}\n"
}

// WorkDir is /root/mtprep for root; for another user (whose SFTP session
// cannot write under /root) mtprep/ in the user's SFTP home, which the
// scripts then read as root.
func (Shell) WorkDir(user string, home func() (string, error)) (string, error) {
	if user == "root" || user == "" {
		return WorkDir, nil
	}
	h, err := home()
	if err != nil {
		return "", err
	}
	return path.Join(h, "mtprep"), nil
}

// WorkDirText names WorkDir for a plan, without a connection.
func WorkDirText(user string) string {
	if user == "root" || user == "" {
		return WorkDir
	}
	return "~" + user + "/mtprep"
}

// StateDir is /root/.mtprep.
func (Shell) StateDir() string { return StateDir }

// Reboot marks the boot in RunDir, which every boot empties, and reboots
// a second later so the command itself returns.
func (sh Shell) Reboot(marker string, elevate bool) (mark, reboot, newBoot string) {
	dir := sh.RunDir
	if dir == "" {
		dir = "/var/run"
	}
	m := dir + "/mtprep-reboot-" + marker
	return elevated(QuoteCommand("touch", m), elevate),
		elevated("nohup sh -c 'sleep 1; reboot' >/dev/null 2>&1 &", elevate),
		elevated(QuoteCommand("test", "!", "-e", m), elevate)
}

// SHA256 uses coreutils' sha256sum (8.4 on CentOS 6, 8.25 on 16.04).
func (Shell) SHA256(file string, n int64, elevate bool) string {
	if n < 0 {
		return elevated(QuoteCommand("sha256sum", "--", file), elevate)
	}
	// One shell for the pipe; the inner command line is quoted once more.
	inner := fmt.Sprintf("head -c %d -- %s | sha256sum", n, Quote(file))
	return elevated(QuoteCommand("sh", "-c", inner), elevate)
}
