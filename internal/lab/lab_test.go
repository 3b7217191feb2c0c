package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/mtprep/mtprep/packages"
	"github.com/mtprep/mtprep/provision/vsphere"
)

// openSSH53Config is written out here, not taken from Guest.SSHConfig, so
// the test itself states what "only the OpenSSH 5.3p1 algorithm set" is.
func openSSH53Config(t *testing.T, g *Guest) *ssh.ClientConfig {
	t.Helper()
	cb, err := knownhosts.New(g.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := os.ReadFile(g.UserKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.ParsePrivateKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	rsaOnly, err := ssh.NewSignerWithAlgorithms(key.(ssh.AlgorithmSigner), []string{ssh.KeyAlgoRSA})
	if err != nil {
		t.Fatal(err)
	}
	return &ssh.ClientConfig{
		Config: ssh.Config{
			KeyExchanges: []string{ssh.InsecureKeyExchangeDH14SHA1},
			Ciphers:      []string{ssh.CipherAES128CTR, ssh.CipherAES192CTR, ssh.CipherAES256CTR},
			MACs:         []string{ssh.HMACSHA1},
		},
		User:              "root",
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(rsaOnly)},
		HostKeyAlgorithms: []string{ssh.KeyAlgoRSA},
		HostKeyCallback:   cb, // strict: only the lab's known_hosts
		Timeout:           10 * time.Second,
	}
}

func dial(t *testing.T, g *Guest, cfg *ssh.ClientConfig) *ssh.Client {
	t.Helper()
	c, err := ssh.Dial("tcp", g.SSHAddr(), cfg)
	if err != nil {
		t.Fatalf("ssh %s: %v", g.SSHAddr(), err)
	}
	return c
}

// sshRun runs cmd in a new session and returns its combined output; err
// is non-nil for a non-zero exit.
func sshRun(c *ssh.Client, cmd string) (string, error) {
	s, err := c.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	out, err := s.CombinedOutput(cmd)
	return string(out), err
}

func mustRun(t *testing.T, c *ssh.Client, cmd string) string {
	t.Helper()
	out, err := sshRun(c, cmd)
	if err != nil {
		t.Fatalf("guest: %s: %v\n%s", cmd, err, out)
	}
	return out
}

// hostCounts counts what a lab creates on the host.
type hostCounts struct {
	Loops, Netns, Mounts, Links, ForeignPidNSProcs int
}

func countHost(t *testing.T) hostCounts {
	t.Helper()
	var c hostCounts
	c.Loops = len(loopBacking())
	c.Netns = len(listNetns())
	ms, err := readMountinfo("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	c.Mounts = len(ms)
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		if strings.HasPrefix(i.Name, "mtl") {
			c.Links++
		}
	}
	// Guest processes live in PID namespaces other than ours.
	self, _ := os.Readlink("/proc/self/ns/pid")
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if ns, err := os.Readlink("/proc/" + e.Name() + "/ns/pid"); err == nil && ns != self {
			c.ForeignPidNSProcs++
		}
	}
	return c
}

// otherLabsRunning reports labs of other processes (go test runs packages
// in parallel; their labs change the host's counts).
func otherLabsRunning() bool {
	for _, r := range liveRuns() {
		if r.Pid != os.Getpid() {
			return true
		}
	}
	return false
}

