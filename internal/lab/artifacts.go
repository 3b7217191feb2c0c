package lab

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/template"
	"time"
)

//go:embed guestfs
var guestFiles embed.FS

// Package is one of the test RPMs the lab builds: the real name, epoch,
// version and release of the package the MT procedure installs, with
// marker files (and, for device-mapper-multipath and open-vm-tools, the
// lab's stand-in scripts) as its only content.
type Package struct {
	Name    string
	Epoch   string
	Version string
	Release string
	// Repo is where the real package comes from: "os" (CentOS 6.6 in the
	// vault), "elrepo" or "epel" (EPEL 6).
	Repo     string
	Requires []string
	Provides []string

	sources []pkgSource
	post    string
	preun   string
}

// NEVRA is the package's file name stem, name-version-release.arch.
func (p Package) NEVRA() string {
	return fmt.Sprintf("%s-%s-%s.x86_64", p.Name, p.Version, p.Release)
}

// FileName is the RPM's file name.
func (p Package) FileName() string { return p.NEVRA() + ".rpm" }

type pkgSource struct {
	Index int
	Dir   string // directory under guestfs: multipath when empty
	Name  string // file under guestfs/<Dir>
	Dest  string
	Mode  string
}

// Packages returns the test packages the lab builds, in a fixed order.
// device-mapper-multipath requires device-mapper-multipath-libs like the
// real one, so an offline bundle that forgets a dependency fails in the lab
// as it would on an MT.
func Packages() []Package {
	const doc = "/usr/share/doc/device-mapper-multipath-0.4.9"
	return []Package{
		{Name: "xfsprogs", Version: "3.1.1", Release: "16.el6", Repo: "os"},
		{Name: "perl", Epoch: "4", Version: "5.10.1", Release: "136.el6", Repo: "os"},
		{Name: "lsscsi", Version: "0.23", Release: "3.el6", Repo: "os"},
		{Name: "rsync", Version: "3.0.6", Release: "12.el6", Repo: "os"},
		{Name: "wget", Version: "1.12", Release: "5.el6", Repo: "os"},
		{Name: "kexec-tools", Version: "2.0.0", Release: "280.el6", Repo: "os"},
		{Name: "device-mapper-multipath-libs", Version: "0.4.9", Release: "80.el6", Repo: "os"},
		{
			Name: "device-mapper-multipath", Version: "0.4.9", Release: "80.el6", Repo: "os",
			Requires: []string{"device-mapper-multipath-libs = 0.4.9-80.el6"},
			sources: []pkgSource{
				{Name: "multipath", Dest: "/sbin/multipath", Mode: "0755"},
				{Name: "multipathd", Dest: "/sbin/multipathd", Mode: "0755"},
				{Name: "mpathconf", Dest: "/sbin/mpathconf", Mode: "0755"},
				{Name: "multipathd.init", Dest: "/etc/rc.d/init.d/multipathd", Mode: "0755"},
				{Name: "multipath.conf", Dest: doc + "/multipath.conf", Mode: "0644"},
			},
			// As el6's spec does.
			post:  "/sbin/chkconfig --add multipathd",
			preun: "if [ $1 = 0 ]; then\n\t/sbin/service multipathd stop > /dev/null 2>&1\n\t/sbin/chkconfig --del multipathd\nfi",
		},
		{Name: "kmod-reiserfs", Version: "0.0", Release: "1.el6.elrepo", Repo: "elrepo"},
		{Name: "reiserfs-utils", Version: "3.6.21", Release: "1.el6.elrepo", Repo: "elrepo"},
		ToolsPackage(),
	}
}

