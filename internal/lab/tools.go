package lab

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// The VMware Tools stand-in's vSphere half. vcsim has no guest to ask, so
// the lab looks at the guest a VM is coupled to (Lab.SetToolsGuest,
// CreateVM with VMSpec.Guest, and the install stand-in for the VM it
// installed) and reports in the VM's guest properties what a real ESXi
// would:
//
//   - Tools running (guestToolsRunning, toolsOk, the guest's address and
//     host name) only while the guest is up and a process named vmtoolsd
//     runs in it with its pid in /var/run/vmtoolsd.pid: the stand-in
//     daemon of the open-vm-tools test RPM (guestfs/tools), started by
//     its init script, never by the lab;
//   - not running (guestToolsNotRunning, no address) otherwise: before
//     the tools phase installed and started it, after `service vmtoolsd
//     stop`, while the guest reboots and after a boot without it (chkconfig
//     off), and while the VM is not powered on;
//   - toolsVersionStatus2 guestToolsNotInstalled until the VM's Tools have
//     reported once, guestToolsUnmanaged (what an OS-packaged Tools
//     reports) from then on; guestToolsCurrent (and the tar installer's
//     version, toolsInstallType guestToolsTypeTar) while the guest holds
//     the tar install of the host's installer stand-in
//     (/etc/vmware-tools/locations, toolsinstaller.go), the Tools ESXi
//     ships.
//
// The lab polls the guest from outside, through its root as its init sees
// it (/proc/<init>/root: its /var/run and its /proc), every toolsPoll;
// nothing runs in the guest for it.

// toolsPoll is how often the lab looks at the coupled guests.
const toolsPoll = 200 * time.Millisecond

// toolsVersion is what the VM reports as guest.toolsVersion while the
// stand-in runs: VMware's encoding of 9.10.2 (major<<10 | minor<<5 |
// patch), the version of the open-vm-tools test RPM.
const toolsVersion = "9538"

// toolsVersionTar is guest.toolsVersion for the host installer stand-in's
// tar install: 10.3.26 in the same encoding.
const toolsVersionTar = "10362"

type toolsBinding struct {
	g        *Guest
	hostname string
	reported atomic.Bool // the VM's Tools have run once
}

type toolsWatch struct {
	mu      sync.Mutex
	vms     map[types.ManagedObjectReference]*toolsBinding
	cancel  context.CancelFunc
	done    chan struct{}
	stopped bool
}

// stop ends the watch and waits for its loop.
func (w *toolsWatch) stop() {
	w.mu.Lock()
	w.stopped = true
	cancel, done := w.cancel, w.done
	w.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// bindTools couples vm's Tools to guest g: from now on vm reports what g's
// Tools stand-in does. hostname is what the VM reports as the guest's
// host name while Tools run.
func (l *Lab) bindTools(vm types.ManagedObjectReference, g *Guest, hostname string) error {
	w := &l.tools
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return errors.New("the lab is down")
	}
	if w.vms == nil {
		w.vms = map[types.ManagedObjectReference]*toolsBinding{}
	}
	b := &toolsBinding{g: g, hostname: hostname}
	if old := w.vms[vm]; old != nil {
		b.reported.Store(old.reported.Load())
	}
	w.vms[vm] = b
	if w.cancel == nil {
		ctx, cancel := context.WithCancel(context.Background())
		w.cancel, w.done = cancel, make(chan struct{})
		go l.toolsLoop(ctx, w.done)
	}
	w.mu.Unlock()
	l.syncTools(vm, b)
	return nil
}

func (l *Lab) toolsLoop(ctx context.Context, done chan struct{}) {
	defer close(done)
	tick := time.NewTicker(toolsPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		l.tools.mu.Lock()
		vms := make(map[types.ManagedObjectReference]*toolsBinding, len(l.tools.vms))
		for ref, b := range l.tools.vms {
			vms[ref] = b
		}
		l.tools.mu.Unlock()
		for ref, b := range vms {
			if ctx.Err() != nil {
				return
			}
			if !l.syncTools(ref, b) {
				l.tools.mu.Lock()
				if l.tools.vms[ref] == b {
					delete(l.tools.vms, ref)
				}
				l.tools.mu.Unlock()
			}
		}
	}
}

