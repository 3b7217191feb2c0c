# mtprep: start a service at boot and now. Args: SERVICE.
param([string]$Service)
Set-Service -Name $Service -StartupType Automatic
Start-Service -Name $Service
