package lab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/template"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
	"golang.org/x/sys/unix"
)

// GuestState is where a guest is in its life.
type GuestState string

const (
	GuestStarting    GuestState = "starting"
	GuestRunning     GuestState = "running"
	GuestMaintenance GuestState = "maintenance" // a file system check failed at boot: no sshd
	GuestShutdown    GuestState = "shutting-down"
	GuestOff         GuestState = "off"
	GuestStopped     GuestState = "stopped" // the guest init has exited
)

// Guest is one lab MT: a real OpenSSH sshd restricted to OpenSSH 5.3p1's
// algorithms, in its own network namespace, on an isolated root that looks
// like CentOS 6.6.
type Guest struct {
	Name string // g1, g2, ...
	// Flavour is the guest's OS: FlavourCentOS or FlavourUbuntu.
	Flavour  string
	Hostname string // from /etc/sysconfig/network at boot
	// VMName is the VM the lab created in its vCenter for this guest, with
	// its disks presented here (see Lab.CreateVM, Lab.PresentDisks).
	VMName  string
	Address string // IPv4 address on the lab network
	SSHPort int
	// Root is the guest's root directory as seen from the host: an overlay
	// of the host's / with a private upper layer (a tmpfs). Mounts made in
	// the guest do not show here; use Exec or SSH for those.
	Root  string
	Netns string // name of the network namespace (ip netns)
	// HostKeyPublic is the guest's RSA host key, generated for this run.
	HostKeyPublic      ssh.PublicKey
	HostKeyFingerprint string // SHA256:...
	KnownHostsFile     string // known_hosts with every lab guest's host key
	UserKeyFile        string // RSA private key (PEM) authorized for root

	userSigner ssh.Signer
	lab        *Lab
	log        *slog.Logger
	upper      string

	mu        sync.Mutex
	changed   chan struct{}
	state     GuestState
	boots     []BootReport
	initPid   int
	initStart uint64
	ready     bool
	initErr   string
	exited    chan struct{}
	readers   sync.WaitGroup
	disks     []*Disk
	nextDM    int
	nextSD    int
}

// guestTemplateData fills the .tmpl files of guestfs/base.
type guestTemplateData struct {
	Hostname, Address, Gateway, RootUUID string
}

// guestGone lists the host files the guest must not have: Debian's
// identity, services and host keys.
func guestGone() []string {
	gone := []string{
		"/etc/os-release", "/usr/lib/os-release", "/etc/debian_version", "/etc/lsb-release",
		"/etc/hostname", "/etc/motd", "/etc/ssh/sshd_config.d", "/etc/init.d", "/etc/rcS.d",
		"/etc/fstab", "/etc/yum.repos.d", "/etc/machine-id",
	}
	for n := 0; n <= 6; n++ {
		gone = append(gone, fmt.Sprintf("/etc/rc%d.d", n))
	}
	for _, k := range []string{"rsa", "dsa", "ecdsa", "ed25519"} {
		gone = append(gone, "/etc/ssh/ssh_host_"+k+"_key", "/etc/ssh/ssh_host_"+k+"_key.pub")
	}
	return gone
}

// guestFresh lists the directories the guest gets empty, whatever the host
// has there: the host's files stay out of the guest's sight (/root and /tmp
// of a CI host hold gigabytes), and the guest's writes stay its own.
func guestFresh() map[string]os.FileMode {
	return map[string]os.FileMode{
		"/root": 0o550, "/home": 0o755, "/tmp": 0o1777, "/var/tmp": 0o1777,
		"/mnt": 0o755, "/usr/local": 0o755, "/opt": 0o755, "/var/log": 0o755,
		"/var/lib/rpm": 0o755, "/var/cache/yum": 0o755, "/var/lib/yum": 0o755,
		"/var/cache/dnf": 0o755, "/var/lib/dnf": 0o755, "/srv": 0o755,
	}
}

