# mtprep audit: one read-only probe of a Windows master target. It
# changes nothing. Args: HOSTNAME LETTER CS_IP CS_PORT STATE_DIR.
# Output: "key value" lines in audit-probe.sh's format (read by
# audit.ParseProbe). A check that has no Windows meaning gets an
# "na <check id> <reason>" line (audit reports it N/A, never PASS);
# ret_fstab is
# the drive letter's assignment, which Windows keeps across boots (the
# analogue of an fstab line); ret_wwid is "3" + the disk's UniqueId, the
# Linux form. No rpm lines: Windows has no package list for the MT role.
param([string]$Hostname, [string]$Letter, [string]$CsIp, [string]$CsPort, [string]$StateDir)
$ErrorActionPreference = 'Continue'
$os = Get-CimInstance -ClassName Win32_OperatingSystem
'os {0} {1}' -f $os.Caption.Trim(), $os.Version
'na guest.packages Windows has no package list for the MT role'
'na guest.multipathd a Windows MT needs no multipath daemon'
'na guest.applycustomchanges ApplyCustomChanges.sh is the Linux agent preparation; Windows has none'
$v = Get-Volume -DriveLetter $Letter -ErrorAction SilentlyContinue
if ($v) {
    $dev = '{0}:' -f $Letter
    $fs = ([string]$v.FileSystem).ToLowerInvariant()
    'ret_mount {0} {1}' -f $dev, $fs
    'ret_fstab {0} {1}' -f $dev, $fs
    'ret_df {0} {1}' -f [long]($v.Size / 1024), [long]($v.SizeRemaining / 1024)
    $p = Get-Partition -DriveLetter $Letter -ErrorAction SilentlyContinue
    if ($p) {
        $d = Get-Disk -Number $p.DiskNumber
        if ($d.UniqueId -match '^[0-9A-Fa-f]{32}$') { 'ret_wwid 3{0}' -f $d.UniqueId.ToLowerInvariant() }
    }
}
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
$u = Get-ItemProperty -Path 'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\*', 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\*' -ErrorAction SilentlyContinue |
    Where-Object { $_.DisplayName -like 'Microsoft Azure Site Recovery Mobility Service*' -and $_.DisplayVersion } | Select-Object -First 1
if ($u) {
    'vx_file present'
    'vx_line VERSION={0}' -f $u.DisplayVersion
}
exit 0