// TestLab is the lab issue's "done when": SSH with only OpenSSH 5.3's
// algorithms and a strict host key, an RPM from the online repository and
// one from the offline bundle, a disk found by WWID formatted, mounted,
// kept across a reboot, vSphere disk UUID matched to the guest's WWID, the
// configuration server reached from the guest, and nothing left behind.
func TestLab(t *testing.T) {
	if Preflight() != nil && os.Getenv("CI") != "true" {
		t.Skipf("lab cannot start here: %v", Preflight())
	}
	// The baseline is a host without leftovers: a lab killed before this
	// test left some, and Up would remove them, which is not "this lab's
	// footprint".
	if err := Cleanup(DefaultStateDir()); err != nil {
		t.Fatalf("cleanup of dead labs: %v", err)
	}
	globalBefore := countHost(t)
	othersBefore := otherLabsRunning()

	l := Start(t)
	g := l.Guests[0]
	t.Logf("lab up in %v", l.UpTime)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// --- SSH: only the OpenSSH 5.3p1 algorithms, strict known_hosts.
	cfg := openSSH53Config(t, g)
	c := dial(t, g, cfg)
	defer func() { c.Close() }()
	if got := mustRun(t, c, "cat /etc/redhat-release /etc/centos-release"); got != "CentOS release 6.6 (Final)\nCentOS release 6.6 (Final)\n" {
		t.Errorf("release files: %q", got)
	}
	mustRun(t, c, "test ! -e /etc/os-release && test ! -e /usr/lib/os-release")
	// The server really is restricted: a client without the SHA-1 key
	// exchange, or without ssh-rsa host keys, is turned away.
	modern := openSSH53Config(t, g)
	modern.KeyExchanges = []string{ssh.KeyExchangeCurve25519}
	if cc, err := ssh.Dial("tcp", g.SSHAddr(), modern); err == nil {
		cc.Close()
		t.Error("sshd accepted curve25519-sha256; OpenSSH 5.3 does not offer it")
	}
	ed := openSSH53Config(t, g)
	ed.HostKeyAlgorithms = []string{ssh.KeyAlgoED25519, ssh.KeyAlgoRSASHA256}
	if cc, err := ssh.Dial("tcp", g.SSHAddr(), ed); err == nil {
		cc.Close()
		t.Error("sshd offered a host key other than ssh-rsa")
	}
	// Strict host-key checking: a known_hosts with another key refuses.
	wrong := openSSH53Config(t, g)
	other, _ := newRSAKey()
	wrong.HostKeyCallback = ssh.FixedHostKey(other.Public)
	if cc, err := ssh.Dial("tcp", g.SSHAddr(), wrong); err == nil {
		cc.Close()
		t.Error("connected although the host key does not match")
	}

	// --- Online: yum install from the lab's vault mirror.
	repo := fmt.Sprintf("[mtlab-vault]\nname=CentOS-6.6 - Base (lab vault)\nbaseurl=%s\ngpgcheck=0\nenabled=1\n", l.RepoURL)
	mustRun(t, c, "cat > /etc/yum.repos.d/mtlab-vault.repo <<'EOF'\n"+repo+"EOF")
	out := mustRun(t, c, "yum -y --disablerepo='*' --enablerepo=mtlab-vault install xfsprogs device-mapper-multipath 2>&1")
	t.Logf("yum: %s", lastLines(out, 3))
	if !strings.Contains(strings.Join(l.RepoRequests(), "\n"), "/vault/6.6/os/x86_64/Packages/xfsprogs-3.1.1-16.el6.x86_64.rpm") {
		t.Errorf("the repository server did not serve xfsprogs: %v", l.RepoRequests())
	}

	// --- Offline: the bundle over SFTP, checked, rpm -ivh.
	rpms, err := packages.ReadBundle(ctx, l.BundlePath)
	if err != nil {
		t.Fatalf("the lab's bundle is not one packages.ReadBundle accepts: %v", err)
	}
	t.Logf("bundle: %d RPMs", len(rpms))
	reqsBefore := len(l.RepoRequests())
	sc, err := sftp.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(l.BundlePath)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := sc.Create("/root/mtlab-bundle.tar")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	dst.Close()
	src.Close()
	sc.Close()
	mustRun(t, c, "mkdir -p /root/bundle && cd /root/bundle && tar xf ../mtlab-bundle.tar && sha256sum -c SHA256SUMS >/dev/null")
	mustRun(t, c, "cd /root/bundle && rpm -ivh kmod-reiserfs-0.0-1.el6.elrepo.x86_64.rpm reiserfs-utils-3.6.21-1.el6.elrepo.x86_64.rpm")
	if n := len(l.RepoRequests()); n != reqsBefore {
		t.Errorf("the offline install made %d repository requests", n-reqsBefore)
	}
	out = mustRun(t, c, "rpm -q xfsprogs kmod-reiserfs reiserfs-utils")
	want := "xfsprogs-3.1.1-16.el6.x86_64\nkmod-reiserfs-0.0-1.el6.elrepo.x86_64\nreiserfs-utils-3.6.21-1.el6.elrepo.x86_64\n"
	if out != want {
		t.Errorf("rpm -q: got\n%swant\n%s", out, want)
	}

	// --- vSphere: the MT VM's disk UUIDs, read with govmomi by this test
	// (its own session), become the guest's WWIDs.
	vc, err := govmomi.NewClient(ctx, l.VC.URL, true)
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Logout(context.Background())
	finder := find.NewFinder(vc.Client, true)
	dc, err := finder.Datacenter(ctx, l.VC.Datacenter)
	if err != nil {
		t.Fatal(err)
	}
	finder.SetDatacenter(dc)
	var dsMo mo.Datastore
	ds, err := finder.Datastore(ctx, l.VC.Datastore)
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.Properties(ctx, ds.Reference(), []string{"summary"}, &dsMo); err != nil {
		t.Fatal(err)
	}
	if dsMo.Summary.Type != "VMFS" || !strings.HasPrefix(dsMo.Summary.Url, l.RunDir) {
		t.Errorf("datastore: type %q url %q, want VMFS under %s", dsMo.Summary.Type, dsMo.Summary.Url, l.RunDir)
	}
	mtVM, err := finder.VirtualMachine(ctx, g.VMName)
	if err != nil {
		t.Fatal(err)
	}
	uuids := diskUUIDs(ctx, t, mtVM)
	for _, d := range g.Disks() {
		if uuids[d.Key] != d.UUID {
			t.Errorf("%s: vCenter says UUID %q, the lab presented %q (vcsim must keep a UUID given at create)", d.Label, uuids[d.Key], d.UUID)
		}
		if w := vsphere.WWIDFromDiskUUID(d.UUID); w != d.WWID || w != wwidFromDiskUUID(d.UUID) || !strings.HasPrefix(w, "36000c29") {
			t.Errorf("%s: WWID %q, provision says %q", d.UUID, d.WWID, w)
		}
	}
	ret := g.DiskByRole(RoleBlank)
	wwid := vsphere.WWIDFromDiskUUID(ret.UUID)
	mp := mustRun(t, c, "mpathconf --enable --user_friendly_names n 2>&1 || true; multipath -ll")
	if !strings.Contains(mp, wwid+" dm-") || !strings.Contains(mp, "VMware,Virtual disk") {
		t.Errorf("multipath -ll does not list %s:\n%s", wwid, mp)
	}

	// A VM created here with govmomi, vSphere choosing the disk UUIDs.
	newVM := createVMWithGovmomi(ctx, t, vc, l)
	newUUIDs := diskUUIDs(ctx, t, newVM)
	presented, err := l.PresentDisks(ctx, g, newVM.Name())
	if err != nil {
		t.Fatal(err)
	}
	if len(presented) != 2 {
		t.Fatalf("presented %d disks, want 2", len(presented))
	}
	for _, d := range presented {
		if newUUIDs[d.Key] != d.UUID || !strings.HasPrefix(d.UUID, "6000C29") {
			t.Errorf("%s: vCenter %q, presented %q", d.Label, newUUIDs[d.Key], d.UUID)
		}
		mustRun(t, c, "test -b /dev/mapper/"+vsphere.WWIDFromDiskUUID(d.UUID)+" && test -L /dev/disk/by-id/scsi-"+d.WWID)
	}

	// --- The retention disk by WWID: format, mount, fstab, reboot.
	dev := "/dev/mapper/" + wwid
	mustRun(t, c, "test -b "+dev+" && mkfs.ext4 -q -F "+dev+" && mkdir -p /mnt/retention && mount "+dev+" /mnt/retention && echo kept > /mnt/retention/marker")
	mustRun(t, c, "echo '"+dev+" /mnt/retention ext4 defaults 0 0' >> /etc/fstab")
	boots := len(g.Boots())
	rebootStart := time.Now()
	// reboot returns, then the connection drops.
	if out, err := sshRun(c, "reboot"); err != nil {
		var exitMissing *ssh.ExitMissingError
		if !errors.As(err, &exitMissing) && !errors.Is(err, io.EOF) {
			t.Fatalf("reboot: %v %s", err, out)
		}
	}
	if err := waitClosed(c, 15*time.Second); err != nil {
		t.Fatalf("the SSH connection did not drop on reboot: %v", err)
	}
	rep, err := g.WaitBoot(ctx, boots+1)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("boot after reboot failed: %+v\n%s", rep.Failed, rep.Log)
	}
	c = dialRetry(ctx, t, g, cfg) // same host key, strictly checked
	t.Logf("reboot: SSH back after %v", time.Since(rebootStart).Round(time.Millisecond))
	if got := mustRun(t, c, "cat /mnt/retention/marker; grep ' /mnt/retention ' /proc/mounts | cut -d' ' -f1-3"); got != "kept\n"+dev+" /mnt/retention ext4\n" {
		t.Errorf("after reboot: %q", got)
	}
	if !contains(rep.Mounted, "/mnt/retention") || !contains(rep.Mounted, MountedDiskPath) {
		t.Errorf("boot report mounted %v", rep.Mounted)
	}

	// --- The configuration server, from the guest, on 443.
	cs := l.ConfigServer
	mustRun(t, c, fmt.Sprintf("timeout 5 bash -c 'exec 3<>/dev/tcp/%s/%d'", cs.IP, cs.Port))
	if got := mustRun(t, c, "curl -sk https://"+cs.IP+"/"); !strings.Contains(got, "configuration server") {
		t.Errorf("configuration server answered %q", got)
	}
	if err := cs.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := sshRun(c, fmt.Sprintf("timeout 5 bash -c 'exec 3<>/dev/tcp/%s/%d'", cs.IP, cs.Port)); err == nil {
		t.Error("the stopped configuration server still answers")
	}
	if err := cs.Start(); err != nil {
		t.Fatal(err)
	}
	mustRun(t, c, fmt.Sprintf("timeout 5 bash -c 'exec 3<>/dev/tcp/%s/%d'", cs.IP, cs.Port))
	c.Close()

	// --- Down, and nothing left behind.
	runDir, netns, initPid := l.RunDir, g.Netns, g.InitPid()
	if err := l.Down(); err != nil {
		t.Fatal(err)
	}
	t.Logf("lab down in %v", l.DownTime)
	for dev, f := range loopBacking() {
		if under(f, runDir) {
			t.Errorf("loop device %s (%s) left", dev, f)
		}
	}
	if ms := mountsUnder(runDir); len(ms) > 0 {
		t.Errorf("mounts left: %v", ms)
	}
	if contains(listNetns(), netns) {
		t.Errorf("netns %s left", netns)
	}
	if _, err := os.Stat(runDir); err == nil {
		t.Errorf("run directory %s left", runDir)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", initPid)); err == nil {
		t.Errorf("guest init %d still running", initPid)
	}
	after := countHost(t)
	if othersBefore || otherLabsRunning() {
		t.Logf("other labs are running; host totals not compared (before %+v, after %+v)", globalBefore, after)
	} else if after != globalBefore {
		t.Errorf("host counts changed: before %+v, after %+v", globalBefore, after)
	} else {
		t.Logf("host counts before and after: %+v", after)
	}
}

