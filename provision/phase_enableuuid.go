package provision

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// enableUUIDPhase sets disk.EnableUUID=TRUE in the VM's ExtraConfig and
// flags.diskUuidEnabled, so the guest sees each disk's vSphere UUID
// (6000C29…) as its WWID (36000c29…): the retention phase finds the
// retention disk by it, and ASR needs it. vSphere takes it only while the
// VM is off. Both values are read back: a value that did not stick fails
// the phase (Packer only logs it).
type enableUUIDPhase struct{}

func (enableUUIDPhase) Name() string { return "enable-uuid" }

const enableUUIDKey = "disk.EnableUUID"

// DefaultShutdownTimeout bounds the wait for a guest shutdown through
// VMware Tools before enable-uuid powers the VM off.
const DefaultShutdownTimeout = 5 * time.Minute

func uuidEnabled(st *vmState) (extra, flag bool) {
	extra = strings.EqualFold(st.extra(enableUUIDKey), "TRUE")
	f := st.mo.Config.Flags.DiskUuidEnabled
	return extra, f != nil && *f
}

// recordDiskUUIDs notes each disk's vSphere UUID by role: the first disk
// in bus order is the OS disk, the second the retention disk.
func (t *Target) recordDiskUUIDs(st *vmState) {
	roles := []string{"os", "retention"}
	for i, d := range vmDisks(st.devices) {
		if i >= len(roles) {
			break
		}
		var u string
		switch b := d.Backing.(type) {
		case *types.VirtualDiskFlatVer2BackingInfo:
			u = b.Uuid
		case *types.VirtualDiskSeSparseBackingInfo:
			u = b.Uuid
		case *types.VirtualDiskRawDiskMappingVer1BackingInfo:
			u = b.Uuid
		}
		if u == "" {
			continue
		}
		if t.Facts.DiskUUIDs == nil {
			t.Facts.DiskUUIDs = map[string]string{}
		}
		t.Facts.DiskUUIDs[roles[i]] = u
	}
}

func (enableUUIDPhase) Check(ctx context.Context, t *Target) (Check, error) {
	st, err := t.vmFor(ctx)
	if err != nil {
		return Check{}, err
	}
	set := fmt.Sprintf("set %s=TRUE and flags.diskUuidEnabled=true on VM %s", enableUUIDKey, t.Spec.Name)
	if st == nil {
		return Check{Changes: []string{set + " (once the vm phase has created it)"}, Observed: "no VM yet"}, nil
	}
	t.keep("enable-uuid", st)
	t.recordDiskUUIDs(st)
	extra, flag := uuidEnabled(st)
	obs := fmt.Sprintf("%s=%q, flags.diskUuidEnabled=%v, %s", enableUUIDKey, st.extra(enableUUIDKey), flag, st.powerState())
	if u := t.Facts.DiskUUIDs; len(u) > 0 {
		obs += fmt.Sprintf("; disk UUIDs os %s, retention %s", u["os"], u["retention"])
	}
	if extra && flag {
		return Check{Done: true, Observed: obs}, nil
	}
	ch := []string{set}
	if st.powerState() != types.VirtualMachinePowerStatePoweredOff {
		if t.Options.AllowPowerOff {
			ch = append([]string{"shut the guest down through VMware Tools (power off if it does not stop within " + shutdownTimeout(t).String() + ")"}, ch...)
			ch = append(ch, "power the VM on again")
		} else {
			ch = append(ch, "refused while the VM is "+string(st.powerState())+" unless --allow-power-off")
		}
	}
	return Check{Changes: ch, Observed: obs}, nil
}

func shutdownTimeout(t *Target) time.Duration {
	if t.Options.ShutdownTimeout > 0 {
		return t.Options.ShutdownTimeout
	}
	return DefaultShutdownTimeout
}