// prepareUpper writes the guest's deletions into the overlay's upper layer
// before it is mounted, in overlayfs's own on-disk format: a whiteout (a
// 0:0 character device) hides a lower file, a directory with the
// trusted.overlay.opaque xattr hides a lower directory's contents. Deleting
// through the mounted overlay would instead write one whiteout per host
// file (hundreds of thousands under /root).
func prepareUpper(upper string, extraFresh map[string]os.FileMode) error {
	mkdirLike := func(p string) error {
		// Parent directories take the host's mode and owner: in an
		// overlay the upper directory's attributes win.
		rel := strings.TrimPrefix(filepath.Dir(p), upper)
		cur := upper
		for _, part := range strings.Split(strings.Trim(rel, "/"), "/") {
			if part == "" {
				continue
			}
			cur = filepath.Join(cur, part)
			if _, err := os.Lstat(cur); err == nil {
				continue
			}
			host := strings.TrimPrefix(cur, upper)
			st, err := os.Lstat(host)
			if err != nil || !st.IsDir() {
				return fmt.Errorf("guest path %s: host has no directory %s", p, host)
			}
			if err := os.Mkdir(cur, st.Mode().Perm()); err != nil {
				return err
			}
			sys := st.Sys().(*syscall.Stat_t)
			os.Chown(cur, int(sys.Uid), int(sys.Gid))
			os.Chmod(cur, st.Mode().Perm()|st.Mode()&os.ModeSticky)
		}
		return nil
	}
	for _, p := range guestGone() {
		if _, err := os.Lstat(p); err != nil {
			continue // not on the host, nothing to hide
		}
		up := filepath.Join(upper, p)
		if err := mkdirLike(up); err != nil {
			return err
		}
		if err := unix.Mknod(up, unix.S_IFCHR, 0); err != nil {
			return fmt.Errorf("whiteout %s: %w", p, err)
		}
	}
	fresh := guestFresh()
	for p, mode := range extraFresh {
		fresh[p] = mode
	}
	for p, mode := range fresh {
		up := filepath.Join(upper, p)
		if err := mkdirLike(up); err != nil {
			return err
		}
		if err := os.Mkdir(up, 0o755); err != nil {
			return err
		}
		if err := unix.Chmod(up, uint32(mode)&0o7777); err != nil {
			return err
		}
		if err := unix.Setxattr(up, "trusted.overlay.opaque", []byte("y"), 0); err != nil {
			return fmt.Errorf("opaque %s: %w", p, err)
		}
	}
	return nil
}

// populate turns the fresh overlay into a CentOS 6.6 look-alike. It works
// through rootFS only: the overlay's lower layer is the host's real root.
func (g *Guest) populate(hostKey *rsaKey, userPub []byte, data guestTemplateData) error {
	rfs, err := openRootFS(g.Root)
	if err != nil {
		return err
	}
	defer rfs.Close()
	for _, d := range []string{
		"/usr/local/bin", "/usr/local/sbin", "/usr/local/lib", "/usr/local/share", "/usr/local/src",
		"/var/crash", "/var/lib/mtlab", "/var/log/mtlab", "/etc/yum/vars", "/etc/yum.repos.d",
		"/etc/rc.d/init.d", "/usr/libexec/openssh", "/etc/pki/rpm-gpg",
	} {
		if err := rfs.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	for _, f := range []string{"/var/log/lastlog", "/var/log/wtmp", "/var/log/messages", "/var/log/secure"} {
		if err := rfs.WriteFile(f, nil, 0o644); err != nil {
			return err
		}
	}
	// The files of guestfs/base, templates rendered.
	err = fs.WalkDir(guestFiles, "guestfs/base", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := guestFiles.ReadFile(p)
		if err != nil {
			return err
		}
		dst := strings.TrimPrefix(p, "guestfs/base")
		if strings.HasSuffix(dst, ".tmpl") {
			dst = strings.TrimSuffix(dst, ".tmpl")
			t, err := template.New(dst).Option("missingkey=error").Parse(string(b))
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			if err := t.Execute(&buf, data); err != nil {
				return err
			}
			b = buf.Bytes()
		}
		return rfs.WriteFile(dst, b, guestFileMode(dst))
	})
	if err != nil {
		return err
	}
	for target, link := range map[string]string{
		"centos-release":               "/etc/system-release",
		"rc.d/init.d":                  "/etc/init.d",
		"reboot":                       "/sbin/halt",
		"telinit":                      "/sbin/init",
		"/usr/lib/openssh/sftp-server": "/usr/libexec/openssh/sftp-server",
	} {
		if err := rfs.Symlink(target, link); err != nil {
			return err
		}
	}
	if err := rfs.Symlink("reboot", "/sbin/poweroff"); err != nil {
		return err
	}
	for n := 0; n <= 6; n++ {
		if err := rfs.MkdirAll(fmt.Sprintf("/etc/rc.d/rc%d.d", n), 0o755); err != nil {
			return err
		}
		if err := rfs.Symlink(fmt.Sprintf("rc.d/rc%d.d", n), fmt.Sprintf("/etc/rc%d.d", n)); err != nil {
			return err
		}
	}
	if err := rfs.WriteFile("/etc/ssh/ssh_host_rsa_key", hostKey.PEM, 0o600); err != nil {
		return err
	}
	if err := rfs.WriteFile("/etc/ssh/ssh_host_rsa_key.pub", hostKey.authorizedLine("root@"+data.Hostname), 0o644); err != nil {
		return err
	}
	if err := rfs.MkdirAll("/root/.ssh", 0o700); err != nil {
		return err
	}
	if err := rfs.Chmod("/root/.ssh", 0o700); err != nil {
		return err
	}
	return rfs.WriteFile("/root/.ssh/authorized_keys", userPub, 0o600)
}

