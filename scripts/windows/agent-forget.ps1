# mtprep: remove one agent marker. Args: STATE_DIR NAME (started or
# reboot-pending).
param([string]$StateDir, [string]$Name)
if ($Name -ne 'started' -and $Name -ne 'reboot-pending') { throw "no marker $Name" }
Remove-Item -LiteralPath (Join-Path $StateDir ('agent.{0}' -f $Name)) -Force -ErrorAction SilentlyContinue
