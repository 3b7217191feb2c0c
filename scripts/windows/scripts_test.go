package windows

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// No PowerShell runs here (nor in CI): these are the static checks Go can
// make of the scripts. The lab's Windows stand-in is the lead's.

func files(t *testing.T) map[string]string {
	t.Helper()
	names, err := filepath.Glob("*.ps1")
	if err != nil || len(names) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	out := map[string]string{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = string(b)
	}
	return out
}

// TestEmbedded: every .ps1 file is embedded, as it is on disk.
func TestEmbedded(t *testing.T) {
	embedded := map[string]string{
		"firstboot.ps1": Firstboot, "release.ps1": Release,
		"retention-state.ps1": retentionState, "retention-scan.ps1": retentionScan, "retention-apply.ps1": RetentionApply,
		"rawdisk.ps1":     rawDisk,
		"agent-state.ps1": AgentState, "agent-apply.ps1": AgentApply, "agent-mark-done.ps1": AgentMarkDone,
		"agent-forget.ps1": AgentForget, "agent-version.ps1": AgentVersion, "agent-install.ps1": AgentInstall,
		"handoff-state.ps1": HandoffState, "hosts-apply.ps1": HostsApply, "tools-state.ps1": ToolsState,
		"tools-install.ps1": ToolsInstall, "tools-enable.ps1": ToolsEnable, "audit-probe.ps1": AuditProbe,
		"guest-lock.ps1": GuestLock, "guest-unlock.ps1": GuestUnlock,
	}
	for name, text := range files(t) {
		e, ok := embedded[name]
		if !ok {
			t.Errorf("%s is not embedded", name)
		} else if e != text {
			t.Errorf("%s: the embedded text differs", name)
		}
	}
}

// TestText: UTF-8 without a BOM, LF only, no tabs, a final newline, ASCII
// (Windows PowerShell 5.1 reads a BOM-less file as the ANSI code page).
func TestText(t *testing.T) {
	for name, s := range files(t) {
		switch {
		case !utf8.ValidString(s):
			t.Errorf("%s is not UTF-8", name)
		case strings.HasPrefix(s, "\ufeff"):
			t.Errorf("%s has a BOM", name)
		case strings.Contains(s, "\r"):
			t.Errorf("%s has CRs", name)
		case strings.Contains(s, "\t"):
			t.Errorf("%s has tabs", name)
		case !strings.HasSuffix(s, "\n"):
			t.Errorf("%s has no final newline", name)
		}
		for i, r := range s {
			if r > 0x7e {
				t.Errorf("%s: non-ASCII %q at byte %d", name, r, i)
				break
			}
		}
	}
}

// TestParamFirst: every script but firstboot.ps1 (run with -File, no
// arguments) opens, after its comments, with param(): Shell.Script binds
// the arguments to it.
func TestParamFirst(t *testing.T) {
	re := regexp.MustCompile(`^param\(`)
	for name, s := range files(t) {
		var first string
		for _, l := range strings.Split(s, "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				first = l
				break
			}
		}
		if name == "rawdisk.ps1" {
			continue // an include, not a script (scripts.go)
		}
		if name == "firstboot.ps1" {
			if re.MatchString(first) {
				t.Errorf("%s takes no arguments", name)
			}
			continue
		}
		if !re.MatchString(first) {
			t.Errorf("%s: first statement %q, want param(...)", name, first)
		}
	}
}

// TestBalanced: brackets balance outside strings and comments (a crude
// tokenizer: '…' with ” doubled, "…" with ` escapes, # comments).
func TestBalanced(t *testing.T) {
	for name, s := range files(t) {
		if err := balanced(s); err != "" {
			t.Errorf("%s: %s", name, err)
		}
	}
}

