package provision

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"slices"
	"strings"

	version "github.com/hashicorp/go-version"

	"github.com/mtprep/mtprep/provision/spec"
)

// ASR's rules for which agent may go on which MT (the Linux master target
// guide, "Prerequisites" and the support matrix):
//   - "Starting with release of the 9.10.0 master target server, the latest
//     master target server can be only installed on an Ubuntu 16.04 server.
//     New installations aren't allowed on CentOS6.6 servers." Existing
//     CentOS 6.6 MTs may still be upgraded to 9.10.0.
//   - The MT's agent must be the same version as, or older than, the
//     configuration and process servers'.
//
// They are checked before any phase runs (plan, build and every MT of a
// fleet), whatever --phases says: building a VM for an agent ASR will not
// take wastes an hour and leaves a VM to delete.

// On CentOS 6.6, 9.10.x only upgrades an MT; 9.11 and later never go on it.
var (
	agentCentOSUpgradeOnly = version.Must(version.NewVersion("9.10"))
	agentCentOSRefused     = version.Must(version.NewVersion("9.11"))
)

// AgentRuleInput is what the rules decide on.
type AgentRuleInput struct {
	OS        string // the spec's os
	Tarball   string // agent.tarball, for the message
	Version   string // the tarball's version ("" when it cannot be told)
	Installed string // the agent already on the MT ("" when none, or the MT is not there)
	// MTReached is false when the MT could not be asked (not built yet):
	// Installed is then unknown, which the rules treat as "none".
	MTReached bool
	CSVersion string // configServer.version ("" when not given)
}

// AgentRefusal is an agent that ASR does not allow on this MT; Key is the
// spec key to change.
type AgentRefusal struct {
	Key, Problem, Fix string
}

// AgentRules applies ASR's rules; nil means allowed.
func AgentRules(in AgentRuleInput) *AgentRefusal {
	name := filepath.Base(in.Tarball)
	v, err := version.NewVersion(in.Version)
	if in.Version == "" || err != nil {
		return &AgentRefusal{Key: "agent.tarball",
			Problem: fmt.Sprintf("cannot tell the Unified Agent version of %s (no .vx_version inside, no _UA_<version>_ in its name)", name),
			Fix:     "use the agent under Microsoft's file name (Microsoft-ASR_UA_<version>_" + platformOf(in.OS) + "_…): mtprep checks its version against ASR's rules"}
	}
	if in.CSVersion != "" {
		cs, err := version.NewVersion(in.CSVersion)
		if err != nil {
			return &AgentRefusal{Key: "configServer.version",
				Problem: fmt.Sprintf("%q is not a version", in.CSVersion),
				Fix:     "write the configuration server's version as shown in its portal, e.g. 9.3.0.0"}
		}
		if v.GreaterThan(cs) {
			return &AgentRefusal{Key: "agent.tarball",
				Problem: fmt.Sprintf("agent %s (%s) is newer than the configuration server's %s: ASR needs the MT's agent at the same version as the configuration and process servers, or older", in.Version, name, in.CSVersion),
				Fix:     fmt.Sprintf("use the agent tarball of version %s or older (the process server's repository folder has the matching one), or upgrade the configuration server first", in.CSVersion)}
		}
	}
	if r := agentPlatform(in.OS, name); r != nil {
		return r
	}
	core := v.Core() // 9.10.0.0-beta and 9.10.0.0 are both 9.10.x
	if in.OS == spec.OSUbuntu1604 {
		if core.LessThan(agentCentOSUpgradeOnly) {
			return &AgentRefusal{Key: "agent.tarball",
				Problem: fmt.Sprintf("agent %s (%s) cannot go on os: ubuntu-16.04: the Ubuntu 16.04 master target starts with 9.10.0; older agents install on CentOS 6.6 (ASR)", in.Version, name),
				Fix:     "use the UBUNTU-16.04-64 agent of 9.10 or later (the configuration server's version or older), or build a CentOS 6.6 MT for this agent"}
		}
		return nil
	}
	if in.OS != spec.OSCentOS66 {
		return nil
	}
	switch {
	case !core.LessThan(agentCentOSRefused):
		return &AgentRefusal{Key: "agent.tarball",
			Problem: fmt.Sprintf("agent %s (%s) cannot go on os: centos-6.6: from 9.10.0 a master target may be installed only on Ubuntu 16.04, and CentOS 6.6 MTs may be upgraded to 9.10.x at most (ASR)", in.Version, name),
			Fix:     "use a RHEL6-64 agent of 9.9 or older for a new CentOS 6.6 MT (9.10.x only to upgrade one), or build an Ubuntu 16.04 MT for this agent"}
	case !core.LessThan(agentCentOSUpgradeOnly) && in.Installed == "":
		// An MT that already has an agent is an upgrade (or a re-run after
		// one): allowed. One without is a new install: refused.
		why := "this MT has no agent yet (a new install)"
		if !in.MTReached {
			why = "the MT does not answer yet, so this is a new install"
		}
		return &AgentRefusal{Key: "agent.tarball",
			Problem: fmt.Sprintf("agent %s (%s) on os: centos-6.6 is allowed only as an upgrade of an MT with an older agent, and %s: new CentOS 6.6 MTs stop at 9.9 (ASR)", in.Version, name, why),
			Fix:     "use a RHEL6-64 agent of 9.9 or older for a new CentOS 6.6 MT, or build an Ubuntu 16.04 MT for 9.10 and later"}
	}
	return nil
}