// ToolsPackage is the VMware Tools STAND-IN: open-vm-tools with EPEL 6's
// name and an el6 version (9.10.2-3.el6), holding the lab's stand-in
// daemon /usr/bin/vmtoolsd and its SysV script /etc/rc.d/init.d/vmtoolsd
// (guestfs/tools). As a Fedora/EPEL package does, its %post registers the
// service (chkconfig --add) and neither enables nor starts it. While the
// daemon runs in a guest, the lab's vCenter reports Tools running on the
// VMs coupled to that guest (tools.go). It is in the offline bundle and in
// the lab's EPEL repository.
func ToolsPackage() Package {
	return Package{
		Name: "open-vm-tools", Version: "9.10.2", Release: "3.el6", Repo: "epel",
		sources: []pkgSource{
			{Dir: "tools", Name: "vmtoolsd", Dest: "/usr/bin/vmtoolsd", Mode: "0755"},
			{Dir: "tools", Name: "vmtoolsd.init", Dest: "/etc/rc.d/init.d/vmtoolsd", Mode: "0755"},
		},
		post:  "/sbin/chkconfig --add vmtoolsd",
		preun: "if [ $1 = 0 ]; then\n\t/sbin/service vmtoolsd stop > /dev/null 2>&1\n\t/sbin/chkconfig --del vmtoolsd\nfi",
	}
}

// BasePackages returns the packages the lab puts in every guest's RPM
// database at start, standing for a CentOS 6.6 minimal install (versions of
// 6.6 GA; marker files only; the programs themselves are the host's). They
// make rpm and yum resolve what a real MT resolves: bash provides /bin/sh,
// which every package with a scriptlet requires (device-mapper-multipath's
// %post), and centos-release provides system-release(releasever) = 6.
func BasePackages() []Package {
	return []Package{
		{Name: "centos-release", Version: "6", Release: "6.el6.centos.12.2", Repo: "base",
			Provides: []string{"redhat-release = 6.6", "system-release = 6.6", "system-release(releasever) = 6", "centos-release(upstream) = 6.6"}},
		{Name: "bash", Version: "4.1.2", Release: "29.el6", Repo: "base", Provides: []string{"/bin/sh", "/bin/bash"}},
		{Name: "coreutils", Version: "8.4", Release: "37.el6", Repo: "base"},
		{Name: "util-linux-ng", Version: "2.17.2", Release: "12.18.el6", Repo: "base"},
		{Name: "e2fsprogs", Version: "1.41.12", Release: "21.el6", Repo: "base"},
		{Name: "initscripts", Version: "9.03.46", Release: "1.el6.centos.1", Repo: "base", Provides: []string{"/sbin/service"}},
		{Name: "chkconfig", Version: "1.3.49.3", Release: "2.el6_4.1", Repo: "base", Provides: []string{"/sbin/chkconfig"}},
		{Name: "openssh", Version: "5.3p1", Release: "104.el6", Repo: "base"},
		{Name: "openssh-server", Version: "5.3p1", Release: "104.el6", Repo: "base"},
		{Name: "openssh-clients", Version: "5.3p1", Release: "104.el6", Repo: "base"},
		{Name: "rpm", Version: "4.8.0", Release: "37.el6", Repo: "base"},
		{Name: "yum", Version: "3.2.29", Release: "60.el6.centos", Repo: "base"},
		{Name: "kernel", Version: "2.6.32", Release: "504.el6", Repo: "base"},
	}
}

const specTemplate = `# mtlab stand-in package: built by the mtprep lab with the real package's
# name and version; it installs marker files only (and the lab's stand-in
# scripts for device-mapper-multipath and open-vm-tools).
%global debug_package %{nil}
%global _build_id_links none
%global __os_install_post %{nil}
Name: {{.Name}}
{{if .Epoch}}Epoch: {{.Epoch}}
{{end}}Version: {{.Version}}
Release: {{.Release}}
Summary: mtlab stand-in of {{.Name}} (marker files only)
License: Public Domain
Group: Lab/Stand-in
BuildArch: x86_64
AutoReqProv: no
{{range .Requires}}Requires: {{.}}
{{end}}{{range .Provides}}Provides: {{.}}
{{end}}{{range .Sources}}Source{{.Index}}: {{.Name}}
{{end}}
%description
mtlab stand-in of {{.Name}}-{{.Version}}-{{.Release}}, built by the mtprep lab
for tests. Not the real package.

%install
mkdir -p %{buildroot}/usr/share/mtlab/markers
echo "{{.NEVRA}}" > %{buildroot}/usr/share/mtlab/markers/{{.Name}}
{{range .Sources}}install -D -m {{.Mode}} %{SOURCE{{.Index}}} %{buildroot}{{.Dest}}
{{end}}
%files
/usr/share/mtlab/markers/{{.Name}}
{{range .Sources}}{{.Dest}}
{{end}}{{if .Post}}
%post
{{.Post}}
{{end}}{{if .Preun}}
%preun
{{.Preun}}
{{end}}`