func balanced(s string) string {
	var stack []rune
	pairs := map[rune]rune{')': '(', '}': '{', ']': '['}
	line := 1
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case c == '\n':
			line++
		case c == '#' && (i == 0 || rs[i-1] == ' ' || rs[i-1] == '\n' || rs[i-1] == '('):
			for i < len(rs) && rs[i] != '\n' {
				i++
			}
			i--
		case (c == '@') && i+2 < len(rs) && (rs[i+1] == '\'' || rs[i+1] == '"') && rs[i+2] == '\n':
			// A here-string: up to a line that starts with the quote and @.
			end := strings.Index(string(rs[i+2:]), "\n"+string(rs[i+1])+"@")
			if end < 0 {
				return "unclosed here-string at line " + itoa(line)
			}
			body := rs[i+2 : i+2+len([]rune(string(rs[i+2:])[:end]))]
			line += strings.Count(string(body), "\n")
			i += 2 + len(body) + 2
		case c == '\'':
			for i++; i < len(rs); i++ {
				if rs[i] == '\'' {
					if i+1 < len(rs) && rs[i+1] == '\'' {
						i++
						continue
					}
					break
				}
				if rs[i] == '\n' {
					line++
				}
			}
		case c == '"':
			for i++; i < len(rs) && rs[i] != '"'; i++ {
				if rs[i] == '`' {
					i++
				}
				if rs[i] == '\n' {
					line++
				}
			}
		case c == '`':
			i++
		case c == '(' || c == '{' || c == '[':
			stack = append(stack, c)
		case c == ')' || c == '}' || c == ']':
			if len(stack) == 0 || stack[len(stack)-1] != pairs[c] {
				return "unbalanced " + string(c) + " at line " + itoa(line)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) > 0 {
		return "unclosed " + string(stack)
	}
	return ""
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// TestRawShared: retention-scan.ps1 and retention-state.ps1 carry the
// same MtprepRaw block (Add-Type of one type name twice in one session
// would fail, and the two must read the disk the same way).
func TestRawShared(t *testing.T) {
	block := func(s string) string {
		i := strings.Index(s, "Add-Type -TypeDefinition @'")
		j := strings.Index(s, "\n'@\n")
		if i < 0 || j < i {
			t.Fatal("no MtprepRaw block")
		}
		return s[i : j+4]
	}
	if block(RetentionScan) != block(RetentionState) {
		t.Error("the MtprepRaw blocks differ")
	}
}

// TestNoEval: no script evaluates text as code or builds a command from
// its arguments.
func TestNoEval(t *testing.T) {
	bad := regexp.MustCompile(`(?i)\b(Invoke-Expression|iex|ScriptBlock\]::Create|AddScript)\b`)
	for name, s := range files(t) {
		if m := bad.FindString(s); m != "" {
			t.Errorf("%s uses %s", name, m)
		}
	}
}

// TestFacts: the facts the issue names are where they must be.
func TestFacts(t *testing.T) {
	for _, tc := range []struct{ script, want string }{
		{Firstboot, "OpenSSH.Server~~~~0.0.1.0"},
		{Firstboot, "install-sshd.ps1"},
		{Firstboot, "administrators_authorized_keys"},
		{Firstboot, "/inheritance:r"},
		{Firstboot, "DefaultShell"},
		{Firstboot, "New-NetFirewallRule"},
		{Firstboot, "-StartupType Automatic"},
		{RetentionScan, "0x20000000"},
		{RetentionScan, "4194304"},
		{RetentionScan, `Console.Error.WriteLine("scan " + done + " " + length)`},
		{RetentionApply, "Initialize-Disk -Number $d.Number -PartitionStyle GPT"},
		{RetentionApply, "New-Partition -DiskNumber $d.Number -UseMaximumSize -DriveLetter $Letter"},
		{RetentionApply, "Format-Volume -Partition $p -FileSystem NTFS -NewFileSystemLabel $Label"},
		{RetentionApply, "-Confirm:$false"},
		{RetentionApply, "$d.UniqueId -ne $UniqueId"},
		{AgentInstall, `/Role "MT" /InstallLocation "{0}" /Platform "VmWare" /Silent`},
		{AgentInstall, "/CSEndPoint {0} /PassphraseFilePath"},
		{AgentInstall, "} finally {\n    Remove-Item -LiteralPath $file"},
		{AgentInstall, "1618"},
		{AgentInstall, "3010"},
		{ToolsInstall, `'/S /v "/qn REBOOT=R"'`},
		{ToolsInstall, "'VMware Tools'"},
		{Release, "ConvertTo-Json"},
	} {
		if !strings.Contains(tc.script, tc.want) {
			t.Errorf("no %q in %.60q", tc.want, tc.script)
		}
	}
}

func TestBalancedDetects(t *testing.T) {
	for _, s := range []string{"if ($a) {\n", "$x = @'\nno end\n", "'a' )", "\"$(x\" }"} {
		if balanced(s) == "" {
			t.Errorf("%q passed", s)
		}
	}
	for _, s := range []string{"if ($a) { 'it''s )' }\n", "$x = @'\n) } ' \"\n'@\n", "# ( comment\n\"`\" (\"\n"} {
		if e := balanced(s); e != "" {
			t.Errorf("%q: %s", s, e)
		}
	}
}

// TestInclude: the composed retention scripts hold the MtprepRaw block
// once, right after their param() line, and no include line is left.
func TestInclude(t *testing.T) {
	for name, s := range map[string]string{"retention-scan.ps1": RetentionScan, "retention-state.ps1": RetentionState} {
		if strings.Count(s, "public static class MtprepRaw") != 1 || strings.Contains(s, "#mtprep:include") {
			t.Errorf("%s: the MtprepRaw block is not included once", name)
		}
		if i, j := strings.Index(s, "param("), strings.Index(s, "Add-Type -TypeDefinition"); i < 0 || j < i {
			t.Errorf("%s: Add-Type before param()", name)
		}
	}
}