// agentPlatforms are the platform tokens of Microsoft's agent file names
// (Microsoft-ASR_UA_<version>_<platform>_GA_<date>_release.tar.gz) that
// each OS takes; a name with another OS's token is the wrong build.
var agentPlatforms = map[string][]string{
	spec.OSCentOS66:    {"RHEL6-64", "OL6-64"},
	spec.OSUbuntu1604:  {"UBUNTU-16.04-64"},
	spec.OSWindows2016: {"Windows"},
}

// platformOf is the platform token of the OS's agent build, for messages.
func platformOf(osName string) string {
	if p := agentPlatforms[osName]; len(p) > 0 {
		return p[0]
	}
	return agentPlatforms[spec.OSCentOS66][0]
}

// agentPlatform refuses a tarball whose name is another OS's build; a
// name with no known token is judged by its version alone.
func agentPlatform(osName, name string) *AgentRefusal {
	upper := strings.ToUpper(name)
	for other, tokens := range agentPlatforms {
		for _, tok := range tokens {
			if other == osName || !strings.Contains(upper, "_"+strings.ToUpper(tok)+"_") {
				continue
			}
			if slices.ContainsFunc(agentPlatforms[osName], func(mine string) bool { return strings.Contains(upper, "_"+strings.ToUpper(mine)+"_") }) {
				continue
			}
			return &AgentRefusal{Key: "agent.tarball",
				Problem: fmt.Sprintf("%s is the %s build of the Unified Agent, for os: %s, not %s", name, tok, other, osName),
				Fix:     fmt.Sprintf("use the %s build (Microsoft-ASR_UA_<version>_%s_…)", osName, platformOf(osName))}
		}
	}
	return nil
}

// AgentVersion tells the tarball's version without hashing it: a
// .vx_version inside wins, else the version in Microsoft's file name. A
// tarball that is not there yet is judged by its name.
func AgentVersion(p string) string {
	if v, err := versionInTarball(p); err == nil && v != "" {
		return v
	}
	if m := agentNameRe.FindStringSubmatch(filepath.Base(p)); m != nil {
		return m[1]
	}
	return ""
}

// checkAgentRules is the preflight of plan, build and each MT of a fleet:
// ASR's agent rules, before any phase runs. It reads the MT (over SSH)
// only for the one case that needs it: a 9.10.x agent on CentOS 6.6,
// allowed only as an upgrade.
func (t *Target) checkAgentRules(ctx context.Context) error {
	s := t.Spec
	if s.Agent.Tarball == "" {
		return nil // the agent phase names the missing key when it runs
	}
	in := AgentRuleInput{OS: s.OS, Tarball: s.Agent.Tarball, Version: AgentVersion(s.Agent.Tarball), CSVersion: s.ConfigServer.Version}
	if _, err := os.Stat(s.Agent.Tarball); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("preflight: agent tarball %s: %w", s.Agent.Tarball, err)
		}
		if in.Version == "" {
			// Not downloaded yet and no version in its name: nothing to
			// judge; the agent phase refuses the missing file.
			t.Log.Debug("preflight: agent tarball not there yet; its version is checked once it is", "tarball", s.Agent.Tarball)
			return nil
		}
	}
	if v, err := version.NewVersion(in.Version); err == nil && s.OS == spec.OSCentOS66 && !v.Core().LessThan(agentCentOSUpgradeOnly) && v.Core().LessThan(agentCentOSRefused) {
		in.Installed, in.MTReached = t.installedAgent(ctx)
	}
	if r := AgentRules(in); r != nil {
		return s.InputError(r.Key, r.Problem, r.Fix)
	}
	return nil
}

// installedAgent reads the agent version on the MT; reached is false when
// the MT does not answer.
func (t *Target) installedAgent(ctx context.Context) (installed string, reached bool) {
	c, err := t.SSH(ctx)
	if err != nil {
		t.Log.Debug("preflight: MT not reachable for its agent version", "err", err)
		return "", false
	}
	if t.OS == nil || t.OS.Agent == nil {
		return "", false
	}
	v, err := t.OS.Agent.Installed(ctx, c)
	if err != nil {
		t.Log.Debug("preflight: reading the MT's agent version", "err", err)
		return "", false
	}
	return v, true
}
