package windows

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/mtprep/mtprep/provision/guest"
	scripts "github.com/mtprep/mtprep/scripts/windows"
)

func TestOS(t *testing.T) {
	o := OS()
	if o.Name != "windows-2016" || o.VM.GuestID != "windows9Server64Guest" || o.VM.Controller != "lsilogic-sas" || o.VM.ControllerName != "LSI Logic SAS" || o.VM.NIC != "e1000e" {
		t.Errorf("%+v", o.VM)
	}
	v := reflect.ValueOf(*o)
	for i := 0; i < v.NumField(); i++ {
		// Packages is nil on purpose: no package list for the MT role.
		if f := v.Field(i); f.Kind() == reflect.Interface && f.IsNil() && v.Type().Field(i).Name != "Packages" {
			t.Errorf("part %s is nil", v.Type().Field(i).Name)
		}
	}
}

func TestReleaseParse(t *testing.T) {
	for _, tc := range []struct {
		in        string
		line, ver string
		supported bool
	}{
		{`{"Caption":"Microsoft Windows Server 2016 Standard","Version":"10.0.14393","BuildNumber":"14393","ProductType":3}`, "Microsoft Windows Server 2016 Standard 10.0.14393", "10.0.14393", true},
		{`{"Caption":"Microsoft Windows Server 2016 Datacenter Evaluation","Version":"10.0.14393","BuildNumber":"14393","ProductType":3}`, "Microsoft Windows Server 2016 Datacenter Evaluation 10.0.14393", "10.0.14393", true},
		{`{"Caption":"Microsoft Windows Server 2019 Standard","Version":"10.0.17763","BuildNumber":"17763","ProductType":3}`, "Microsoft Windows Server 2019 Standard 10.0.17763", "10.0.17763", false},
		{`{"Caption":"Microsoft Windows 10 Pro","Version":"10.0.14393","BuildNumber":"14393","ProductType":1}`, "Microsoft Windows 10 Pro 10.0.14393", "10.0.14393", false},
		{`{"Caption":"Microsoft Windows Server 2012 R2 Standard","Version":"6.3.9600","BuildNumber":"9600","ProductType":3}`, "Microsoft Windows Server 2012 R2 Standard 6.3.9600", "6.3.9600", false},
		{"Microsoft Windows Server 2016 Standard 10.0.14393", "Microsoft Windows Server 2016 Standard 10.0.14393", "10.0.14393", true},
		{"CentOS release 6.6 (Final)", "CentOS release 6.6 (Final)", "", false},
	} {
		info := Release{}.Parse(tc.in)
		if info.Line != tc.line || info.Version != tc.ver || info.Supported != tc.supported {
			t.Errorf("Parse(%s) = %+v", tc.in, info)
		}
	}
}

func TestParsers(t *testing.T) {
	as := ParseAgentState("started 2026-01-01T00:00:00Z\ndone 2026-01-01T00:01:00Z\nunpacked\nrunning 1234 5678\n")
	if as.Started == "" || as.Done == "" || !as.Unpacked || as.Running != "1234 5678" || as.RebootPending != "" {
		t.Errorf("agent %+v", as)
	}
	rs := ParseRegistrationState("nic 192.0.2.11\nnic 192.0.2.10\nhosts 192.0.2.10\ncs reachable\nvx_version 9.3.0.0\nregistered 192.0.2.5\n")
	if !reflect.DeepEqual(rs.NICs, []string{"192.0.2.10", "192.0.2.11"}) || !rs.CSReachable || rs.AgentVersion != "9.3.0.0" || rs.RegisteredCS != "192.0.2.5" {
		t.Errorf("registration %+v", rs)
	}
	ts := ParseToolsState("pkg vmware-tools 10.3.10.12406962\nsvc VMTools enabled yes\nsvc VMTools running yes\n")
	if ts.Package != "vmware-tools" || ts.Version != "10.3.10.12406962" || ts.Service != "VMTools" || !ts.Enabled || !ts.Running {
		t.Errorf("tools %+v", ts)
	}
	if ts := ParseToolsState(""); ts.Package != "" || ts.Running {
		t.Errorf("no tools %+v", ts)
	}
	for in, want := range map[string]guest.LockResult{
		"taken\n":                  {Taken: true},
		"broke run=a pid=1 host=x": {Taken: true, Broke: "run=a pid=1 host=x"},
		"held run=b":               {Held: "run=b"},
	} {
		got, err := ParseLock(in)
		if err != nil || got != want {
			t.Errorf("ParseLock(%q) = %+v, %v", in, got, err)
		}
	}
	if _, err := ParseLock("what"); err == nil {
		t.Error("ParseLock accepted nonsense")
	}
}

