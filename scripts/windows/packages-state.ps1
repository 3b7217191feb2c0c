# mtprep: what the packages check reads on Windows (read only): the
# release line, and OpenSSH Server, the one component the MT role needs
# that Windows Server 2016 lacks. Prints "release <caption> <version>",
# "svc sshd configured|enabled|running yes|no".
param()
$os = Get-CimInstance -ClassName Win32_OperatingSystem
'release {0} {1}' -f $os.Caption.Trim(), $os.Version
$s = Get-CimInstance -ClassName Win32_Service -Filter "Name='sshd'" -ErrorAction SilentlyContinue
$shell = (Get-ItemProperty -Path 'HKLM:\SOFTWARE\OpenSSH' -Name DefaultShell -ErrorAction SilentlyContinue).DefaultShell
'svc sshd configured {0}' -f $(if ($s -and $shell -like '*powershell.exe') { 'yes' } else { 'no' })
'svc sshd enabled {0}' -f $(if ($s -and $s.StartMode -eq 'Auto') { 'yes' } else { 'no' })
'svc sshd running {0}' -f $(if ($s -and $s.State -eq 'Running') { 'yes' } else { 'no' })
