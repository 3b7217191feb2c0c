# mtprep: the agent preparation's markers (read only). Args: STATE_DIR
# UNPACK_DIR. Prints "started <ts>", "done <ts>", "reboot-pending <ts>"
# for the markers present, "unpacked" when UnifiedAgent.exe is in
# UNPACK_DIR, and "running <pids>" for installer processes running now.
# Windows has no ApplyCustomChanges.sh: the markers record the unpack.
param([string]$StateDir, [string]$UnpackDir)
foreach ($m in 'started', 'done', 'reboot-pending') {
    $f = Join-Path $StateDir ('agent.{0}' -f $m)
    if (Test-Path -LiteralPath $f) { '{0} {1}' -f $m, (Get-Content -LiteralPath $f -TotalCount 1) }
}
if (Test-Path -LiteralPath (Join-Path $UnpackDir 'UnifiedAgent.exe')) { 'unpacked' }
$p = @(Get-Process -Name UnifiedAgent, UnifiedAgentInstaller -ErrorAction SilentlyContinue | ForEach-Object { $_.Id })
if ($p.Count -gt 0) { 'running {0}' -f ($p -join ' ') }
