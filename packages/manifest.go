package packages

import (
	"fmt"
	"strconv"
	"strings"

	version "github.com/hashicorp/go-version"
)

// Package is one RPM the MT needs, with the oldest version-release that
// will do.
type Package struct {
	Name string
	Min  string // version-release, e.g. 3.1.1-16.el6
	Why  string
}

// Required is the one manifest of what a CentOS 6.6 master target needs
// (ASR's "Set up a Linux VM as the master target server"; the seed's
// xfsprogs URL says x86_65, a typo for x86_64). Minimums are the CentOS
// 6.6 and ELRepo releases the procedure names.
func Required() []Package {
	return []Package{
		{"xfsprogs", "3.1.1-16.el6", "protect sources with XFS root or boot"},
		{"perl", "5.10.1-136.el6", "the agent's scripts"},
		{"lsscsi", "0.23-3.el6", "disk discovery"},
		{"rsync", "3.0.6-12.el6", "the agent"},
		{"wget", "1.12-5.el6", "the agent"},
		{"kexec-tools", "2.0.0-280.el6", "kdump into /var/crash"},
		{"kmod-reiserfs", "0.0-1.el6.elrepo", "protect sources with ReiserFS root or boot"},
		{"reiserfs-utils", "3.6.21-1.el6.elrepo", "protect sources with ReiserFS root or boot"},
		{"device-mapper-multipath", "0.4.9-80.el6", "disks by WWID (disk.EnableUUID)"},
	}
}

// Names returns the package names of ps.
func Names(ps []Package) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}

// Compare compares two RPM version-release strings: the version with
// hashicorp/go-version, then the release by its numeric fields. It returns
// -1, 0 or 1.
func Compare(a, b string) (int, error) {
	av, ar, _ := strings.Cut(a, "-")
	bv, br, _ := strings.Cut(b, "-")
	va, err := version.NewVersion(av)
	if err != nil {
		return 0, fmt.Errorf("version %q: %w", a, err)
	}
	vb, err := version.NewVersion(bv)
	if err != nil {
		return 0, fmt.Errorf("version %q: %w", b, err)
	}
	if c := va.Compare(vb); c != 0 {
		return c, nil
	}
	return compareRelease(ar, br), nil
}

// compareRelease compares releases such as 16.el6 and 136.el6_5.1 field by
// field, numbers as numbers, the way rpmvercmp does for these shapes.
func compareRelease(a, b string) int {
	fa, fb := splitRelease(a), splitRelease(b)
	for i := 0; i < len(fa) && i < len(fb); i++ {
		na, ea := strconv.Atoi(fa[i])
		nb, eb := strconv.Atoi(fb[i])
		switch {
		case ea == nil && eb == nil && na != nb:
			if na < nb {
				return -1
			}
			return 1
		case ea == nil && eb != nil:
			return 1 // rpm: numbers sort after letters
		case ea != nil && eb == nil:
			return -1
		case ea != nil && eb != nil && fa[i] != fb[i]:
			return strings.Compare(fa[i], fb[i])
		}
	}
	switch {
	case len(fa) < len(fb):
		return -1
	case len(fa) > len(fb):
		return 1
	}
	return 0
}

func splitRelease(r string) []string {
	var out []string
	cur := ""
	kind := 0 // 1 digits, 2 letters
	for _, c := range r {
		k := 0
		switch {
		case c >= '0' && c <= '9':
			k = 1
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			k = 2
		}
		if k == 0 || k != kind {
			if cur != "" {
				out = append(out, cur)
			}
			cur = ""
		}
		if k != 0 {
			cur += string(c)
		}
		kind = k
	}
	if cur != "" {
		out = append(out, cur)
	}
	return out
}

// Installed is what `rpm -q --qf '%{NAME} %{VERSION}-%{RELEASE}\n'` said.
type Installed map[string]string

// ParseRPMQuery reads that output; "package X is not installed" lines
// are skipped.
func ParseRPMQuery(out string) Installed {
	m := Installed{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && !strings.Contains(line, "not installed") {
			// Several versions of one name (kernels): keep the newest.
			if old, ok := m[f[0]]; !ok {
				m[f[0]] = f[1]
			} else if c, err := Compare(f[1], old); err == nil && c > 0 {
				m[f[0]] = f[1]
			}
		}
	}
	return m
}

// Missing returns the packages of want that are absent or older than their
// minimum in have, each with the reason.
func Missing(want []Package, have Installed) map[string]string {
	out := map[string]string{}
	for _, p := range want {
		v, ok := have[p.Name]
		if !ok {
			out[p.Name] = "not installed"
			continue
		}
		c, err := Compare(v, p.Min)
		if err != nil {
			out[p.Name] = err.Error()
		} else if c < 0 {
			out[p.Name] = fmt.Sprintf("%s is older than %s", v, p.Min)
		}
	}
	return out
}

// ToolsPackage is one way of putting VMware Tools on a CentOS 6 MT from
// RPMs. ASR's failback preparation: "Install VMware tools or
// open-vm-tools on the master target server. Without the tools, the
// datastores on the master target's ESXi host can't be detected".
type ToolsPackage struct {
	Name    string // the RPM that brings the daemon
	Service string // its init script (/etc/rc.d/init.d) or upstart job (/etc/init)
	From    string // where the operator gets it
}

// Tools lists the VMware Tools packages the tools phase installs, in the
// order it prefers them when a bundle holds more than one: EPEL 6's
// open-vm-tools (daemon vmtoolsd, SysV script vmtoolsd), then VMware's
// operating system specific packages for ESXi (vmware-tools-esx-nox, the
// non-X set, whose daemons run as vmware-tools-services).
func Tools() []ToolsPackage {
	return []ToolsPackage{
		{Name: "open-vm-tools", Service: "vmtoolsd", From: "EPEL 6 (archives.fedoraproject.org/pub/archive/epel/6/x86_64)"},
		{Name: "vmware-tools-esx-nox", Service: "vmware-tools-services", From: "VMware's OSP repository (packages.vmware.com/tools/esx/<version>/rhel6/x86_64)"},
	}
}

// ToolsTar is VMware Tools as the ESXi host's own installer puts them on a
// Linux guest (tools.source: host): vmware-install.pl from the tarball on
// the VMware Tools CD installs no RPM; /etc/vmware-tools/locations records
// the install, vmware-toolbox-cmd -v says its version, and its SysV
// service is vmware-tools. It is read only when no RPM of Tools is
// installed.
var ToolsTar = ToolsPackage{Name: "vmware-tools", Service: "vmware-tools", From: "the ESXi host's VMware Tools installer (tools.source: host)"}

// ToolsIn returns the VMware Tools package a bundle's RPMs hold, in the
// order of Tools.
func ToolsIn(rpms []RPMFile) (ToolsPackage, RPMFile, bool) {
	for _, tp := range Tools() {
		for _, r := range rpms {
			if r.Name == tp.Name {
				return tp, r, true
			}
		}
	}
	return ToolsPackage{}, RPMFile{}, false
}