// TestBadFstab: a wrong /etc/fstab line shows after a reboot, as on CentOS
// 6: with pass 0 the mount fails and the boot goes on; with a pass number
// the file system check fails and the guest stops without sshd until the
// lab reboots it.
func TestBadFstab(t *testing.T) {
	l := StartWith(t, Options{NoMTVM: true})
	g := l.Guests[0]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := dial(t, g, openSSH53Config(t, g))
	mustRun(t, c, "echo '/dev/mapper/36000c29000000000000000000000dead /mnt/missing ext4 defaults 0 0' >> /etc/fstab")
	c.Close()
	rep, err := g.Reboot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || len(rep.Failed) != 1 || rep.Failed[0].Step != "mount" || rep.Maintenance || !rep.SSHD {
		t.Fatalf("pass 0: report %+v", rep)
	}
	c = dial(t, g, openSSH53Config(t, g))
	if out := mustRun(t, c, "cat /var/log/mtlab/boot.log"); !strings.Contains(out, "Mounting /mnt/missing: [FAILED]") {
		t.Errorf("boot.log:\n%s", out)
	}
	mustRun(t, c, "sed -i 's| 0 0$| 0 2|' /etc/fstab")
	c.Close()
	rep, err = g.Reboot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Maintenance || rep.SSHD || g.State() != GuestMaintenance {
		t.Fatalf("pass 2: report %+v, state %s", rep, g.State())
	}
	if cc, err := net.DialTimeout("tcp", g.SSHAddr(), time.Second); err == nil {
		cc.Close()
		t.Fatal("sshd answers in maintenance")
	}
	// Mend fstab from outside (as from the console) and reset the guest.
	b, err := os.ReadFile(g.Path("/etc/fstab"))
	if err != nil {
		t.Fatal(err)
	}
	fixed := strings.ReplaceAll(string(b), "/dev/mapper/36000c29000000000000000000000dead /mnt/missing ext4 defaults 0 2\n", "")
	if err := os.WriteFile(g.Path("/etc/fstab"), []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	if rep, err = g.Reboot(ctx); err != nil || !rep.OK() {
		t.Fatalf("after the fix: %+v %v", rep, err)
	}

	// Power off and on, as vSphere would.
	if err := g.PowerOff(ctx); err != nil {
		t.Fatal(err)
	}
	if cc, err := net.DialTimeout("tcp", g.SSHAddr(), time.Second); err == nil {
		cc.Close()
		t.Fatal("sshd answers while the guest is off")
	}
	if rep, err = g.PowerOn(ctx); err != nil || !rep.OK() {
		t.Fatalf("power on: %+v %v", rep, err)
	}
}

// TestStandins exercises the guest's stand-ins the later phases rely on:
// service/chkconfig/mpathconf/multipathd across a reboot, the agent's
// install forms, ApplyCustomChanges counting, and registration with the
// configuration server (a wrong passphrase refused).
func TestStandins(t *testing.T) {
	l := Start(t)
	g := l.Guests[0]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := dial(t, g, openSSH53Config(t, g))
	defer func() { c.Close() }()

	// Packages from the bundle's RPMs, with yum from a file:// repo made
	// of the bundle (device-mapper-multipath needs its -libs).
	sc, err := sftp.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{l.RPMs["device-mapper-multipath"], l.AgentTarball, l.AgentTarballLegacy} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f, err := sc.Create("/root/" + filepath.Base(p))
		if err != nil {
			t.Fatal(err)
		}
		f.Write(b)
		f.Close()
	}
	sc.Close()
	if out, err := sshRun(c, "rpm -ivh /root/device-mapper-multipath-0.4.9-80.el6.x86_64.rpm"); err == nil || !strings.Contains(out, "device-mapper-multipath-libs") {
		t.Errorf("rpm -ivh without the -libs dependency: %v %s", err, out)
	}
	mustRun(t, c, fmt.Sprintf("printf '[v]\\nname=v\\nbaseurl=%s\\ngpgcheck=0\\n' > /etc/yum.repos.d/v.repo && yum -q -y --disablerepo='*' --enablerepo=v install device-mapper-multipath", l.RepoURL))
	if out := mustRun(t, c, "chkconfig --list multipathd"); out != "multipathd     \t0:off\t1:off\t2:off\t3:off\t4:off\t5:off\t6:off\n" {
		t.Errorf("after install: %q", out)
	}
	if out, _ := sshRun(c, "multipath -ll"); !strings.Contains(out, "/etc/multipath.conf does not exist, blacklisting all devices.") {
		t.Errorf("multipath -ll without multipath.conf: %q", out)
	}
	mustRun(t, c, "mpathconf --enable && chkconfig multipathd on && service multipathd start")
	if out := mustRun(t, c, "chkconfig --list multipathd; service multipathd status"); !strings.Contains(out, "3:on") || !strings.Contains(out, "is running...") {
		t.Errorf("enabled: %q", out)
	}
	out := mustRun(t, c, "multipath -ll")
	if !strings.Contains(out, "mpatha ("+g.Disks()[0].WWID+") dm-0 VMware,Virtual disk") || !strings.Contains(out, "size=256M features='0' hwhandler='0' wp=rw") ||
		!strings.Contains(out, "`- 2:0:1:0 sdb 7:") {
		t.Errorf("multipath -ll (user_friendly_names yes, el6's default):\n%s", out)
	}
	mustRun(t, c, "mpathconf --user_friendly_names n")
	if out := mustRun(t, c, "multipath -ll"); !strings.HasPrefix(out, g.Disks()[0].WWID+" dm-0 VMware,Virtual disk\n") {
		t.Errorf("multipath -ll (user_friendly_names no):\n%s", out)
	}
	// Agent stand-ins.
	mustRun(t, c, "mkdir -p ua ua8 && tar -C ua -xzf "+AgentTarballName(AgentVersion)+" && tar -C ua8 -xzf "+AgentTarballName(AgentVersionLegacy))
	if out, err := sshRun(c, "cd ua && ./ApplyCustomChanges.sh"); err == nil {
		t.Errorf("ApplyCustomChanges.sh ran without chmod 755: %s", out)
	}
	mustRun(t, c, "cd ua && chmod 755 ApplyCustomChanges.sh && ./ApplyCustomChanges.sh")
	if out := mustRun(t, c, "wc -l < /var/lib/mtlab/applycustomchanges.count"); strings.TrimSpace(out) != "1" {
		t.Errorf("ApplyCustomChanges count %q", out)
	}
	if out, err := sshRun(c, "cp -r ua /usr/local/ua && /usr/local/ua/install -q -d /usr/local/ASR -r MT -v VmWare"); err == nil || !strings.Contains(out, "outside /usr/local") {
		t.Errorf("install from /usr/local: %v %s", err, out)
	}
	mustRun(t, c, "cd ua && ./install -q -d /usr/local/ASR -r MT -v VmWare")
	if out := mustRun(t, c, "cat /usr/local/.vx_version; ls /usr/local/ASR/Vx/bin"); !strings.Contains(out, "VERSION="+AgentVersion) || !strings.Contains(out, "UnifiedAgentConfigurator.sh") {
		t.Errorf("after install: %s", out)
	}
	cs := l.ConfigServer
	mustRun(t, c, "umask 077; echo wrong > /root/bad.txt; cp /dev/null /root/pass.txt; cat > /root/pass.txt <<'EOF'\n"+cs.Passphrase+"\nEOF")
	if out, err := sshRun(c, "/usr/local/ASR/Vx/bin/UnifiedAgentConfigurator.sh -i "+cs.IP+" -P /root/bad.txt"); exitStatus(err) != 4 {
		t.Errorf("wrong passphrase: %v %s", err, out)
	}
	mustRun(t, c, "chmod 644 /root/pass.txt")
	if out, err := sshRun(c, "/usr/local/ASR/Vx/bin/UnifiedAgentConfigurator.sh -i "+cs.IP+" -P /root/pass.txt"); exitStatus(err) != 1 || !strings.Contains(out, "0600") {
		t.Errorf("passphrase file 0644: %v %s", err, out)
	}
	mustRun(t, c, "chmod 600 /root/pass.txt && /usr/local/ASR/Vx/bin/UnifiedAgentConfigurator.sh -i "+cs.IP+" -P /root/pass.txt")
	regs := cs.Registrations()
	if len(regs) != 2 || regs[0].Accepted || !regs[1].Accepted || regs[1].Hostname != g.Hostname {
		t.Errorf("registrations %+v", regs)
	}
	// The legacy one-step form registers too, and checks its arguments.
	if out, err := sshRun(c, "cd ua8 && ./install -t both -a host -R MasterTarget -d /usr/local/ASR -i "+cs.IP+" -p 443 -s y -c https -P /root/missing.txt"); exitStatus(err) != 1 {
		t.Errorf("legacy form, missing passphrase file: %v %s", err, out)
	}
	mustRun(t, c, "cd ua8 && ./install -t both -a host -R MasterTarget -d /usr/local/ASR -i "+cs.IP+" -p 443 -s y -c https -P /root/pass.txt")
	if out := mustRun(t, c, "cat /usr/local/.vx_version"); !strings.Contains(out, "VERSION="+AgentVersionLegacy) {
		t.Errorf("legacy .vx_version: %s", out)
	}

	// UUID= and LABEL= lines of fstab resolve at boot (by-uuid links).
	data := g.DiskByRole(RoleExt4Data)
	fsUUID := strings.TrimSpace(mustRun(t, c, "blkid -o value -s UUID "+data.Mapper))
	mustRun(t, c, "mkdir -p /mnt/byuuid /mnt/bylabel && echo 'UUID="+fsUUID+" /mnt/byuuid ext4 ro 0 2' >> /etc/fstab")

	// multipathd comes back after a reboot because chkconfig says so.
	c.Close()
	rep, err := g.Reboot(ctx)
	if err != nil || !rep.OK() || !contains(rep.Services, "multipathd") || !contains(rep.Mounted, "/mnt/byuuid") {
		t.Fatalf("reboot: %+v %v", rep, err)
	}
	c = dial(t, g, openSSH53Config(t, g))
	if out := mustRun(t, c, "service multipathd status; test ! -e /var/run/mtlab-applycustomchanges.reboot-pending && echo cleared"); !strings.Contains(out, "is running") || !strings.Contains(out, "cleared") {
		t.Errorf("after reboot: %s", out)
	}
	// Guest.Exec sees the guest's mounts (the in-use disk at /data).
	if out, err := g.Exec(ctx, "findmnt", "-n", "-o", "SOURCE", MountedDiskPath); err != nil || strings.TrimSpace(string(out)) != g.DiskByRole(RoleMounted).Mapper {
		t.Errorf("Exec findmnt: %q %v", out, err)
	}
}

