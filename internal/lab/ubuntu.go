package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/mtprep/mtprep/packages"
)

// The lab's Ubuntu 16.04 guest flavour (Options.Flavour = FlavourUbuntu):
// the same guest (a real sshd in its own namespaces on an overlay of the
// host's root) made to look like Ubuntu 16.04.2 server: /etc/os-release
// and /etc/lsb-release of 16.04.2, stand-ins for lsb_release, uname
// (kernel release 4.4.0-62-generic) and systemctl, and the host's real
// dpkg, apt-get and apt-mark working on a dpkg database of the guest's
// own, which holds the base packages (UbuntuBasePackages) installed by the
// guest's dpkg. The test packages (UbuntuPackages) are real .debs built
// with dpkg-deb that install marker files (and, for multipath-tools and
// open-vm-tools, the lab's daemon stand-ins and their unit files); they
// are in an offline bundle (Lab.UbuntuBundlePath, made by
// packages.WriteDebBundle as `mtprep bundle` would) and in a flat apt
// repository indexed by dpkg-scanpackages and served over HTTP
// (Lab.UbuntuAptSource).

// Flavours of lab guests.
const (
	FlavourCentOS = ""             // CentOS 6.6 (the default)
	FlavourUbuntu = "ubuntu-16.04" // Ubuntu 16.04.2 server
)

// UbuntuKernel is the kernel release the Ubuntu guest's uname stand-in
// reports (/var/lib/mtlab/kernel-release): 16.04.2's GA kernel.
const UbuntuKernel = "4.4.0-62-generic"

// DebPackage is one of the Ubuntu test packages: the real name, version,
// architecture and dependencies of the xenial package, with marker files.
type DebPackage struct {
	Name, Version, Arch string
	Depends             string
	// Files maps a guest path to the guestfs file it is a copy of ("" for
	// a marker file).
	Files map[string]string
	// Base: installed in the guest at Up (in its dpkg database), not only
	// in the bundle and repository. RepoOnly: only in the repository.
	Base, RepoOnly bool
}

// FileName is the .deb's file name as Debian names it.
func (p DebPackage) FileName() string {
	v := p.Version
	if _, rest, ok := strings.Cut(v, ":"); ok {
		v = rest // the epoch is not in the file name
	}
	return p.Name + "_" + v + "_" + p.Arch + ".deb"
}

// UbuntuPackages lists the Ubuntu test packages: the MT list
// (multipath-tools, lsscsi, python-pyasn1, lvm2, kpartx), open-vm-tools
// and the 4.4.0-62 kernel with its meta-packages (base), at xenial's
// versions, and a 4.4.0-87 kernel with newer meta-packages in the
// repository only.
func UbuntuPackages() []DebPackage {
	const mp = "0.5.0+git1.656f8865-5ubuntu2"
	return []DebPackage{
		{Name: "multipath-tools", Version: mp, Arch: "amd64", Depends: "kpartx (>= " + mp + ")", Files: map[string]string{
			"/sbin/multipath":                        "guestfs/multipath/multipath",
			"/sbin/multipathd":                       "guestfs/multipath/multipathd",
			"/lib/systemd/system/multipathd.service": "guestfs/ubuntu/multipathd.service",
		}},
		{Name: "kpartx", Version: mp, Arch: "amd64"},
		{Name: "lsscsi", Version: "0.27-3", Arch: "amd64"},
		{Name: "python-pyasn1", Version: "0.1.9-1", Arch: "all"},
		{Name: "lvm2", Version: "2.02.133-1ubuntu10", Arch: "amd64"},
		{Name: "open-vm-tools", Version: "2:10.0.7-3227872-1", Arch: "amd64", Files: map[string]string{
			"/usr/bin/vmtoolsd":                         "guestfs/tools/vmtoolsd",
			"/lib/systemd/system/open-vm-tools.service": "guestfs/ubuntu/open-vm-tools.service",
		}},
		{Name: "base-files", Version: "9.4ubuntu4.4", Arch: "amd64", Base: true},
		{Name: "linux-image-" + UbuntuKernel, Version: "4.4.0-62.83", Arch: "amd64", Base: true},
		{Name: "linux-headers-4.4.0-62", Version: "4.4.0-62.83", Arch: "all", Base: true},
		{Name: "linux-headers-" + UbuntuKernel, Version: "4.4.0-62.83", Arch: "amd64", Depends: "linux-headers-4.4.0-62", Base: true},
		{Name: "linux-image-generic", Version: "4.4.0.62.65", Arch: "amd64", Depends: "linux-image-" + UbuntuKernel, Base: true},
		{Name: "linux-headers-generic", Version: "4.4.0.62.65", Arch: "amd64", Depends: "linux-headers-" + UbuntuKernel, Base: true},
		{Name: "linux-generic", Version: "4.4.0.62.65", Arch: "amd64", Depends: "linux-image-generic (= 4.4.0.62.65), linux-headers-generic (= 4.4.0.62.65)", Base: true},
		// A newer kernel, in the repository only: what a dist-upgrade
		// would move a not-held MT to (past ASR's 4.4.0-81 limit).
		{Name: "linux-image-4.4.0-87-generic", Version: "4.4.0-87.110", Arch: "amd64", RepoOnly: true},
		{Name: "linux-image-generic", Version: "4.4.0.87.93", Arch: "amd64", Depends: "linux-image-4.4.0-87-generic", RepoOnly: true},
		{Name: "linux-headers-4.4.0-87", Version: "4.4.0-87.110", Arch: "all", RepoOnly: true},
		{Name: "linux-headers-4.4.0-87-generic", Version: "4.4.0-87.110", Arch: "amd64", Depends: "linux-headers-4.4.0-87", RepoOnly: true},
		{Name: "linux-headers-generic", Version: "4.4.0.87.93", Arch: "amd64", Depends: "linux-headers-4.4.0-87-generic", RepoOnly: true},
		{Name: "linux-generic", Version: "4.4.0.87.93", Arch: "amd64", Depends: "linux-image-generic (= 4.4.0.87.93), linux-headers-generic (= 4.4.0.87.93)", RepoOnly: true},
	}
}

