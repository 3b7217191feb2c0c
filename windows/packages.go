package windows

import (
	"context"
	"fmt"
	"strings"

	"github.com/mtprep/mtprep/provision/guest"
	scripts "github.com/mtprep/mtprep/scripts/windows"
)

// Packages: a Windows MT has no package list for the MT role (the agent
// brings what it needs); the one component Windows Server 2016 lacks is
// OpenSSH Server, which firstboot.ps1 installed before mtprep could
// connect. Names is empty; Read reports nothing missing and sshd as the
// one service; Install can only start sshd (over the SSH it serves, a
// missing or misconfigured sshd cannot be fixed).
type Packages struct{}

// Names is empty: no packages.
func (Packages) Names() []string { return nil }

// ServiceFix is what the service step does.
func (Packages) ServiceFix() string {
	return "OpenSSH Server (sshd) starts at boot with PowerShell as its default shell (firstboot.ps1 set it up at the install)"
}

// Read reads the release line and sshd's state.
func (Packages) Read(ctx context.Context, r guest.Runner) (guest.PackageState, error) {
	out, err := r.Script(ctx, scripts.PackagesState, nil)
	if err != nil {
		return guest.PackageState{}, err
	}
	return ParsePackagesState(string(out)), nil
}

// ParsePackagesState reads packages-state.ps1's lines.
func ParsePackagesState(out string) guest.PackageState {
	st := guest.PackageState{Missing: map[string]string{}}
	svc := guest.ServiceState{Name: "sshd", Fix: "start sshd at boot (Set-Service sshd -StartupType Automatic) and now"}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "release "); ok {
			st.Release = v
			continue
		}
		f := strings.Fields(line)
		if len(f) == 4 && f[0] == "svc" && f[1] == "sshd" {
			yes := f[3] == "yes"
			switch f[2] {
			case "configured":
				svc.Configured = yes
			case "enabled":
				svc.Enabled = yes
			case "running":
				svc.Running = yes
			}
		}
	}
	if !svc.Configured {
		svc.Fix = "sshd's DefaultShell is not PowerShell (HKLM:\\SOFTWARE\\OpenSSH): set it by hand, as firstboot.ps1 does; mtprep's commands need it"
	}
	st.Services = []guest.ServiceState{svc}
	return st
}

// Install starts sshd at boot; nothing else is installed.
func (Packages) Install(ctx context.Context, r guest.Runner, st guest.PackageState, src guest.PackageSource, env guest.Env) error {
	for _, s := range st.Services {
		if s.OK() {
			continue
		}
		if !s.Configured {
			return fmt.Errorf("%s: %s", s.Name, s.Fix)
		}
		if _, err := r.Script(ctx, scripts.ToolsEnable, nil, s.Name); err != nil {
			return fmt.Errorf("enabling and starting %s: %w", s.Name, err)
		}
	}
	return nil
}
