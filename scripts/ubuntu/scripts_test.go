package ubuntu

import (
	"os/exec"
	"strings"
	"testing"
)

// TestSyntax parses every script with bash -n (the MT runs them under
// bash 4.3) and the late command, which in-target runs under sh (dash on
// Ubuntu 16.04), with dash -n too where the host has dash.
func TestSyntax(t *testing.T) {
	all := map[string]string{
		"late-command.sh": LateCommand, "release.sh": Release, "packages-state.sh": PackagesState,
		"packages-bundle.sh": PackagesBundle, "packages-apt.sh": PackagesApt, "multipath-enable.sh": MultipathEnable,
		"tools-state.sh": ToolsState, "tools-enable.sh": ToolsEnable, "audit-probe.sh": AuditProbe,
	}
	for name, body := range all {
		if strings.TrimSpace(body) == "" {
			t.Errorf("%s is empty", name)
			continue
		}
		shells := []string{"bash"}
		if name == "late-command.sh" {
			shells = append(shells, "dash")
		}
		for _, sh := range shells {
			if _, err := exec.LookPath(sh); err != nil {
				continue
			}
			cmd := exec.Command(sh, "-n")
			cmd.Stdin = strings.NewReader(body)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s -n %s: %v\n%s", sh, name, err, out)
			}
		}
	}
}