// ubuntuPreflight reports why an Ubuntu lab cannot run here: it needs the
// host's dpkg, dpkg-deb, apt-get, apt-mark and dpkg-scanpackages (Debian
// packages dpkg, apt, dpkg-dev: .ci/apt-packages.d/lab.txt).
func ubuntuPreflight() error {
	var missing []string
	for _, t := range []string{"dpkg", "dpkg-deb", "dpkg-query", "apt-get", "apt-mark", "dpkg-scanpackages"} {
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the Ubuntu lab needs these programs: %s (Debian packages in .ci/apt-packages.d/lab.txt)", strings.Join(missing, ", "))
	}
	return nil
}

// UbuntuAgentVersion is the version of the Ubuntu agent stand-in: 9.10,
// the first with an UBUNTU-16.04-64 build.
const UbuntuAgentVersion = "9.10.0.0"

// UbuntuAgentTarballName is the Ubuntu agent stand-in's file name, in the
// real build's pattern
// (Microsoft-ASR_UA_<version>_UBUNTU-16.04-64_GA_<date>_release.tar.gz).
func UbuntuAgentTarballName(version string) string {
	return fmt.Sprintf("Microsoft-ASR_UA_%s_UBUNTU-16.04-64_GA_standin_release.tar.gz", version)
}

// ubuntuAgentEdit turns the RHEL6-64 agent stand-in's OS checks into the
// UBUNTU-16.04-64 build's: install and ApplyCustomChanges.sh run on Ubuntu
// 16.04 (ID=ubuntu, VERSION_ID="16.04" in /etc/os-release) only.
func ubuntuAgentEdit(name string, b []byte) []byte {
	s := string(b)
	check := `{ grep -qx 'ID=ubuntu' /etc/os-release && grep -qx 'VERSION_ID="16.04"' /etc/os-release; } 2>/dev/null`
	found := `$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME" || echo unknown OS)`
	switch name {
	case "install":
		s = strings.Replace(s, `grep -Eq 'release 6\.' /etc/redhat-release 2>/dev/null || die 2 "this package is for RHEL6-64/CentOS 6 64-bit; found: $(cat /etc/redhat-release 2>/dev/null || echo unknown OS)"`,
			check+` || die 2 "this package is for UBUNTU-16.04-64; found: `+found+`"`, 1)
	case "ApplyCustomChanges.sh":
		s = strings.Replace(s, `grep -Eq 'release 6\.' /etc/redhat-release 2>/dev/null || {
	echo "ERROR: unsupported OS: $(cat /etc/redhat-release 2>/dev/null)" >&2`, check+` || {
	echo "ERROR: unsupported OS: `+found+`" >&2`, 1)
	}
	return []byte(s)
}

// ubuntuArtifacts are the built .debs, the bundle, the repository and the
// agent stand-in.
type ubuntuArtifacts struct {
	Debs   map[string]string // name → .deb path
	Base   []string          // .deb paths installed at Up
	Bundle string
	Repo   string // directory of the flat repository (Packages)
	Agent  string
}

