package lab

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The guest init is the lab's stand-in for the MT's upstart: PID 1 of the
// guest's PID namespace, in the guest's mount, UTS, IPC and network
// namespaces. The lab starts it by re-executing its own binary (the test
// binary or mtlab) with guestInitEnv set; the package's init function below
// then runs the guest init instead of the program. Being PID 1 is what makes
// the guest disposable: when it dies, the kernel kills every process of the
// guest and, with them, the guest's mount namespace and its mounts.
//
// It boots like CentOS 6's rc.sysinit + rc 3 in miniature: host name from
// /etc/sysconfig/network, fsck of the /etc/fstab entries with a pass number
// (a failure stops the boot before sshd, as the real maintenance shell
// does), mount of the rest of /etc/fstab (a failure is reported and the boot
// goes on, as with the real mount -a), the S scripts of /etc/rc.d/rc3.d,
// then sshd. SIGUSR1 reboots (K scripts of rc6.d, every process killed, so
// SSH connections drop, every mount but the root and the pseudo file systems
// unmounted, a pause, boot again); SIGUSR2 powers off until SIGHUP; SIGTERM
// shuts down and exits. It reports to the lab as JSON lines on fd 3.
const (
	guestInitEnv     = "MTLAB_GUEST_INIT"
	guestRootEnv     = "MTLAB_GUEST_ROOT"
	guestNameEnv     = "MTLAB_GUEST_NAME"
	guestDelayEnv    = "MTLAB_REBOOT_DELAY"
	guestPath        = "/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin"
	oldRootDir       = ".mtlab-oldroot"
	bootLogPath      = "/var/log/mtlab/boot.log"
	serviceTimeout   = 60 * time.Second
	shutdownGrace    = 500 * time.Millisecond
	terminateTimeout = 3 * time.Second
)

func init() {
	// Only in the re-executed copy: the variable is set by the lab for the
	// one process it starts inside the guest's namespaces, never inherited
	// further (the guest init clears it).
	if os.Getenv(guestInitEnv) == "1" && os.Getpid() == 1 {
		// ps in the guest shows "init" for PID 1, as on CentOS. Package
		// initialisation runs on the main thread, whose name is the
		// process's.
		unix.Prctl(unix.PR_SET_NAME, uintptrOf("init"), 0, 0, 0)
		os.Exit(guestInitMain())
	}
}

