package windows

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/mtprep/mtprep/provision/guest"
	scripts "github.com/mtprep/mtprep/scripts/windows"
)

// Registration maps the host name in the hosts file, installs the MT role
// (UnifiedAgent.exe /Role "MT" … /Silent) and registers it
// (UnifiedAgentConfigurator.exe /CSEndPoint … /PassphraseFilePath …).
type Registration struct{}

// Read reads the hosts file, the configuration server's reachability and
// the agent's install and registration.
func (Registration) Read(ctx context.Context, r guest.Runner, hostname, csIP string, csPort int) (guest.RegistrationState, error) {
	out, err := r.Script(ctx, scripts.HandoffState, nil, hostname, csIP, strconv.Itoa(csPort))
	if err != nil {
		return guest.RegistrationState{}, err
	}
	return ParseRegistrationState(string(out)), nil
}

// ParseRegistrationState reads handoff-state.ps1's lines.
func ParseRegistrationState(out string) guest.RegistrationState {
	var st guest.RegistrationState
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch k {
		case "nic":
			st.NICs = append(st.NICs, v)
		case "hosts":
			st.Hosts = append(st.Hosts, v)
		case "cs":
			st.CSReachable = v == "reachable"
		case "vx_version":
			st.AgentVersion = strings.TrimSpace(v)
		case "registered":
			st.RegisteredCS = v
		}
	}
	slices.Sort(st.NICs)
	slices.Sort(st.Hosts)
	return st
}

// MapHostname maps hostname to addrs in the hosts file.
func (Registration) MapHostname(ctx context.Context, r guest.Runner, hostname string, addrs []string) error {
	if _, err := r.Script(ctx, scripts.HostsApply, nil, append([]string{hostname}, addrs...)...); err != nil {
		return fmt.Errorf(`C:\Windows\System32\drivers\etc\hosts: %w`, err)
	}
	return nil
}

// Installer exit codes agent-install.ps1 passes on: 1618 is the Windows
// Installer's "another installation is in progress"; 2 and 3 are the
// script's own for any other installer or configurator failure.
var installExit = map[int]string{
	1618: "another installation is in progress on the MT (Windows Installer 1618): wait for it to end and run again",
	2:    `UnifiedAgent.exe failed: see C:\ProgramData\ASRSetupLogs\UnifiedAgentInstaller.log on the MT`,
	3:    `UnifiedAgentConfigurator.exe failed to register with the configuration server: see C:\ProgramData\ASRSetupLogs\ASRUnifiedAgentConfigurator.log on the MT (is the passphrase current?)`,
}

// Install runs UnifiedAgent.exe from agentDir and the configurator; the
// passphrase goes over stdin into a file only Administrators and SYSTEM
// may read, removed on every exit. Windows agents have only the 9.x form
// (newForm is ignored). 3010 (reboot required) is success, recorded as
// reboot-pending.
func (Registration) Install(ctx context.Context, r guest.Runner, agentDir string, newForm bool, csIP string, csPort int, passphrase string) error {
	if _, err := netip.ParseAddr(csIP); err != nil {
		return fmt.Errorf("agent install: configuration server %q is not an IP address", csIP)
	}
	_, err := r.Script(ctx, scripts.AgentInstall, strings.NewReader(passphrase+"\n"), agentDir, csIP, strconv.Itoa(csPort), StateDir)
	if err != nil {
		var ce *guest.CommandError
		if errors.As(err, &ce) {
			if why, ok := installExit[ce.Status]; ok {
				return fmt.Errorf("agent install: %s: %w", why, err)
			}
		}
		return fmt.Errorf("agent install: %w", err)
	}
	return nil
}

// HostsFile is Windows' hosts file.
func (Registration) HostsFile() string { return `C:\Windows\System32\drivers\etc\hosts` }
