package ubuntu_test

import (
	"context"
	"encoding/base64"
	"github.com/mtprep/mtprep/linux"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/mtprep/mtprep/internal/lab"
	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/ubuntu"
)

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestUbuntuLab runs every part of the Ubuntu OS against the lab's Ubuntu
// 16.04 guest for real (the host's dpkg, apt-get and apt-mark on the
// guest's own dpkg database; the lab's stand-ins for systemctl, uname,
// lsb_release, multipath and the agent): the release, the packages from
// the offline bundle and from an apt repository, the preseed's late
// command (holds, no unattended upgrades), open-vm-tools, the retention
// disk by WWID, the agent, the registration, the lock and the probe. Root
// is needed; under CI=true a lab that cannot start fails the test.
func TestUbuntuLab(t *testing.T) {
	l := lab.StartWith(t, lab.Options{Flavour: lab.FlavourUbuntu})
	g := l.Guests[0]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	conn, err := guest.Dial(ctx, guest.Config{
		Address: g.Address, Port: g.SSHPort, User: "root", PrivateKey: g.UserKeyFile,
		KnownHosts: g.KnownHostsFile, HostKey: "strict", Shell: ubuntu.OS().Shell, Log: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	o := ubuntu.OS()
	env := guest.Env{Log: log}
	bundle := guest.PackageSource{Kind: "bundle", Bundle: l.UbuntuBundlePath}

	t.Run("release", func(t *testing.T) {
		info, err := o.Release.Read(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		if !info.Supported || info.ID != "ubuntu" || info.Version != "16.04" || info.Line != "Ubuntu 16.04.2 LTS, kernel "+lab.UbuntuKernel {
			t.Errorf("release %+v", info)
		}
		// A kernel past ASR's list is refused, naming the list.
		if _, err := g.Exec(ctx, "sh", "-c", "echo 4.4.0-87-generic > /var/lib/mtlab/kernel-release"); err != nil {
			t.Fatal(err)
		}
		defer g.Exec(ctx, "sh", "-c", "echo "+lab.UbuntuKernel+" > /var/lib/mtlab/kernel-release")
		info, err = o.Release.Read(ctx, conn)
		if err != nil || info.Supported || !strings.Contains(info.Line, "newer than 4.4.0-81-generic") {
			t.Errorf("newer kernel: %+v %v", info, err)
		}
	})

	t.Run("packages from the bundle", func(t *testing.T) {
		st, err := o.Packages.Read(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Missing) != 5 || st.Services[0].OK() {
			t.Fatalf("fresh guest: missing %v services %+v", st.Missing, st.Services)
		}
		if err := o.Packages.Install(ctx, conn, st, bundle, env); err != nil {
			t.Fatal(err)
		}
		out, err := conn.Run(ctx, "cat", "/etc/multipath.conf")
		if err != nil || !strings.Contains(string(out), "find_multipaths no") || !strings.Contains(string(out), "user_friendly_names no") {
			t.Errorf("multipath.conf: %v\n%s", err, out)
		}
		st, err = o.Packages.Read(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Missing) != 0 || !st.Services[0].OK() {
			t.Errorf("after install: missing %v services %+v", st.Missing, st.Services)
		}
		// multipath -ll names the presented disks by WWID.
		out, err = conn.Run(ctx, "multipath", "-ll")
		if err != nil || !strings.Contains(string(out), g.DiskByRole(lab.RoleBlank).WWID) {
			t.Errorf("multipath -ll: %v\n%s", err, out)
		}
	})

	t.Run("packages with apt from the lab's repository", func(t *testing.T) {
		if out, err := g.Exec(ctx, "dpkg", "-r", "lsscsi"); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		st, err := o.Packages.Read(ctx, conn)
		if err != nil || len(st.Missing) != 1 || st.Missing["lsscsi"] != "not installed" {
			t.Fatalf("missing %v (%v)", st.Missing, err)
		}
		if err := o.Packages.Install(ctx, conn, st, guest.PackageSource{Kind: ubuntu.SourceApt, Repos: []string{l.UbuntuAptSource}}, env); err != nil {
			t.Fatal(err)
		}
		if st, err := o.Packages.Read(ctx, conn); err != nil || len(st.Missing) != 0 {
			t.Errorf("after apt: missing %v (%v)", st.Missing, err)
		}
	})

	t.Run("late command: kernel held, no unattended upgrades", func(t *testing.T) {
		p := &ubuntu.Preseed{
			Name: "mtlab", Hostname: g.Hostname, IP: g.Address, Netmask: "255.255.255.0", Gateway: l.HostIP,
			DNS: []string{l.HostIP}, Interface: "auto", Timezone: "UTC", OSDisk: "sda", MemoryMB: 6144, OSDiskGB: 100,
			RootPasswordHash: "$6$saltsaltsaltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/",
		}
		ps, err := p.Render()
		if err != nil {
			t.Fatal(err)
		}
		var late string
		for _, line := range ubuntu.Lines(ps) {
			if rest, ok := strings.CutPrefix(line, ubuntu.LateCommandPrefix); ok {
				b, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(rest, ubuntu.LateCommandSuffix))
				if err != nil {
					t.Fatal(err)
				}
				late = string(b)
			}
		}
		// What in-target runs: the decoded script under sh.
		if out, err := conn.Script(ctx, "exec sh -s <<'MTPREP_LATE'\n"+late+"\nMTPREP_LATE", nil); err != nil {
			t.Fatalf("late command: %v: %s", err, out)
		}
		st, err := ubuntu.Packages{}.ReadState(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range append(ubuntu.KernelHolds(), "linux-image-"+lab.UbuntuKernel, "linux-headers-"+lab.UbuntuKernel) {
			if !slices.Contains(st.Held, want) {
				t.Errorf("%s is not held: holds %v", want, st.Held)
			}
		}
		out, err := conn.Run(ctx, "cat", "/etc/apt/apt.conf.d/99mtprep-no-auto-upgrades")
		if err != nil || !strings.Contains(string(out), `APT::Periodic::Unattended-Upgrade "0";`) {
			t.Errorf("%v: %s", err, out)
		}
		// A dist-upgrade from the lab's repository, which has a 4.4.0-87
		// kernel and newer meta-packages, leaves the held kernel alone.
		if out, err := conn.Run(ctx, "sh", "-c", "export DEBIAN_FRONTEND=noninteractive; apt-get -q update && apt-get -q -y dist-upgrade"); err != nil {
			t.Fatalf("dist-upgrade: %v: %s", err, out)
		}
		out, err = conn.Run(ctx, "dpkg-query", "-W", "-f=${Package} ${Version} ${Status}\n", "linux-generic", "linux-image-generic")
		if err != nil || !strings.Contains(string(out), "linux-generic 4.4.0.62.65 hold ok installed") || !strings.Contains(string(out), "linux-image-generic 4.4.0.62.65 hold ok installed") {
			t.Errorf("held kernel packages after dist-upgrade: %v\n%s", err, out)
		}
		if out, _ := conn.Run(ctx, "sh", "-c", "dpkg-query -W 'linux-image-4.4.0-87*' 2>/dev/null; true"); strings.Contains(string(out), "4.4.0-87") {
			t.Errorf("the newer kernel was installed: %s", out)
		}
		// The control: without the holds the same dist-upgrade (simulated)
		// would install the 4.4.0-87 kernel.
		out, err = conn.Run(ctx, "sh", "-c", "h=$(apt-mark showhold) && apt-mark unhold $h >/dev/null && apt-get -s dist-upgrade; rc=$?; apt-mark hold $h >/dev/null; exit $rc")
		if err != nil || !strings.Contains(string(out), "Inst linux-image-4.4.0-87-generic") {
			t.Errorf("without holds, dist-upgrade would not install the newer kernel: %v\n%s", err, out)
		}
	})

	t.Run("tools", func(t *testing.T) {
		st, err := o.Tools.Read(ctx, conn)
		if err != nil || st.Package != "" {
			t.Fatalf("fresh: %+v %v", st, err)
		}
		file, err := o.Tools.Install(ctx, conn, bundle, env)
		if err != nil || !strings.HasPrefix(file, "open-vm-tools_") {
			t.Fatalf("install: %q %v", file, err)
		}
		if st, err = o.Tools.Read(ctx, conn); err != nil || st.Package != "open-vm-tools" || st.Version != "2:10.0.7-3227872-1" || st.Enabled || st.Running {
			t.Fatalf("installed: %+v %v", st, err)
		}
		if err := o.Tools.Start(ctx, conn, st.Service); err != nil {
			t.Fatal(err)
		}
		if st, err = o.Tools.Read(ctx, conn); err != nil || !st.Enabled || !st.Running {
			t.Errorf("started: %+v %v", st, err)
		}
		if !g.ToolsRunning() {
			t.Error("the lab does not see vmtoolsd running")
		}
	})

	t.Run("retention", func(t *testing.T) {
		d := g.DiskByRole(lab.RoleBlank)
		const mnt = "/mnt/retention"
		st, err := o.Retention.Read(ctx, conn, d.WWID, mnt)
		if err != nil {
			t.Fatal(err)
		}
		if st.Device != o.Retention.DevicePath(d.WWID) || st.Size != d.SizeBytes || st.FSType != "" || len(st.Signatures) != 0 || st.NonZero != 0 {
			t.Fatalf("blank disk: %+v", st)
		}
		res, err := o.Retention.Scan(ctx, conn, st.Device, st.Size, env)
		if err != nil || !res.AllZero || res.Bytes != st.Size {
			t.Fatalf("scan: %+v %v", res, err)
		}
		if err := o.Retention.Apply(ctx, conn, "", st.Device, mnt, "mtprep-retention", guest.FormatBlank); err != nil {
			t.Fatal(err)
		}
		st, err = o.Retention.Read(ctx, conn, d.WWID, mnt)
		if err != nil || st.FSType != "ext4" || st.Label != "mtprep-retention" || !slices.Contains(st.Mounted, mnt) || st.FstabDevice != st.Device || st.FstabFS != "ext4" {
			t.Errorf("after apply: %+v %v", st, err)
		}
		out, err := conn.Run(ctx, "grep", " "+mnt+" ", "/etc/fstab")
		if err != nil || !strings.Contains(string(out), "defaults,nofail") {
			t.Errorf("fstab: %v %s", err, out)
		}
	})

	t.Run("agent and registration", func(t *testing.T) {
		dir, err := conn.UploadDir()
		if err != nil {
			t.Fatal(err)
		}
		if !ubuntu.AgentTarballRe.MatchString(path.Base(l.UbuntuAgentTarball)) {
			t.Errorf("%s is not an Ubuntu agent tarball name", l.UbuntuAgentTarball)
		}
		// The RHEL6-64 build refuses this OS, as the real one does.
		rhel := path.Join(dir, path.Base(l.AgentTarball))
		if _, err := conn.Upload(ctx, l.AgentTarball, rhel, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Run(ctx, "sh", "-c", "mkdir -p /root/rhel && tar -xzf "+rhel+" -C /root/rhel && cd /root/rhel && bash ./ApplyCustomChanges.sh"); err == nil || !strings.Contains(err.Error(), "unsupported OS") {
			t.Errorf("the RHEL6-64 agent ran on Ubuntu: %v", err)
		}
		remote := path.Join(dir, path.Base(l.UbuntuAgentTarball))
		if _, err := conn.Upload(ctx, l.UbuntuAgentTarball, remote, nil); err != nil {
			t.Fatal(err)
		}
		if err := o.Agent.Apply(ctx, conn, remote); err != nil {
			t.Fatal(err)
		}
		st, err := o.Agent.Read(ctx, conn)
		if err != nil || st.Started == "" || st.Done == "" || st.RebootPending == "" || !st.Unpacked {
			t.Fatalf("agent: %+v %v", st, err)
		}
		// Exactly once: a second Apply refuses.
		if err := o.Agent.Apply(ctx, conn, remote); err == nil {
			t.Error("ApplyCustomChanges.sh ran twice")
		}
		if err := o.Registration.MapHostname(ctx, conn, g.Hostname, []string{g.Address}); err != nil {
			t.Fatal(err)
		}
		pass, err := os.ReadFile(l.ConfigServer.PassphraseFile)
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Registration.Install(ctx, conn, o.Agent.UnpackDir(), false, l.ConfigServer.IP, l.ConfigServer.Port, "x"); err == nil {
			t.Error("the old install form was accepted on Ubuntu")
		}
		if err := o.Registration.Install(ctx, conn, o.Agent.UnpackDir(), true, l.ConfigServer.IP, l.ConfigServer.Port, strings.TrimSpace(string(pass))); err != nil {
			t.Fatal(err)
		}
		rs, err := o.Registration.Read(ctx, conn, g.Hostname, l.ConfigServer.IP, l.ConfigServer.Port)
		if err != nil || !slices.Equal(rs.Hosts, rs.NICs) || rs.RegisteredCS != l.ConfigServer.IP || rs.AgentVersion == "" || !rs.CSReachable {
			t.Errorf("registration: %+v %v", rs, err)
		}
		if len(l.ConfigServer.Registrations()) != 1 {
			t.Errorf("config server registrations %+v", l.ConfigServer.Registrations())
		}
		if out, _ := conn.Run(ctx, "sh", "-c", "ls -d /root/.mtprep-pass.* 2>/dev/null; true"); strings.TrimSpace(string(out)) != "" {
			t.Errorf("passphrase directory left behind: %s", out)
		}
	})

	t.Run("lock and probe", func(t *testing.T) {
		lk := o.Lock
		res, err := lk.Take(ctx, conn, lk.Path(), "run=a host=x", "a", false)
		if err != nil || !res.Taken {
			t.Fatalf("take: %+v %v", res, err)
		}
		if res, err := lk.Take(ctx, conn, lk.Path(), "run=b host=y", "b", false); err != nil || res.Taken || !strings.Contains(res.Held, "run=a") {
			t.Errorf("second take: %+v %v", res, err)
		}
		if err := lk.Release(ctx, conn, lk.Path(), "a"); err != nil {
			t.Fatal(err)
		}
		out, err := o.Probe.Run(ctx, conn, guest.ProbeArgs{Hostname: g.Hostname, Mountpoint: "/mnt/retention", CSIP: l.ConfigServer.IP, CSPort: l.ConfigServer.Port})
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"os Ubuntu 16.04.2 LTS", "kernel " + lab.UbuntuKernel, "deb multipath-tools ", "multipathd running", "multipathd_boot on",
			"acc_done ", "ret_mount /dev/mapper/", "ret_fstab /dev/mapper/", "ret_wwid 36000c29", "hold linux-generic", "cs reachable", "vx_line "} {
			if !strings.Contains(out, want) {
				t.Errorf("probe lacks %q:\n%s", want, out)
			}
		}
	})

	// The agent's reboot: the marker in /run (a tmpfs) tells the new boot
	// from the old; enabled units start at boot, the retention mount comes
	// back from fstab.
	t.Run("reboot", func(t *testing.T) {
		if err := conn.Reboot(ctx, 2*time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := o.Agent.Rebooted(ctx, conn); err != nil {
			t.Fatal(err)
		}
		st, err := o.Packages.Read(ctx, conn)
		if err != nil || len(st.Missing) != 0 || !st.Services[0].OK() {
			t.Errorf("after reboot: %+v %v", st, err)
		}
		if ts, err := o.Tools.Read(ctx, conn); err != nil || !ts.Running || !g.ToolsRunning() {
			t.Errorf("tools after reboot: %+v %v", ts, err)
		}
		d := g.DiskByRole(lab.RoleBlank)
		if rs, err := o.Retention.Read(ctx, conn, d.WWID, "/mnt/retention"); err != nil || !slices.Contains(rs.Mounted, "/mnt/retention") {
			t.Errorf("retention after reboot: %+v %v", rs, err)
		}
		if as, err := o.Agent.Read(ctx, conn); err != nil || as.RebootPending != "" || as.Done == "" {
			t.Errorf("agent after reboot: %+v %v", as, err)
		}
	})

	// The late command's keys: the host key mtprep generated becomes the
	// guest's (a strict connection with only that key in known_hosts
	// works), and root's authorized key is the one given. Last: it
	// replaces the lab's host key.
	t.Run("late command keys", func(t *testing.T) {
		pem, err := os.ReadFile(g.UserKeyFile)
		if err != nil {
			t.Fatal(err)
		}
		signer, err := ssh.ParsePrivateKey(pem)
		if err != nil {
			t.Fatal(err)
		}
		hk, err := linux.NewHostKey()
		if err != nil {
			t.Fatal(err)
		}
		p := &ubuntu.Preseed{
			Name: "mtlab", Hostname: g.Hostname, IP: g.Address, Netmask: "255.255.255.0", Gateway: l.HostIP,
			DNS: []string{l.HostIP}, Interface: "auto", Timezone: "UTC", OSDisk: "sda", MemoryMB: 6144, OSDiskGB: 100,
			RootPasswordHash: "$6$saltsaltsaltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/",
			AuthorizedKeys:   []ssh.PublicKey{signer.PublicKey()}, HostKey: hk,
		}
		ps, err := p.Render()
		if err != nil {
			t.Fatal(err)
		}
		var late string
		for _, line := range ubuntu.Lines(ps) {
			if rest, ok := strings.CutPrefix(line, ubuntu.LateCommandPrefix); ok {
				b, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(rest, ubuntu.LateCommandSuffix))
				if err != nil {
					t.Fatal(err)
				}
				late = string(b)
			}
		}
		if out, err := conn.Script(ctx, "exec sh -s <<'MTPREP_LATE'\n"+late+"\nMTPREP_LATE", nil); err != nil {
			t.Fatalf("late command: %v: %s", err, out)
		}
		hpub, err := ssh.NewPublicKey(&hk.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		kh := filepath.Join(t.TempDir(), "known_hosts")
		if err := os.WriteFile(kh, []byte(knownhosts.Line([]string{g.Address}, hpub)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		c2, err := guest.Dial(ctx, guest.Config{
			Address: g.Address, Port: g.SSHPort, User: "root", PrivateKey: g.UserKeyFile,
			KnownHosts: kh, HostKey: "strict", Shell: ubuntu.OS().Shell, Log: log,
		})
		if err != nil {
			t.Fatalf("strict connection with the preseed's host key: %v", err)
		}
		defer c2.Close()
		// And the lab's own host key is no longer the guest's.
		if c3, err := guest.Dial(ctx, guest.Config{
			Address: g.Address, Port: g.SSHPort, User: "root", PrivateKey: g.UserKeyFile,
			KnownHosts: g.KnownHostsFile, HostKey: "strict", Shell: ubuntu.OS().Shell, Log: log,
		}); err == nil {
			c3.Close()
			t.Error("the guest still offers the lab's host key")
		}
		out, err := c2.Run(ctx, "cat", "/root/.ssh/authorized_keys")
		if err != nil || strings.TrimSpace(string(out)) != strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))) {
			t.Errorf("authorized_keys: %v\n%s", err, out)
		}
	})
}
