// Package windows is a Windows Server 2016 master target behind the OS
// interface (guest.OS): the user's ISO attached untouched with a seed CD
// holding autounattend.xml and a first-logon script that enables
// OpenSSH Server; then every step over SSH with PowerShell as sshd's
// shell: UnifiedAgent.exe /Role "MT" and UnifiedAgentConfigurator.exe,
// the retention volume R: (NTFS), VMware Tools from the host's CD. The
// PowerShell that runs on the MT is in scripts/windows.
//
// Only Windows Server 2016 (os: windows-2016, version 10.0.14393). There
// is no Name2012R2: not every step holds for Windows Server 2012 R2. Its
// PowerShell is 4.0 (Expand-Archive, which firstboot.ps1 uses, came in
// 5.0), its Win32-OpenSSH support is not Microsoft's (the port targets
// 2012 R2 only with WMF 5.1 installed first), e1000e's in-box driver and
// the NIC's "Ethernet0" name differ, and ASR's own MT guidance for
// Windows names 2016 and later for new MTs. A 2012 R2 OS would need its
// own Release, firstboot path and lab stand-in, not a second name here.
package windows