// ToolsRunning reports whether the guest's Tools stand-in runs: the guest
// is up and /var/run/vmtoolsd.pid names a live process called vmtoolsd.
func (g *Guest) ToolsRunning() bool {
	running, _ := g.toolsSeen()
	return running
}

// toolsSeen looks into the guest, when it is up: whether the Tools
// stand-in runs (ToolsRunning), and whether the guest holds the tar
// install of the host's Tools installer stand-in (its database
// /etc/vmware-tools/locations, toolsinstaller.go).
func (g *Guest) toolsSeen() (running, tar bool) {
	if g.State() != GuestRunning {
		return false, false
	}
	rfs, err := g.guestRootFS()
	if err != nil {
		return false, false
	}
	defer rfs.Close()
	return vmtoolsdRuns(rfs), rfs.Exists("/etc/vmware-tools/locations")
}

// vmtoolsdRuns: /var/run/vmtoolsd.pid names a live process called
// vmtoolsd.
func vmtoolsdRuns(rfs *rootFS) bool {
	b, err := rfs.ReadFile("/var/run/vmtoolsd.pid")
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return false
	}
	cmdline, err := rfs.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	argv0, _, _ := strings.Cut(string(cmdline), "\x00")
	return path.Base(argv0) == "vmtoolsd"
}

// syncTools sets vm's guest properties from its guest; false when the VM
// is gone.
func (l *Lab) syncTools(ref types.ManagedObjectReference, b *toolsBinding) bool {
	if l.VC == nil || l.VC.Model == nil {
		return false
	}
	sctx := l.VC.Model.Service.Context
	obj, ok := sctx.Map.Get(ref).(*simulator.VirtualMachine)
	if !ok {
		return false
	}
	running, tar := b.g.toolsSeen()
	var power types.VirtualMachinePowerState
	var curRun, curVer, curIP string
	sctx.WithLock(obj, func() {
		power = obj.Runtime.PowerState
		if obj.Guest != nil {
			curRun, curVer, curIP = obj.Guest.ToolsRunningStatus, obj.Guest.ToolsVersionStatus2, obj.Guest.IpAddress
		}
	})
	running = running && power == types.VirtualMachinePowerStatePoweredOn
	if running {
		b.reported.Store(true)
	}
	changes := toolsChanges(running, b.reported.Load(), tar, b.g.Address, b.hostname)
	wantRun, wantVer, wantIP := changes[0].Val.(string), changes[2].Val.(string), changes[4].Val.(string)
	if curRun == wantRun && curVer == wantVer && curIP == wantIP {
		return true
	}
	sctx.Map.AtomicUpdate(sctx, obj, changes)
	l.log.Debug("tools stand-in: vSphere view updated", "vm", ref.Value, "guest", b.g.Name, "toolsRunningStatus", wantRun, "toolsVersionStatus2", wantVer)
	return true
}

