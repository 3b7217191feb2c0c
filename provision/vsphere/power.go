package vsphere

import (
	"context"
	"strings"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// StopVM shuts the guest down through VMware Tools and waits; when Tools
// are not running, or the guest does not stop in time, it powers the VM
// off.
func (s *Session) StopVM(ctx context.Context, st *VM, timeout time.Duration) error {
	vm := object.NewVirtualMachine(s.Client, st.Ref)
	name := "VM " + st.MO.Name
	if st.PowerState() == types.VirtualMachinePowerStatePoweredOn && st.MO.Guest != nil && st.MO.Guest.ToolsRunningStatus == string(types.VirtualMachineToolsRunningStatusGuestToolsRunning) {
		s.log.Info("shutting the guest down through VMware Tools", "vm", st.MO.Name, "timeout", timeout)
		if err := vm.ShutdownGuest(ctx); err != nil {
			s.log.Warn("guest shutdown refused; powering off", "vm", st.MO.Name, "err", FaultText(err))
		} else {
			deadline := time.Now().Add(timeout)
			for time.Now().Before(deadline) {
				p, err := s.ReadPowerState(ctx, name, st.Ref)
				if err != nil {
					return err
				}
				if p == types.VirtualMachinePowerStatePoweredOff {
					return nil
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(2 * time.Second):
				}
			}
			s.log.Warn("the guest did not shut down in time; powering off", "vm", st.MO.Name, "timeout", timeout)
		}
	}
	_, err := s.Task(ctx, "power off", name, func() (*object.Task, error) { return vm.PowerOff(ctx) }, nil)
	if IsFault[*types.InvalidPowerState](err) {
		return nil // it stopped meanwhile
	}
	return err
}

// EjectCDROMs empties every CD-ROM of st holding an ISO (a disconnected
// client device, as "eject" in the vSphere client), setting extra in the
// same reconfigure. If the guest locked the tray, vSphere asks whether to
// override the lock; the wait answers yes. name is the VM's name for
// errors and the log.
func (s *Session) EjectCDROMs(ctx context.Context, name string, st *VM, extra []types.BaseOptionValue) error {
	obj := "VM " + name
	var spec types.VirtualMachineConfigSpec
	for _, c := range st.Devices.SelectByType((*types.VirtualCdrom)(nil)) {
		cd := *c.(*types.VirtualCdrom)
		if CDROMISO(&cd) == "" {
			continue
		}
		cd.Backing = &types.VirtualCdromRemotePassthroughBackingInfo{
			VirtualDeviceRemoteDeviceBackingInfo: types.VirtualDeviceRemoteDeviceBackingInfo{DeviceName: "", UseAutoDetect: types.NewBool(false)},
		}
		cd.Connectable = &types.VirtualDeviceConnectInfo{Connected: false, StartConnected: false, AllowGuestControl: true}
		spec.DeviceChange = append(spec.DeviceChange, &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: &cd})
	}
	spec.ExtraConfig = extra
	vm := object.NewVirtualMachine(s.Client, st.Ref)
	answer := func(ctx context.Context) error {
		var m mo.VirtualMachine
		if err := s.RetrieveOne(ctx, st.Ref, []string{"runtime.question"}, &m); err != nil || m.Runtime.Question == nil {
			return nil
		}
		if choice, ok := CDROMLockAnswer(m.Runtime.Question); ok {
			s.log.Info("the guest locked the CD-ROM; overriding the lock", "vm", name)
			if err := vm.Answer(ctx, m.Runtime.Question.Id, choice); err != nil {
				return &Error{Op: "answer the CD-ROM question of", Object: obj, Err: err}
			}
		}
		return nil
	}
	_, err := s.Task(ctx, "eject the install media and seed of", obj, func() (*object.Task, error) { return vm.Reconfigure(ctx, spec) }, answer)
	return err
}

// CDROMLockAnswer picks "Yes" for vSphere's "the guest OS has locked the
// CD-ROM door… disconnect anyway?" question, and nothing for any other.
func CDROMLockAnswer(q *types.VirtualMachineQuestionInfo) (string, bool) {
	locked := strings.Contains(strings.ToLower(q.Text), "locked the cd-rom")
	for _, m := range q.Message {
		if strings.Contains(m.Id, "cdromdisconnect.locked") {
			locked = true
		}
	}
	if !locked {
		return "", false
	}
	for _, c := range q.Choice.ChoiceInfo {
		if d := c.GetElementDescription(); d != nil && strings.EqualFold(d.Label, "yes") {
			return d.Key, true
		}
	}
	return "", false
}
