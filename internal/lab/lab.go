package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Options configures Up.
type Options struct {
	// Guests is the number of MT guests; default 1.
	Guests int
	// StateDir holds the lab's runs (run-<id>/: guest roots, disk images,
	// keys, the datastore) and the cache of built RPMs, repositories,
	// bundle and agent stand-ins. Default: DefaultStateDir().
	StateDir string
	Logger   *slog.Logger
	// DiskSize caps the size of a presented disk (vSphere may say 1 TB; the
	// guest sees at most this). Default 256 MiB.
	DiskSize int64
	// RebootDelay is how long a rebooting guest stays down. Default 2s.
	RebootDelay time.Duration
	// NoMTVM skips creating each guest's MT VM in vCenter and presenting
	// its disks.
	NoMTVM bool
	// Flavour is the guests' OS: FlavourCentOS (CentOS 6.6, the default)
	// or FlavourUbuntu (Ubuntu 16.04.2; see ubuntu.go).
	Flavour string
	// GuestFlavours sets guest i's flavour (g1 is index 0) where it is
	// not "": a lab with CentOS and Ubuntu guests side by side.
	GuestFlavours []string
}

// Lab is a running lab. Its fields are read-only.
type Lab struct {
	VC     *VCenter
	Guests []*Guest
	// ConfigServer is the configuration server stand-in (TLS on 443).
	ConfigServer *ConfigServer

	// HostIP is the lab host's address on the lab network: the guests'
	// gateway and the HTTP server of the repositories.
	HostIP string
	// VaultURL is a mirror of vault.centos.org's layout holding the test
	// packages: <VaultURL>6.6/os/x86_64/ (all CentOS packages),
	// 6.6/updates/x86_64/ and 6.6/extras/x86_64/ (empty repositories).
	// The same tree is served under /centos/ for mirror.centos.org-style
	// URLs.
	VaultURL string
	// RepoURL is the online yum repository: VaultURL + "6.6/os/x86_64/".
	RepoURL string
	// ELRepoURL is elrepo's el6 tree (a repository; the RPMs are at
	// <ELRepoURL>RPMS/<file>, as the seed's wget URLs expect).
	ELRepoURL string
	// EPELURL is EPEL 6's x86_64 tree (a repository; the RPMs are in
	// Packages/): the VMware Tools stand-in, open-vm-tools, is there.
	EPELURL string
	// BundlePath is the offline bundle: an uncompressed tar with SHA256SUMS
	// ("<hex>  <file>") first and every test RPM at the top level.
	BundlePath string
	// RPMs maps each test package name to its RPM file.
	RPMs map[string]string
	// AgentTarball is the Unified Agent stand-in 9.3.0.0 (newer install
	// form); AgentTarballLegacy is 8.4.0.0 (the CentOS 6.6 one-step form).
	AgentTarball       string
	AgentTarballLegacy string
	// RunDir is this run's directory under StateDir.
	RunDir string
	// UbuntuBundlePath is the Ubuntu guests' offline bundle of test .debs
	// (SHA256SUMS first), UbuntuAptSource the sources.list line of the
	// lab's flat apt repository holding them and the kernel packages,
	// UbuntuDebs each test package's .deb; set for FlavourUbuntu only.
	UbuntuBundlePath string
	UbuntuAptSource  string
	UbuntuDebs       map[string]string
	// UbuntuAgentTarball is the UBUNTU-16.04-64 agent stand-in (9.10.0.0),
	// whose install and ApplyCustomChanges.sh run on Ubuntu 16.04 only.
	UbuntuAgentTarball string

	// UpTime is how long Up took; DownTime how long Down took.
	UpTime   time.Duration
	DownTime time.Duration

	opts     Options
	log      *slog.Logger
	slot     *slot
	runDir   string
	runID    string
	bridge   string
	art      *artifacts
	ubu      *ubuntuArtifacts
	httpSrv  *http.Server
	dns      *dnsServer
	userKey  *rsaKey
	reqMu    sync.Mutex
	requests []string
	// khMu serialises rewrites of the guests' known_hosts file (the
	// install stand-in replaces a guest's line).
	khMu sync.Mutex

	// tools couples VMs to the guests whose Tools stand-in they report
	// (tools.go).
	tools toolsWatch
	// toolsCDs are the VMware Tools installers mounted in VMs
	// (toolsinstaller.go).
	toolsCDs toolsCDs

	downOnce sync.Once
	downErr  error
}

