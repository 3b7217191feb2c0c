package lab

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"golang.org/x/sys/unix"
)

// The VMware Tools installer STAND-IN: VirtualMachine.MountToolsInstaller
// and UnmountToolsInstaller, which vcsim does not implement, as ESXi
// answers them for a Linux guest, and the CD the guest then sees.
//
// Mount fails with a fault, as ESXi's does, when the VM is not powered on
// (InvalidPowerState), has no CD-ROM (VmConfigFault) or has the installer
// mounted already (InvalidState), and, when the test says the host has no
// Tools image (SetToolsImage), with ToolsImageNotAvailable. Otherwise the VM's first CD-ROM holds
// the host's Tools image ([] /vmimages/tools-isoimages/linux.iso,
// connected) and runtime.toolsInstallerMounted is true; in the guest the
// VM is coupled to (tools.go), a block device /dev/srN (N: the CD-ROM's
// place among the VM's CD-ROMs; /dev/cdrom links to it) appears, labelled
// "VMware Tools", holding one VMwareTools-10.3.26-<build>.tar.gz whose
// vmware-tools-distrib/vmware-install.pl is the lab's Perl stand-in
// (guestfs/toolsinstaller). Unmount takes the device out of the guest and
// puts the CD-ROM's earlier backing back; it fails (InvalidState) when
// nothing is mounted.
//
// Where it differs from ESXi: the CD is an ext2 file system with that
// label, not ISO 9660, because this machine's kernel has no iso9660
// driver (a guest mounts it with mount's type detection, as CentOS 6
// mounts the real linux.iso); the image is built by the lab, not read
// from the host's /vmimages; the loop device is writable (the guest
// mounts it read-only); the build number is the lab's; Tools upgrade
// checks, the guest's locked CD-ROM door and the installer's other files
// (run_upgrader.sh, manifest.txt, vmware-tools-upgrader-*) are not
// modelled; a guest that is down when the installer is mounted, or
// reboots while it is, does not see the CD (its /dev is made anew).

// The Tools release the stand-in installer carries: the last Tools for
// legacy Linux guests, as ESXi 7 and 8 ship them in linux.iso. The build
// number is the lab's choice.
const (
	ToolsInstallerVersion = "10.3.26"
	ToolsInstallerBuild   = "22085142"
	// ToolsInstallerLabel is the CD's volume label.
	ToolsInstallerLabel = "VMware Tools"
	// ToolsInstallerImage is the CD-ROM backing vSphere reports while the
	// installer is mounted.
	ToolsInstallerImage = "[] /vmimages/tools-isoimages/linux.iso"
)

// ToolsInstallerTarball is the name of the tarball on the CD.
func ToolsInstallerTarball() string {
	return "VMwareTools-" + ToolsInstallerVersion + "-" + ToolsInstallerBuild + ".tar.gz"
}

// toolsCD is one VM's mounted installer.
type toolsCD struct {
	key           int32 // the CD-ROM's device key
	prevBacking   types.BaseVirtualDeviceBackingInfo
	prevConnected bool
	g             *Guest // nil: no guest coupled, vSphere's half only
	dev           string // /dev/srN in the guest
	image         string
	loop          *loopDev
}

type toolsCDs struct {
	mu      sync.Mutex
	mounted map[types.ManagedObjectReference]*toolsCD
	// noImage: the host has no Tools image for the guest (an ESXi
	// installed from a "-no-tools" image profile, as Auto Deploy hosts
	// often are): Mount fails with ToolsImageNotAvailable.
	noImage bool
}

// SetToolsImage says whether the lab's ESXi host has the VMware Tools
// image MountToolsInstaller mounts (it has by default). Without it, Mount
// fails with ToolsImageNotAvailable, as ESXi's does on a host installed
// from a "-no-tools" image profile.
func (l *Lab) SetToolsImage(available bool) {
	l.toolsCDs.mu.Lock()
	defer l.toolsCDs.mu.Unlock()
	l.toolsCDs.noImage = !available
}

// toolsInstallerVM takes a VM's MountToolsInstaller and
// UnmountToolsInstaller calls. vcsim calls a method by name on the object
// the session finds for the call's reference, and a logged-in session
// always finds vcsim's own VirtualMachine, which cannot take new methods
// (and cannot be replaced: vcsim asserts its type everywhere). So the
// lab's registry handler (vcHandler) points those two calls at this
// object instead, one per VM, registered under a type of the lab's own.
type toolsInstallerVM struct {
	Self types.ManagedObjectReference
	vm   types.ManagedObjectReference
	lab  *Lab
}