func (p Package) spec() (string, error) {
	t, err := template.New("spec").Parse(specTemplate)
	if err != nil {
		return "", err
	}
	// Number the sources (Source0, Source1, ...) on a copy.
	srcs := make([]pkgSource, len(p.sources))
	for i, s := range p.sources {
		s.Index = i
		srcs[i] = s
	}
	var b bytes.Buffer
	err = t.Execute(&b, struct {
		Package
		NEVRA   string
		Sources []pkgSource
		Post    string
		Preun   string
	}{p, p.NEVRA(), srcs, p.post, p.preun})
	return b.String(), err
}

// Agent stand-in versions: the newer install form from 9.x, the CentOS 6.6
// one-step form before.
const (
	AgentVersion       = "9.3.0.0"
	AgentVersionLegacy = "8.4.0.0"
)

// AgentTarballName is the stand-in's file name for a version, in the real
// packages' pattern and plainly marked as a stand-in.
func AgentTarballName(version string) string {
	return fmt.Sprintf("Microsoft-ASR_UA_%s_RHEL6-64_GA_standin.tar.gz", version)
}

// artifacts are the lab's built files, cached under the state directory.
type artifacts struct {
	Dir          string
	WWW          string // served over HTTP: vault/, centos/ (same tree), elrepo/
	Bundle       string
	RPMs         map[string]string // package name -> RPM path
	Base         []string          // RPMs of BasePackages
	Agent        string
	AgentLegacy  string
	Key          string
	BuiltNow     bool
	BuildElapsed time.Duration
}

// artifactsFormat changes when the layout below changes, to invalidate old
// caches.
const artifactsFormat = "mtlab-artifacts-6"