// TestRegistrationInstall: the passphrase goes on stdin only; the
// installer's exit codes become their advice.
func TestRegistrationInstall(t *testing.T) {
	ctx := context.Background()
	r := &fakeRunner{}
	if err := (Registration{}).Install(ctx, r, Agent{}.UnpackDir(), true, "192.0.2.5", 443, "s3cret'pass"); err != nil {
		t.Fatal(err)
	}
	c := r.calls[0]
	if c.script != scripts.AgentInstall || c.stdin != "s3cret'pass\n" || !reflect.DeepEqual(c.args, []string{`C:\ProgramData\mtprep\work\agent`, "192.0.2.5", "443", StateDir}) {
		t.Errorf("call %+v", c)
	}
	for _, a := range c.args {
		if strings.Contains(a, "s3cret") {
			t.Fatal("the passphrase is in an argument")
		}
	}
	for status, want := range map[int]string{1618: "another installation is in progress", 2: "UnifiedAgentInstaller.log", 3: "ASRUnifiedAgentConfigurator.log", 7: "agent install"} {
		r := &fakeRunner{err: map[string]error{scripts.AgentInstall: &guest.CommandError{Cmd: "script", Status: status}}}
		err := (Registration{}).Install(ctx, r, "x", true, "192.0.2.5", 443, "p")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("exit %d: %v", status, err)
		}
	}
	if err := (Registration{}).Install(ctx, &fakeRunner{}, "x", true, "cs.example.com'; calc", 443, "p"); err == nil {
		t.Error("a configuration server that is not an IP was accepted")
	}
}

var paramRe = regexp.MustCompile(`(?s)^\s*param\(([^)]*)\)`)

// scriptParams is the number of names in a script's param() block (its
// first statement after the comments), -1 for none.
func scriptParams(script string) int {
	var body []string
	for _, l := range strings.Split(script, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		body = append(body, l)
	}
	m := paramRe.FindStringSubmatch(strings.Join(body, "\n"))
	if m == nil {
		return -1
	}
	return strings.Count(m[1], "$")
}

