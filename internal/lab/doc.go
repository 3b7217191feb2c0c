// Package lab owns the lab of real parts: everything `mtprep build` talks
// to, started on one Linux machine as root, for tests and the demo, and
// torn down again.
//
// # Use
//
// In a test:
//
//	l := lab.Start(t)             // Up + t.Cleanup(Down); skips off Linux/root/tools, fails under CI=true
//	g := l.Guests[0]
//	c, err := g.Dial(ctx)         // golang.org/x/crypto/ssh, OpenSSH 5.3p1 algorithms, strict known_hosts
//	disks, err := l.PresentDisks(ctx, g, "mt01")   // a VM mtprep created in l.VC
//
// For people and process-level tests, `make lab-up` runs `mtlab up` in the
// background and waits for build/lab/lab.env (GOVC_* and MTLAB_*, see
// Lab.Env); `make lab-down` stops it and removes any leftovers.
//
// # API
//
//	Up(ctx, Options) (*Lab, error)     Options{Guests, StateDir, Logger, DiskSize, RebootDelay, NoMTVM, Flavour, GuestFlavours}
//	(*Lab).Down() error                idempotent; on every exit path
//	Start(t) / StartWith(t, Options)   for tests
//	Cleanup(stateDir) / CleanupContext removes what killed labs left
//	Preflight() error                  why the lab cannot run here
//
//	Lab.VC            *VCenter: URL (with user:pass), Username, Password, Thumbprint, CertPEM,
//	                  Datacenter DC0, Datastore LocalDS_0 (VMFS, DatastoreDir under the run dir),
//	                  Network "VM Network", Host, ResourcePool, Folder, Model, Server, Client()
//	Lab.Guests        []*Guest
//	Lab.ConfigServer  *ConfigServer: IP, Port 443, CertPEM, Passphrase(File), Stop, Start, Registrations
//	Lab.RepoURL       online yum repository (vault layout: VaultURL + 6.6/os/x86_64/); ELRepoURL, EPELURL
//	Lab.BundlePath    offline bundle: uncompressed tar, SHA256SUMS first, RPMs at the top level
//	Lab.RPMs          package name -> RPM file
//	Lab.AgentTarball, AgentTarballLegacy   Unified Agent stand-ins 9.3.0.0 and 8.4.0.0
//	Lab.CreateVM(ctx, VMSpec)              a VM in vCenter, disk UUIDs chosen or left to vSphere
//	Lab.PresentDisks(ctx, g, vm, ...opt)   the VM's disks in the guest, by WWID
//	Lab.SetToolsGuest(vm, g)               VMware Tools of vm report guest g's Tools stand-in (running only while it runs)
//	Lab.VMTools(ctx, vm), WaitTools(ctx, vm, running)   what vSphere reports about vm's Tools
//	VirtualMachine.MountToolsInstaller / UnmountToolsInstaller   the host's Tools installer stand-in: /dev/sr0 "VMware Tools" in the coupled guest (ToolsInstallerTarball, toolsinstaller.go)
//	Lab.RepoRequests()                     what the repository server served
//	Lab.Env(), WriteEnvFile(path)          the lab as GOVC_*/MTLAB_* variables
//	Flavour FlavourUbuntu (ubuntu.go)      Ubuntu 16.04.2 guests: Lab.UbuntuBundlePath (.debs, SHA256SUMS first),
//	                                       UbuntuAptSource (sources.list line of the flat repository), UbuntuDebs,
//	                                       UbuntuAgentTarball (9.10.0.0, UBUNTU-16.04-64); UbuntuKernel, UbuntuPackages()
//
//	Guest: Name, Hostname, VMName, Address, SSHPort 22, Root, Netns, HostKeyPublic,
//	       HostKeyFingerprint, KnownHostsFile, UserKeyFile
//	       SSHConfig, Dial, Exec (inside the guest, no SSH), Reboot, PowerOff, PowerOn,
//	       WaitBoot, Boots (BootReport per boot), State, WaitSSH, Disks, DiskByRole, Path,
//	       ToolsRunning (the Tools stand-in vmtoolsd runs)
//	Disk:  Role, VM, Key, Label, UUID, WWID, Mapper, ByID, SD, DM, HCTL, SizeBytes,
//	       CapacityBytes, MountPoint, Loop, Image, SHA256()
//
// # The parts
//
// vSphere is govmomi's simulator (vcsim, VPX model: DC0, a standalone host
// DC0_H0 and a cluster, "VM Network") on a real HTTPS port of 127.0.0.1
// with its own credentials. The lab mounts LocalDS_0 from a directory of
// its run and makes it report type VMFS (vcsim says OTHER). vcsim names
// disks with UUIDs hashed from the file name; a registry handler gives
// every disk a UUID of ESXi's shape (6000C29x-...) so the guest's WWIDs
// start with 36000c29 as on VMware. A UUID given in a create spec is kept
// (vcsim honours VirtualDiskFlatVer2BackingInfo.Uuid), which is how
// CreateVM makes VMs with chosen disk UUIDs. Each guest gets an MT VM
// (mtlab-g1: LSI Logic, disk.EnableUUID=TRUE, powered on, tools running
// with the guest's address) with one disk per DiskRole, presented to it.
//
// A guest is PID 1 of its own PID, mount, UTS and IPC namespaces, in a
// network namespace (mtlab-<run>-g1) with eth0 on a bridge (10.77.N.0/24,
// N the registry slot: host .1, configuration server .5, guest 1 at .11).
// Its root is an overlay of the host's / with a tmpfs upper layer, so
// nothing done in the guest touches the host's /etc, mounts, fstab or RPM
// database; /root, /tmp, /home, /mnt, /usr/local, /opt, /var/log start
// empty. The guest init is the lab's own binary re-executed (see
// guestinit.go): it mounts /proc, /sys, a private /dev and devpts, pivots
// into the root, and boots like CentOS 6 (fsck and mount of /etc/fstab, the
// S scripts of rc3.d, then sshd). sshd is the host's OpenSSH restricted to
// what CentOS 6.6's OpenSSH 5.3p1 offers (ssh-rsa host key and signatures,
// diffie-hellman-group14-sha1 / group-exchange-sha1, aes*-ctr, hmac-sha1),
// root login with the run's RSA user key only. /etc/redhat-release and
// /etc/centos-release say CentOS release 6.6 (Final); there is no
// os-release. The rpm database (/var/lib/rpm) holds BasePackages (bash
// provides /bin/sh, centos-release provides system-release(releasever)).
// The lab network has a name server that knows the lab's names (lab.local)
// and answers NXDOMAIN at once for the rest.
//
// Packages are built with rpmbuild under the real names and versions
// (Packages; marker files in /usr/share/mtlab/markers), served over HTTP by
// the lab in vault.centos.org's layout (and elrepo's), and packed as the
// offline bundle. device-mapper-multipath requires -libs, like the real
// one, and installs the multipath stand-ins. The build is cached under
// StateDir/cache keyed by the specs and scripts.
//
// Disks are sparse files on loop devices (LO_FLAGS_AUTOCLEAR, held open by
// the lab), presented in the guest's own /dev as block nodes made with the
// loop device's major:minor: /dev/mapper/<wwid>, /dev/dm-N, /dev/sdX and
// /dev/disk/by-id/scsi-<wwid>. This kernel has no device-mapper, so there
// are no real dm maps.
//
// Reboot: reboot in the guest (or Guest.Reboot) runs the K scripts,
// kills every guest process (SSH connections drop), unmounts everything
// but the root and the pseudo file systems, waits RebootDelay, and boots
// again with the same host key. A bad fstab line shows in the BootReport:
// with pass 0 the mount fails and the boot goes on; with a pass number the
// check fails and the guest stays in maintenance without sshd, as CentOS 6
// does, until the lab reboots it.
//
// # Stand-ins
//
// These are not the real thing, and say so in their headers:
// service, chkconfig, reboot/halt/poweroff/shutdown/telinit/runlevel,
// /etc/init.d/functions (guestfs/base); yum (dnf with the guest's CentOS
// yum.conf); multipath, multipathd, mpathconf and the multipathd init
// script (guestfs/multipath, shipped in the device-mapper-multipath test
// RPM); the Unified Agent (guestfs/agent: install, ApplyCustomChanges.sh,
// UnifiedAgentConfigurator.sh, .vx_version, in tarballs named
// ..._standin.tar.gz); the configuration server (a TLS listener that
// accepts the stand-in agent's registration); every test RPM (marker
// files only); the ESXi host's VMware Tools installer (MountToolsInstaller,
// UnmountToolsInstaller and the CD's vmware-install.pl, guestfs/
// toolsinstaller); the guest init (for upstart). The programs the guest runs
// otherwise are the host's (Debian's bash 5, coreutils, util-linux,
// e2fsprogs, rpm 4.18, OpenSSH 9.2), not CentOS 6's.
//
// # Clean-up
//
// A running lab holds a flock on /run/mtlab/slot-N.lock and describes
// itself in slot-N.json; the kernel drops the lock when the process dies,
// however it dies. Up, Cleanup and `mtlab down` remove everything a slot
// without a live holder names, plus kernel objects named after a run ID
// that this registry journalled (/run/mtlab/runs/<run>) and no live lab
// has (netns mtlab-<run>-g*, links mtl<run>*), and run directories under
// the state dir that no live lab owns: processes, network namespaces,
// links, mounts, loop devices, files. Objects of a run the registry never
// started are left and named in a warning: a lab in a chroot with its own
// /run shares the host's links, and was once torn down as "dead". The guest init
// has the parent-death signal SIGKILL, so a killed lab's guests die at
// once, and with them their mounts.
package lab