// cacheKey hashes everything the artifacts are built from: the specs, the
// stand-in scripts and the agent files.
func cacheKey() (string, error) {
	h := sha256.New()
	io.WriteString(h, artifactsFormat+"\n")
	for _, p := range append(Packages(), BasePackages()...) {
		s, err := p.spec()
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\n%s\n", p.Repo, s)
	}
	for _, dir := range []string{"guestfs/multipath", "guestfs/agent", "guestfs/tools"} {
		err := fs.WalkDir(guestFiles, dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := guestFiles.ReadFile(path)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%s %d\n", path, len(b))
			h.Write(b)
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	fmt.Fprintf(h, "%s %s\n", AgentVersion, AgentVersionLegacy)
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// buildArtifacts returns the cached artifacts, building them first when the
// cache has none for the current sources. Concurrent labs may build at the
// same time: each builds in a private directory and renames it into place;
// the loser of the race uses the winner's.
func buildArtifacts(ctx context.Context, log *slog.Logger, stateDir string) (*artifacts, error) {
	start := time.Now()
	key, err := cacheKey()
	if err != nil {
		return nil, err
	}
	cache := filepath.Join(stateDir, "cache")
	final := filepath.Join(cache, "artifacts-"+key)
	a := layout(final, key)
	if _, err := os.Stat(filepath.Join(final, "complete")); err == nil {
		a.BuildElapsed = time.Since(start)
		return a, nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(cache, "building-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := build(ctx, log, layout(tmp, key), tmp); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "complete"), []byte(key+"\n"), 0o644); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, final); err != nil {
		if _, serr := os.Stat(filepath.Join(final, "complete")); serr != nil {
			return nil, fmt.Errorf("install artifacts cache: %w", err)
		}
	}
	a.BuiltNow = true
	a.BuildElapsed = time.Since(start)
	log.Info("built lab RPMs, repositories, bundle and agent stand-ins", "dir", final, "elapsed", a.BuildElapsed.Round(time.Millisecond))
	return a, nil
}

func layout(dir, key string) *artifacts {
	a := &artifacts{
		Dir:         dir,
		WWW:         filepath.Join(dir, "www"),
		Bundle:      filepath.Join(dir, "mtlab-el6-x86_64-bundle.tar"),
		RPMs:        map[string]string{},
		Agent:       filepath.Join(dir, AgentTarballName(AgentVersion)),
		AgentLegacy: filepath.Join(dir, AgentTarballName(AgentVersionLegacy)),
		Key:         key,
	}
	for _, p := range Packages() {
		a.RPMs[p.Name] = filepath.Join(a.repoDir(p.Repo), p.FileName())
	}
	for _, p := range BasePackages() {
		a.Base = append(a.Base, filepath.Join(a.repoDir(p.Repo), p.FileName()))
	}
	return a
}

// repoDir is where a package's RPM lives in the served tree: the vault's
// layout for CentOS packages (6.6/os/x86_64/Packages), elrepo's for the
// elrepo ones (el6/x86_64/RPMS).
func (a *artifacts) repoDir(repo string) string {
	if repo == "base" {
		return filepath.Join(a.Dir, "base")
	}
	if repo == "elrepo" {
		return filepath.Join(a.WWW, "elrepo", "el6", "x86_64", "RPMS")
	}
	if repo == "epel" {
		return filepath.Join(a.WWW, "epel", "6", "x86_64", "Packages")
	}
	return filepath.Join(a.WWW, "vault", "6.6", "os", "x86_64", "Packages")
}

func build(ctx context.Context, log *slog.Logger, a *artifacts, tmp string) error {
	pkgs := Packages()
	outs := make([]string, 0, len(pkgs))
	for _, p := range pkgs {
		outs = append(outs, a.RPMs[p.Name])
	}
	pkgs = append(pkgs, BasePackages()...)
	outs = append(outs, a.Base...)
	var wg sync.WaitGroup
	errs := make([]error, len(pkgs))
	// rpmbuild is mostly process start-up; two at a time keeps both cores
	// busy.
	sem := make(chan struct{}, 2)
	for i, p := range pkgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = rpmbuild(ctx, p, filepath.Join(tmp, "rpmbuild", p.Name), outs[i])
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	os.RemoveAll(filepath.Join(tmp, "rpmbuild"))
	for _, repo := range []string{
		filepath.Join(a.WWW, "vault", "6.6", "os", "x86_64"),
		filepath.Join(a.WWW, "vault", "6.6", "updates", "x86_64"),
		filepath.Join(a.WWW, "vault", "6.6", "extras", "x86_64"),
		filepath.Join(a.WWW, "elrepo", "el6", "x86_64"),
		filepath.Join(a.WWW, "epel", "6", "x86_64"),
	} {
		if err := os.MkdirAll(repo, 0o755); err != nil {
			return err
		}
		if err := run(ctx, "createrepo_c", "--quiet", "--no-database", repo); err != nil {
			return err
		}
	}
	if err := writeBundle(a); err != nil {
		return err
	}
	for _, v := range []struct{ version, path string }{{AgentVersion, a.Agent}, {AgentVersionLegacy, a.AgentLegacy}} {
		if err := writeAgentTarball(v.path, v.version); err != nil {
			return err
		}
	}
	return nil
}

func rpmbuild(ctx context.Context, p Package, top, out string) error {
	spec, err := p.spec()
	if err != nil {
		return err
	}
	src := filepath.Join(top, "SOURCES")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	for _, s := range p.sources {
		dir := s.Dir
		if dir == "" {
			dir = "multipath"
		}
		b, err := guestFiles.ReadFile("guestfs/" + dir + "/" + s.Name)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(src, s.Name), b, 0o644); err != nil {
			return err
		}
	}
	specPath := filepath.Join(top, p.Name+".spec")
	if err := os.WriteFile(specPath, []byte(spec), 0o644); err != nil {
		return err
	}
	if err := run(ctx, "rpmbuild", "-bb", "--quiet", "--target", "x86_64",
		"--define", "_topdir "+top, "--define", "_sourcedir "+src,
		"--define", "_tmppath "+filepath.Join(top, "tmp"), specPath); err != nil {
		return fmt.Errorf("build %s: %w", p.NEVRA(), err)
	}
	built := filepath.Join(top, "RPMS", "x86_64", p.FileName())
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return os.Rename(built, out)
}

// writeBundle writes the offline bundle: an uncompressed tar with
// SHA256SUMS (sha256sum's format, "<hex>  <file>") first and every RPM at
// the top level, the format of the packages package and mtprep bundle.
// The entries carry fixed times, so the same RPMs give the same bundle.
func writeBundle(a *artifacts) error {
	names := make([]string, 0, len(a.RPMs))
	for _, p := range a.RPMs {
		names = append(names, p)
	}
	sort.Slice(names, func(i, j int) bool { return filepath.Base(names[i]) < filepath.Base(names[j]) })
	var sums strings.Builder
	var files []tarFile
	for _, p := range names {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		h := sha256.Sum256(b)
		fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(h[:]), filepath.Base(p))
		files = append(files, tarFile{name: filepath.Base(p), data: b, mode: 0o644})
	}
	// The manifest comes first, as packages.ReadBundle wants it, so a reader
	// can check each RPM while it streams.
	files = append([]tarFile{{name: "SHA256SUMS", data: []byte(sums.String()), mode: 0o644}}, files...)
	var buf bytes.Buffer
	if err := writeTar(&buf, files); err != nil {
		return err
	}
	return os.WriteFile(a.Bundle, buf.Bytes(), 0o644)
}

// writeAgentTarball writes the Unified Agent stand-in for version: the
// scripts of guestfs/agent at the top level, and .vx_version carrying the
// version so mtprep can read it from the tarball without trusting the
// file name. ApplyCustomChanges.sh is packed without the execute bit, as the
// seed's "chmod 755 ./ApplyCustomChanges.sh" step implies.
func writeAgentTarball(path, version string, edits ...func(name string, b []byte) []byte) error {
	var files []tarFile
	for _, f := range []struct {
		name string
		mode int64
	}{{"install", 0o755}, {"ApplyCustomChanges.sh", 0o644}, {"UnifiedAgentConfigurator.sh", 0o755}, {"README.STANDIN", 0o644}} {
		b, err := guestFiles.ReadFile("guestfs/agent/" + f.name)
		if err != nil {
			return err
		}
		for _, e := range edits {
			b = e(f.name, b)
		}
		files = append(files, tarFile{name: f.name, data: b, mode: f.mode})
	}
	files = append(files, tarFile{name: ".vx_version", mode: 0o644,
		data: []byte(fmt.Sprintf("# Unified Agent version (mtlab stand-in package)\nVERSION=%s\nSTANDIN=yes\n", version))})
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err := writeTar(zw, files); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

type tarFile struct {
	name string
	data []byte
	mode int64
}

// tarEpoch is the fixed modification time of every entry the lab packs.
func tarEpoch() time.Time { return time.Date(2016, 7, 13, 0, 0, 0, 0, time.UTC) }

func writeTar(w io.Writer, files []tarFile) error {
	tw := tar.NewWriter(w)
	for _, f := range files {
		hdr := &tar.Header{
			Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: tarEpoch(),
			Typeflag: tar.TypeReg, Uname: "root", Gname: "root", Format: tar.FormatUSTAR,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	return tw.Close()
}