// toolsChanges are the guest properties of a VM whose Tools run or not;
// tar: the guest's Tools are the tar install of the host's installer.
// The order of the first five is what syncTools compares.
func toolsChanges(running, reported, tar bool, address, hostname string) []types.PropertyChange {
	run := string(types.VirtualMachineToolsRunningStatusGuestToolsNotRunning)
	status := types.VirtualMachineToolsStatusToolsNotInstalled
	ver := string(types.VirtualMachineToolsVersionStatusGuestToolsNotInstalled)
	version, state := "0", "notRunning"
	installType := string(types.VirtualMachineToolsInstallTypeGuestToolsTypeOpenVMTools)
	switch {
	case reported && tar:
		ver, version = string(types.VirtualMachineToolsVersionStatusGuestToolsCurrent), toolsVersionTar
		status, installType = types.VirtualMachineToolsStatusToolsNotRunning, string(types.VirtualMachineToolsInstallTypeGuestToolsTypeTar)
	case reported:
		ver, version = string(types.VirtualMachineToolsVersionStatusGuestToolsUnmanaged), toolsVersion
		status = types.VirtualMachineToolsStatusToolsNotRunning
	}
	if !running {
		address, hostname = "", ""
	} else {
		run, status, state = string(types.VirtualMachineToolsRunningStatusGuestToolsRunning), types.VirtualMachineToolsStatusToolsOk, "running"
	}
	return []types.PropertyChange{
		{Name: "guest.toolsRunningStatus", Val: run},
		{Name: "guest.toolsStatus", Val: status},
		{Name: "guest.toolsVersionStatus2", Val: ver},
		{Name: "guest.toolsVersionStatus", Val: ver},
		{Name: "guest.ipAddress", Val: address},
		{Name: "guest.hostName", Val: hostname},
		{Name: "guest.toolsVersion", Val: version},
		{Name: "guest.toolsInstallType", Val: installType},
		{Name: "guest.guestId", Val: string(types.VirtualMachineGuestOsIdentifierCentos64Guest)},
		{Name: "guest.guestFullName", Val: "CentOS 4/5/6 (64-bit)"},
		{Name: "guest.guestState", Val: state},
		{Name: "summary.guest.toolsRunningStatus", Val: run},
		{Name: "summary.guest.toolsStatus", Val: status},
		{Name: "summary.guest.toolsVersionStatus2", Val: ver},
		{Name: "summary.guest.ipAddress", Val: address},
		{Name: "summary.guest.hostName", Val: hostname},
	}
}

// ToolsStatus is what vSphere reports about a VM's Tools.
type ToolsStatus struct {
	RunningStatus  string // guest.toolsRunningStatus
	VersionStatus2 string // guest.toolsVersionStatus2
	IPAddress      string // guest.ipAddress
}

// Running reports guestToolsRunning.
func (s ToolsStatus) Running() bool {
	return s.RunningStatus == string(types.VirtualMachineToolsRunningStatusGuestToolsRunning)
}

// VMTools reads vm's Tools status as any vSphere client would.
func (l *Lab) VMTools(ctx context.Context, vm *object.VirtualMachine) (ToolsStatus, error) {
	var m mo.VirtualMachine
	if err := vm.Properties(ctx, vm.Reference(), []string{"guest.toolsRunningStatus", "guest.toolsVersionStatus2", "guest.ipAddress"}, &m); err != nil {
		return ToolsStatus{}, err
	}
	if m.Guest == nil {
		return ToolsStatus{}, nil
	}
	return ToolsStatus{m.Guest.ToolsRunningStatus, m.Guest.ToolsVersionStatus2, m.Guest.IpAddress}, nil
}

// WaitTools waits until vSphere reports vm's Tools running (or not, as
// running says) and returns what it reported; ctx bounds the wait.
func (l *Lab) WaitTools(ctx context.Context, vm *object.VirtualMachine, running bool) (ToolsStatus, error) {
	for {
		st, err := l.VMTools(ctx, vm)
		if err != nil {
			return st, err
		}
		if st.Running() == running {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("VM %s: Tools still %s: %w", vm.Reference().Value, st.RunningStatus, ctx.Err())
		case <-time.After(toolsPoll):
		}
	}
}

// FindVM returns the VM named name in the lab's datacenter.
func (l *Lab) FindVM(ctx context.Context, name string) (*object.VirtualMachine, error) {
	return l.findVM(ctx, name)
}

// syncToolsNow updates every coupled VM at once, so a test can read the
// state a guest change leads to without waiting for the next poll.
func (l *Lab) syncToolsNow() {
	l.tools.mu.Lock()
	vms := make(map[types.ManagedObjectReference]*toolsBinding, len(l.tools.vms))
	for ref, b := range l.tools.vms {
		vms[ref] = b
	}
	l.tools.mu.Unlock()
	for ref, b := range vms {
		l.syncTools(ref, b)
	}
}