func (p *toolsInstallerVM) Reference() types.ManagedObjectReference { return p.Self }

// vcHandler routes MountToolsInstaller and UnmountToolsInstaller of a VM
// to the stand-in; every other call goes to vcsim.
func (l *Lab) vcHandler(ctx *simulator.Context, m *simulator.Method) (mo.Reference, types.BaseMethodFault) {
	if m.This.Type != "VirtualMachine" || (m.Name != "MountToolsInstaller" && m.Name != "UnmountToolsInstaller") {
		return nil, nil
	}
	p := &toolsInstallerVM{Self: types.ManagedObjectReference{Type: "MtlabToolsInstaller", Value: m.This.Value}, vm: m.This, lab: l}
	ctx.Map.Put(p)
	m.This = p.Self
	return p, nil
}

// withVM runs f on the VM with its lock held; a fault when it is gone.
func (p *toolsInstallerVM) withVM(ctx *simulator.Context, f func(*simulator.VirtualMachine) types.BaseMethodFault) types.BaseMethodFault {
	vm, ok := ctx.Map.Get(p.vm).(*simulator.VirtualMachine)
	if !ok {
		return &types.ManagedObjectNotFound{Obj: p.vm}
	}
	var fault types.BaseMethodFault
	ctx.WithLock(vm, func() { fault = f(vm) })
	return fault
}

func (p *toolsInstallerVM) MountToolsInstaller(ctx *simulator.Context, _ *types.MountToolsInstaller) soap.HasFault {
	if fault := p.withVM(ctx, func(vm *simulator.VirtualMachine) types.BaseMethodFault { return p.lab.mountToolsInstaller(ctx, vm) }); fault != nil {
		return &methods.MountToolsInstallerBody{Fault_: simulator.Fault("", fault)}
	}
	return &methods.MountToolsInstallerBody{Res: &types.MountToolsInstallerResponse{}}
}

func (p *toolsInstallerVM) UnmountToolsInstaller(ctx *simulator.Context, _ *types.UnmountToolsInstaller) soap.HasFault {
	if fault := p.withVM(ctx, func(vm *simulator.VirtualMachine) types.BaseMethodFault { return p.lab.unmountToolsInstaller(ctx, vm) }); fault != nil {
		return &methods.UnmountToolsInstallerBody{Fault_: simulator.Fault("", fault)}
	}
	return &methods.UnmountToolsInstallerBody{Res: &types.UnmountToolsInstallerResponse{}}
}

// mountToolsInstaller runs with vm's lock held (vcsim's dispatch).
func (l *Lab) mountToolsInstaller(ctx *simulator.Context, vm *simulator.VirtualMachine) types.BaseMethodFault {
	ref := vm.Self
	if ps := vm.Runtime.PowerState; ps != types.VirtualMachinePowerStatePoweredOn {
		return &types.InvalidPowerState{RequestedState: types.VirtualMachinePowerStatePoweredOn, ExistingState: ps}
	}
	l.toolsCDs.mu.Lock()
	defer l.toolsCDs.mu.Unlock()
	if l.toolsCDs.mounted[ref] != nil {
		return &types.InvalidState{}
	}
	if l.toolsCDs.noImage {
		return &types.ToolsImageNotAvailable{}
	}
	devices := object.VirtualDeviceList(vm.Config.Hardware.Device)
	cds := devices.SelectByType((*types.VirtualCdrom)(nil))
	if len(cds) == 0 {
		return &types.VmConfigFault{}
	}
	cd := cds[0].(*types.VirtualCdrom)
	m := &toolsCD{key: cd.Key, prevBacking: cd.Backing, dev: "/dev/sr0"}
	if cd.Connectable != nil {
		m.prevConnected = cd.Connectable.Connected
	}
	if g := l.toolsGuest(ref); g != nil {
		switch err := l.presentToolsCD(g, m); {
		case errors.Is(err, errGuestDown):
			// ESXi mounts whatever the guest does; this guest (down now)
			// will not see the CD.
			l.log.Warn("tools installer stand-in: the guest is down, mounted in vSphere only", "vm", vm.Name, "guest", g.Name)
			m.g, m.image, m.loop = nil, "", nil
		case err != nil:
			l.log.Warn("tools installer stand-in: presenting the CD in the guest", "vm", vm.Name, "guest", g.Name, "err", err)
			return &types.VmConfigFault{}
		}
	}
	cd.Backing = &types.VirtualCdromIsoBackingInfo{VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: ToolsInstallerImage}}
	if cd.Connectable == nil {
		cd.Connectable = &types.VirtualDeviceConnectInfo{}
	}
	cd.Connectable.Connected = true
	ctx.Update(vm, []types.PropertyChange{
		{Name: "config.hardware.device", Val: []types.BaseVirtualDevice(devices)},
		{Name: "runtime.toolsInstallerMounted", Val: true},
	})
	if l.toolsCDs.mounted == nil {
		l.toolsCDs.mounted = map[types.ManagedObjectReference]*toolsCD{}
	}
	l.toolsCDs.mounted[ref] = m
	l.log.Info("tools installer stand-in: mounted", "vm", vm.Name, "device", m.dev, "image", m.image)
	return nil
}

