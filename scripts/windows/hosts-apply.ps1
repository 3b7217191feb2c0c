# mtprep: map the host name to every NIC's IPv4 address in the hosts file.
# Args: HOSTNAME ADDR... Lines already naming the host are replaced; every
# other line is kept as it was. The file stays ASCII, as Windows writes it.
param([string]$Hostname)
$addrs = @($args)
$file = Join-Path $env:windir 'System32\drivers\etc\hosts'
$lines = @()
if (Test-Path -LiteralPath $file) { $lines = @(Get-Content -LiteralPath $file) }
$keep = @($lines | Where-Object {
    $f = ($_ -replace '#.*$', '').Trim() -split '\s+'
    -not ($f.Count -ge 2 -and ($f[1..($f.Count - 1)] -contains $Hostname))
})
$short = ($Hostname -split '\.')[0]
foreach ($a in $addrs) {
    if ($short -ne $Hostname) { $keep += "$a`t$Hostname $short" } else { $keep += "$a`t$Hostname" }
}
Set-Content -LiteralPath $file -Value $keep -Encoding ASCII
