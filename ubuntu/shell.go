package ubuntu

import (
	"fmt"
	"path"
)

// Paths on an Ubuntu MT, as on CentOS: the home directory, never
// /usr/local (ASR docs: an agent unpacked there fails to install).
const (
	// WorkDir is where root's uploads go and the agent is unpacked under.
	WorkDir = "/root/mtprep"
	// StateDir holds mtprep's markers and the guest lock.
	StateDir = "/root/.mtprep"
)

// Shell runs commands on Ubuntu 16.04: POSIX quoting, scripts on bash
// 4.3's stdin (bash is there on every install; sh is dash), sudo -n for a
// user other than root (it needs a NOPASSWD rule). It implements
// guest.Shell.
type Shell struct{}

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

// Script runs the script under bash with its arguments quoted; braces make
// bash parse the whole script before running any of it, so a `read` in
// the script gets the stdin data that follows.
func (Shell) Script(script string, args []string, elevate bool) (string, string) {
	return elevated("bash -s -- "+QuoteCommand(args...), elevate), "{\n" + script + "\n}\n"
}

// WorkDir is /root/mtprep for root; for another user mtprep/ in the
// user's SFTP home, which the scripts then read as root.
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

// StateDir is /root/.mtprep.
func (Shell) StateDir() string { return StateDir }

// Reboot marks the boot in /run, a tmpfs on 16.04 (systemd mounts it at
// every boot), and reboots a second later so the command itself returns.
func (Shell) Reboot(marker string, elevate bool) (mark, reboot, newBoot string) {
	m := "/run/mtprep-reboot-" + marker
	return elevated(QuoteCommand("touch", m), elevate),
		elevated("nohup sh -c 'sleep 1; reboot' >/dev/null 2>&1 &", elevate),
		elevated(QuoteCommand("test", "!", "-e", m), elevate)
}

// SHA256 uses coreutils' sha256sum (8.25 on 16.04).
func (Shell) SHA256(file string, n int64, elevate bool) string {
	if n < 0 {
		return elevated(QuoteCommand("sha256sum", "--", file), elevate)
	}
	inner := fmt.Sprintf("head -c %d -- %s | sha256sum", n, Quote(file))
	return elevated(QuoteCommand("sh", "-c", inner), elevate)
}