// buildUbuntuArtifacts builds the test .debs with dpkg-deb in dir, the
// offline bundle of the non-base ones, and a flat repository of all.
func buildUbuntuArtifacts(ctx context.Context, dir string) (*ubuntuArtifacts, error) {
	a := &ubuntuArtifacts{Debs: map[string]string{}, Bundle: filepath.Join(dir, "mt-ubuntu-bundle.tar"), Repo: filepath.Join(dir, "repo")}
	bundleDir := filepath.Join(dir, "bundle")
	for _, d := range []string{bundleDir, a.Repo, filepath.Join(dir, "build")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	for _, p := range UbuntuPackages() {
		out := filepath.Join(a.Repo, p.FileName())
		if err := buildDeb(ctx, p, filepath.Join(dir, "build", p.Name), out); err != nil {
			return nil, fmt.Errorf("building %s: %w", p.FileName(), err)
		}
		if p.RepoOnly {
			continue
		}
		a.Debs[p.Name] = out
		if p.Base {
			a.Base = append(a.Base, out)
			continue
		}
		if err := os.Link(out, filepath.Join(bundleDir, p.FileName())); err != nil {
			return nil, err
		}
	}
	if _, err := packages.WriteDebBundle(ctx, bundleDir, a.Bundle, nil); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "dpkg-scanpackages", "--multiversion", ".", "/dev/null")
	cmd.Dir = a.Repo
	var stderr strings.Builder
	cmd.Stderr = &stderr
	idx, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("dpkg-scanpackages: %w: %s", err, stderr.String())
	}
	if err := os.WriteFile(filepath.Join(a.Repo, "Packages"), idx, 0o644); err != nil {
		return nil, err
	}
	a.Agent = filepath.Join(dir, UbuntuAgentTarballName(UbuntuAgentVersion))
	if err := writeAgentTarball(a.Agent, UbuntuAgentVersion, ubuntuAgentEdit); err != nil {
		return nil, err
	}
	return a, nil
}

// buildDeb makes p's .deb at out from a tree under root.
func buildDeb(ctx context.Context, p DebPackage, root, out string) error {
	if err := os.RemoveAll(root); err != nil {
		return err
	}
	doc := filepath.Join(root, "usr/share/doc", p.Name)
	for _, d := range []string{filepath.Join(root, "DEBIAN"), doc} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	marker := fmt.Sprintf("mtlab stand-in of %s %s: marker files only; not the real package.\n", p.Name, p.Version)
	if err := os.WriteFile(filepath.Join(doc, "MTLAB-STANDIN"), []byte(marker), 0o644); err != nil {
		return err
	}
	paths := make([]string, 0, len(p.Files))
	for dst := range p.Files {
		paths = append(paths, dst)
	}
	sort.Strings(paths)
	for _, dst := range paths {
		b, err := guestFiles.ReadFile(p.Files[dst])
		if err != nil {
			return err
		}
		if dst == "/sbin/multipath" {
			// xenial's multipath (its enable-find-multipaths patch): with
			// no multipath.conf, or one without find_multipaths no, a
			// disk with one path (every lab disk) gets no map.
			b = []byte(strings.Replace(string(b), "want=$1\n", "want=$1\n"+
				"# mtlab, Ubuntu 16.04: find_multipaths yes unless multipath.conf says no.\n"+
				"if [ ! -f \"$CONF\" ] || ! grep -Eq '^[[:space:]]*find_multipaths[[:space:]]+\"?no\"?' \"$CONF\"; then exit 0; fi\n", 1))
		}
		mode := os.FileMode(0o644)
		if strings.Contains(dst, "/bin/") || strings.Contains(dst, "/sbin/") {
			mode = 0o755
		}
		full := filepath.Join(root, dst)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, b, mode); err != nil {
			return err
		}
		if err := os.Chmod(full, mode); err != nil {
			return err
		}
	}
	var c strings.Builder
	fmt.Fprintf(&c, "Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: mtprep lab <mtlab@lab.local>\n", p.Name, p.Version, p.Arch)
	if p.Depends != "" {
		fmt.Fprintf(&c, "Depends: %s\n", p.Depends)
	}
	fmt.Fprintf(&c, "Section: admin\nPriority: optional\nDescription: mtlab stand-in of %s\n It installs marker files (and the lab's daemon stand-ins) only.\n", p.Name)
	if err := os.WriteFile(filepath.Join(root, "DEBIAN/control"), []byte(c.String()), 0o644); err != nil {
		return err
	}
	// dpkg-deb wants the control directory 0755..0775 and files readable,
	// whatever umask the caller runs under (make demo runs under 077).
	if err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if d.IsDir() {
			mode = 0o755
		} else if fi, err := d.Info(); err == nil && fi.Mode()&0o100 != 0 {
			mode = 0o755
		}
		return os.Chmod(p, mode)
	}); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "dpkg-deb", "--root-owner-group", "-Zxz", "--build", root, out)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("dpkg-deb: %w: %s", err, b)
	}
	return nil
}

