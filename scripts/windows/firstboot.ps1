# mtprep: first logon of a Windows Server 2016 master target.
# autounattend.xml's FirstLogonCommands runs it once, as Administrator,
# from the seed CD (found by its label MTPREP_SEED). It enables OpenSSH
# Server with the MT's own host key, the key mtprep logs in with,
# PowerShell as sshd's default shell and the firewall rules for SSH and
# the process server's data port, and nothing else: every other step is
# mtprep's, over SSH. The MT's values come from mtprep-seed.json and the
# key files beside this script, as data: nothing here is rendered.
# Windows PowerShell 5.1.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$seed = $PSScriptRoot
$v = Get-Content -LiteralPath (Join-Path $seed 'mtprep-seed.json') -Raw | ConvertFrom-Json
New-Item -ItemType Directory -Force -Path $v.stateDir | Out-Null
Start-Transcript -LiteralPath (Join-Path $v.stateDir 'firstboot.log') -Append | Out-Null
try {
    # Administrators and SYSTEM only, by SID (the names are localised).
    function Set-AdminOnly([string]$Path) {
        & icacls.exe $Path /inheritance:r /grant '*S-1-5-32-544:F' /grant '*S-1-5-18:F' | Out-Null
        if ($LASTEXITCODE -ne 0) { throw "icacls $Path exited $LASTEXITCODE" }
    }

    $capName = 'OpenSSH.Server~~~~0.0.1.0'
    if (-not (Get-Service -Name sshd -ErrorAction SilentlyContinue)) {
        $build = [Environment]::OSVersion.Version.Build
        if ($build -ge 17763) {
            # Windows Server 2019 and later: the in-box capability.
            Add-WindowsCapability -Online -Name $capName | Out-Null
        } else {
            # Windows Server 2016 has no OpenSSH: the Win32-OpenSSH release
            # zip, from the root of a CD-ROM or removable drive.
            $zip = $null
            foreach ($vol in @(Get-Volume | Where-Object { $_.DriveLetter -and ($_.DriveType -eq 'CD-ROM' -or $_.DriveType -eq 'Removable') })) {
                $p = '{0}:\{1}' -f $vol.DriveLetter, $v.openSSHZip
                if (Test-Path -LiteralPath $p) { $zip = $p; break }
            }
            if (-not $zip) { throw ('no {0} on any CD-ROM or removable drive: Windows Server 2016 has no OpenSSH of its own; attach the Win32-OpenSSH release zip' -f $v.openSSHZip) }
            $tmp = Join-Path $env:TEMP 'mtprep-openssh'
            Expand-Archive -LiteralPath $zip -DestinationPath $tmp -Force
            $src = Get-ChildItem -LiteralPath $tmp -Directory | Select-Object -First 1
            if (-not $src) { throw "$zip holds no directory (expected OpenSSH-Win64\)" }
            $dest = Join-Path $env:ProgramFiles 'OpenSSH'
            New-Item -ItemType Directory -Force -Path $dest | Out-Null
            Copy-Item -Path (Join-Path $src.FullName '*') -Destination $dest -Recurse -Force
            & powershell.exe -NoProfile -ExecutionPolicy Bypass -File (Join-Path $dest 'install-sshd.ps1')
            if ($LASTEXITCODE -ne 0) { throw "install-sshd.ps1 exited $LASTEXITCODE" }
            $path = [Environment]::GetEnvironmentVariable('Path', 'Machine')
            if (($path -split ';') -notcontains $dest) {
                [Environment]::SetEnvironmentVariable('Path', $path + ';' + $dest, 'Machine')
            }
        }
    }

    $ssh = Join-Path $env:ProgramData 'ssh'
    New-Item -ItemType Directory -Force -Path $ssh | Out-Null
    # sshd writes sshd_config from its default on its first start; write it
    # now, to offer only the MT's RSA host key (the one known_hosts holds).
    $cfg = Join-Path $ssh 'sshd_config'
    if (-not (Test-Path -LiteralPath $cfg)) {
        $default = @((Join-Path $env:ProgramFiles 'OpenSSH\sshd_config_default'), (Join-Path $env:windir 'System32\OpenSSH\sshd_config_default')) |
            Where-Object { Test-Path -LiteralPath $_ } | Select-Object -First 1
        if (-not $default) { throw 'no sshd_config_default found' }
        Copy-Item -LiteralPath $default -Destination $cfg
    }
    $hostKeyLine = 'HostKey __PROGRAMDATA__/ssh/ssh_host_rsa_key'
    if ($v.hostKey) {
        $text = Get-Content -LiteralPath $cfg -Raw
        if ($text -notmatch '(?m)^HostKey __PROGRAMDATA__/ssh/ssh_host_rsa_key\s*$') {
            Set-Content -LiteralPath $cfg -Value ($hostKeyLine + "`r`n" + $text) -Encoding ASCII -NoNewline
        }
        $key = Join-Path $ssh 'ssh_host_rsa_key'
        Copy-Item -LiteralPath (Join-Path $seed $v.hostKey) -Destination $key -Force
        Copy-Item -LiteralPath (Join-Path $seed ($v.hostKey + '.pub')) -Destination ($key + '.pub') -Force
        Set-AdminOnly $key
    }
    if ($v.authorizedKeys) {
        $ak = Join-Path $ssh 'administrators_authorized_keys'
        Copy-Item -LiteralPath (Join-Path $seed $v.authorizedKeys) -Destination $ak -Force
        Set-AdminOnly $ak
    }

    New-Item -Path 'HKLM:\SOFTWARE\OpenSSH' -Force | Out-Null
    New-ItemProperty -Path 'HKLM:\SOFTWARE\OpenSSH' -Name DefaultShell -PropertyType String -Force `
        -Value (Join-Path $env:windir 'System32\WindowsPowerShell\v1.0\powershell.exe') | Out-Null

    foreach ($port in $v.firewallPorts) {
        $name = 'mtprep-tcp-{0}' -f $port
        if (-not (Get-NetFirewallRule -Name $name -ErrorAction SilentlyContinue)) {
            New-NetFirewallRule -Name $name -DisplayName ('mtprep TCP {0}' -f $port) -Direction Inbound -Protocol TCP -LocalPort $port -Action Allow | Out-Null
        }
    }

    Set-Service -Name sshd -StartupType Automatic
    Start-Service -Name sshd
    Set-Content -LiteralPath (Join-Path $v.stateDir 'firstboot.done') -Value (Get-Date).ToUniversalTime().ToString('o') -Encoding ASCII
} finally {
    Stop-Transcript | Out-Null
}
