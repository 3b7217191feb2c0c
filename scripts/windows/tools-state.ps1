# mtprep: VMware Tools in the guest (read only). Prints, as tools-state.sh
# does: "pkg <name> <version>" (the installed VMware Tools product) and
# "svc VMTools enabled yes|no", "svc VMTools running yes|no".
param()
$u = Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\*' -ErrorAction SilentlyContinue |
    Where-Object { $_.DisplayName -eq 'VMware Tools' } | Select-Object -First 1
if ($u) { 'pkg vmware-tools {0}' -f ($u.DisplayVersion -replace '\s', '') }
$s = Get-CimInstance -ClassName Win32_Service -Filter "Name='VMTools'" -ErrorAction SilentlyContinue
if ($s) {
    'svc VMTools enabled {0}' -f $(if ($s.StartMode -eq 'Auto') { 'yes' } else { 'no' })
    'svc VMTools running {0}' -f $(if ($s.State -eq 'Running') { 'yes' } else { 'no' })
}