// guestFileMode is the mode of a file copied from guestfs/base.
func guestFileMode(p string) os.FileMode {
	switch {
	case strings.HasSuffix(p, "/functions"):
		return 0o644
	case strings.HasPrefix(p, "/sbin/"), strings.HasPrefix(p, "/usr/bin/"), strings.HasPrefix(p, "/etc/rc.d/init.d/"):
		return 0o755
	}
	return 0o644
}

// start runs the guest init in the guest's namespaces and waits for the
// first boot.
func (g *Guest) start(ctx context.Context, delay time.Duration) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		return err
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return err
	}
	logR, logW, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd := exec.Command(nsenter, "--net=/run/netns/"+g.Netns, "--", self)
	cmd.Env = []string{
		guestInitEnv + "=1", guestRootEnv + "=" + g.Root, guestNameEnv + "=" + g.Name,
		guestDelayEnv + "=" + delay.String(), "PATH=" + guestPath,
	}
	cmd.Stdout, cmd.Stderr = logW, logW
	cmd.ExtraFiles = []*os.File{statusW}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// New mount, PID, UTS and IPC namespaces; nsenter puts it in the
		// guest's network namespace, then executes the init as PID 1.
		Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC,
		// If the lab process dies (kill -9 included) the guest dies with it,
		// and with the guest its processes and mounts.
		Pdeathsig: syscall.SIGKILL,
	}
	g.mu.Lock()
	g.changed = make(chan struct{})
	g.exited = make(chan struct{})
	g.state = GuestStarting
	g.mu.Unlock()
	started := make(chan error, 1)
	go func() {
		// The parent-death signal fires when the *thread* that started the
		// child exits, and Go may retire threads. Locking this goroutine to
		// its thread until the child is gone keeps the thread alive; the
		// runtime discards the thread when the goroutine returns locked.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			close(g.exited)
			return
		}
		started <- nil
		werr := cmd.Wait()
		g.mu.Lock()
		g.state = GuestStopped
		if werr != nil && g.initErr == "" {
			g.initErr = werr.Error()
		}
		g.notifyLocked()
		g.mu.Unlock()
		close(g.exited)
	}()
	err = <-started
	statusW.Close()
	logW.Close()
	if err != nil {
		statusR.Close()
		logR.Close()
		return fmt.Errorf("start guest init: %w", err)
	}
	g.mu.Lock()
	g.initPid = cmd.Process.Pid
	g.initStart = procStart(g.initPid)
	pid, pstart := g.initPid, g.initStart
	g.mu.Unlock()
	// In the registry at once: if the lab is killed from here on, Cleanup
	// finds the init (should the parent-death signal not have ended it).
	if g.lab != nil && g.lab.slot != nil {
		g.lab.slot.update(func(r *Record) {
			r.Procs = append(r.Procs, procRef{Pid: pid, Start: pstart, What: "guest init " + g.Name})
		})
	}
	g.readers.Add(2)
	go g.readStatus(statusR)
	go g.readLog(logR)

	bootCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	rep, err := g.WaitBoot(bootCtx, 1)
	if err != nil {
		return err
	}
	if !rep.SSHD {
		return fmt.Errorf("guest %s first boot failed:\n%s", g.Name, rep.Log)
	}
	return g.WaitSSH(bootCtx)
}

func (g *Guest) notifyLocked() {
	close(g.changed)
	g.changed = make(chan struct{})
}

