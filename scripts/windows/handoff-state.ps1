# mtprep: the handoff check (read only). Args: HOSTNAME CS_IP CS_PORT.
# Prints "key value" lines as centos' handoff-state.sh does: nic <ipv4>,
# hosts <addr> (hosts-file lines naming HOSTNAME), cs reachable|unreachable,
# vx_version <version>, registered <cs ip>.
param([string]$Hostname, [string]$CsIp, [string]$CsPort)
Get-NetIPAddress -AddressFamily IPv4 -ErrorAction SilentlyContinue |
    Where-Object { $_.IPAddress -notlike '127.*' -and $_.IPAddress -notlike '169.254.*' } |
    ForEach-Object { 'nic {0}' -f $_.IPAddress }
$file = Join-Path $env:windir 'System32\drivers\etc\hosts'
if (Test-Path -LiteralPath $file) {
    foreach ($l in Get-Content -LiteralPath $file) {
        $f = ($l -replace '#.*$', '').Trim() -split '\s+'
        if ($f.Count -ge 2 -and ($f[1..($f.Count - 1)] -contains $Hostname)) { 'hosts {0}' -f $f[0] }
    }
}
$c = New-Object Net.Sockets.TcpClient
try {
    $ok = $c.ConnectAsync($CsIp, [int]$CsPort).Wait(5000)
    if ($ok -and $c.Connected) { 'cs reachable' } else { 'cs unreachable' }
} catch { 'cs unreachable' } finally { $c.Dispose() }
# The agent's version: its Add/Remove Programs entry (32-bit view).
$u = Get-ItemProperty -Path 'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\*', 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\*' -ErrorAction SilentlyContinue |
    Where-Object { $_.DisplayName -like 'Microsoft Azure Site Recovery Mobility Service*' -and $_.DisplayVersion } | Select-Object -First 1
if ($u) { 'vx_version {0}' -f $u.DisplayVersion }
$cfg = Join-Path ${env:ProgramFiles(x86)} 'Microsoft Azure Site Recovery\agent\drscout.conf'
if (Test-Path -LiteralPath $cfg) {
    foreach ($l in Get-Content -LiteralPath $cfg) {
        if ($l -match '^\s*Hostname\s*=\s*(\S+)') { 'registered {0}' -f $Matches[1] }
    }
}
