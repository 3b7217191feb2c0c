package windows

import (
	"fmt"
	"strings"
)

// Paths on a Windows MT. ProgramData, not a user profile: the agent and
// the state outlive any one logon, and ProgramData is not redirected.
const (
	// WorkDir is where uploads go and the agent is unpacked under.
	WorkDir = `C:\ProgramData\mtprep\work`
	// StateDir holds mtprep's markers and the guest lock.
	StateDir = `C:\ProgramData\mtprep\state`
	// WorkDirPath is WorkDir with forward slashes: the form both
	// Win32-OpenSSH's sftp-server and PowerShell accept, so the one
	// remote path Upload uses for SFTP and for the guest's sha256 works
	// for both.
	WorkDirPath = "C:/ProgramData/mtprep/work"
	// WorkDirSFTP is how sftp-server lists it (Getwd, ReadDir):
	// /C:/ProgramData/mtprep/work. SFTP accepts it; PowerShell does not,
	// so every path a command takes goes through WinPath.
	WorkDirSFTP = "/C:/ProgramData/mtprep/work"
)

// MaxLine is the longest command line Shell writes: Windows' CreateProcess
// takes at most 32767 characters, and sshd wraps the line in its own
// "powershell.exe -c …" first.
const MaxLine = 30000

// WinPath turns an SFTP path ("/C:/x/y") or a forward-slash path
// ("C:/x/y") into a Windows path (C:\x\y); other strings are returned with
// their slashes turned.
func WinPath(p string) string {
	if len(p) >= 3 && p[0] == '/' && p[2] == ':' && isLetter(p[1]) {
		p = p[1:]
	}
	return strings.ReplaceAll(p, "/", `\`)
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// Shell runs commands on a Windows MT over Win32-OpenSSH whose sshd's
// DefaultShell is powershell.exe (firstboot.ps1 sets it). Every line it
// writes is `powershell -NoProfile -NonInteractive -EncodedCommand <b64>;
// exit $LASTEXITCODE`:
// the line holds only base64 characters, so neither sshd's own
// `powershell -c` nor cmd.exe's or CreateProcess's quoting rules ever see
// a value; values are PowerShell single-quoted literals inside the
// encoded command. It implements guest.Shell.
//
// Elevation: Win32-OpenSSH gives a member of Administrators who logs in
// with a key a full (elevated) token, and Windows has no sudo, so elevate
// changes nothing; a user outside Administrators cannot prepare an MT.
type Shell struct{}

// Admin is the built-in Administrator (autounattend.xml enables it).
func (Shell) Admin() string { return "Administrator" }

// prologue runs before every command: errors stop the command (exit 1
// with the error on stderr), no progress bars (they go to stderr as CLIXML
// over SSH), UTF-8 output.
const prologue = "$ErrorActionPreference = 'Stop'\n" +
	"$ProgressPreference = 'SilentlyContinue'\n" +
	"[Console]::OutputEncoding = [Text.Encoding]::UTF8\n"

// Line is the command line that runs cmd (PowerShell text) with errors
// stopping it. sshd runs it with its DefaultShell, `powershell -c`, which
// would turn any exit code but 0 and 1 into 1: the trailing
// `; exit $LASTEXITCODE` (read by that outer PowerShell) keeps the
// inner one (1618 from the agent installer, say).
func Line(cmd string) string {
	return "powershell -NoProfile -NonInteractive -EncodedCommand " + EncodeCommand(prologue+cmd) + "; exit $LASTEXITCODE"
}

// Command runs args[0] (a program or cmdlet) with the other arguments as
// literal strings (`& 'prog' 'a' 'b'`) and exits with the program's exit
// code. A quoted "-Force" is a value, not a parameter name, to a cmdlet:
// parts call cmdlets through scripts, not through Command.
func (Shell) Command(args []string, elevate bool) string {
	if len(args) == 0 {
		return Line("exit 0")
	}
	return Line("& " + QuoteArgs(args...) + "\nexit $LASTEXITCODE\n")
}

// ScriptText is the PowerShell text Script encodes: the script as a
// script block, its arguments bound to its param() as single-quoted
// literals, a thrown error turned into exit 1 with the message on stderr.
// The script's own `exit N` ends the process with N.
func ScriptText(script string, args []string) string {
	var b strings.Builder
	b.WriteString("try {\n& {\n")
	b.WriteString(strings.TrimRight(script, "\r\n"))
	b.WriteString("\n}")
	if len(args) > 0 {
		b.WriteString(" " + QuoteArgs(args...))
	}
	b.WriteString("\n} catch {\n[Console]::Error.WriteLine(($_ | Out-String))\nexit 1\n}\nexit 0\n")
	return b.String()
}

// Script embeds the script and its arguments in the encoded command; stdin
// stays the caller's (a passphrase), so there is no prefix.
func (Shell) Script(script string, args []string, elevate bool) (string, string) {
	return Line(ScriptText(script, args)), ""
}

// WorkDir is WorkDirPath for every user: ProgramData is writable by
// Administrators, and the SFTP session of an administrator may write it.
func (Shell) WorkDir(user string, home func() (string, error)) (string, error) {
	return WorkDirPath, nil
}

// StateDir is C:\ProgramData\mtprep\state.
func (Shell) StateDir() string { return StateDir }

// Reboot: Windows has no file system every boot empties, so the marker
// records the boot itself: mark writes the OS's LastBootUpTime to a file
// in StateDir; newBoot succeeds (and removes the file) only when
// LastBootUpTime is no longer the one written. The reboot is shutdown.exe
// with a 5 s delay, so the command returns before sshd goes.
func (Shell) Reboot(marker string, elevate bool) (mark, reboot, newBoot string) {
	f := Quote(StateDir + `\reboot-` + marker)
	boot := "((Get-CimInstance -ClassName Win32_OperatingSystem).LastBootUpTime.ToUniversalTime().ToString('o'))"
	mark = Line(fmt.Sprintf("New-Item -ItemType Directory -Force -Path %s | Out-Null\n"+
		"Set-Content -LiteralPath %s -Value %s -Encoding ASCII\n", Quote(StateDir), f, boot))
	reboot = Line("& shutdown.exe /r /f /t 5 /d p:4:1 /c 'mtprep: reboot'\nexit $LASTEXITCODE\n")
	newBoot = Line(fmt.Sprintf("if (-not (Test-Path -LiteralPath %s)) { exit 1 }\n"+
		"$was = (Get-Content -LiteralPath %s -Raw).Trim()\n"+
		"if ($was -eq %s) { exit 1 }\n"+
		"Remove-Item -LiteralPath %s -Force\nexit 0\n", f, f, boot, f))
	return mark, reboot, newBoot
}

// SHA256 prints the lower-case hex sha256 of the file (of its first n
// bytes when n >= 0, read with a FileStream: a shorter file is hashed
// whole, as head -c does).
func (Shell) SHA256(file string, n int64, elevate bool) string {
	p := Quote(WinPath(file))
	if n < 0 {
		return Line(fmt.Sprintf("(Get-FileHash -Algorithm SHA256 -LiteralPath %s).Hash.ToLowerInvariant()\n", p))
	}
	return Line(fmt.Sprintf(`$f = [IO.File]::Open(%s, 'Open', 'Read', 'ReadWrite')
try {
  $h = [Security.Cryptography.SHA256]::Create()
  $buf = New-Object byte[] 1048576
  $left = [long]%d
  while ($left -gt 0) {
    $r = $f.Read($buf, 0, [int][Math]::Min([long]$buf.Length, $left))
    if ($r -le 0) { break }
    [void]$h.TransformBlock($buf, 0, $r, $null, 0)
    $left -= $r
  }
  [void]$h.TransformFinalBlock($buf, 0, 0)
  -join ($h.Hash | ForEach-Object { $_.ToString('x2') })
} finally { $f.Dispose() }
`, p, n))
}
