package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mtprep/mtprep/internal/lab"
	"github.com/mtprep/mtprep/internal/testiso"
	"github.com/mtprep/mtprep/provision"
	"github.com/mtprep/mtprep/provision/guest"
)

// fixtures are built once per test binary: the mtprep CLI (the tests run
// the real binary, so its argv and output are what a user's would be) and
// the CentOS-6.6-shaped base ISO. Test-only state, set once.
var fixtures struct {
	once    sync.Once
	dir     string
	bin     string
	baseISO string
	err     error
	skip    string

	ubuntuOnce sync.Once
	ubuntuISO  string
	ubuntuErr  error
}

func getFixtures(t *testing.T) (bin, baseISO string) {
	t.Helper()
	fixtures.once.Do(func() {
		dir, err := os.MkdirTemp("", "mtprep-e2e-")
		if err != nil {
			fixtures.err = err
			return
		}
		fixtures.dir = dir
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		fixtures.bin = filepath.Join(dir, "mtprep")
		cmd := exec.CommandContext(ctx, goBin, "build", "-o", fixtures.bin, "github.com/mtprep/mtprep/cmd/mtprep")
		if out, err := cmd.CombinedOutput(); err != nil {
			fixtures.err = fmt.Errorf("go build mtprep: %w\n%s", err, out)
			return
		}
		fixtures.baseISO, err = testiso.Build(ctx, dir, testiso.Options{})
		if errors.Is(err, testiso.ErrMissingHost) {
			fixtures.skip = err.Error()
			return
		}
		fixtures.err = err
	})
	if fixtures.skip != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("test base ISO cannot be built and CI=true: %s", fixtures.skip)
		}
		t.Skipf("skipping: test base ISO: %s", fixtures.skip)
	}
	if fixtures.err != nil {
		t.Fatal(fixtures.err)
	}
	return fixtures.bin, fixtures.baseISO
}

// getUbuntuBase is the Ubuntu 16.04.2 server stand-in, built once beside
// the other fixtures.
func getUbuntuBase(t *testing.T) string {
	t.Helper()
	getFixtures(t)
	fixtures.ubuntuOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		fixtures.ubuntuISO, fixtures.ubuntuErr = testiso.BuildUbuntu(ctx, fixtures.dir, testiso.UbuntuOptions{})
	})
	if fixtures.ubuntuErr != nil {
		t.Fatal(fixtures.ubuntuErr)
	}
	return fixtures.ubuntuISO
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtures.dir != "" {
		os.RemoveAll(fixtures.dir)
	}
	os.Exit(code)
}

// mt is one MT spec pointed at a lab guest, with its secrets.
type mt struct {
	l       *lab.Lab
	g       *lab.Guest
	bin     string
	dir     string // spec, secret files, known_hosts
	spec    string
	work    string
	env     []string
	secrets map[string]string // what must never appear: name -> value
}

type mtOptions struct {
	packages   string // bundle | vault
	agent      string // tarball
	thumbprint bool   // pin the vCenter certificate instead of insecure
	// ubuntu: os: ubuntu-16.04 on the Ubuntu base stand-in, with the
	// lab's .deb bundle (the lab must be FlavourUbuntu).
	ubuntu bool
	// bundle replaces the lab's offline bundle (source: bundle).
	bundle string
	// tools is tools.source ("" leaves it out: the default).
	tools string
}

