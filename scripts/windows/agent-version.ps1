# mtprep: the version of the Unified Agent installed on the MT, "" for
# none: the DisplayVersion of its Add/Remove Programs entry.
param()
$u = Get-ItemProperty -Path 'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\*', 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\*' -ErrorAction SilentlyContinue |
    Where-Object { $_.DisplayName -like 'Microsoft Azure Site Recovery Mobility Service*' -and $_.DisplayVersion } | Select-Object -First 1
if ($u) { $u.DisplayVersion }