// Domain is the lab network's DNS domain: the guests are
// mtlab-g<N>.lab.local, the configuration server cs.lab.local, the
// repository server repo.lab.local.
const Domain = "lab.local"

// DefaultStateDir is where tests keep the lab's state when Options.StateDir
// is empty: a fixed place, so that the next run finds a killed run's
// leftovers and reuses the cached RPMs.
func DefaultStateDir() string { return filepath.Join(os.TempDir(), "mtprep-lab") }

// requiredTools are the host programs the lab runs (and the guest uses,
// since its root is an overlay of the host's).
func requiredTools() []string {
	return []string{
		"ip", "nsenter", "mount", "fsck", "mke2fs", "mkfs.ext4", "fsck.ext4", "mkfs.vfat", "sfdisk",
		"rpm", "rpmbuild", "createrepo_c", "dnf", "curl", "setsid", "timeout", "bash",
		"/usr/sbin/sshd", "/usr/lib/openssh/sftp-server",
	}
}

// Preflight reports why the lab cannot run here, or nil.
func Preflight() error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("the lab needs Linux (this is %s)", runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		return errors.New("the lab needs root (network namespaces, loop devices, mounts)")
	}
	var missing []string
	for _, t := range requiredTools() {
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the lab needs these programs: %s (Debian packages in .ci/apt-packages.d/lab.txt)", strings.Join(missing, ", "))
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		return fmt.Errorf("no loop device support: %w", err)
	}
	if b, err := os.ReadFile("/proc/filesystems"); err != nil || !strings.Contains(string(b), "\toverlay\n") {
		return errors.New("the kernel has no overlay file system")
	}
	return nil
}