// newMT writes the spec for guest g of l: vSphere from l.VC, the guest's
// address with a /24 and the lab host as gateway and DNS, the lab's user
// key, a fresh known_hosts (the iso phase records the MT's key in it), the
// lab's configuration server. Secrets: the root password in an
// environment variable, the vCenter password and the passphrase in files.
func newMT(t *testing.T, l *lab.Lab, g *lab.Guest, o mtOptions) *mt {
	t.Helper()
	bin, baseISO := getFixtures(t)
	dir := t.TempDir()
	m := &mt{l: l, g: g, bin: bin, dir: dir, spec: filepath.Join(dir, "mt01.yaml"), work: filepath.Join(dir, "work")}
	rootPW := "Root-Pw-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	m.secrets = map[string]string{
		"root password":        rootPW,
		"vCenter password":     l.VC.Password,
		"configuration server": strings.TrimSpace(string(must(os.ReadFile(l.ConfigServer.PassphraseFile)))),
	}
	if err := os.WriteFile(filepath.Join(dir, "vc-password"), []byte(l.VC.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "MT_ROOT_PASSWORD=" + rootPW}
	u := *l.VC.URL
	u.User = nil
	tls := "insecure: true"
	if o.thumbprint {
		tls = "thumbprint: " + l.VC.Thumbprint
	}
	bundle := l.BundlePath
	if o.bundle != "" {
		bundle = o.bundle
	}
	pkgs := fmt.Sprintf("{source: bundle, bundle: %s}", bundle)
	if o.packages == "vault" {
		pkgs = fmt.Sprintf("{source: vault, repos: [%s], gpgCheck: false}", strings.Join(l.VaultRepos(), ", "))
	}
	osName, device := "centos-6.6", "eth0"
	if o.ubuntu {
		osName, device, baseISO = "ubuntu-16.04", "ens160", getUbuntuBase(t)
		pkgs = fmt.Sprintf("{source: bundle, bundle: %s}", l.UbuntuBundlePath)
	}
	spec := fmt.Sprintf(`# e2e: MT mt01 on lab guest %s
name: mt01
os: %s
vsphere:
  url: %s
  username: %s
  password: {file: ./vc-password}
  %s
  datacenter: %s
  host: DC0_H0
  datastore: %s
  network: %s
iso: {base: %s}
vm: {cpus: 4, memoryMB: 6144, osDiskGB: 100, retentionDiskGB: 1024}
network:
  hostname: mt01.lab.local
  ip: %s/24
  gateway: %s
  dns: [%s]
  device: %s
timezone: UTC
rootPassword: {env: MT_ROOT_PASSWORD}
ssh:
  user: root
  privateKey: %s
  knownHosts: ./known_hosts
  hostKey: strict
packages: %s
agent: {tarball: %s}
configServer:
  ip: %s
  port: %d
  passphrase: {file: %s}
retention: {mountpoint: /mnt/retention, filesystem: ext4}
%s`, g.Name, osName, u.String(), l.VC.Username, tls, l.VC.Datacenter, l.VC.Datastore, l.VC.Network, baseISO,
		g.Address, l.HostIP, l.HostIP, device, g.UserKeyFile, pkgs, o.agent, l.ConfigServer.IP, l.ConfigServer.Port, l.ConfigServer.PassphraseFile, toolsKey(o.tools))
	if err := os.WriteFile(m.spec, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	return m
}

// toolsKey is the spec's tools line for source src, "" for none.
func toolsKey(src string) string {
	if src == "" {
		return ""
	}
	return "tools: {source: " + src + "}\n"
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// run is one mtprep invocation.
type run struct {
	args           []string
	code           int
	stdout, stderr string
	report         report
}

// report is `mtprep build --format json`'s output (cmd/mtprep).
type report struct {
	OK      bool               `json:"ok"`
	Error   string             `json:"error"`
	Phases  []provision.Result `json:"phases"`
	Facts   *provision.Facts   `json:"facts"`
	VSphere *struct {
		Calls map[string]int64 `json:"calls"`
	} `json:"vsphereRoundTrips"`
	SSH *guest.Stats `json:"sshRoundTrips"`
}

func (r *run) String() string {
	return fmt.Sprintf("mtprep %s: exit %d\n--- stdout\n%s\n--- stderr (tail)\n%s", strings.Join(r.args, " "), r.code, r.stdout, tail(r.stderr, 6000))
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func (r *run) status(phase string) provision.Status {
	for _, p := range r.report.Phases {
		if p.Phase == phase {
			return p.Status
		}
	}
	return ""
}

// buildArgs are the flags every build here uses: debug logs (the secret
// checks want everything mtprep can log) and JSON on stdout.
func (m *mt) buildArgs(extra ...string) []string {
	return append([]string{"build", "--spec", m.spec, "--work-dir", m.work, "--log-level", "debug", "--format", "json",
		"--install-timeout", "90s", "--reboot-timeout", "2m"}, extra...)
}

// proc is an mtprep process started with start.
type proc struct {
	cmd       *exec.Cmd
	args      []string
	out, errb bytes.Buffer
	done      chan struct{}
	err       error
}

// start starts mtprep with args; wait with finish.
func (m *mt) start(ctx context.Context, args ...string) (*proc, error) {
	p := &proc{cmd: exec.CommandContext(ctx, m.bin, args...), args: args, done: make(chan struct{})}
	p.cmd.Env = m.env
	p.cmd.Dir = m.dir
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.errb
	p.cmd.WaitDelay = 10 * time.Second
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	return p, nil
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (m *mt) finish(t *testing.T, p *proc) *run {
	t.Helper()
	<-p.done
	r := &run{args: p.args, stdout: p.out.String(), stderr: p.errb.String()}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
	case errors.As(p.err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("mtprep %v: %v", p.args, p.err)
	}
	if strings.HasPrefix(strings.TrimSpace(r.stdout), "{") {
		if err := json.Unmarshal([]byte(r.stdout), &r.report); err != nil {
			t.Errorf("mtprep %v: stdout is not the JSON report: %v", p.args, err)
		}
	}
	return r
}

// mtprep runs the CLI to the end.
func (m *mt) mtprep(t *testing.T, ctx context.Context, args ...string) *run {
	t.Helper()
	p, err := m.start(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	return m.finish(t, p)
}

// checkNoSecret fails when any secret of m appears in text (what says
// where it looked).
func (m *mt) checkNoSecret(t *testing.T, what, text string) {
	t.Helper()
	for name, v := range m.secrets {
		if v != "" && strings.Contains(text, v) {
			t.Errorf("the %s appears in %s", name, what)
		}
	}
}

// argvSampler records every distinct process argument list seen while it
// runs: the host's /proc (which shows the guest's processes too) often,
// and `ps` inside the guest's PID namespace now and then.
type argvSampler struct {
	mu     sync.Mutex
	seen   map[string]string // argv -> where
	n      int
	cancel context.CancelFunc
	done   chan struct{}
}

func sampleArgv(ctx context.Context, g *lab.Guest) *argvSampler {
	return sampleArgvEvery(ctx, g, 15*time.Millisecond, 20)
}

// sampleArgvEvery samples the host's /proc every interval and the guest's
// ps every guestEvery-th time.
func sampleArgvEvery(ctx context.Context, g *lab.Guest, interval time.Duration, guestEvery int) *argvSampler {
	ctx, cancel := context.WithCancel(ctx)
	s := &argvSampler{seen: map[string]string{}, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for i := 0; ; i++ {
			s.host()
			if i%guestEvery == 0 {
				if out, err := g.Exec(ctx, "ps", "-eo", "args"); err == nil {
					s.add(strings.Split(string(out), "\n"), "guest ps")
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *argvSampler) host() {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	var lines []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || len(b) == 0 {
			continue
		}
		lines = append(lines, strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " "))
	}
	s.add(lines, "host /proc/*/cmdline")
}

func (s *argvSampler) add(lines []string, where string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	for _, l := range lines {
		if _, ok := s.seen[l]; !ok && l != "" {
			s.seen[l] = where
		}
	}
}

// stop ends the sampling and returns what it saw.
func (s *argvSampler) stop() (map[string]string, int) {
	s.cancel()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen, s.n
}

func (m *mt) checkArgv(t *testing.T, s *argvSampler) {
	t.Helper()
	seen, n := s.stop()
	var mtprepSeen, guestSeen bool
	for argv, where := range seen {
		m.checkNoSecret(t, where+" ("+argv+")", argv)
		if strings.Contains(argv, m.bin+" build") {
			mtprepSeen = true
		}
		if strings.Contains(argv, "bash -s --") {
			guestSeen = true
		}
	}
	t.Logf("argv sampler: %d samples, %d distinct argument lists", n, len(seen))
	if !mtprepSeen || !guestSeen {
		t.Errorf("the sampler missed mtprep (%v) or its guest scripts (%v): it proves nothing", mtprepSeen, guestSeen)
	}
}

// guestState fingerprints what a build could change in the guest: every
// file under /etc, /root, /usr/local and the retention volume (path, size,
// mtime, mode) and the RPM database's package list.
func guestState(t *testing.T, ctx context.Context, g *lab.Guest) string {
	t.Helper()
	out, err := g.Exec(ctx, "bash", "-c",
		`find /etc /root /usr/local /mnt/retention -xdev \( -type f -o -type l \) -printf '%p %s %T@ %m\n' | sort; rpm -qa 2>/dev/null | sort`)
	if err != nil {
		t.Fatalf("guest state: %v: %s", err, out)
	}
	return string(out)
}

// diff lists the lines only in a or only in b.
func diff(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out []string
	for l := range ma {
		if !mb[l] {
			out = append(out, "- "+l)
		}
	}
	for l := range mb {
		if !ma[l] {
			out = append(out, "+ "+l)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// vcsimTasks counts the tasks vcsim has ever created.
func vcsimTasks(l *lab.Lab) int { return len(l.VC.Model.Map().AllReference("Task")) }

// countLines counts the lines of a guest file (0 when it does not exist).
func countLines(ctx context.Context, g *lab.Guest, path string) (int, error) {
	out, err := g.Exec(ctx, "bash", "-c", `[ -f "$1" ] || exit 0; wc -l < "$1"`, "-", path)
	if err != nil {
		return 0, fmt.Errorf("%w: %s", err, out)
	}
	s := strings.TrimSpace(string(out))
	if s == "" {
		return 0, nil
	}
	return strconv.Atoi(s)
}

// slowAgent copies an agent tarball with ApplyCustomChanges.sh replaced by
// a wrapper that runs the lab's stand-in (which counts its runs) and then
// sleeps, so a test can crash mtprep between the script's run and the
// done marker. The file keeps its name: mtprep reads the version from it.
func slowAgent(t *testing.T, src string) string {
	t.Helper()
	const wrapper = `#!/bin/bash
# e2e test wrapper around the lab's ApplyCustomChanges.sh stand-in: run it
# (it counts its runs), then hang, so that the test can crash mtprep after
# the script ran and before mtprep records that it finished.
bash "$(dirname "$0")/ApplyCustomChanges.standin.sh" "$@" || exit $?
sleep 600
`
	return wrapAgent(t, src, wrapper)
}

// wrapAgent copies an agent tarball with ApplyCustomChanges.sh replaced by
// wrapper; the lab's stand-in is kept beside it as
// ApplyCustomChanges.standin.sh for the wrapper to run.
func wrapAgent(t *testing.T, src, wrapper string) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	gz, err := gzip.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(out)
	tw := tar.NewWriter(zw)
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(h.Name) == "ApplyCustomChanges.sh" {
			orig := *h
			orig.Name = filepath.Join(filepath.Dir(h.Name), "ApplyCustomChanges.standin.sh")
			if err := tw.WriteHeader(&orig); err != nil {
				t.Fatal(err)
			}
			tw.Write(body)
			h.Size = int64(len(wrapper))
			h.Mode = 0o755
			body = []byte(wrapper)
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []io.Closer{tw, zw, out} {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// watch starts the lab's install stand-in for VM mt01 on g.
func watch(t *testing.T, l *lab.Lab, g *lab.Guest) *lab.InstallWatcher {
	t.Helper()
	w, err := l.WatchInstalls(context.Background(), map[string]*lab.Guest{"mt01": g})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return w
}
