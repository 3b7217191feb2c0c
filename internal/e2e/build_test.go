package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/mtprep/mtprep/centos"
	"github.com/mtprep/mtprep/internal/lab"
	"github.com/mtprep/mtprep/linux"
	"github.com/mtprep/mtprep/provision"
	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/provision/spec"
	"github.com/mtprep/mtprep/provision/vsphere"
)

// guestPhases are the phases that run over SSH (tools also reads vSphere).
var guestPhases = []string{"packages", "tools", "agent", "retention", "handoff"}

// TestBuildBundle is the main job end to end with the offline bundle:
// every phase changes and verifies, a second run changes nothing, and no
// secret shows anywhere. Then, on the built MT: the retention phase's
// refusals (the disks' bytes unchanged), the --format-wwid override, a
// resumed upload, and a changed host key.
func TestBuildBundle(t *testing.T) {
	l := lab.Start(t)
	g := l.Guests[0]
	w := watch(t, l, g)
	m := newMT(t, l, g, mtOptions{packages: "bundle", agent: l.AgentTarball, thumbprint: true})
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	// First build: every phase changes something, and verifies it.
	sampler := sampleArgv(ctx, g)
	r1 := m.mtprep(t, ctx, m.buildArgs()...)
	m.checkArgv(t, sampler)
	if r1.code != 0 || !r1.report.OK {
		t.Fatalf("first build failed:\n%s\nwatcher: %v", r1, w.Err())
	}
	for _, p := range r1.report.Phases {
		if p.Status != provision.StatusChanged {
			t.Errorf("first build: phase %s is %s, want changed (%s)", p.Phase, p.Status, p.Error)
		}
	}
	if len(r1.report.Phases) != len(provision.Phases()) {
		t.Errorf("first build ran %d phases, want %d", len(r1.report.Phases), len(provision.Phases()))
	}
	if reps := w.Reports(); len(reps) != 1 {
		t.Errorf("the install stand-in ran %d times, want 1", len(reps))
	}
	if got := l.RepoRequests(); len(got) != 0 {
		t.Errorf("an offline (bundle) build fetched from the repository server: %v", got)
	}
	if ss := r1.report.SSH; ss == nil || ss.Sessions == 0 {
		t.Errorf("the report has no SSH round trips: %+v", ss)
	} else {
		t.Logf("first build: SSH %+v", *ss)
	}

	// The handoff manifest: the MT, its retention disk by WWID, the disk
	// UUIDs vSphere gave.
	h := readHandoff(t, m)
	ret := diskByWWID(g, h.Retention.WWID)
	switch {
	case h.Name != "mt01" || h.Address != g.Address || h.Hostname != "mt01.lab.local":
		t.Errorf("handoff names %q at %s (%s)", h.Name, h.Address, h.Hostname)
	case h.DiskUUIDs["os"] == "" || h.DiskUUIDs["retention"] == "":
		t.Errorf("handoff has no disk UUIDs: %v", h.DiskUUIDs)
	case vsphere.WWIDFromDiskUUID(h.DiskUUIDs["retention"]) != h.Retention.WWID:
		t.Errorf("handoff retention WWID %s is not the retention disk's (UUID %s)", h.Retention.WWID, h.DiskUUIDs["retention"])
	case ret == nil || ret.VM != "mt01":
		t.Errorf("retention WWID %s is not a disk of VM mt01 presented to the guest", h.Retention.WWID)
	case h.AgentVersion != "9.3.0.0":
		t.Errorf("handoff agent version %q, want 9.3.0.0", h.AgentVersion)
	case h.HostKeySHA256 != w.Reports()[0].HostKeyFingerprint:
		t.Errorf("handoff host key %s, the installed MT serves %s", h.HostKeySHA256, w.Reports()[0].HostKeyFingerprint)
	}
	if out, err := g.Exec(ctx, "findmnt", "-n", "-o", "SOURCE", "/mnt/retention"); err != nil || strings.TrimSpace(string(out)) != "/dev/mapper/"+h.Retention.WWID {
		t.Errorf("/mnt/retention: %q %v", out, err)
	}
	if n, err := countLines(ctx, g, "/var/lib/mtlab/applycustomchanges.count"); err != nil || n != 1 {
		t.Errorf("ApplyCustomChanges.sh ran %d times (%v), want 1", n, err)
	}
	if n := len(l.ConfigServer.Registrations()); n != 1 {
		t.Errorf("%d registrations with the configuration server, want 1", n)
	}

	// Second build: every phase done, nothing changed in vSphere or the guest.
	tasks := vcsimTasks(l)
	before := guestState(t, ctx, g)
	manifest := must(os.Stat(filepath.Join(m.work, "mt01.handoff.json")))
	sampler = sampleArgv(ctx, g)
	r2 := m.mtprep(t, ctx, m.buildArgs()...)
	m.checkArgv(t, sampler)
	if r2.code != 0 {
		t.Fatalf("second build failed:\n%s", r2)
	}
	for _, p := range r2.report.Phases {
		if p.Status != provision.StatusDone {
			t.Errorf("second build: phase %s is %s, want done", p.Phase, p.Status)
		}
	}
	if n := vcsimTasks(l); n != tasks {
		t.Errorf("second build created %d vSphere tasks", n-tasks)
	}
	if r2.report.VSphere != nil {
		for call := range r2.report.VSphere.Calls {
			if strings.HasSuffix(call, "_Task") {
				t.Errorf("second build called %s", call)
			}
		}
	}
	if after := guestState(t, ctx, g); after != before {
		t.Errorf("second build changed the guest:\n%s", diff(before, after))
	}
	if st := must(os.Stat(filepath.Join(m.work, "mt01.handoff.json"))); !st.ModTime().Equal(manifest.ModTime()) {
		t.Error("second build rewrote the handoff manifest")
	}
	if n, _ := countLines(ctx, g, "/var/lib/mtlab/applycustomchanges.count"); n != 1 {
		t.Errorf("after the second build ApplyCustomChanges.sh ran %d times", n)
	}
	if n := len(l.ConfigServer.Registrations()); n != 1 {
		t.Errorf("after the second build: %d registrations", n)
	}
	if ss := r2.report.SSH; ss != nil {
		t.Logf("second build: SSH %+v", *ss)
	}

	// No secret in anything mtprep wrote or said.
	for _, r := range []*run{r1, r2} {
		m.checkNoSecret(t, "mtprep's stdout", r.stdout)
		m.checkNoSecret(t, "mtprep's stderr (debug log)", r.stderr)
	}
	filepath.WalkDir(m.work, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			m.checkNoSecret(t, p, string(must(os.ReadFile(p))))
		}
		return nil
	})
	if out, err := g.Exec(ctx, "bash", "-c", "cat /root/mtprep-ks-post.log /var/log/mtlab/*.log 2>/dev/null"); err == nil {
		m.checkNoSecret(t, "the guest's logs", string(out))
	}
	if out, err := g.Exec(ctx, "bash", "-c", "ls -d /root/.mtprep-pass* /root/mtprep/*pass* /tmp/*pass* 2>/dev/null; true"); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("the passphrase file was left in the guest: %s %v", out, err)
	}

	// The retention mount survives a reboot (fstab), and a build after it
	// still finds everything done.
	boot, err := g.Reboot(ctx)
	if err != nil || !boot.OK() {
		t.Fatalf("reboot: %v\n%s", err, boot.Log)
	}
	if !contains(boot.Mounted, "/mnt/retention") {
		t.Errorf("after a reboot /mnt/retention is not mounted (boot mounted %v)", boot.Mounted)
	}
	if r3 := m.mtprep(t, ctx, m.buildArgs("--phases", strings.Join(guestPhases, ","))...); r3.code != 0 {
		t.Errorf("build after a reboot:\n%s", r3)
	} else {
		for _, p := range r3.report.Phases {
			if p.Status != provision.StatusDone {
				t.Errorf("build after a reboot: %s is %s", p.Phase, p.Status)
			}
		}
	}

	t.Run("retention refusals", func(t *testing.T) { testRetentionRefusals(t, ctx, m, h) })
	t.Run("resumed upload", func(t *testing.T) { testResumedUpload(t, ctx, m) })
	t.Run("non-root user through sudo", func(t *testing.T) { testSudoUser(t, ctx, m) })
	// Last: it leaves the MT with a key mtprep does not trust.
	t.Run("changed host key", func(t *testing.T) { testChangedHostKey(t, ctx, m, h.HostKeySHA256) })
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func readHandoff(t *testing.T, m *mt) provision.Handoff {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(m.work, "mt01.handoff.json"))
	if err != nil {
		t.Fatalf("handoff manifest: %v", err)
	}
	var h provision.Handoff
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("handoff manifest: %v\n%s", err, b)
	}
	return h
}