// ubuntuFresh are the directories the Ubuntu guest gets empty besides
// guestFresh: the host's dpkg and apt state and configuration, systemd's
// unit directories.
func ubuntuFresh() map[string]os.FileMode {
	return map[string]os.FileMode{
		"/var/lib/dpkg": 0o755, "/var/lib/apt": 0o755, "/var/cache/apt": 0o755, "/etc/apt": 0o755,
		"/var/cache/debconf": 0o755, "/etc/systemd": 0o755, "/usr/lib/systemd/system": 0o755,
		"/etc/multipath": 0o755,
	}
}

// populateUbuntu turns the CentOS-looking root populate made into Ubuntu
// 16.04.2's: release files, the stand-ins, an empty dpkg database and
// apt's directories, no CentOS release files.
func (g *Guest) populateUbuntu() error {
	rfs, err := openRootFS(g.Root)
	if err != nil {
		return err
	}
	defer rfs.Close()
	for _, p := range []string{"/etc/centos-release", "/etc/redhat-release", "/etc/system-release", "/etc/system-release-cpe", "/etc/yum.conf", "/etc/yum.repos.d", "/usr/bin/yum"} {
		if err := rfs.RemoveAll(p); err != nil {
			return err
		}
	}
	files := []struct {
		dst, src string
		mode     os.FileMode
	}{
		{"/etc/os-release", "guestfs/ubuntu/os-release", 0o644},
		{"/etc/lsb-release", "guestfs/ubuntu/lsb-release", 0o644},
		{"/usr/bin/lsb_release", "guestfs/ubuntu/lsb_release", 0o755},
		{"/usr/bin/systemctl", "guestfs/ubuntu/systemctl", 0o755},
		{"/etc/rc.d/init.d/mtlab-systemd", "guestfs/ubuntu/mtlab-systemd.init", 0o755},
	}
	for _, f := range files {
		b, err := guestFiles.ReadFile(f.src)
		if err != nil {
			return err
		}
		if err := rfs.WriteFile(f.dst, b, f.mode); err != nil {
			return err
		}
	}
	if err := rfs.Symlink("../init.d/mtlab-systemd", "/etc/rc.d/rc3.d/S99mtlab-systemd"); err != nil {
		return err
	}
	if err := rfs.WriteFile("/etc/issue", []byte("Ubuntu 16.04.2 LTS \\n \\l\n\n"), 0o644); err != nil {
		return err
	}
	// uname: the host's binary moves aside, the stand-in takes its place.
	real, err := os.ReadFile("/usr/bin/uname")
	if err != nil {
		return err
	}
	if err := rfs.WriteFile("/usr/lib/mtlab/uname.real", real, 0o755); err != nil {
		return err
	}
	b, err := guestFiles.ReadFile("guestfs/ubuntu/uname")
	if err != nil {
		return err
	}
	if err := rfs.WriteFile("/usr/bin/uname", b, 0o755); err != nil {
		return err
	}
	if err := rfs.WriteFile("/var/lib/mtlab/kernel-release", []byte(UbuntuKernel+"\n"), 0o644); err != nil {
		return err
	}
	for _, d := range []string{
		"/var/lib/dpkg/info", "/var/lib/dpkg/updates", "/var/lib/dpkg/triggers", "/var/lib/dpkg/alternatives",
		"/var/lib/apt/lists/partial", "/var/cache/apt/archives/partial", "/etc/apt/sources.list.d",
		"/etc/apt/apt.conf.d", "/etc/apt/preferences.d", "/etc/apt/trusted.gpg.d", "/var/log/apt",
		"/etc/systemd/system/multi-user.target.wants",
	} {
		if err := rfs.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	for _, f := range []string{"/var/lib/dpkg/status", "/var/lib/dpkg/available", "/etc/apt/sources.list"} {
		if err := rfs.WriteFile(f, nil, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// installBaseUbuntu installs the base .debs with the guest's dpkg, so its
// database holds them as an installed Ubuntu's would.
func (l *Lab) installBaseUbuntu(ctx context.Context, g *Guest) error {
	rfs, err := openRootFS(g.Root)
	if err != nil {
		return err
	}
	defer rfs.Close()
	const dir = "/var/tmp/mtlab-base"
	args := []string{"dpkg", "-i"}
	for _, p := range l.ubu.Base {
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
	if out, err := g.Exec(ctx, args...); err != nil {
		return fmt.Errorf("install base packages: %w: %s", err, out)
	}
	return nil
}