func (g *Guest) readStatus(r *os.File) {
	defer g.readers.Done()
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for sc.Scan() {
		var ev initEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			g.log.Warn("bad event from guest init", "line", sc.Text())
			continue
		}
		g.mu.Lock()
		switch ev.Type {
		case "ready":
			g.ready = true
		case "boot":
			if ev.Boot != nil {
				g.boots = append(g.boots, *ev.Boot)
				switch {
				case ev.Boot.Maintenance:
					g.state = GuestMaintenance
				case ev.Boot.SSHD:
					g.state = GuestRunning
				default:
					g.state = GuestMaintenance
				}
			}
		case "shutdown":
			g.state = GuestShutdown
		case "off":
			g.state = GuestOff
		case "error":
			g.initErr = ev.Reason
		}
		g.notifyLocked()
		g.mu.Unlock()
		switch ev.Type {
		case "boot":
			b := ev.Boot
			lvl := slog.LevelInfo
			if !b.OK() {
				lvl = slog.LevelWarn
			}
			g.log.Log(context.Background(), lvl, "guest booted", "boot", b.N, "sshd", b.SSHD, "maintenance", b.Maintenance,
				"mounted", b.Mounted, "failed", len(b.Failed), "services", b.Services, "elapsed", b.Finished.Sub(b.Started).Round(time.Millisecond))
			for _, f := range b.Failed {
				g.log.Warn("boot: fstab line failed", "step", f.Step, "spec", f.Spec, "target", f.Target, "output", f.Output)
			}
		case "error":
			g.log.Error("guest init failed", "err", ev.Reason)
		default:
			g.log.Debug("guest event", "type", ev.Type, "reason", ev.Reason)
		}
	}
}

func (g *Guest) readLog(r *os.File) {
	defer g.readers.Done()
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		g.log.Debug("guest output", "line", sc.Text())
	}
}

// waitUntil waits until cond (called with g.mu held) is true.
func (g *Guest) waitUntil(ctx context.Context, cond func() bool) error {
	for {
		g.mu.Lock()
		ok := cond()
		ch := g.changed
		stopped := g.state == GuestStopped
		initErr := g.initErr
		g.mu.Unlock()
		if ok {
			return nil
		}
		if stopped {
			return fmt.Errorf("guest %s: %w (%s)", g.Name, errGuestDown, initErr)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("guest %s: %w", g.Name, ctx.Err())
		}
	}
}

// State returns the guest's current state.
func (g *Guest) State() GuestState {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.state
}

// Boots returns the reports of every boot so far (the first is boot 1).
func (g *Guest) Boots() []BootReport {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]BootReport(nil), g.boots...)
}

// WaitBoot waits until the guest has finished boot n and returns its
// report. A boot that stopped in maintenance (a failed fsck) is finished
// too: check BootReport.OK.
func (g *Guest) WaitBoot(ctx context.Context, n int) (BootReport, error) {
	var rep BootReport
	err := g.waitUntil(ctx, func() bool {
		if len(g.boots) >= n {
			rep = g.boots[n-1]
			return true
		}
		return false
	})
	return rep, err
}

// WaitSSH waits until the guest's sshd accepts TCP connections.
func (g *Guest) WaitSSH(ctx context.Context) error {
	return waitListening(ctx, g.SSHAddr())
}

// SSHAddr is address:port of the guest's sshd.
func (g *Guest) SSHAddr() string { return net.JoinHostPort(g.Address, strconv.Itoa(g.SSHPort)) }

// signal sends sig to the guest init.
func (g *Guest) signal(sig syscall.Signal) error {
	g.mu.Lock()
	pid, start := g.initPid, g.initStart
	g.mu.Unlock()
	if pid == 0 || procStart(pid) != start {
		return fmt.Errorf("guest %s: %w", g.Name, errGuestDown)
	}
	return syscall.Kill(pid, sig)
}

// Reboot reboots the guest from outside, as vSphere's "restart guest" does:
// the same path as reboot typed in the guest. It waits for the boot to
// finish and, when sshd came up, for SSH to answer, and returns the boot's
// report (check BootReport.OK: a bad /etc/fstab line shows there).
func (g *Guest) Reboot(ctx context.Context) (BootReport, error) {
	n := len(g.Boots())
	if err := g.signal(syscall.SIGUSR1); err != nil {
		return BootReport{}, err
	}
	return g.afterBoot(ctx, n+1)
}

func (g *Guest) afterBoot(ctx context.Context, n int) (BootReport, error) {
	rep, err := g.WaitBoot(ctx, n)
	if err != nil {
		return rep, err
	}
	if rep.SSHD {
		return rep, g.WaitSSH(ctx)
	}
	return rep, nil
}

// PowerOff shuts the guest down (rc 0, every process killed, every mount
// unmounted) and leaves it off.
func (g *Guest) PowerOff(ctx context.Context) error {
	if err := g.signal(syscall.SIGUSR2); err != nil {
		return err
	}
	return g.waitUntil(ctx, func() bool { return g.state == GuestOff })
}

