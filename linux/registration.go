package linux

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mtprep/mtprep/provision/guest"
	scripts "github.com/mtprep/mtprep/scripts/linux"
)

// Registration maps the host name in /etc/hosts, installs the MT role
// (CentOS 6.6's one-step form for 8.x agents, `-q -r MT -v VmWare` and
// UnifiedAgentConfigurator.sh for 9.x) and registers it.
type Registration struct {
	// NewFormOnly: the OS's agent build has only the 9.x form (Ubuntu
	// 16.04's starts at 9.10).
	NewFormOnly bool
}

// Read reads /etc/hosts, the configuration server's reachability and the
// agent's install and registration.
func (Registration) Read(ctx context.Context, r guest.Runner, hostname, csIP string, csPort int) (guest.RegistrationState, error) {
	out, err := r.Script(ctx, WithNetState(scripts.HandoffState), nil, hostname, csIP, strconv.Itoa(csPort))
	if err != nil {
		return guest.RegistrationState{}, err
	}
	var st guest.RegistrationState
	for _, line := range strings.Split(string(out), "\n") {
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
	return st, nil
}

// MapHostname maps hostname to addrs in /etc/hosts.
func (Registration) MapHostname(ctx context.Context, r guest.Runner, hostname string, addrs []string) error {
	if _, err := r.Script(ctx, scripts.HostsApply, nil, append([]string{hostname}, addrs...)...); err != nil {
		return fmt.Errorf("/etc/hosts: %w", err)
	}
	return nil
}

// Install runs the agent's installer from agentDir; the passphrase goes
// over stdin into a 0600 file that the script removes on every exit.
func (rg Registration) Install(ctx context.Context, r guest.Runner, agentDir string, newForm bool, csIP string, csPort int, passphrase string) error {
	if rg.NewFormOnly && !newForm {
		return errors.New("agent install: this MT takes the 9.x agent only (install -q -r MT -v VmWare); the Ubuntu 16.04 build starts at 9.10")
	}
	form := "old"
	if newForm {
		form = "new"
	}
	if _, err := r.Script(ctx, scripts.AgentInstall, strings.NewReader(passphrase+"\n"), form, agentDir, csIP, strconv.Itoa(csPort)); err != nil {
		return fmt.Errorf("agent install: %w", err)
	}
	return nil
}

// HostsFile is /etc/hosts.
func (Registration) HostsFile() string { return "/etc/hosts" }