// BootReport is what one boot of a guest did.
type BootReport struct {
	N        int       `json:"n"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Mounted lists the /etc/fstab mount points this boot mounted.
	Mounted []string `json:"mounted,omitempty"`
	// Failed lists the /etc/fstab lines that failed their check or mount.
	Failed []MountFailure `json:"failed,omitempty"`
	// Maintenance is set when a file system check failed: CentOS 6 then
	// stops in a maintenance shell before the network services, so sshd
	// does not start and the guest is unreachable until the lab reboots it.
	Maintenance bool `json:"maintenance,omitempty"`
	// Services lists the rc3.d scripts that were started, ServiceFailures
	// those that failed.
	Services        []string `json:"services,omitempty"`
	ServiceFailures []string `json:"service_failures,omitempty"`
	SSHD            bool     `json:"sshd"`
	Log             string   `json:"log"`
}

// OK reports whether the boot had no failure at all.
func (b BootReport) OK() bool {
	return len(b.Failed) == 0 && !b.Maintenance && len(b.ServiceFailures) == 0 && b.SSHD
}

// MountFailure is one /etc/fstab line that did not come up at boot.
type MountFailure struct {
	Spec   string `json:"spec"`
	Target string `json:"target"`
	FSType string `json:"fstype"`
	Step   string `json:"step"` // "fsck" or "mount"
	Output string `json:"output"`
}

// initEvent is one status line from the guest init to the lab.
type initEvent struct {
	Type   string      `json:"type"` // ready, boot, shutdown, off, error
	Reason string      `json:"reason,omitempty"`
	Boot   *BootReport `json:"boot,omitempty"`
}

type guestInit struct {
	status  io.Writer
	statMu  sync.Mutex
	name    string
	delay   time.Duration
	base    map[int]bool // mount IDs that survive a reboot
	reap    *reaper
	boots   int
	sshdPid int
}

func guestInitMain() int {
	in := &guestInit{
		status: os.NewFile(3, "status"),
		name:   os.Getenv(guestNameEnv),
		reap:   &reaper{waiters: map[int]chan unix.WaitStatus{}},
	}
	in.delay, _ = time.ParseDuration(os.Getenv(guestDelayEnv))
	root := os.Getenv(guestRootEnv)
	os.Unsetenv(guestInitEnv)
	os.Unsetenv(guestRootEnv)
	os.Unsetenv(guestNameEnv)
	os.Unsetenv(guestDelayEnv)
	os.Setenv("PATH", guestPath)

	chld := make(chan os.Signal, 64)
	signal.Notify(chld, syscall.SIGCHLD)
	go in.reap.loop(chld)

	if err := in.setup(root); err != nil {
		in.emit(initEvent{Type: "error", Reason: err.Error()})
		fmt.Fprintf(os.Stderr, "guest init: %v\n", err)
		return 1
	}
	in.emit(initEvent{Type: "ready"})

	ctl := make(chan os.Signal, 8)
	signal.Notify(ctl, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	in.boot()
	off := false
	for sig := range ctl {
		switch sig {
		case syscall.SIGUSR1, syscall.SIGINT: // reboot (and ctrl-alt-del)
			if !off {
				in.shutdown("reboot")
			}
			time.Sleep(in.delay)
			off = false
			in.boot()
		case syscall.SIGUSR2: // power off
			if !off {
				in.shutdown("poweroff")
				off = true
				in.emit(initEvent{Type: "off"})
			}
		case syscall.SIGHUP: // power on
			if off {
				off = false
				in.boot()
			}
		case syscall.SIGTERM: // the lab is shutting down
			if !off {
				in.shutdown("terminate")
			}
			return 0
		}
	}
	return 0
}

func (in *guestInit) emit(ev initEvent) {
	b, _ := json.Marshal(ev)
	in.statMu.Lock()
	defer in.statMu.Unlock()
	in.status.Write(append(b, '\n'))
}

func (in *guestInit) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "guest %s init: %s\n", in.name, fmt.Sprintf(format, args...))
}

// setup builds the guest's view of the system and pivots into it.
func (in *guestInit) setup(root string) error {
	// The new mount namespace starts as a copy of the host's; without this
	// a mount made in the guest could propagate back to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err != nil || st.Type != overlayMagic {
		return fmt.Errorf("guest root %q is not the lab's overlay mount", root)
	}
	type m struct {
		src, dst, fstype string
		flags            uintptr
		data             string
	}
	for _, x := range []m{
		{"proc", "proc", "proc", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
		{"sysfs", "sys", "sysfs", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RDONLY, ""},
		{"devtmpfs", "dev", "tmpfs", unix.MS_NOSUID, "mode=0755,size=16m"},
	} {
		if err := unix.Mount(x.src, filepath.Join(root, x.dst), x.fstype, x.flags, x.data); err != nil {
			return fmt.Errorf("mount %s on /%s: %w", x.fstype, x.dst, err)
		}
	}
	dev := filepath.Join(root, "dev")
	for _, n := range []struct {
		name         string
		major, minor uint32
	}{{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}} {
		p := filepath.Join(dev, n.name)
		if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(n.major, n.minor))); err != nil {
			return fmt.Errorf("mknod /dev/%s: %w", n.name, err)
		}
		unix.Chmod(p, 0o666)
	}
	for _, d := range []string{"pts", "shm", "mapper", "disk/by-id", "disk/by-uuid"} {
		if err := os.MkdirAll(filepath.Join(dev, d), 0o755); err != nil {
			return err
		}
	}
	// A private devpts instance: sshd allocates PTYs here, not among the
	// host's.
	if err := unix.Mount("devpts", filepath.Join(dev, "pts"), "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5"); err != nil {
		return fmt.Errorf("mount devpts: %w", err)
	}
	for name, target := range map[string]string{
		"ptmx": "pts/ptmx", "fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2",
	} {
		if err := os.Symlink(target, filepath.Join(dev, name)); err != nil {
			return err
		}
	}
	old := filepath.Join(root, oldRootDir)
	if err := os.MkdirAll(old, 0o700); err != nil {
		return err
	}
	if err := unix.PivotRoot(root, old); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	if err := unix.Unmount("/"+oldRootDir, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the host's root: %w", err)
	}
	os.Remove("/" + oldRootDir)
	ms, err := readMountinfo("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	in.base = map[int]bool{}
	for _, m := range ms {
		in.base[m.ID] = true
	}
	return nil
}

// boot brings the guest up once and reports what happened.
func (in *guestInit) boot() {
	in.boots++
	r := &BootReport{N: in.boots, Started: time.Now()}
	var log strings.Builder
	say := func(format string, args ...any) {
		fmt.Fprintf(&log, format+"\n", args...)
	}
	say("mtlab guest init: boot %d of %s", r.N, in.name)
	defer func() {
		r.Finished = time.Now()
		r.Log = log.String()
		os.MkdirAll(filepath.Dir(bootLogPath), 0o755)
		os.WriteFile(bootLogPath, []byte(r.Log), 0o644)
		in.emit(initEvent{Type: "boot", Boot: r})
	}()

	// What CentOS 6's rc.sysinit does before the file systems: a fresh
	// /var/run (a tmpfs here) and the host name.
	if err := unix.Mount("tmpfs", "/run", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=64m"); err != nil {
		say("mount /run: %v", err)
	}
	for _, d := range []string{"/run/sshd", "/run/lock/subsys", "/run/mtlab"} {
		os.MkdirAll(d, 0o755)
	}
	if hn := sysconfigHostname(); hn != "" {
		if err := unix.Sethostname([]byte(hn)); err != nil {
			say("set host name %q: %v", hn, err)
		} else {
			say("Setting hostname %s:  [  OK  ]", hn)
		}
	}

	in.udevLinks(say)

	entries, err := readFstab("/etc/fstab")
	if err != nil {
		say("read /etc/fstab: %v", err)
	}
	mounted := in.mountedTargets()
	// Checking file systems (rc.sysinit runs fsck -A before mount -a).
	fsckOK := true
	for _, e := range entries {
		if e.skip() || mounted[e.Target] || e.Pass == 0 {
			continue
		}
		args := []string{"fsck", "-T", "-a"}
		if e.FSType != "auto" && e.FSType != "" {
			args = append(args, "-t", e.FSType)
		}
		code, out := in.runCmd(serviceTimeout, append(args, e.Spec)...)
		say("Checking %s (%s): exit %d\n%s", e.Target, e.Spec, code, strings.TrimSpace(out))
		if code >= 4 || code < 0 {
			fsckOK = false
			r.Failed = append(r.Failed, MountFailure{Spec: e.Spec, Target: e.Target, FSType: e.FSType, Step: "fsck", Output: strings.TrimSpace(out)})
		}
	}
	if !fsckOK {
		r.Maintenance = true
		say("\n*** An error occurred during the file system check.\n*** Dropping you to a shell; the system will reboot\n*** when you leave the shell.\n(mtlab: the guest stays down without sshd until the lab reboots it.)")
		return
	}
	for _, e := range entries {
		if e.skip() || mounted[e.Target] {
			continue
		}
		code, out := in.runCmd(serviceTimeout, "mount", e.Target)
		if code != 0 {
			say("Mounting %s: [FAILED] %s", e.Target, strings.TrimSpace(out))
			r.Failed = append(r.Failed, MountFailure{Spec: e.Spec, Target: e.Target, FSType: e.FSType, Step: "mount", Output: strings.TrimSpace(out)})
			continue
		}
		say("Mounting %s: [  OK  ]", e.Target)
		r.Mounted = append(r.Mounted, e.Target)
		mounted[e.Target] = true
	}

	// rc 3: the S scripts, in order.
	scripts, _ := filepath.Glob("/etc/rc.d/rc3.d/S*")
	sort.Strings(scripts)
	for _, s := range scripts {
		name := strings.TrimLeft(filepath.Base(s)[1:], "0123456789")
		code, out := in.runCmd(serviceTimeout, s, "start")
		say("%s start: exit %d %s", name, code, strings.TrimSpace(out))
		if code != 0 {
			r.ServiceFailures = append(r.ServiceFailures, name)
		} else {
			r.Services = append(r.Services, name)
		}
	}

	pid, err := in.spawn([]string{"/usr/sbin/sshd", "-D", "-e", "-f", "/etc/ssh/sshd_config"}, os.Stderr)
	if err != nil {
		say("Starting sshd: [FAILED] %v", err)
		return
	}
	in.sshdPid = pid
	r.SSHD = true
	say("Starting sshd: [  OK  ]")
}

// udevLinks does what udev does for file systems at boot: a link in
// /dev/disk/by-uuid and /dev/disk/by-label for each presented disk that
// holds one, so UUID= and LABEL= lines of /etc/fstab resolve (libblkid
// looks there first). Unlike udev it does not watch for changes: a file
// system made after boot gets its links at the next boot.
func (in *guestInit) udevLinks(say func(string, ...any)) {
	for _, d := range []string{"/dev/disk/by-uuid", "/dev/disk/by-label"} {
		os.RemoveAll(d)
		os.MkdirAll(d, 0o755)
	}
	devs, _ := filepath.Glob("/dev/dm-*")
	n := 0
	for _, dev := range devs {
		code, out := in.runCmd(10*time.Second, "blkid", "-c", "/dev/null", "-o", "export", dev)
		if code != 0 {
			continue
		}
		for _, line := range strings.Split(out, "\n") {
			k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
			if !ok || v == "" || strings.Contains(v, "/") {
				continue
			}
			switch k {
			case "UUID":
				os.Symlink("../../"+filepath.Base(dev), "/dev/disk/by-uuid/"+v)
				n++
			case "LABEL":
				os.Symlink("../../"+filepath.Base(dev), "/dev/disk/by-label/"+v)
			}
		}
	}
	say("Starting udev: %d file system links [  OK  ]", n)
}

// shutdown stops the guest the way rc 0/6 does, then kills what is left
// and unmounts everything the boot mounted.
func (in *guestInit) shutdown(why string) {
	in.emit(initEvent{Type: "shutdown", Reason: why})
	start := time.Now()
	// Only services that rc started (or that "service x start" started)
	// hold a lock file in /var/lock/subsys; rc stops just those.
	level := "6"
	if why != "reboot" {
		level = "0"
	}
	if why != "terminate" {
		scripts, _ := filepath.Glob("/etc/rc.d/rc" + level + ".d/K*")
		sort.Strings(scripts)
		for _, s := range scripts {
			name := strings.TrimLeft(filepath.Base(s)[1:], "0123456789")
			if _, err := os.Stat("/var/lock/subsys/" + name); err != nil {
				continue
			}
			in.runCmd(serviceTimeout, s, "stop")
		}
	}
	// Give the command that asked for the reboot time to return its exit
	// status over SSH, as on a real system.
	if d := shutdownGrace - time.Since(start); d > 0 && why != "terminate" {
		time.Sleep(d)
	}
	in.killAll()
	in.sshdPid = 0
	in.unmountAll()
	unix.Sync()
}

// killAll signals every process of the guest but init, TERM then KILL.
func (in *guestInit) killAll() {
	unix.Kill(-1, unix.SIGTERM)
	if !waitNoProcs(terminateTimeout) {
		unix.Kill(-1, unix.SIGKILL)
		waitNoProcs(5 * time.Second)
	}
}

func waitNoProcs(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		ents, _ := os.ReadDir("/proc")
		n := 0
		for _, e := range ents {
			if pid, err := strconv.Atoi(e.Name()); err == nil && pid != 1 {
				n++
			}
		}
		if n == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (in *guestInit) unmountAll() {
	for try := 0; try < 3; try++ {
		ms, err := readMountinfo("/proc/self/mountinfo")
		if err != nil {
			return
		}
		var todo []mountEntry
		for _, m := range ms {
			if !in.base[m.ID] {
				todo = append(todo, m)
			}
		}
		if len(todo) == 0 {
			return
		}
		sort.SliceStable(todo, func(i, j int) bool { return todo[i].ID > todo[j].ID })
		for _, m := range todo {
			if err := unix.Unmount(m.Target, 0); err != nil {
				unix.Unmount(m.Target, unix.MNT_DETACH)
			}
		}
	}
}

func (in *guestInit) mountedTargets() map[string]bool {
	out := map[string]bool{}
	ms, _ := readMountinfo("/proc/self/mountinfo")
	for _, m := range ms {
		out[m.Target] = true
	}
	return out
}

// spawn starts argv as a new session with out as stdout and stderr, and
// leaves its exit status to the reaper.
func (in *guestInit) spawn(argv []string, out *os.File) (int, error) {
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return 0, err
	}
	devnull, err := os.Open("/dev/null")
	if err != nil {
		return 0, err
	}
	defer devnull.Close()
	p, err := os.StartProcess(path, argv, &os.ProcAttr{
		Dir:   "/",
		Env:   []string{"PATH=" + guestPath, "LANG=C", "HOME=/root", "TERM=dumb"},
		Files: []*os.File{devnull, out, out},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		return 0, err
	}
	pid := p.Pid
	p.Release()
	return pid, nil
}

// runCmd runs argv to completion (killing its process group after timeout)
// and returns its exit code (-1 when it did not start or was killed) and its
// combined output.
func (in *guestInit) runCmd(timeout time.Duration, argv ...string) (int, string) {
	r, w, err := os.Pipe()
	if err != nil {
		return -1, err.Error()
	}
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&buf, r); r.Close(); close(done) }()

	in.reap.mu.Lock()
	pid, err := in.spawn(argv, w)
	var ch chan unix.WaitStatus
	if err == nil {
		ch = make(chan unix.WaitStatus, 1)
		in.reap.waiters[pid] = ch
	}
	in.reap.mu.Unlock()
	w.Close()
	if err != nil {
		<-done
		return -1, err.Error()
	}
	var ws unix.WaitStatus
	select {
	case ws = <-ch:
	case <-time.After(timeout):
		unix.Kill(-pid, unix.SIGKILL)
		ws = <-ch
	}
	// A daemon started by the script may keep the pipe open; do not wait
	// for it beyond a moment.
	select {
	case <-done:
	case <-time.After(200 * time.Millisecond):
	}
	out := buf.String()
	if ws.Signaled() {
		return -1, out
	}
	return ws.ExitStatus(), out
}

// reaper collects every child of PID 1: its own commands (whose status
// goes to a waiter) and every orphan of the guest (discarded, so no zombie
// piles up).
type reaper struct {
	mu      sync.Mutex
	waiters map[int]chan unix.WaitStatus
}

func (r *reaper) loop(ch <-chan os.Signal) {
	for range ch {
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
			r.mu.Lock()
			if c, ok := r.waiters[pid]; ok {
				c <- ws
				delete(r.waiters, pid)
			}
			r.mu.Unlock()
		}
	}
}

// fstabEntry is one line of /etc/fstab.
type fstabEntry struct {
	Spec, Target, FSType, Opts string
	Pass                       int
}

// skip reports the lines boot never mounts: swap and noauto.
func (e fstabEntry) skip() bool {
	if e.FSType == "swap" || e.Target == "swap" || e.Target == "none" {
		return true
	}
	for _, o := range strings.Split(e.Opts, ",") {
		if o == "noauto" {
			return true
		}
	}
	return false
}

func readFstab(path string) ([]fstabEntry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []fstabEntry
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			// mount -a reports such a line; so does the boot, through mount.
			out = append(out, fstabEntry{Spec: line, Target: "(bad line)", FSType: "?"})
			continue
		}
		e := fstabEntry{Spec: f[0], Target: unescapeMount(f[1]), FSType: f[2], Opts: "defaults"}
		if len(f) > 3 {
			e.Opts = f[3]
		}
		if len(f) > 5 {
			e.Pass, _ = strconv.Atoi(f[5])
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

func sysconfigHostname() string {
	b, err := os.ReadFile("/etc/sysconfig/network")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "HOSTNAME="); ok {
			return strings.Trim(v, `"'`)
		}
	}
	return ""
}

var errGuestDown = errors.New("guest is not running")

// uintptrOf passes a NUL-terminated string to prctl.
func uintptrOf(s string) uintptr {
	b, _ := unix.BytePtrFromString(s)
	return uintptr(unsafe.Pointer(b))
}
