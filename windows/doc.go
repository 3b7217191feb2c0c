// Package windows will own what is specific to a Windows master target:
// UnifiedAgent.exe and UnifiedAgentConfigurator.exe over OpenSSH with
// PowerShell, and the R: retention volume. Nothing is implemented yet;
// mtprep refuses any os other than centos-6.6.
package windows
