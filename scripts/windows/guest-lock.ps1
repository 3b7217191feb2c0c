# mtprep: take the guest lock. Args: OWNER_LINE RUN_ID MODE(break|"") PATH.
# Prints "taken", "broke <owner line>" or "held <owner line>". A file
# created with CreateNew, which fails atomically when it exists (the
# analogue of centos' mkdir); a process holding a handle would die with
# the SSH session and the agent phase's reboot, the file does not.
param([string]$Owner, [string]$RunId, [string]$Mode, [string]$Path)
New-Item -ItemType Directory -Force -Path (Split-Path -Parent $Path) | Out-Null
try {
    $f = New-Object IO.FileStream $Path, ([IO.FileMode]::CreateNew), ([IO.FileAccess]::Write), ([IO.FileShare]::None)
    try {
        $b = [Text.Encoding]::UTF8.GetBytes($Owner + "`n")
        $f.Write($b, 0, $b.Length)
    } finally { $f.Dispose() }
    'taken'
    exit 0
} catch {
    # PowerShell wraps the constructor's IOException: whatever it is, only
    # an existing lock file goes on to the owner check.
    if (-not (Test-Path -LiteralPath $Path)) { throw }
}
$cur = ''
try { $cur = ([IO.File]::ReadAllText($Path)).Trim() } catch { }
if ((' ' + $cur + ' ').Contains(' run=' + $RunId + ' ')) { 'taken'; exit 0 }
if ($Mode -eq 'break') {
    [IO.File]::WriteAllText($Path, $Owner + "`n")
    'broke {0}' -f $cur
    exit 0
}
'held {0}' -f $cur