// Up starts a lab: vCenter (vcsim), the lab network, the guests, the
// repositories, the configuration server, and for each guest an MT VM whose
// disks are presented to it. It first removes what labs that were killed
// left behind. On error everything already started is torn down.
func Up(ctx context.Context, o Options) (_ *Lab, err error) {
	start := time.Now()
	if o.Guests <= 0 {
		o.Guests = 1
	}
	if o.Guests > 50 {
		return nil, errors.New("at most 50 guests")
	}
	if o.StateDir == "" {
		o.StateDir = DefaultStateDir()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.DiskSize <= 0 {
		o.DiskSize = 256 << 20
	}
	if o.RebootDelay <= 0 {
		o.RebootDelay = 2 * time.Second
	}
	if err := Preflight(); err != nil {
		return nil, err
	}
	if o.StateDir, err = filepath.Abs(o.StateDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.StateDir, 0o755); err != nil {
		return nil, err
	}
	log := o.Logger
	l := &Lab{opts: o, log: log}
	timings := []any{}
	step := func(name string, t0 time.Time) {
		timings = append(timings, name, time.Since(t0).Round(time.Millisecond))
	}

	t0 := time.Now()
	if err := cleanup(ctx, log, o.StateDir); err != nil {
		log.Warn("cleanup of dead labs was incomplete", "err", err)
	}
	s, err := acquireSlot(ctx, log, o.StateDir)
	if err != nil {
		return nil, err
	}
	l.slot, l.runID, l.runDir, l.RunDir = s, s.rec.RunID, s.rec.RunDir, s.rec.RunDir
	defer func() {
		if err != nil {
			if derr := l.Down(); derr != nil {
				log.Warn("tear-down after a failed start", "err", derr)
			}
		}
	}()
	if err := os.MkdirAll(l.runDir, 0o755); err != nil {
		return nil, err
	}
	step("cleanup", t0)
	log.Info("lab starting", "slot", s.n, "run", l.runID, "dir", l.runDir)

	// The RPMs, repositories, bundle and agent stand-ins build (or come from
	// the cache) while the rest starts.
	type artResult struct {
		a   *artifacts
		err error
	}
	artCh := make(chan artResult, 1)
	go func() {
		a, err := buildArtifacts(ctx, log, o.StateDir)
		artCh <- artResult{a, err}
	}()
	defer func() {
		if l.art == nil {
			<-artCh // never leave the build running behind a failed start
		}
	}()

	t0 = time.Now()
	keys := make([]*rsaKey, o.Guests+1)
	kerrs := make([]error, o.Guests+1)
	var kwg sync.WaitGroup
	for i := range keys {
		kwg.Add(1)
		go func() { defer kwg.Done(); keys[i], kerrs[i] = newRSAKey() }()
	}
	kwg.Wait()
	if err := errors.Join(kerrs...); err != nil {
		return nil, err
	}
	l.userKey = keys[0]
	step("keys", t0)

	t0 = time.Now()
	l.HostIP = fmt.Sprintf("%s.%d.1", subnetPrefix, s.n)
	csIP := fmt.Sprintf("%s.%d.5", subnetPrefix, s.n)
	l.bridge = fmt.Sprintf("mtl%sb", l.runID)
	if err := l.setupBridge(ctx, csIP); err != nil {
		return nil, err
	}
	names := map[string]net.IP{"cs." + Domain: net.ParseIP(csIP), "repo." + Domain: net.ParseIP(l.HostIP)}
	for i := 1; i <= o.Guests; i++ {
		names[fmt.Sprintf("mtlab-g%d.%s", i, Domain)] = net.ParseIP(fmt.Sprintf("%s.%d.%d", subnetPrefix, s.n, 10+i))
	}
	if l.dns, err = startDNS(net.JoinHostPort(l.HostIP, "53"), names, log.With("part", "dns")); err != nil {
		return nil, fmt.Errorf("lab name server: %w", err)
	}
	step("network", t0)

	t0 = time.Now()
	l.VC, err = startVCenter(ctx, filepath.Join(l.runDir, "datastore", vcDatastore), func(dir string) {
		s.update(func(r *Record) { r.VcsimDir = dir })
	})
	if err != nil {
		return nil, err
	}
	s.update(func(r *Record) { r.VCenter = l.VC.URL.Host })
	// MountToolsInstaller and UnmountToolsInstaller: the lab's stand-in.
	l.VC.Model.Map().Handler = l.vcHandler
	step("vcenter", t0)

	t0 = time.Now()
	userKeyFile := filepath.Join(l.runDir, "id_rsa")
	if err := os.WriteFile(userKeyFile, l.userKey.PEM, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(userKeyFile+".pub", l.userKey.authorizedLine("mtlab"), 0o644); err != nil {
		return nil, err
	}
	knownHosts := filepath.Join(l.runDir, "known_hosts")
	var kh strings.Builder
	rootUUIDs := make([]string, o.Guests)
	for i := 0; i < o.Guests; i++ {
		g := l.newGuest(i+1, keys[i+1], userKeyFile, knownHosts)
		kh.WriteString(knownhosts.Line([]string{g.Address}, g.HostKeyPublic) + "\n")
		l.Guests = append(l.Guests, g)
	}
	if err := os.WriteFile(knownHosts, []byte(kh.String()), 0o644); err != nil {
		return nil, err
	}
	for i, g := range l.Guests {
		rootUUIDs[i] = newUUID4()
		if err := l.prepareGuest(ctx, g, keys[i+1], rootUUIDs[i]); err != nil {
			return nil, fmt.Errorf("guest %s: %w", g.Name, err)
		}
	}
	// Boot the guests side by side.
	gerrs := make([]error, len(l.Guests))
	var gwg sync.WaitGroup
	for i, g := range l.Guests {
		gwg.Add(1)
		go func() { defer gwg.Done(); gerrs[i] = l.startGuest(ctx, g) }()
	}
	gwg.Wait()
	if err := errors.Join(gerrs...); err != nil {
		return nil, err
	}
	step("guests", t0)

	t0 = time.Now()
	ar := <-artCh
	if ar.err != nil {
		return nil, ar.err
	}
	l.art = ar.a
	l.BundlePath, l.AgentTarball, l.AgentTarballLegacy, l.RPMs = ar.a.Bundle, ar.a.Agent, ar.a.AgentLegacy, ar.a.RPMs
	step("artifacts-wait", t0)
	timings = append(timings, "artifacts-build", ar.a.BuildElapsed.Round(time.Millisecond), "artifacts-cached", !ar.a.BuiltNow)

	t0 = time.Now()
	install := l.installBase
	if o.anyUbuntu() {
		if l.ubu, err = buildUbuntuArtifacts(ctx, filepath.Join(l.runDir, "ubuntu")); err != nil {
			return nil, fmt.Errorf("ubuntu test packages: %w", err)
		}
		l.UbuntuBundlePath, l.UbuntuDebs, l.UbuntuAgentTarball = l.ubu.Bundle, l.ubu.Debs, l.ubu.Agent
	}
	for i, g := range l.Guests {
		gwg.Add(1)
		install := install
		if g.Flavour == FlavourUbuntu {
			install = l.installBaseUbuntu
		}
		go func() { defer gwg.Done(); gerrs[i] = install(ctx, g) }()
	}
	gwg.Wait()
	if err := errors.Join(gerrs...); err != nil {
		return nil, err
	}
	step("rpmdb", t0)

	t0 = time.Now()
	if err := l.startRepoServer(ctx); err != nil {
		return nil, err
	}
	passphrase := randomToken(18)
	l.ConfigServer, err = newConfigServer(log.With("part", "config-server"), csIP, passphrase)
	if err != nil {
		return nil, err
	}
	l.ConfigServer.PassphraseFile = filepath.Join(l.runDir, "passphrase.txt")
	if err := os.WriteFile(l.ConfigServer.PassphraseFile, []byte(passphrase+"\n"), 0o600); err != nil {
		return nil, err
	}
	if err := l.ConfigServer.Start(); err != nil {
		return nil, err
	}
	step("servers", t0)

	if !o.NoMTVM {
		t0 = time.Now()
		for i, g := range l.Guests {
			if err := l.createGuestVM(ctx, g, rootUUIDs[i]); err != nil {
				return nil, fmt.Errorf("MT VM of guest %s: %w", g.Name, err)
			}
		}
		step("mt-vms", t0)
	}

	s.update(func(r *Record) { r.Completed = true })
	l.UpTime = time.Since(start)
	log.Info("lab up", append([]any{"elapsed", l.UpTime.Round(time.Millisecond)}, timings...)...)
	return l, nil
}

// setupBridge makes the lab network: a bridge with the host's address and
// the configuration server's address on it.
func (l *Lab) setupBridge(ctx context.Context, csIP string) error {
	br := l.bridge
	for _, args := range [][]string{
		{"link", "add", br, "type", "bridge"},
		{"addr", "add", l.HostIP + "/24", "dev", br},
		{"addr", "add", csIP + "/24", "dev", br},
		{"link", "set", br, "up"},
	} {
		if err := run(ctx, "ip", args...); err != nil {
			return err
		}
	}
	return nil
}

func (l *Lab) newGuest(i int, hostKey *rsaKey, userKeyFile, knownHosts string) *Guest {
	name := fmt.Sprintf("g%d", i)
	flavour := l.opts.Flavour
	if i-1 < len(l.opts.GuestFlavours) && l.opts.GuestFlavours[i-1] != "" {
		flavour = l.opts.GuestFlavours[i-1]
	}
	return &Guest{
		Name:               name,
		Flavour:            flavour,
		Hostname:           fmt.Sprintf("mtlab-%s.%s", name, Domain),
		VMName:             fmt.Sprintf("mtlab-%s", name),
		Address:            fmt.Sprintf("%s.%d.%d", subnetPrefix, l.slot.n, 10+i),
		SSHPort:            22,
		Netns:              fmt.Sprintf("mtlab-%s-%s", l.runID, name),
		Root:               filepath.Join(l.runDir, name, "root"),
		HostKeyPublic:      hostKey.Public,
		HostKeyFingerprint: ssh.FingerprintSHA256(hostKey.Public),
		KnownHostsFile:     knownHosts,
		UserKeyFile:        userKeyFile,
		userSigner:         l.userKey.Signer,
		lab:                l,
		log:                l.log.With("guest", name),
		upper:              filepath.Join(l.runDir, name, "upper"),
		changed:            make(chan struct{}),
	}
}

// prepareGuest mounts the guest's root (an overlay of the host's / with a
// tmpfs upper layer), fills it, and wires its network namespace.
func (l *Lab) prepareGuest(ctx context.Context, g *Guest, hostKey *rsaKey, rootUUID string) error {
	for _, d := range []string{g.upper, g.Root} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	// The upper layer must be on another file system than the lower (the
	// host's /), or the kernel refuses the overlapping layers.
	if err := run(ctx, "mount", "-t", "tmpfs", "-o", "mode=0755,size=2g", "mtlab-upper", g.upper); err != nil {
		return err
	}
	for _, d := range []string{"u", "w"} {
		if err := os.Mkdir(filepath.Join(g.upper, d), 0o755); err != nil {
			return err
		}
	}
	var fresh map[string]os.FileMode
	if g.Flavour == FlavourUbuntu {
		fresh = ubuntuFresh()
	}
	if err := prepareUpper(filepath.Join(g.upper, "u"), fresh); err != nil {
		return err
	}
	opts := fmt.Sprintf("lowerdir=/,upperdir=%s/u,workdir=%s/w", g.upper, g.upper)
	if err := run(ctx, "mount", "-t", "overlay", "-o", opts, "mtlab-root", g.Root); err != nil {
		return err
	}
	data := guestTemplateData{Hostname: g.Hostname, Address: g.Address, Gateway: l.HostIP, RootUUID: rootUUID}
	if err := g.populate(hostKey, l.userKey.authorizedLine("mtlab"), data); err != nil {
		return err
	}
	if g.Flavour == FlavourUbuntu {
		if err := g.populateUbuntu(); err != nil {
			return err
		}
	}
	host := fmt.Sprintf("mtl%sh%s", l.runID, strings.TrimPrefix(g.Name, "g"))
	peer := fmt.Sprintf("mtl%sg%s", l.runID, strings.TrimPrefix(g.Name, "g"))
	l.slot.update(func(r *Record) {
		r.Netns = append(r.Netns, g.Netns)
		r.Guests = append(r.Guests, g.Name+"="+g.Address)
	})
	for _, args := range [][]string{
		{"netns", "add", g.Netns},
		{"link", "add", host, "type", "veth", "peer", "name", peer},
		{"link", "set", host, "master", l.bridge, "up"},
		{"link", "set", peer, "netns", g.Netns},
		// eth0, as on a CentOS 6 VM with one NIC.
		{"-n", g.Netns, "link", "set", peer, "name", "eth0"},
		{"-n", g.Netns, "addr", "add", g.Address + "/24", "dev", "eth0"},
		{"-n", g.Netns, "link", "set", "eth0", "up"},
		{"-n", g.Netns, "link", "set", "lo", "up"},
		{"-n", g.Netns, "route", "add", "default", "via", l.HostIP},
	} {
		if err := run(ctx, "ip", args...); err != nil {
			return err
		}
	}
	return nil
}

func (l *Lab) startGuest(ctx context.Context, g *Guest) error {
	if err := g.start(ctx, l.opts.RebootDelay); err != nil {
		return err
	}
	return nil
}

// installBase gives the guest a real RPM database, made by the guest's own
// rpm, holding the CentOS 6.6 minimal base packages (BasePackages).
func (l *Lab) installBase(ctx context.Context, g *Guest) error {
	rfs, err := openRootFS(g.Root)
	if err != nil {
		return err
	}
	defer rfs.Close()
	const dir = "/var/tmp/mtlab-base"
	args := []string{"rpm", "-i", "--quiet"}
	for _, p := range l.art.Base {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := rfs.WriteFile(dir+"/"+filepath.Base(p), b, 0o644); err != nil {
			return err
		}
		args = append(args, dir+"/"+filepath.Base(p))
	}
	defer rfs.RemoveAll(dir)
	if out, err := g.Exec(ctx, "rpm", "--initdb"); err != nil {
		return fmt.Errorf("rpm --initdb: %w: %s", err, out)
	}
	if out, err := g.Exec(ctx, args...); err != nil {
		return fmt.Errorf("install base packages: %w: %s", err, out)
	}
	return nil
}

// createGuestVM creates the guest's MT VM in vCenter, with one disk for
// each role and chosen VMware-shaped UUIDs, and presents the disks.
func (l *Lab) createGuestVM(ctx context.Context, g *Guest, rootUUID string) error {
	const gb = 1 << 20 // in KB
	roles := []struct {
		role DiskRole
		kb   int64
	}{
		{RoleOS, 100 * gb}, {RoleBlank, 1024 * gb}, {RoleExt4Data, 20 * gb}, {RolePartitioned, 20 * gb},
		{RoleFAT32, 20 * gb}, {RoleMounted, 20 * gb}, {RoleZeroSize, 1 * gb},
	}
	spec := VMSpec{Name: g.VMName, PowerOn: true, Guest: g}
	opts := []PresentOption{withRootUUID(rootUUID)}
	for _, r := range roles {
		u := NewDiskUUID()
		spec.Disks = append(spec.Disks, VMDisk{UUID: u, CapacityKB: r.kb})
		opts = append(opts, WithRole(u, r.role))
	}
	if _, err := l.CreateVM(ctx, spec); err != nil {
		return err
	}
	_, err := l.PresentDisks(ctx, g, g.VMName, opts...)
	return err
}

// startRepoServer serves the repositories over HTTP on the lab network.
func (l *Lab) startRepoServer(ctx context.Context) error {
	addr := net.JoinHostPort(l.HostIP, "80")
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("repository server: %w", err)
	}
	vault := http.FileServer(http.Dir(filepath.Join(l.art.WWW, "vault")))
	elrepo := http.FileServer(http.Dir(filepath.Join(l.art.WWW, "elrepo")))
	epel := http.FileServer(http.Dir(filepath.Join(l.art.WWW, "epel")))
	mux := http.NewServeMux()
	mux.Handle("/vault/", http.StripPrefix("/vault", vault))
	mux.Handle("/centos/", http.StripPrefix("/centos", vault))
	mux.Handle("/elrepo/", http.StripPrefix("/elrepo", elrepo))
	mux.Handle("/epel/", http.StripPrefix("/epel", epel))
	if l.ubu != nil {
		mux.Handle("/ubuntu/", http.StripPrefix("/ubuntu", http.FileServer(http.Dir(l.ubu.Repo))))
		l.UbuntuAptSource = fmt.Sprintf("deb [trusted=yes] http://%s/ubuntu/ ./", l.HostIP)
	}
	l.httpSrv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			l.reqMu.Lock()
			l.requests = append(l.requests, r.Method+" "+r.URL.Path)
			l.reqMu.Unlock()
			l.log.Debug("repository request", "method", r.Method, "path", r.URL.Path, "from", r.RemoteAddr)
			mux.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(l.log.Handler(), slog.LevelDebug),
	}
	go l.httpSrv.Serve(ln)
	l.VaultURL = fmt.Sprintf("http://%s/vault/", l.HostIP)
	l.RepoURL = l.VaultURL + "6.6/os/x86_64/"
	l.ELRepoURL = fmt.Sprintf("http://%s/elrepo/el6/x86_64/", l.HostIP)
	l.EPELURL = fmt.Sprintf("http://%s/epel/6/x86_64/", l.HostIP)
	return waitListening(ctx, addr)
}

