# mtprep: unpack the uploaded Unified Agent for Windows. Args: INSTALLER
# (the uploaded self-extracting package, e.g.
# Microsoft-ASR_UA_9.x_Windows_GA_....exe) UNPACK_DIR STATE_DIR. It
# extracts the package (/q /x:<dir>) once, recording its start and end in
# STATE_DIR; Windows has no ApplyCustomChanges.sh, so nothing else runs.
param([string]$Installer, [string]$UnpackDir, [string]$StateDir)
New-Item -ItemType Directory -Force -Path $StateDir, $UnpackDir | Out-Null
$now = { (Get-Date).ToUniversalTime().ToString('o') }
Set-Content -LiteralPath (Join-Path $StateDir 'agent.started') -Value (& $now) -Encoding ASCII
if ($Installer -like '*.zip') {
    Expand-Archive -LiteralPath $Installer -DestinationPath $UnpackDir -Force
} else {
    $p = Start-Process -FilePath $Installer -ArgumentList '/q', ('/x:"{0}"' -f $UnpackDir) -Wait -PassThru -NoNewWindow
    if ($p.ExitCode -ne 0) { throw ('{0} /q /x exited {1}' -f $Installer, $p.ExitCode) }
}
if (-not (Test-Path -LiteralPath (Join-Path $UnpackDir 'UnifiedAgent.exe'))) { throw "no UnifiedAgent.exe in $UnpackDir after unpacking $Installer" }
Set-Content -LiteralPath (Join-Path $StateDir 'agent.done') -Value (& $now) -Encoding ASCII