// target is a Go-level target of m's spec, for running single phases.
func (m *mt) target(t *testing.T, opts provision.BuildOptions) *provision.Target {
	t.Helper()
	s, err := spec.Load(m.spec)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, kv := range m.env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	var logs bytes.Buffer
	t.Cleanup(func() {
		m.checkNoSecret(t, "the Go-level target's log", logs.String())
		if t.Failed() {
			t.Logf("target log:\n%s", tail(logs.String(), 4000))
		}
	})
	if opts.WorkDir == "" {
		opts.WorkDir = m.work
	}
	return &provision.Target{
		Spec: s, OS: centos.OS(), Options: opts, Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// testRetentionRefusals points the retention phase at the lab's disks that
// hold data or are in use: each is refused with its reason and its bytes
// are the same afterwards. Then --format-wwid formats the one disk it
// names, and only that one.
func testRetentionRefusals(t *testing.T, ctx context.Context, m *mt, h provision.Handoff) {
	g := m.g
	role := func(r lab.DiskRole) *lab.Disk {
		for _, d := range g.Disks() {
			if d.Role == r && d.VM == g.VMName {
				return d
			}
		}
		t.Fatalf("the lab presented no %s disk of %s", r, g.VMName)
		return nil
	}
	ext4, part, fat, mounted, zero, blank := role(lab.RoleExt4Data), role(lab.RolePartitioned), role(lab.RoleFAT32), role(lab.RoleMounted), role(lab.RoleZeroSize), role(lab.RoleBlank)
	osUUID := h.DiskUUIDs["os"]
	hashes := func() map[string]string {
		out := map[string]string{}
		for _, d := range g.Disks() {
			if d.WWID == h.Retention.WWID {
				continue // mtprep's retention volume, mounted and just made: the kernel still writes to it (ext4 lazy init)
			}
			out[d.WWID] = must(d.SHA256())
		}
		return out
	}
	cases := []struct {
		name, uuid, formatWWID, want string
		setup, undo                  []string // guest commands around the run
	}{
		{name: "ext4 with files", uuid: ext4.UUID, want: "holds a ext4 file system; to format it anyway, pass --format-wwid " + ext4.WWID},
		{name: "partition table", uuid: part.UUID, want: "holds a dos partition table"},
		{name: "FAT32", uuid: fat.UUID, want: "holds a FAT file system"},
		{name: "mounted", uuid: mounted.UUID, want: "is mounted at " + lab.MountedDiskPath},
		{name: "zero size", uuid: zero.UUID, want: "has zero size"},
		{name: "the OS disk", uuid: osUUID, want: "the retention disk and the OS disk have the same UUID"},
		{name: "not presented", uuid: lab.NewDiskUUID(), want: "no disk with WWID"},
		{name: "read-only (locked)", uuid: blank.UUID, want: "is read-only (locked)",
			setup: []string{"blockdev", "--setro", blank.Mapper}, undo: []string{"blockdev", "--setrw", blank.Mapper}},
		{name: "data past the first MiB, no file system", uuid: blank.UUID, want: "holds data (",
			setup: []string{"sh", "-c", "dd if=/dev/urandom of=" + blank.Mapper + " bs=1M seek=$(($(blockdev --getsize64 " + blank.Mapper + ")/1048576-1)) count=1 conv=notrunc,fsync 2>/dev/null"},
			undo:  []string{"sh", "-c", "dd if=/dev/zero of=" + blank.Mapper + " bs=1M seek=$(($(blockdev --getsize64 " + blank.Mapper + ")/1048576-1)) count=1 conv=notrunc,fsync 2>/dev/null"}},
		{name: "--format-wwid naming another disk", uuid: ext4.UUID, formatWWID: part.WWID, want: "holds a ext4 file system"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.setup != nil {
				if out, err := g.Exec(ctx, c.setup...); err != nil {
					t.Fatalf("%v: %s", err, out)
				}
				defer g.Exec(context.Background(), c.undo...)
			}
			before := hashes()
			tg := m.target(t, provision.BuildOptions{FormatWWID: c.formatWWID})
			defer tg.Close()
			tg.Facts.DiskUUIDs = map[string]string{"os": osUUID, "retention": c.uuid}
			phases := must(provision.Select(provision.Phases(), "retention"))
			rs, err := provision.Build(ctx, tg, phases)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want a refusal containing %q", err, c.want)
			}
			if len(rs) != 1 || rs[0].Status != provision.StatusFailed {
				t.Errorf("results %+v", rs)
			}
			after := hashes()
			for wwid, sum := range before {
				if after[wwid] != sum {
					t.Errorf("disk %s changed although the phase refused", wwid)
				}
			}
		})
	}

	t.Run("--format-wwid formats the disk it names", func(t *testing.T) {
		before := hashes()
		tg := m.target(t, provision.BuildOptions{FormatWWID: ext4.WWID})
		defer tg.Close()
		tg.Spec.Retention.Mountpoint = "/mnt/override"
		tg.Facts.DiskUUIDs = map[string]string{"os": osUUID, "retention": ext4.UUID}
		rs, err := provision.Build(ctx, tg, must(provision.Select(provision.Phases(), "retention")))
		if err != nil || rs[0].Status != provision.StatusChanged {
			t.Fatalf("override: %v %+v", err, rs)
		}
		after := hashes()
		for wwid, sum := range before {
			switch {
			case wwid == ext4.WWID && after[wwid] == sum:
				t.Errorf("the disk named by --format-wwid was not formatted")
			case wwid != ext4.WWID && after[wwid] != sum:
				t.Errorf("disk %s changed; only %s was named", wwid, ext4.WWID)
			}
		}
		if out, err := g.Exec(ctx, "blkid", "-o", "value", "-s", "LABEL", ext4.Mapper); err != nil || strings.TrimSpace(string(out)) != "mtprep-retention" {
			t.Errorf("label after the override: %q %v", out, err)
		}
	})
}