// TestCleanupAfterKill starts a lab in a child process, kills it with
// SIGKILL, and checks that the next Up removes what it left.
func TestCleanupAfterKill(t *testing.T) {
	if os.Getenv("MTLAB_TEST_CHILD") != "" {
		childLab(t)
		return
	}
	if err := Preflight(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	state := DefaultStateDir()
	ready := filepath.Join(t.TempDir(), "ready")
	self, _ := os.Executable()
	cmd := exec.Command(self, "-test.run=^TestCleanupAfterKill$", "-test.v")
	cmd.Env = append(os.Environ(), "MTLAB_TEST_CHILD="+ready)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	var runDir string
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(ready); err == nil && len(b) > 0 {
			runDir = string(b)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if runDir == "" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child lab did not start:\n%s", out.String())
	}
	runID := strings.TrimPrefix(filepath.Base(runDir), "run-")
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	// What a kill -9 leaves: the network namespace, the links, the
	// overlay and tmpfs mounts, the run directory. (The guest died with
	// its parent; the loop devices, opened with autoclear, went with it.)
	left := 0
	for _, ns := range listNetns() {
		if strings.Contains(ns, runID) {
			left++
		}
	}
	left += len(mountsUnder(runDir))
	t.Logf("after kill -9: %d netns+mounts of run %s left (as expected)", left, runID)
	if left == 0 {
		t.Log("nothing was left behind; the cleanup below has nothing to prove")
	}
	l := StartWith(t, Options{StateDir: state, NoMTVM: true})
	for _, ns := range listNetns() {
		if strings.Contains(ns, runID) {
			t.Errorf("netns %s of the killed run survived the next Up", ns)
		}
	}
	if ms := mountsUnder(runDir); len(ms) > 0 {
		t.Errorf("mounts of the killed run survived the next Up: %v", ms)
	}
	for dev, f := range loopBacking() {
		if under(f, runDir) {
			t.Errorf("loop %s of the killed run survived", dev)
		}
	}
	if _, err := os.Stat(runDir); err == nil {
		t.Errorf("run directory %s survived", runDir)
	}
	if journalled(runID) {
		t.Errorf("run %s is still in the journal after its leftovers went", runID)
	}
	if err := l.Down(); err != nil {
		t.Fatal(err)
	}
	if err := Cleanup(state); err != nil {
		t.Errorf("Cleanup after a clean Down: %v", err)
	}
}

// TestCleanupLeavesForeignRuns: kernel objects named like a lab's but of a
// run this registry never started (a lab in another mount namespace, with
// its own /run) survive Cleanup; a journalled dead run's do not.
func TestCleanupLeavesForeignRuns(t *testing.T) {
	if err := Preflight(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	ctx := context.Background()
	foreign, dead := newRunID(), newRunID()
	links := map[string]string{foreign: "mtl" + foreign + "h", dead: "mtl" + dead + "h"}
	for _, name := range links {
		// A veth pair (this kernel has no dummy links), both ends named
		// as a lab names them.
		if err := run(ctx, "ip", "link", "add", name, "type", "veth", "peer", "name", strings.TrimSuffix(name, "h")+"g9"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { exec.Command("ip", "link", "del", name).Run() })
	}
	if err := journalRun(Record{RunID: dead, Pid: 1, Program: "test", Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(runJournalPath(dead)) })
	if err := Cleanup(""); err != nil {
		t.Fatal(err)
	}
	if !linkExists(links[foreign]) {
		t.Errorf("link %s of a run this registry never started was removed", links[foreign])
	}
	if linkExists(links[dead]) {
		t.Errorf("link %s of a journalled dead run survived", links[dead])
	}
	if journalled(dead) {
		t.Errorf("dead run %s still journalled after its cleanup", dead)
	}
}

func TestOrphanRunIDs(t *testing.T) {
	live := map[string]Record{"aaaaaa": {RunID: "aaaaaa"}}
	known := func(id string) bool { return id == "aaaaaa" || id == "bbbbbb" }
	tests := []struct {
		ids           []string
		dead, foreign []string
	}{
		{nil, nil, nil},
		{[]string{"aaaaaa"}, nil, nil},                // live: never touched
		{[]string{"bbbbbb"}, []string{"bbbbbb"}, nil}, // journalled, not live: dead
		{[]string{"cccccc"}, nil, []string{"cccccc"}}, // never journalled: foreign
		{[]string{"aaaaaa", "bbbbbb", "cccccc"}, []string{"bbbbbb"}, []string{"cccccc"}},
	}
	for _, tt := range tests {
		dead, foreign := orphanRunIDs(tt.ids, live, known)
		if !slices.Equal(dead, tt.dead) || !slices.Equal(foreign, tt.foreign) {
			t.Errorf("orphanRunIDs(%v) = %v, %v; want %v, %v", tt.ids, dead, foreign, tt.dead, tt.foreign)
		}
	}
}

// childLab is the child of TestCleanupAfterKill: start a lab, say where,
// wait to be killed.
func childLab(t *testing.T) {
	ready := os.Getenv("MTLAB_TEST_CHILD")
	l, err := Up(context.Background(), Options{StateDir: DefaultStateDir()})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(ready+".tmp", []byte(l.RunDir), 0o644)
	os.Rename(ready+".tmp", ready)
	time.Sleep(10 * time.Minute)
}

func TestDiskUUIDShape(t *testing.T) {
	for i := 0; i < 100; i++ {
		u := NewDiskUUID()
		if !strings.HasPrefix(u, "6000C29") || len(u) != 36 {
			t.Fatalf("NewDiskUUID %q", u)
		}
		if got, want := wwidFromDiskUUID(u), vsphere.WWIDFromDiskUUID(u); got != want {
			t.Fatalf("%s: lab %q, provision %q", u, got, want)
		}
	}
	if got := vmwareDiskUUID("a1b2c3d4-0000-1111-2222-333344445555"); !strings.HasPrefix(got, "6000C29") || got != vmwareDiskUUID("a1b2c3d4-0000-1111-2222-333344445555") {
		t.Errorf("vmwareDiskUUID not VMware-shaped or not deterministic: %q", got)
	}
	if got := vmwareDiskUUID("6000C298-9daa-42cc-1d24-bc5bb1fb1c2d"); got != "6000C298-9daa-42cc-1d24-bc5bb1fb1c2d" {
		t.Errorf("a VMware-shaped UUID was changed: %q", got)
	}
}

func TestDNSAnswer(t *testing.T) {
	d := &dnsServer{names: map[string]net.IP{"mtlab-g1.lab.local": net.ParseIP("10.77.0.11")}, log: testLogger(t)}
	q := []byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}
	q = append(q, 8, 'm', 't', 'l', 'a', 'b', '-', 'g', '1', 3, 'l', 'a', 'b', 5, 'l', 'o', 'c', 'a', 'l', 0, 0, 1, 0, 1)
	r := d.answer(q)
	if r[0] != 0x12 || r[1] != 0x34 || r[3]&0x0f != 0 || r[7] != 1 || !bytes.Equal(r[len(r)-4:], []byte{10, 77, 0, 11}) {
		t.Errorf("A answer % x", r)
	}
	q[12+1] = 'x'
	if r := d.answer(q); r[3]&0x0f != 3 {
		t.Errorf("unknown name: rcode %d", r[3]&0x0f)
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(&testLogWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// diskUUIDs reads the VM's disks' backing UUIDs by device key.
func diskUUIDs(ctx context.Context, t *testing.T, vm *object.VirtualMachine) map[int32]string {
	t.Helper()
	devs, err := vm.Device(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]string{}
	for _, d := range devs.SelectByType((*types.VirtualDisk)(nil)) {
		disk := d.(*types.VirtualDisk)
		out[disk.Key] = disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo).Uuid
	}
	return out
}

// createVMWithGovmomi makes a VM the way mtprep's vm phase would, without
// the lab's helpers: an LSI Logic controller, an OS and a retention disk
// whose UUIDs vSphere chooses.
func createVMWithGovmomi(ctx context.Context, t *testing.T, c *govmomi.Client, l *Lab) *object.VirtualMachine {
	t.Helper()
	f := find.NewFinder(c.Client, true)
	dc, err := f.Datacenter(ctx, l.VC.Datacenter)
	if err != nil {
		t.Fatal(err)
	}
	f.SetDatacenter(dc)
	folder, _ := f.Folder(ctx, l.VC.Folder)
	pool, _ := f.ResourcePool(ctx, l.VC.ResourcePool)
	ds, err := f.Datastore(ctx, l.VC.Datastore)
	if err != nil {
		t.Fatal(err)
	}
	var devs object.VirtualDeviceList
	scsi, _ := devs.CreateSCSIController("lsilogic")
	devs = append(devs, scsi)
	for i, gb := range []int64{100, 1024} {
		d := devs.CreateDisk(scsi.(types.BaseVirtualController), ds.Reference(), fmt.Sprintf("[%s] mt-new/mt-new_%d.vmdk", l.VC.Datastore, i))
		d.CapacityInKB = gb << 20
		devs = append(devs, d)
	}
	spec, _ := devs.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)
	task, err := folder.CreateVM(ctx, types.VirtualMachineConfigSpec{
		Name: "mt-new", GuestId: "centos64Guest", NumCPUs: 4, MemoryMB: 6144,
		Files:        &types.VirtualMachineFileInfo{VmPathName: "[" + l.VC.Datastore + "]"},
		DeviceChange: spec,
		ExtraConfig:  []types.BaseOptionValue{&types.OptionValue{Key: "disk.EnableUUID", Value: "TRUE"}},
	}, pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	info, err := task.WaitForResult(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	vm := object.NewVirtualMachine(c.Client, info.Result.(types.ManagedObjectReference))
	vm.InventoryPath = l.VC.Folder + "/mt-new"
	return vm
}

// waitClosed waits until the server has closed the connection.
func waitClosed(c *ssh.Client, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case <-done:
		return nil
	case <-time.After(d):
		return errors.New("timeout")
	}
}

func dialRetry(ctx context.Context, t *testing.T, g *Guest, cfg *ssh.ClientConfig) *ssh.Client {
	t.Helper()
	if err := g.WaitSSH(ctx); err != nil {
		t.Fatal(err)
	}
	return dial(t, g, cfg)
}

func exitStatus(err error) int {
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		return ee.ExitStatus()
	}
	if err == nil {
		return 0
	}
	return -1
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// TestTwoGuests: a fleet of MTs, each with its own address, host key, MT
// VM and disks, reachable from the host and from each other.
func TestTwoGuests(t *testing.T) {
	l := StartWith(t, Options{Guests: 2})
	if len(l.Guests) != 2 {
		t.Fatalf("%d guests", len(l.Guests))
	}
	g1, g2 := l.Guests[0], l.Guests[1]
	if g1.Address == g2.Address || ssh.FingerprintSHA256(g1.HostKeyPublic) == ssh.FingerprintSHA256(g2.HostKeyPublic) {
		t.Fatal("guests share an address or a host key")
	}
	for _, g := range l.Guests {
		c := dial(t, g, openSSH53Config(t, g))
		out := mustRun(t, c, "hostname; ls /dev/mapper | wc -l; getent hosts mtlab-g1 mtlab-g2 | wc -l; timeout 5 bash -c 'exec 3<>/dev/tcp/"+g1.Address+"/22' && echo reach")
		c.Close()
		want := fmt.Sprintf("%s\n%d\n2\nreach\n", g.Hostname, len(g.Disks()))
		if out != want {
			t.Errorf("%s: %q, want %q", g.Name, out, want)
		}
		if g.DiskByRole(RoleBlank) == nil || g.DiskByRole(RoleBlank).VM != g.VMName {
			t.Errorf("%s: no retention disk of its own VM", g.Name)
		}
	}
	if g1.DiskByRole(RoleBlank).WWID == g2.DiskByRole(RoleBlank).WWID {
		t.Error("the two MT VMs share a disk UUID")
	}
}
