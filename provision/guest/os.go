package guest

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"time"

	version "github.com/hashicorp/go-version"

	"github.com/mtprep/mtprep/internal/progress"
)

// OS is everything the phases need to know of one MT operating system,
// made of small typed parts. A nil part means "not on this OS". cmd/mtprep
// maps each spec `os:` value to one OS explicitly; nothing registers
// itself.
//
// Each part reads a typed state (what its check saw) and applies a
// change; the phases in package provision decide, in ASR's OS-neutral
// terms, what to read and when to apply.
type OS struct {
	// Name is the spec's os: value ("centos-6.6").
	Name string
	// VM is what the MT's VM must be.
	VM VMProfile
	// Shell is how commands and scripts run on the MT.
	Shell Shell
	// Release reads the MT's OS release and says whether it is this OS.
	Release Release
	// Packages installs the packages and services the MT role needs.
	Packages Packages
	// Tools installs VMware Tools in the guest (vSphere's half of the
	// tools phase is the phase's own).
	Tools Tools
	// Agent prepares the Unified Agent (unpack, ApplyCustomChanges once).
	Agent Agent
	// Retention reads and formats the retention disk.
	Retention Retention
	// Registration maps the host name, installs the MT role and
	// registers it with the configuration server.
	Registration Registration
	// Lock takes and releases the guest lock.
	Lock Lock
	// Probe is the audit's one read-only probe.
	Probe Probe
	// Media renders what the per-MT seed carries.
	Media Media
}

// Lookup finds the OS of a spec's os: value; cmd/mtprep passes its map.
type Lookup func(name string) (*OS, bool)

// Runner is what the parts use of the transport (*Conn implements it):
// commands and scripts through the OS's Shell, uploads, reboots.
type Runner interface {
	Run(ctx context.Context, args ...string) ([]byte, error)
	Script(ctx context.Context, script string, stdin io.Reader, args ...string) ([]byte, error)
	Upload(ctx context.Context, local, remote string, prog progress.Func) (*UploadResult, error)
	UploadDir() (string, error)
	Reboot(ctx context.Context, timeout time.Duration) error
	User() string
}

// ReleaseInfo is the MT's OS release.
type ReleaseInfo struct {
	Line    string // as the OS writes it ("CentOS release 6.6 (Final)")
	ID      string // "centos", "rhel", "ubuntu", …
	Version string
	// Supported is true when the release is the one this OS part is for.
	Supported bool
}

// Release reads and judges the MT's release.
type Release interface {
	// Read reads the release over r.
	Read(ctx context.Context, r Runner) (ReleaseInfo, error)
	// Parse judges a release line read some other way (a probe).
	Parse(line string) ReleaseInfo
	// Want names the release this OS part is for, for messages.
	Want() string
}

// PackageSource is where packages come from: the spec's packages block.
type PackageSource struct {
	Kind     string   // "bundle" or "vault" (a repository list)
	Bundle   string   // local path of the offline bundle
	Repos    []string // repository URLs
	GPGCheck bool
	// ToolsFromHost: VMware Tools come from the ESXi host's own
	// installer (tools.source: host), not from this package source.
	ToolsFromHost bool
}

// ServiceState is one service the MT role needs running.
type ServiceState struct {
	Name                         string
	Configured, Enabled, Running bool
	// Fix says, in the user's terms, what the apply does for it.
	Fix string
}

// OK is true when the service needs nothing.
func (s ServiceState) OK() bool { return s.Configured && s.Enabled && s.Running }

// PackageState is what the packages check read.
type PackageState struct {
	// Release is the release line, read in the same round trip.
	Release string
	// Wanted is how many packages the OS's list holds.
	Wanted int
	// Missing maps each package not at its minimum version to why.
	Missing  map[string]string
	Services []ServiceState
}

// Packages installs the OS's package list.
type Packages interface {
	// Names lists the packages, for plans.
	Names() []string
	// Read reads the packages and services (and the release line).
	Read(ctx context.Context, r Runner) (PackageState, error)
	// Install installs what st lacks from src and starts what st lists
	// as not running.
	Install(ctx context.Context, r Runner, st PackageState, src PackageSource, env Env) error
	// ServiceFix is what enabling the services does, for a plan of a
	// fresh MT.
	ServiceFix() string
	// Judge reads the audit probe's package lines (what follows their
	// "rpm" or "deb" key) against the OS's list: how many packages the
	// list holds, and each one missing or too old with why.
	Judge(lines []string) (wanted int, missing map[string]string)
}

// Env is what an apply may use besides the MT: the run's log and the
// progress of long transfers.
type Env struct {
	Log      *slog.Logger
	Progress progress.Func
}

// ToolsState is the guest's half of VMware Tools.
type ToolsState struct {
	Package, Version string // the installed Tools package, "" for none
	Service          string
	Enabled, Running bool
}