// PowerOn boots a guest that is off and waits like Reboot.
func (g *Guest) PowerOn(ctx context.Context) (BootReport, error) {
	n := len(g.Boots())
	if err := g.signal(syscall.SIGHUP); err != nil {
		return BootReport{}, err
	}
	return g.afterBoot(ctx, n+1)
}

// stop ends the guest: a clean shutdown, then SIGKILL of its init if it
// does not exit in time (which takes every guest process with it).
func (g *Guest) stop() {
	g.mu.Lock()
	exited := g.exited
	g.mu.Unlock()
	if exited == nil {
		return
	}
	if g.signal(syscall.SIGTERM) == nil {
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			g.log.Warn("guest init did not stop in time, killing it")
		}
	}
	g.mu.Lock()
	pid, start := g.initPid, g.initStart
	g.mu.Unlock()
	if pid != 0 && procStart(pid) == start {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
	}
	// The log pipe closes when the last guest process is gone.
	done := make(chan struct{})
	go func() { g.readers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		g.log.Warn("guest output still open after stop")
	}
}

// Exec runs a command inside the guest (all its namespaces and its root)
// as root, without SSH, and returns its combined output. Tests use it to
// break things (stop multipathd, unmount retention) or to look at state
// the guest's mounts hide from Root.
func (g *Guest) Exec(ctx context.Context, argv ...string) ([]byte, error) {
	g.mu.Lock()
	pid, ready := g.initPid, g.ready
	g.mu.Unlock()
	if !ready || pid == 0 {
		return nil, fmt.Errorf("guest %s: %w", g.Name, errGuestDown)
	}
	args := append([]string{"-t", strconv.Itoa(pid), "-m", "-u", "-i", "-n", "-p", "-r", "-w", "--",
		"env", "-i", "PATH=" + guestPath, "HOME=/root", "LANG=C", "TERM=dumb"}, argv...)
	cmd := exec.CommandContext(ctx, "nsenter", args...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("guest %s: %s: %w", g.Name, strings.Join(argv, " "), err)
	}
	return out, nil
}

// guestRootFS opens the guest's root as its init sees it, mounts included
// (its /dev in particular), through /proc/<pid>/root.
func (g *Guest) guestRootFS() (*rootFS, error) {
	g.mu.Lock()
	pid, ready := g.initPid, g.ready
	g.mu.Unlock()
	if !ready || pid == 0 {
		return nil, fmt.Errorf("guest %s: %w", g.Name, errGuestDown)
	}
	return openRootFS(fmt.Sprintf("/proc/%d/root", pid))
}

// Path is the host path of the guest file p in the guest's root file
// system (not in file systems mounted in the guest).
func (g *Guest) Path(p string) string { return filepath.Join(g.Root, p) }

// InitPid is the guest init's PID as the host sees it.
func (g *Guest) InitPid() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.initPid
}

// SSHConfig returns a client configuration that offers only what CentOS
// 6.6's OpenSSH 5.3p1 supports (diffie-hellman-group14-sha1 and
// group-exchange-sha1, aes*-ctr, hmac-sha1, ssh-rsa host keys and
// signatures), logs in as root with the lab's RSA user key, and checks the
// host key strictly against KnownHostsFile.
func (g *Guest) SSHConfig() (*ssh.ClientConfig, error) {
	cb, err := knownhosts.New(g.KnownHostsFile)
	if err != nil {
		return nil, err
	}
	as, ok := g.userSigner.(ssh.AlgorithmSigner)
	if !ok {
		return nil, errors.New("user key cannot choose its signature algorithm")
	}
	signer, err := ssh.NewSignerWithAlgorithms(as, []string{ssh.KeyAlgoRSA})
	if err != nil {
		return nil, err
	}
	return &ssh.ClientConfig{
		Config: ssh.Config{
			KeyExchanges: []string{ssh.InsecureKeyExchangeDH14SHA1, ssh.InsecureKeyExchangeDHGEXSHA1},
			Ciphers:      []string{ssh.CipherAES128CTR, ssh.CipherAES192CTR, ssh.CipherAES256CTR},
			MACs:         []string{ssh.HMACSHA1},
		},
		User:              "root",
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback:   cb,
		HostKeyAlgorithms: []string{ssh.KeyAlgoRSA},
		Timeout:           15 * time.Second,
	}, nil
}

// Dial connects to the guest's sshd with SSHConfig.
func (g *Guest) Dial(ctx context.Context) (*ssh.Client, error) {
	cfg, err := g.SSHConfig()
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", g.SSHAddr())
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, g.SSHAddr(), cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}