// testResumedUpload kills the SSH connection in the middle of an upload to
// the lab guest; the next upload resumes from what arrived and the file is
// whole (Upload checks its sha256 on the guest).
func testResumedUpload(t *testing.T, ctx context.Context, m *mt) {
	const size = 96 << 20
	local := filepath.Join(t.TempDir(), "blob")
	f := must(os.Create(local))
	buf := make([]byte, 1<<20)
	for i := 0; i < size>>20; i++ {
		for j := range buf {
			buf[j] = byte(i*131 + j*7 + j>>9)
		}
		f.Write(buf)
	}
	f.Close()
	s := must(spec.Load(m.spec))
	cfg := guest.ConfigFor(s, linux.Shell{}, nil, nil)
	c, err := guest.Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	remote := "/root/e2e-resume/blob"
	var killed bool
	_, err = c.Upload(ctx, local, remote, func(stage string, done, total int64) {
		if done >= size/2 && !killed {
			killed = true
			c.Close()
		}
	})
	if err == nil {
		t.Fatal("the upload survived a killed connection")
	}
	c2, err := guest.Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	res, err := c2.Upload(ctx, local, remote, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Resumed == 0 || res.Sent >= size || res.Resumed+res.Sent != size {
		t.Errorf("second upload: resumed %d, sent %d of %d", res.Resumed, res.Sent, size)
	}
	t.Logf("resumed at %d MiB, sent %d MiB", res.Resumed>>20, res.Sent>>20)
	res, err = c2.Upload(ctx, local, remote, nil)
	if err != nil || !res.Skipped {
		t.Errorf("third upload of the same file: %+v %v, want skipped", res, err)
	}
	c2.Run(ctx, "rm", "-rf", "/root/e2e-resume")
}

// testChangedHostKey gives the MT a new host key (as a reinstall or a man
// in the middle would): the build refuses, showing both fingerprints.
func testChangedHostKey(t *testing.T, ctx context.Context, m *mt, trusted string) {
	g := m.g
	if out, err := g.Exec(ctx, "bash", "-c", "rm -f /etc/ssh/ssh_host_rsa_key /etc/ssh/ssh_host_rsa_key.pub && ssh-keygen -q -t rsa -b 2048 -N '' -f /etc/ssh/ssh_host_rsa_key && cat /etc/ssh/ssh_host_rsa_key.pub"); err != nil {
		t.Fatalf("new host key: %v: %s", err, out)
	} else {
		pub, _, _, _, err := ssh.ParseAuthorizedKey(out)
		if err != nil {
			t.Fatal(err)
		}
		if boot, err := g.Reboot(ctx); err != nil || !boot.SSHD {
			t.Fatalf("reboot: %v", err)
		}
		known := must(os.ReadFile(filepath.Join(m.dir, "known_hosts")))
		r := m.mtprep(t, ctx, m.buildArgs()...)
		fresh := ssh.FingerprintSHA256(pub)
		if r.code != 1 || !strings.Contains(r.stderr, "host key of "+g.Address) || !strings.Contains(r.stderr, fresh) || !strings.Contains(r.stderr, trusted) {
			t.Errorf("want exit 1 and a refusal showing %s (presented) and %s (known):\n%s", fresh, trusted, r)
		}
		if st := r.status("packages"); st != provision.StatusFailed {
			t.Errorf("packages is %s, want failed", st)
		}
		if !bytes.Equal(known, must(os.ReadFile(filepath.Join(m.dir, "known_hosts")))) {
			t.Error("the refused build changed known_hosts")
		}
		t.Logf("refusal: %s", lastLine(r.stderr))
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		return s[i+1:]
	}
	return s
}

// TestBuildVaultCrash builds against the lab's vault repositories with the
// legacy (8.4, one-step install) agent, and crashes the first build while
// ApplyCustomChanges.sh runs: the next build refuses to run it again,
// --apply-custom-changes=mark-done continues, and the script ran exactly
// once.
func TestBuildVaultCrash(t *testing.T) {
	l := lab.Start(t)
	g := l.Guests[0]
	w := watch(t, l, g)
	m := newMT(t, l, g, mtOptions{packages: "vault", agent: slowAgent(t, l.AgentTarballLegacy)})
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	const count = "/var/lib/mtlab/applycustomchanges.count"

	p, err := m.start(ctx, m.buildArgs()...)
	if err != nil {
		t.Fatal(err)
	}
	// Crash once the script has run and before mtprep records its end.
	deadline := time.Now().Add(4 * time.Minute)
	for {
		n, err := countLines(ctx, g, count)
		if err == nil && n >= 1 {
			break
		}
		if p.exited() || time.Now().After(deadline) {
			p.cmd.Process.Kill()
			t.Fatalf("ApplyCustomChanges.sh never ran:\n%s\nwatcher: %v", m.finish(t, p), w.Err())
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.cmd.Process.Kill() // SIGKILL: the SSH connection dies with the process
	r := m.finish(t, p)
	if r.code == 0 {
		t.Fatalf("the killed build exited 0:\n%s", r)
	}
	if got := l.RepoRequests(); !containsPrefix(got, "GET /vault/6.6/os/x86_64/repodata/") {
		t.Errorf("the vault build did not read the vault repository: %v", got)
	}

	// The killed run's script goes on on the MT (a SIGKILL of mtprep does
	// not stop it): while it runs, a re-run says so and asks to wait.
	r = m.mtprep(t, ctx, m.buildArgs()...)
	if r.code != 1 || !strings.Contains(r.stderr, provision.ErrAppliedRunning.Error()) || !strings.Contains(r.stderr, "wait for it to end") {
		t.Fatalf("re-run while the script runs: want exit 1 and the wait:\n%s", r)
	}
	// The MT then loses the script without it recording its end (here: it
	// is killed, as a power loss would): the re-run cannot know whether it
	// did its work, and will not run it a second time.
	if out, err := g.Exec(ctx, "pkill", "-KILL", "-f", "ApplyCustomChanges"); err != nil {
		t.Fatalf("killing the hung script in the guest: %v %s", err, out)
	}
	for until := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if out, _ := g.Exec(ctx, "sh", "-c", "pgrep -f [A]pplyCustomChanges || true"); strings.TrimSpace(string(out)) == "" {
			break
		}
		if time.Now().After(until) {
			t.Fatal("the hung ApplyCustomChanges.sh did not die")
		}
	}
	r = m.mtprep(t, ctx, m.buildArgs()...)
	if r.code != 1 || !strings.Contains(r.stderr, provision.ErrAppliedUnknown.Error()) || !strings.Contains(r.stderr, "--apply-custom-changes=mark-done") {
		t.Fatalf("re-run after the crash: want exit 1 and the refusal:\n%s", r)
	}
	if r.status("packages") != provision.StatusDone || r.status("agent") != provision.StatusFailed {
		t.Errorf("re-run: packages %s, agent %s", r.status("packages"), r.status("agent"))
	}

	// The operator checked the MT: it did. The killed run still holds the
	// MT's locks, which the first change meets...
	r = m.mtprep(t, ctx, m.buildArgs("--apply-custom-changes=mark-done")...)
	if r.code != 1 || !strings.Contains(r.stderr, "--break-lock") {
		t.Fatalf("mark-done run with the killed run's lock: want exit 1 and the lock:\n%s", r)
	}
	// ...and, told that run is gone, the build goes on.
	r = m.mtprep(t, ctx, m.buildArgs("--apply-custom-changes=mark-done", "--break-lock")...)
	if r.code != 0 {
		t.Fatalf("mark-done run:\n%s", r)
	}
	for phase, want := range map[string]provision.Status{"install": provision.StatusDone, "agent": provision.StatusChanged, "retention": provision.StatusChanged, "handoff": provision.StatusChanged} {
		if got := r.status(phase); got != want {
			t.Errorf("mark-done run: %s is %s, want %s", phase, got, want)
		}
	}
	if n, err := countLines(ctx, g, count); err != nil || n != 1 {
		t.Errorf("ApplyCustomChanges.sh ran %d times (%v), want exactly 1", n, err)
	}
	h := readHandoff(t, m)
	if h.AgentVersion != "8.4.0.0" {
		t.Errorf("agent version %q, want 8.4.0.0", h.AgentVersion)
	}
	if regs := l.ConfigServer.Registrations(); len(regs) != 1 {
		t.Errorf("registrations: %+v", regs)
	}
	if out, err := g.Exec(ctx, "cat", "/var/lib/mtlab/ua-install.count"); err != nil || !strings.Contains(string(out), "form=legacy") {
		t.Errorf("the 8.4 agent was not installed in the one-step (legacy) form: %s %v", out, err)
	}

	r = m.mtprep(t, ctx, m.buildArgs()...)
	if r.code != 0 {
		t.Fatalf("build after mark-done:\n%s", r)
	}
	for _, p := range r.report.Phases {
		if p.Status != provision.StatusDone {
			t.Errorf("build after mark-done: %s is %s", p.Phase, p.Status)
		}
	}
	if n, _ := countLines(ctx, g, count); n != 1 {
		t.Errorf("ApplyCustomChanges.sh ran %d times in the end", n)
	}
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func diskByWWID(g *lab.Guest, wwid string) *lab.Disk {
	for _, d := range g.Disks() {
		if d.WWID == wwid {
			return d
		}
	}
	return nil
}

// testSudoUser logs in as a non-root user whose commands go through
// sudo -n (the real sudo, a NOPASSWD rule in the guest's sudoers.d): with a
// package removed, the packages phase uploads the bundle into the user's
// home (SFTP cannot write under /root as that user) and installs it as
// root; every other guest phase still finds its work done.
func testSudoUser(t *testing.T, ctx context.Context, m *mt) {
	const user = "mtadmin"
	setup := `set -e
id mtadmin >/dev/null 2>&1 || useradd -m -s /bin/bash mtadmin
usermod -p '*' mtadmin   # no password, not locked: sshd takes its key
install -d -m 0700 -o mtadmin -g mtadmin /home/mtadmin/.ssh
install -m 0600 -o mtadmin -g mtadmin /root/.ssh/authorized_keys /home/mtadmin/.ssh/authorized_keys
install -d -m 0750 /etc/sudoers.d
printf 'mtadmin ALL=(ALL) NOPASSWD: ALL\n' > /etc/sudoers.d/mtadmin
chmod 0440 /etc/sudoers.d/mtadmin
rpm -e --nodeps wget
`
	if out, err := m.g.Exec(ctx, "bash", "-c", setup); err != nil {
		t.Fatalf("guest set-up: %v\n%s", err, out)
	}
	spec := must(os.ReadFile(m.spec))
	sudoSpec := strings.Replace(string(spec), "\n  user: root\n", "\n  user: "+user+"\n", 1)
	if sudoSpec == string(spec) {
		t.Fatal("the spec has no ssh.user: root line to change")
	}
	orig := m.spec
	m.spec = filepath.Join(m.dir, "mt01-sudo.yaml")
	defer func() { m.spec = orig }()
	if err := os.WriteFile(m.spec, []byte(sudoSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	r := m.mtprep(t, ctx, m.buildArgs("--phases", strings.Join(guestPhases, ","))...)
	if r.code != 0 {
		t.Fatalf("build as %s:\n%s", user, r)
	}
	for _, p := range r.report.Phases {
		want := provision.StatusDone
		if p.Phase == "packages" {
			want = provision.StatusChanged
		}
		if p.Status != want {
			t.Errorf("build as %s: %s is %s, want %s (%s)", user, p.Phase, p.Status, want, p.Error)
		}
	}
	out, err := m.g.Exec(ctx, "bash", "-c", "rpm -q wget && stat -c '%U %n' /home/mtadmin/mtprep/"+filepath.Base(m.l.BundlePath))
	if err != nil {
		t.Fatalf("after the build as %s: %v\n%s", user, err, out)
	}
	if !strings.Contains(string(out), user+" /home/mtadmin/mtprep/") {
		t.Errorf("the bundle is not in %s's home, owned by %s:\n%s", user, user, out)
	}
	t.Logf("as %s: %s", user, strings.Join(strings.Fields(string(out)), " "))
}