// Tools installs VMware Tools in the guest.
type Tools interface {
	Read(ctx context.Context, r Runner) (ToolsState, error)
	// Install installs a Tools package from src and returns its name.
	Install(ctx context.Context, r Runner, src PackageSource, env Env) (string, error)
	// Start enables service at boot and starts it.
	Start(ctx context.Context, r Runner, service string) error
	// InstallText says where the package comes from, for plans.
	InstallText(src PackageSource) string
	// StartText is what starting the service does, for plans.
	StartText() string
	// Known lists the Tools packages this OS knows, for messages.
	Known() []string
	// HostInstaller: Install runs the ESXi host's Tools installer, which
	// the tools phase mounts in the VM's CD-ROM first and takes out after
	// (Windows always; CentOS when src.ToolsFromHost); false when Tools
	// come from the packages source.
	HostInstaller(src PackageSource) bool
}

// AgentState is the agent preparation's markers.
type AgentState struct {
	Started, Done, RebootPending string // timestamps, "" when absent
	Unpacked                     bool
	// Running lists the pids of ApplyCustomChanges.sh processes running
	// on the MT now ("" when none): a run whose mtprep died leaves it.
	Running string
}

// Agent prepares the Unified Agent on the MT.
type Agent interface {
	// UnpackDir is where the agent is unpacked (the home directory: the
	// ASR docs say an agent under /usr/local fails to install).
	UnpackDir() string
	Read(ctx context.Context, r Runner) (AgentState, error)
	// Apply unpacks the uploaded tarball and runs ApplyCustomChanges.sh
	// once, recording its start and end.
	Apply(ctx context.Context, r Runner, tarball string) error
	// MarkDone records an interrupted run as done (the operator's word).
	MarkDone(ctx context.Context, r Runner) error
	// ForgetStart drops the record of an interrupted run, to run again.
	ForgetStart(ctx context.Context, r Runner) error
	// Rebooted clears the reboot-pending record after the reboot.
	Rebooted(ctx context.Context, r Runner) error
	// Installed is the version of the agent installed on the MT, "" for
	// none.
	Installed(ctx context.Context, r Runner) (string, error)
	// Steps says what Apply does after the unpack, for plans ("run
	// ApplyCustomChanges.sh once, then reboot").
	Steps() string
}

// ParseVxVersion takes the version out of the Unified Agent's .vx_version
// file (the same format on every OS), which holds either the bare
// version or KEY=VALUE lines with VERSION=; "" when it holds none.
func ParseVxVersion(s string) string {
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if k, v, ok := strings.Cut(line, "="); ok && strings.EqualFold(strings.TrimSpace(k), "version") {
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
		if _, err := version.NewVersion(line); err == nil {
			return line
		}
	}
	return ""
}

// RegistrationState is what the handoff check read.
type RegistrationState struct {
	NICs, Hosts  []string // the MT's addresses; those /etc/hosts maps the host name to
	CSReachable  bool
	AgentVersion string
	RegisteredCS string
}

// Registration installs and registers the MT role.
type Registration interface {
	Read(ctx context.Context, r Runner, hostname, csIP string, csPort int) (RegistrationState, error)
	MapHostname(ctx context.Context, r Runner, hostname string, addrs []string) error
	// HostsFile names the hosts file MapHostname writes, for plans.
	HostsFile() string
	// Install installs the MT role from the unpacked agent (newForm: the
	// 9.x install + configurator) and registers it; the passphrase goes
	// over stdin, never in an argument.
	Install(ctx context.Context, r Runner, agentDir string, newForm bool, csIP string, csPort int, passphrase string) error
}

// LockResult is what taking the guest lock found.
type LockResult struct {
	Taken bool
	// Broke is the owner line of a lock taken from another run (force).
	Broke string
	// Held is the owner line of the run that holds it (not Taken).
	Held string
}

// Lock is the guest lock: one run at a time prepares an MT. It survives
// the agent phase's reboot and the end of the SSH session.
type Lock interface {
	// Take takes the lock at path for this run (runID, owner its owner
	// line); force takes it from another run.
	Take(ctx context.Context, r Runner, path, owner, runID string, force bool) (LockResult, error)
	// Release drops the lock if it is still this run's.
	Release(ctx context.Context, r Runner, path, runID string) error
	// Path is where the lock lives on this OS.
	Path() string
}

// Probe is the audit's one read-only probe per MT. Its output is "key
// value" lines in the format provision.ParseProbe reads (documented in
// docs/ARCHITECTURE.md): the probe is the OS's, the checks on what it
// found are ASR's.
type Probe interface {
	Run(ctx context.Context, r Runner, a ProbeArgs) (string, error)
}

// ProbeArgs is what the probe checks against: the spec's values.
type ProbeArgs struct {
	Hostname, Mountpoint, CSIP string
	CSPort                     int
}
