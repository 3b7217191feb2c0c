package windows

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test ./windows/ -update)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from the golden file:\n%s", name, got)
	}
}

func TestQuote(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "''"},
		{"abc", "'abc'"},
		{"it's", "'it''s'"},
		{"$env:PATH `n @(x) $(calc)", "'$env:PATH `n @(x) $(calc)'"},
		{"a\u2019b", "'a\u2019\u2019b'"},
		{"\u2018;calc;\u2018", "'\u2018\u2018;calc;\u2018\u2018'"},
		{`C:\Program Files (x86)`, `'C:\Program Files (x86)'`},
		{"line1\nline2", "'line1\nline2'"},
	} {
		if got := Quote(tc.in); got != tc.want {
			t.Errorf("Quote(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestQuoteClosed: a quoted value holds no lone quote character, so
// nothing after it can escape the literal (every quote char comes in
// pairs inside).
func TestQuoteClosed(t *testing.T) {
	for _, s := range []string{"'", "''", "'; calc; '", "\u2019", "x'\u201b'y", "'\u2018'"} {
		q := Quote(s)
		inner := []rune(q[1 : len(q)-1])
		for i := 0; i < len(inner); i++ {
			if isQuote(inner[i]) {
				if i+1 >= len(inner) || !isQuote(inner[i+1]) {
					t.Fatalf("Quote(%q) = %q: a lone quote at %d", s, q, i)
				}
				i++
			}
		}
	}
}

func isQuote(r rune) bool { return strings.ContainsRune("'\u2018\u2019\u201a\u201b", r) }

func TestEncodeDecode(t *testing.T) {
	for _, s := range []string{"", "exit 0", "Write-Output 'héllo wörld' # ✓ 𝄞", strings.Repeat("x", 5000)} {
		enc := EncodeCommand(s)
		got, err := DecodeCommand(enc)
		if err != nil || got != s {
			t.Fatalf("round trip of %q: %q, %v", s, got, err)
		}
		got, err = DecodeCommand(Line(s))
		if err != nil || got != prologue+s {
			t.Fatalf("round trip of Line(%q): %q, %v", s, got, err)
		}
	}
	// The known encoding of "dir" (UTF-16LE "d\0i\0r\0").
	if got := EncodeCommand("dir"); got != "ZABpAHIA" {
		t.Errorf("EncodeCommand(dir) = %s", got)
	}
	if _, err := DecodeCommand("ZAB"); err == nil {
		t.Error("DecodeCommand accepted an odd byte count")
	}
}

// TestShellGolden: the decoded text of every command line the Shell
// writes, and the lines themselves only base64 around fixed words.
func TestShellGolden(t *testing.T) {
	sh := Shell{}
	var b strings.Builder
	add := func(name, line string) {
		t.Helper()
		if !strings.HasPrefix(line, "powershell -NoProfile -NonInteractive -EncodedCommand ") || !strings.HasSuffix(line, "; exit $LASTEXITCODE") {
			t.Fatalf("%s: line %q", name, line)
		}
		enc := strings.TrimSuffix(strings.TrimPrefix(line, "powershell -NoProfile -NonInteractive -EncodedCommand "), "; exit $LASTEXITCODE")
		if strings.Trim(enc, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != "" {
			t.Fatalf("%s: not base64: %q", name, enc)
		}
		text, err := DecodeCommand(line)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("=== " + name + "\n" + text + "\n")
	}
	line, prefix := sh.Script("param([string]$A, [string]$B)\n\"$A/$B\"\n", []string{"it's", "$(calc)"}, false)
	if prefix != "" {
		t.Errorf("stdin prefix %q: stdin is the caller's", prefix)
	}
	add("script", line)
	add("command", sh.Command([]string{`C:\Windows\System32\whoami.exe`, "/all", "it's"}, false))
	mark, reboot, newBoot := sh.Reboot("m1x2", false)
	add("reboot mark", mark)
	add("reboot", reboot)
	add("reboot newBoot", newBoot)
	add("sha256 all", sh.SHA256("C:/ProgramData/mtprep/work/agent.exe", -1, false))
	add("sha256 prefix", sh.SHA256("/C:/ProgramData/mtprep/work/agent.exe.part", 1048576, false))
	golden(t, "shell.golden", []byte(b.String()))
}

func TestShellPaths(t *testing.T) {
	sh := Shell{}
	if sh.Admin() != "Administrator" || sh.StateDir() != `C:\ProgramData\mtprep\state` {
		t.Fatal(sh.Admin(), sh.StateDir())
	}
	for _, user := range []string{"Administrator", "mtadmin", ""} {
		d, err := sh.WorkDir(user, func() (string, error) { return "/C:/Users/" + user, nil })
		if err != nil || d != WorkDirPath {
			t.Errorf("WorkDir(%s) = %q, %v", user, d, err)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{WorkDirSFTP + "/x.exe", `C:\ProgramData\mtprep\work\x.exe`},
		{WorkDirPath + "/x.exe", `C:\ProgramData\mtprep\work\x.exe`},
		{`C:\ProgramData\mtprep\state\lock`, `C:\ProgramData\mtprep\state\lock`},
		{"/d:/x", `d:\x`},
		{"/etc/hosts", `\etc\hosts`},
	} {
		if got := WinPath(tc.in); got != tc.want {
			t.Errorf("WinPath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if WinPath(WorkDirSFTP) != WorkDir || WinPath(WorkDirPath) != WorkDir {
		t.Error("the three WorkDir forms differ")
	}
}
