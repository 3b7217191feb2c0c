# mtprep: install the master target role and register it with the
# configuration server. Args: AGENT_DIR CS_IP CS_PORT STATE_DIR. The
# passphrase comes on stdin (one line) into a file only Administrators
# and SYSTEM may read, removed in the finally block on every exit.
#   UnifiedAgent.exe /Role "MT" /InstallLocation "C:\Program Files (x86)\Microsoft Azure Site Recovery" /Platform "VmWare" /Silent
#   UnifiedAgentConfigurator.exe /CSEndPoint <CS IP> /PassphraseFilePath <file>
param([string]$AgentDir, [string]$CsIp, [string]$CsPort, [string]$StateDir)
$ip = [Net.IPAddress]::Parse($CsIp).ToString()
$location = Join-Path ${env:ProgramFiles(x86)} 'Microsoft Azure Site Recovery'
$logs = Join-Path $env:ProgramData 'ASRSetupLogs'
$pass = [Console]::In.ReadLine()
if (-not $pass) { throw 'no passphrase on stdin' }
New-Item -ItemType Directory -Force -Path $StateDir | Out-Null
$file = Join-Path $StateDir 'passphrase.txt'
try {
    # Create it empty, restrict it, then write: the passphrase is never in
    # a file anyone else may read.
    New-Item -ItemType File -Force -Path $file | Out-Null
    & icacls.exe $file /inheritance:r /grant '*S-1-5-32-544:F' /grant '*S-1-5-18:F' | Out-Null
    if ($LASTEXITCODE -ne 0) { throw "icacls $file exited $LASTEXITCODE" }
    [IO.File]::WriteAllText($file, $pass)

    $exe = Join-Path $AgentDir 'UnifiedAgent.exe'
    $p = Start-Process -FilePath $exe -ArgumentList ('/Role "MT" /InstallLocation "{0}" /Platform "VmWare" /Silent' -f $location) -Wait -PassThru -NoNewWindow
    switch ($p.ExitCode) {
        0 { }
        3010 { Set-Content -LiteralPath (Join-Path $StateDir 'agent.reboot-pending') -Value (Get-Date).ToUniversalTime().ToString('o') -Encoding ASCII; 'reboot-required' }
        1641 { Set-Content -LiteralPath (Join-Path $StateDir 'agent.reboot-pending') -Value (Get-Date).ToUniversalTime().ToString('o') -Encoding ASCII; 'reboot-started' }
        1618 { Write-Error -ErrorAction Continue 'UnifiedAgent.exe exited 1618: another installation is in progress; wait for it to end and run again'; exit 1618 }
        default { Write-Error -ErrorAction Continue ('UnifiedAgent.exe exited {0}: see {1}\UnifiedAgentInstaller.log' -f $p.ExitCode, $logs); exit 2 }
    }

    $cfg = Join-Path $location 'agent\UnifiedAgentConfigurator.exe'
    if (-not (Test-Path -LiteralPath $cfg)) { throw "no $cfg after the install: see $logs\UnifiedAgentInstaller.log" }
    $p = Start-Process -FilePath $cfg -ArgumentList ('/CSEndPoint {0} /PassphraseFilePath "{1}"' -f $ip, $file) -Wait -PassThru -NoNewWindow
    if ($p.ExitCode -ne 0) {
        Write-Error -ErrorAction Continue ('UnifiedAgentConfigurator.exe exited {0}: see {1}\ASRUnifiedAgentConfigurator.log' -f $p.ExitCode, $logs)
        exit 3
    }
    'registered {0}' -f $ip
} finally {
    Remove-Item -LiteralPath $file -Force -ErrorAction SilentlyContinue
}