// unmountToolsInstaller runs with vm's lock held.
func (l *Lab) unmountToolsInstaller(ctx *simulator.Context, vm *simulator.VirtualMachine) types.BaseMethodFault {
	ref := vm.Self
	l.toolsCDs.mu.Lock()
	defer l.toolsCDs.mu.Unlock()
	m := l.toolsCDs.mounted[ref]
	if m == nil {
		return &types.InvalidState{}
	}
	devices := object.VirtualDeviceList(vm.Config.Hardware.Device)
	if cd, ok := devices.FindByKey(m.key).(*types.VirtualCdrom); ok {
		cd.Backing = m.prevBacking
		if cd.Connectable != nil {
			cd.Connectable.Connected = m.prevConnected
		}
	}
	ctx.Update(vm, []types.PropertyChange{
		{Name: "config.hardware.device", Val: []types.BaseVirtualDevice(devices)},
		{Name: "runtime.toolsInstallerMounted", Val: false},
	})
	delete(l.toolsCDs.mounted, ref)
	if err := m.remove(); err != nil {
		l.log.Warn("tools installer stand-in: taking the CD out of the guest", "vm", vm.Name, "err", err)
	}
	l.log.Info("tools installer stand-in: unmounted", "vm", vm.Name)
	return nil
}

// toolsGuest is the guest vm's Tools are coupled to, or nil.
func (l *Lab) toolsGuest(vm types.ManagedObjectReference) *Guest {
	l.tools.mu.Lock()
	defer l.tools.mu.Unlock()
	if b := l.tools.vms[vm]; b != nil {
		return b.g
	}
	return nil
}

// presentToolsCD builds the CD image, puts it on a loop device and makes
// the guest's /dev/sr0 (and /dev/cdrom) from it.
func (l *Lab) presentToolsCD(g *Guest, m *toolsCD) error {
	dir := filepath.Join(l.runDir, "tools-cd")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	m.image = filepath.Join(dir, g.Name+".img")
	if err := writeToolsCD(m.image); err != nil {
		return err
	}
	lo, err := attachLoop(m.image)
	if err != nil {
		os.Remove(m.image)
		return err
	}
	m.loop, m.g = lo, g
	rfs, err := g.guestRootFS()
	if err == nil {
		// cdrom group (11) and 0660, as udev makes them.
		if err = rfs.Mknod(m.dev, unix.S_IFBLK|0o660, uint64(unix.Mkdev(lo.Major, lo.Minor))); err == nil {
			rfs.Chown(m.dev, 0, 11)
			err = rfs.Symlink(filepath.Base(m.dev), "/dev/cdrom")
		}
		rfs.Close()
	}
	if err != nil {
		m.remove()
		return err
	}
	return nil
}

// remove takes the device out of the guest (when it is up) and drops the
// loop device and the image.
func (m *toolsCD) remove() error {
	var errs []error
	if m.g != nil {
		if rfs, err := m.g.guestRootFS(); err == nil {
			for _, p := range []string{"/dev/cdrom", m.dev} {
				if err := rfs.RemoveAll(p); err != nil {
					errs = append(errs, err)
				}
			}
			rfs.Close()
		}
	}
	if m.loop != nil {
		if err := m.loop.detach(); err != nil {
			errs = append(errs, err)
		}
		m.loop = nil
	}
	if m.image != "" {
		if err := os.Remove(m.image); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%v", errs)
	}
	return nil
}

// closeToolsCDs takes every mounted installer out (the lab going down).
func (l *Lab) closeToolsCDs() error {
	l.toolsCDs.mu.Lock()
	defer l.toolsCDs.mu.Unlock()
	var errs []string
	for ref, m := range l.toolsCDs.mounted {
		if err := m.remove(); err != nil {
			errs = append(errs, err.Error())
		}
		delete(l.toolsCDs.mounted, ref)
	}
	if len(errs) > 0 {
		return fmt.Errorf("tools installer stand-in: %s", strings.Join(errs, "; "))
	}
	return nil
}