func (enableUUIDPhase) Apply(ctx context.Context, t *Target) error {
	s, err := t.vsphere(ctx)
	if err != nil {
		return err
	}
	st, ok := t.take("enable-uuid").(*vmState)
	if !ok {
		if st, err = t.vmFor(ctx); err != nil {
			return err
		}
	}
	if st == nil {
		return fmt.Errorf("VM %s not found: run the vm phase first", t.Spec.Name)
	}
	was := st.powerState()
	if was != types.VirtualMachinePowerStatePoweredOff {
		if !t.Options.AllowPowerOff {
			return fmt.Errorf("VM %s is %s: %s can only be set while it is powered off; shut the guest down and run again, or pass --allow-power-off to let mtprep shut it down through VMware Tools (or power it off) and power it on again", t.Spec.Name, was, enableUUIDKey)
		}
		if err := s.stopVM(ctx, st, shutdownTimeout(t)); err != nil {
			return err
		}
	}
	flags := st.mo.Config.Flags // send the current flags back: unset ones would be reset by some hosts
	flags.DiskUuidEnabled = types.NewBool(true)
	vm := object.NewVirtualMachine(s.c, st.ref)
	if _, err := s.task(ctx, "reconfigure", "VM "+t.Spec.Name, func() (*object.Task, error) {
		return vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{
			ExtraConfig: []types.BaseOptionValue{&types.OptionValue{Key: enableUUIDKey, Value: "TRUE"}},
			Flags:       &flags,
		})
	}, nil); err != nil {
		return err
	}
	note := fmt.Sprintf("set %s=TRUE and flags.diskUuidEnabled", enableUUIDKey)
	if was == types.VirtualMachinePowerStatePoweredOn {
		if _, err := s.task(ctx, "power on", "VM "+t.Spec.Name, func() (*object.Task, error) { return vm.PowerOn(ctx) }, nil); err != nil {
			return fmt.Errorf("%s was set, but powering the VM on again failed: %w", enableUUIDKey, err)
		}
		note += " (VM shut down for it and powered on again)"
	}
	t.Note("enable-uuid", note)
	return nil
}

// stopVM shuts the guest down through VMware Tools and waits; when Tools
// are not running, or the guest does not stop in time, it powers the VM
// off.
func (s *vsphereSession) stopVM(ctx context.Context, st *vmState, timeout time.Duration) error {
	vm := object.NewVirtualMachine(s.c, st.ref)
	name := "VM " + st.mo.Name
	if st.powerState() == types.VirtualMachinePowerStatePoweredOn && st.mo.Guest != nil && st.mo.Guest.ToolsRunningStatus == string(types.VirtualMachineToolsRunningStatusGuestToolsRunning) {
		s.log.Info("shutting the guest down through VMware Tools", "vm", st.mo.Name, "timeout", timeout)
		if err := vm.ShutdownGuest(ctx); err != nil {
			s.log.Warn("guest shutdown refused; powering off", "vm", st.mo.Name, "err", faultText(err))
		} else {
			deadline := time.Now().Add(timeout)
			for time.Now().Before(deadline) {
				var m mo.VirtualMachine
				if err := s.retrieveOne(ctx, st.ref, []string{"runtime.powerState"}, &m); err != nil {
					return &VSphereError{Op: "read", Object: name, Err: err}
				}
				if m.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOff {
					return nil
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(2 * time.Second):
				}
			}
			s.log.Warn("the guest did not shut down in time; powering off", "vm", st.mo.Name, "timeout", timeout)
		}
	}
	_, err := s.task(ctx, "power off", name, func() (*object.Task, error) { return vm.PowerOff(ctx) }, nil)
	if isFault[*types.InvalidPowerState](err) {
		return nil // it stopped meanwhile
	}
	return err
}

func (enableUUIDPhase) Verify(ctx context.Context, t *Target) error {
	s, err := t.vsphere(ctx)
	if err != nil {
		return err
	}
	if t.Facts.VMMoRef == "" {
		return fmt.Errorf("VM %s is unknown", t.Spec.Name)
	}
	st, err := s.readVM(ctx, types.ManagedObjectReference{Type: "VirtualMachine", Value: t.Facts.VMMoRef})
	if err != nil {
		return err
	}
	t.recordDiskUUIDs(st)
	extra, flag := uuidEnabled(st)
	if !extra || !flag {
		return fmt.Errorf("VM %s: the reconfigure succeeded but did not stick: vSphere reports %s=%q and flags.diskUuidEnabled=%v", t.Spec.Name, enableUUIDKey, st.extra(enableUUIDKey), flag)
	}
	if len(vmDisks(st.devices)) >= 2 && (t.Facts.DiskUUIDs["os"] == "" || t.Facts.DiskUUIDs["retention"] == "") {
		return fmt.Errorf("VM %s: vSphere reports no UUID for its OS or retention disk", t.Spec.Name)
	}
	return nil
}
