# mtprep: the MT's OS release as one JSON line (Win32_OperatingSystem):
# Caption, Version, BuildNumber, ProductType (1 workstation, 2 domain
# controller, 3 server).
param()
$os = Get-CimInstance -ClassName Win32_OperatingSystem
[pscustomobject]@{
    Caption     = $os.Caption
    Version     = $os.Version
    BuildNumber = $os.BuildNumber
    ProductType = $os.ProductType
} | ConvertTo-Json -Compress
