package linux

import (
	"os/exec"
	"strings"
	"testing"
)

// TestSyntax parses every shared script with bash -n, and checks that none
// relies on what CentOS 6 lacks (it is the older of the two MTs).
func TestSyntax(t *testing.T) {
	all := map[string]string{
		"agent-apply.sh": AgentApply, "agent-mark-done.sh": AgentMarkDone, "agent-state.sh": AgentState,
		"agent-version.sh": AgentVersion, "guest-lock.sh": GuestLock, "guest-unlock.sh": GuestUnlock,
		"handoff-state.sh": HandoffState, "hosts-apply.sh": HostsApply, "retention-scan.sh": RetentionScan,
		"retention-state.sh": RetentionState, "retention-apply.sh": RetentionApply, "agent-install.sh": AgentInstall,
		"audit-probe-common.sh": AuditProbeCommon, "net-state.sh": NetState,
	}
	for name, body := range all {
		if strings.TrimSpace(body) == "" {
			t.Errorf("%s is empty", name)
			continue
		}
		var code strings.Builder // comments may name what is not used
		for _, l := range strings.Split(body, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), "#") {
				code.WriteString(l + "\n")
			}
		}
		for _, banned := range []string{"/etc/os-release", "systemctl", "lsblk --json", "findmnt -J", "mapfile -d"} {
			if strings.Contains(code.String(), banned) {
				t.Errorf("%s uses %q, which CentOS 6 does not have", name, banned)
			}
		}
		if _, err := exec.LookPath("bash"); err != nil {
			continue
		}
		cmd := exec.Command("bash", "-n")
		cmd.Stdin = strings.NewReader(body)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("bash -n %s: %v\n%s", name, err, out)
		}
	}
}
