# mtprep: install VMware Tools from the VMware Tools CD the host mounted
# (MountToolsInstaller), found by its volume label. setup64.exe /S /v
# "/qn REBOOT=R": silent, no reboot (mtprep reboots when it must). Exit
# 3010 (reboot required) is success.
param()
$v = Get-Volume | Where-Object { $_.FileSystemLabel -eq 'VMware Tools' -and $_.DriveLetter } | Select-Object -First 1
if (-not $v) { throw 'no VMware Tools CD attached (volume label "VMware Tools")' }
$setup = '{0}:\setup64.exe' -f $v.DriveLetter
if (-not (Test-Path -LiteralPath $setup)) { throw "no $setup on the VMware Tools CD" }
$p = Start-Process -FilePath $setup -ArgumentList '/S /v "/qn REBOOT=R"' -Wait -PassThru -NoNewWindow
if ($p.ExitCode -ne 0 -and $p.ExitCode -ne 3010) { throw ('setup64.exe exited {0}: see %TEMP%\vminst.log and vmmsi.log' -f $p.ExitCode) }
'installed vmware-tools {0}' -f $p.ExitCode