// VaultRepos are the lab's stand-ins for spec.DefaultVaultRepos, in
// the same order: CentOS 6.6 os and updates in the vault's layout,
// ELRepo's el6 tree and EPEL 6's.
func (l *Lab) VaultRepos() []string {
	return []string{l.RepoURL, l.VaultURL + "6.6/updates/x86_64/", l.ELRepoURL, l.EPELURL}
}

// RepoRequests returns the HTTP requests the repository server has seen
// ("GET /vault/6.6/os/x86_64/repodata/repomd.xml"), so a test can show
// that an offline install did not touch the network.
func (l *Lab) RepoRequests() []string {
	l.reqMu.Lock()
	defer l.reqMu.Unlock()
	return append([]string(nil), l.requests...)
}

// StopConfigServer stops the configuration server's listener; the guests
// then find port 443 closed.
func (l *Lab) StopConfigServer() error { return l.ConfigServer.Stop() }

// StartConfigServer starts it again.
func (l *Lab) StartConfigServer() error { return l.ConfigServer.Start() }

// Guest returns the guest named name (g1, g2, ...), or nil.
func (l *Lab) Guest(name string) *Guest {
	for _, g := range l.Guests {
		if g.Name == name {
			return g
		}
	}
	return nil
}

// Down stops and removes everything the lab created: guests (and with
// them their processes and mounts), servers, vCenter, loop devices,
// network namespaces, links, mounts and the run directory. It is
// idempotent and safe to call after a failed Up.
func (l *Lab) Down() error {
	l.downOnce.Do(func() { l.downErr = l.down() })
	return l.downErr
}