// TestScriptArgs: every part's call passes as many arguments as its
// script's param() names (hosts-apply.ps1 takes the addresses in $args
// after its one name), and every command line fits Windows' limit.
func TestScriptArgs(t *testing.T) {
	ctx := context.Background()
	r := &fakeRunner{out: map[string]string{}}
	dir := Agent{}.UnpackDir()
	_, _ = Release{}.Read(ctx, r)
	_, _ = Tools{}.Read(ctx, r)
	_, _ = Tools{}.Install(ctx, r, guest.PackageSource{}, guest.Env{})
	_ = Tools{}.Start(ctx, r, ToolsService)
	_, _ = Agent{}.Read(ctx, r)
	_ = Agent{}.Apply(ctx, r, WorkDirPath+"/Microsoft-ASR_UA_9.3.0.0_Windows_GA.exe")
	_ = Agent{}.MarkDone(ctx, r)
	_ = Agent{}.ForgetStart(ctx, r)
	_ = Agent{}.Rebooted(ctx, r)
	_, _ = Agent{}.Installed(ctx, r)
	_, _ = Registration{}.Read(ctx, r, "mt01.example.com", "192.0.2.5", 443)
	_ = Registration{}.MapHostname(ctx, r, "mt01.example.com", []string{"192.0.2.10"})
	_ = Registration{}.Install(ctx, r, dir, true, "192.0.2.5", 443, "p")
	_, _ = Lock{}.Take(ctx, r, Lock{}.Path(), "run=abc pid=1 host=ws01 user=me started=2026-01-01T00:00:00Z", "abc", false)
	_ = Lock{}.Release(ctx, r, Lock{}.Path(), "abc")
	_, _ = Probe{}.Run(ctx, r, guest.ProbeArgs{Hostname: "mt01.example.com", Mountpoint: "R:", CSIP: "192.0.2.5", CSPort: 443})
	r.out[scripts.RetentionState] = `{"matches":1,"disk":{"Number":1,"Size":1073741824,"PartitionStyle":0},"sampled":64}`
	st, _ := Retention{}.Read(ctx, r, "36000c2989daa1234567890abcdef0123", "R:")
	_, _ = Retention{}.Scan(ctx, r, st.Device, 1<<30, guest.Env{})
	_ = Retention{}.Apply(ctx, r, "36000c2989daa1234567890abcdef0123", st.Device, "R:", "mtprep-retention", guest.FormatBlank)

	seen := map[string]bool{}
	for _, c := range r.calls {
		name := scriptName(c.script)
		seen[name] = true
		n := scriptParams(c.script)
		if n < 0 {
			t.Errorf("%s has no param() block", name)
			continue
		}
		if name == "hosts-apply.ps1" {
			if len(c.args) < 1 || n != 1 {
				t.Errorf("%s: %d args for %d names", name, len(c.args), n)
			}
		} else if n != len(c.args) {
			t.Errorf("%s: Go passes %d args %q, param() names %d", name, len(c.args), c.args, n)
		}
		line, _ := Shell{}.Script(c.script, c.args, false)
		if len(line) > MaxLine {
			t.Errorf("%s: the command line has %d characters, more than %d", name, len(line), MaxLine)
		}
	}
	for name, s := range allScripts() {
		if name == "firstboot.ps1" {
			continue // run by FirstLogonCommands, not through the Shell
		}
		if !seen[name] {
			t.Errorf("%s is run by no part", name)
		}
		if len(Line(ScriptText(s, nil))) > MaxLine {
			t.Errorf("%s is too long for one command line", name)
		}
	}
}

func allScripts() map[string]string {
	return map[string]string{
		"firstboot.ps1": scripts.Firstboot, "release.ps1": scripts.Release,
		"retention-state.ps1": scripts.RetentionState, "retention-scan.ps1": scripts.RetentionScan, "retention-apply.ps1": scripts.RetentionApply,
		"agent-state.ps1": scripts.AgentState, "agent-apply.ps1": scripts.AgentApply, "agent-mark-done.ps1": scripts.AgentMarkDone,
		"agent-forget.ps1": scripts.AgentForget, "agent-version.ps1": scripts.AgentVersion, "agent-install.ps1": scripts.AgentInstall,
		"handoff-state.ps1": scripts.HandoffState, "hosts-apply.ps1": scripts.HostsApply, "tools-state.ps1": scripts.ToolsState,
		"tools-install.ps1": scripts.ToolsInstall, "tools-enable.ps1": scripts.ToolsEnable, "audit-probe.ps1": scripts.AuditProbe,
		"guest-lock.ps1": scripts.GuestLock, "guest-unlock.ps1": scripts.GuestUnlock,
	}
}

func scriptName(s string) string {
	for name, text := range allScripts() {
		if text == s {
			return name
		}
	}
	return fmt.Sprintf("unknown script (%d bytes)", len(s))
}