// writeToolsCD writes the CD image: an ext2 file system labelled "VMware
// Tools" holding the installer tarball.
func writeToolsCD(image string) error {
	tree, err := os.MkdirTemp(filepath.Dir(image), "tree-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tree)
	tgz, err := ToolsInstallerTarballBytes()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tree, ToolsInstallerTarball()), tgz, 0o444); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	os.Remove(image)
	if out, err := exec.CommandContext(ctx, "mke2fs", "-q", "-F", "-t", "ext2", "-L", ToolsInstallerLabel, "-d", tree, image, "4M").CombinedOutput(); err != nil {
		return fmt.Errorf("mke2fs for the Tools CD: %w: %s", err, out)
	}
	return nil
}

// ToolsInstallerTarballBytes is VMwareTools-<version>-<build>.tar.gz as
// the stand-in CD holds it: vmware-tools-distrib/ with vmware-install.pl
// (guestfs/toolsinstaller), VERSION, bin/vmtoolsd (the lab's Tools daemon
// stand-in, guestfs/tools), bin/vmware-toolbox-cmd and the SysV script
// etc/init.d/vmware-tools (made from the open-vm-tools stand-in's).
func ToolsInstallerTarballBytes() ([]byte, error) {
	install, err := guestFiles.ReadFile("guestfs/toolsinstaller/vmware-install.pl")
	if err != nil {
		return nil, err
	}
	daemon, err := guestFiles.ReadFile("guestfs/tools/vmtoolsd")
	if err != nil {
		return nil, err
	}
	initScript, err := guestFiles.ReadFile("guestfs/tools/vmtoolsd.init")
	if err != nil {
		return nil, err
	}
	version := ToolsInstallerVersion + "." + ToolsInstallerBuild
	files := []struct {
		name string
		mode int64
		data []byte
	}{
		{"vmware-install.pl", 0o755, install},
		{"VERSION", 0o644, []byte(version + "\n")},
		{"bin/vmtoolsd", 0o755, daemon},
		{"bin/vmware-toolbox-cmd", 0o755, []byte(toolboxCmd(version))},
		{"etc/init.d/vmware-tools", 0o755, []byte(tarInitScript(string(initScript)))},
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	mtime := time.Date(2023, 8, 1, 0, 0, 0, 0, time.UTC)
	for _, d := range []string{"vmware-tools-distrib/", "vmware-tools-distrib/bin/", "vmware-tools-distrib/etc/", "vmware-tools-distrib/etc/init.d/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: mtime}); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "vmware-tools-distrib/" + f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: mtime}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// toolboxCmd is the stand-in /usr/bin/vmware-toolbox-cmd: -v only.
func toolboxCmd(version string) string {
	return `#!/bin/bash
# mtlab STAND-IN for VMware Tools' /usr/bin/vmware-toolbox-cmd, installed by
# the lab's vmware-install.pl stand-in: answers -v (--version) only, in the
# real format. Lab stand-in; not VMware's. bash 4.1 compatible.
case "$1" in
-v|--version)
	echo "` + version + ` (build-` + ToolsInstallerBuild + `)"
	;;
*)
	echo "vmware-toolbox-cmd (mtlab stand-in): only -v is modelled" >&2
	exit 64
	;;
esac
`
}

// tarInitScript makes the tar install's SysV script vmware-tools from the
// open-vm-tools stand-in's vmtoolsd script: the same daemon and pid file,
// the service name vmware-tools, and on at boot in runlevels 2, 3 and 5
// once registered (chkconfig --add), as the real installer leaves it.
func tarInitScript(vmtoolsdInit string) string {
	r := strings.NewReplacer(
		"# vmtoolsd\tStarts the VMware Tools daemon (open-vm-tools)", "# vmware-tools\tStarts the VMware Tools daemon (tar install)",
		"# chkconfig: - 03 99", "# chkconfig: 235 03 99",
		"# Provides: vmtoolsd", "# Provides: vmware-tools",
		"# mtlab stand-in of the SysV script of EPEL 6's open-vm-tools", "# mtlab stand-in, made by the lab's Tools installer stand-in\n# (toolsinstaller.go) from its stand-in of the SysV script of EPEL 6's\n# open-vm-tools",
	)
	return r.Replace(vmtoolsdInit)
}