func (l *Lab) down() error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var errs []error
	l.tools.stop()
	if l.VC != nil {
		l.VC.proofs.stop()
	}
	var wg sync.WaitGroup
	for _, g := range l.Guests {
		wg.Add(1)
		go func() { defer wg.Done(); g.stop() }()
	}
	wg.Wait()
	if l.httpSrv != nil {
		l.httpSrv.Close()
	}
	if l.dns != nil {
		l.dns.close()
	}
	if l.ConfigServer != nil {
		l.ConfigServer.Stop()
	}
	if l.VC != nil {
		l.VC.close()
	}
	if err := l.closeToolsCDs(); err != nil {
		errs = append(errs, err)
	}
	for _, g := range l.Guests {
		for _, d := range g.Disks() {
			if d.loop != nil {
				if err := d.loop.detach(); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	if l.slot != nil {
		if err := cleanupRecord(ctx, l.log, l.slot.record()); err != nil {
			errs = append(errs, err)
		} else {
			l.slot.forget()
		}
		// Loop devices detach asynchronously once their last user is gone.
		waitFor(ctx, 20*time.Millisecond, func() bool {
			for _, f := range loopBacking() {
				if under(f, l.runDir) {
					return false
				}
			}
			return true
		})
		l.slot.release()
	}
	l.DownTime = time.Since(start)
	err := errors.Join(errs...)
	l.log.Info("lab down", "elapsed", l.DownTime.Round(time.Millisecond), "err", err)
	return err
}

// Env returns the lab as environment variables (KEY=value): the govc
// variables for its vCenter and MTLAB_* for the rest. mtlab writes them to
// lab.env; a test can pass them to a process it starts.
func (l *Lab) Env() []string {
	g := l.Guests[0]
	env := []string{
		"GOVC_URL=" + l.VC.URL.String(),
		"GOVC_USERNAME=" + l.VC.Username,
		"GOVC_PASSWORD=" + l.VC.Password,
		"GOVC_INSECURE=1",
		"GOVC_DATACENTER=" + l.VC.Datacenter,
		"GOVC_DATASTORE=" + l.VC.Datastore,
		"GOVC_NETWORK=" + l.VC.Network,
		"GOVC_HOST=" + l.VC.Host,
		"GOVC_RESOURCE_POOL=" + l.VC.ResourcePool,
		"GOVC_FOLDER=" + l.VC.Folder,
		"MTLAB_VC_THUMBPRINT=" + l.VC.Thumbprint,
		"MTLAB_DATASTORE_DIR=" + l.VC.DatastoreDir,
		"MTLAB_GUEST=" + g.Name,
		"MTLAB_GUEST_ADDR=" + g.Address,
		"MTLAB_GUEST_HOSTNAME=" + g.Hostname,
		"MTLAB_GUEST_VM=" + g.VMName,
		"MTLAB_SSH_USER=root",
		"MTLAB_SSH_KEY=" + g.UserKeyFile,
		"MTLAB_KNOWN_HOSTS=" + g.KnownHostsFile,
		"MTLAB_HOST_IP=" + l.HostIP,
		"MTLAB_CS_IP=" + l.ConfigServer.IP,
		fmt.Sprintf("MTLAB_CS_PORT=%d", l.ConfigServer.Port),
		"MTLAB_CS_PASSPHRASE_FILE=" + l.ConfigServer.PassphraseFile,
		"MTLAB_REPO_URL=" + l.RepoURL,
		"MTLAB_VAULT_URL=" + l.VaultURL,
		"MTLAB_ELREPO_URL=" + l.ELRepoURL,
		"MTLAB_EPEL_URL=" + l.EPELURL,
		"MTLAB_BUNDLE=" + l.BundlePath,
		"MTLAB_AGENT_TARBALL=" + l.AgentTarball,
		"MTLAB_AGENT_TARBALL_LEGACY=" + l.AgentTarballLegacy,
		"MTLAB_FLAVOUR=" + l.opts.Flavour,
		"MTLAB_UBUNTU_BUNDLE=" + l.UbuntuBundlePath,
		"MTLAB_UBUNTU_AGENT_TARBALL=" + l.UbuntuAgentTarball,
		"MTLAB_RUN_DIR=" + l.runDir,
	}
	for _, g := range l.Guests {
		n := strings.ToUpper(g.Name)
		env = append(env, "MTLAB_"+n+"_ADDR="+g.Address, "MTLAB_"+n+"_VM="+g.VMName)
		for _, d := range g.Disks() {
			env = append(env, fmt.Sprintf("MTLAB_%s_DISK_%s=%s", n, strings.ToUpper(strings.ReplaceAll(string(d.Role), "-", "_")), d.WWID))
		}
	}
	return env
}

// Start starts a lab for a test with default options and tears it down in
// t.Cleanup. See StartWith.
func Start(t testing.TB) *Lab { return StartWith(t, Options{}) }

// StartWith starts a lab for a test and tears it down in t.Cleanup, also
// when the test fails. Where the lab cannot run (not Linux, not root, tools
// missing) it skips the test with the reason, except under CI=true, where
// that is a failure: CI must never pass by skipping the lab. The lab logs to
// the test log (MTLAB_LOG=debug for everything, including sshd's log).
func StartWith(t testing.TB, o Options) *Lab {
	t.Helper()
	err := Preflight()
	if err == nil && o.anyUbuntu() {
		err = ubuntuPreflight()
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("lab cannot start and CI=true: %v", err)
		}
		t.Skipf("skipping: the lab cannot start here: %v", err)
	}
	var w *testLogWriter
	if o.Logger == nil {
		level := slog.LevelInfo
		if strings.EqualFold(os.Getenv("MTLAB_LOG"), "debug") {
			level = slog.LevelDebug
		}
		w = &testLogWriter{t: t}
		o.Logger = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	l, err := Up(ctx, o)
	if err != nil {
		t.Fatalf("lab up: %v", err)
	}
	t.Cleanup(func() {
		err := l.Down()
		t.Logf("lab: up %v, down %v", l.UpTime.Round(time.Millisecond), l.DownTime.Round(time.Millisecond))
		if w != nil {
			w.closed.Store(true) // nothing may log to t after the test
		}
		if err != nil {
			t.Errorf("lab down: %v", err)
		}
	})
	return l
}

// testLogWriter sends slog output to the test log.
type testLogWriter struct {
	t      testing.TB
	closed atomic.Bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	if !w.closed.Load() {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// WriteEnvFile writes Env to path as a shell file (KEY='value' lines, for
// "set -a; . lab.env"), mode 0600 since it holds the vCenter password. The
// file is removed by Down, and by Cleanup if this lab dies.
func (l *Lab) WriteEnvFile(path string) error {
	path, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("# mtlab lab environment: set -a; . " + path + "\n")
	for _, kv := range l.Env() {
		k, v, _ := strings.Cut(kv, "=")
		b.WriteString(k + "=" + shellQuote(v) + "\n")
	}
	l.slot.update(func(r *Record) { r.LabEnv = path })
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	// Renamed into place: whoever waits for the file sees it complete.
	return os.Rename(tmp, path)
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-:,@+=%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// anyUbuntu: some guest of the lab is Ubuntu-flavoured.
func (o Options) anyUbuntu() bool {
	return o.Flavour == FlavourUbuntu || slices.Contains(o.GuestFlavours, FlavourUbuntu)
}
