package provision

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/provision/vsphere"
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

func uuidEnabled(st *vsphere.VM) (extra, flag bool) {
	extra = strings.EqualFold(st.Extra(enableUUIDKey), "TRUE")
	f := st.MO.Config.Flags.DiskUuidEnabled
	return extra, f != nil && *f
}

// recordDiskUUIDs notes each disk's vSphere UUID by role: the first disk
// in bus order is the OS disk, the second the retention disk.
func (t *Target) recordDiskUUIDs(st *vsphere.VM) {
	roles := []string{"os", "retention"}
	for i, d := range vsphere.Disks(st.Devices) {
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
	t.run.checked.enableUUID = st
	t.recordDiskUUIDs(st)
	extra, flag := uuidEnabled(st)
	obs := fmt.Sprintf("%s=%q, flags.diskUuidEnabled=%v, %s", enableUUIDKey, st.Extra(enableUUIDKey), flag, st.PowerState())
	if u := t.Facts.DiskUUIDs; len(u) > 0 {
		obs += fmt.Sprintf("; disk UUIDs os %s, retention %s", u["os"], u["retention"])
	}
	if extra && flag {
		return Check{Done: true, Observed: obs}, nil
	}
	ch := []string{set}
	if st.PowerState() != types.VirtualMachinePowerStatePoweredOff {
		if t.Options.AllowPowerOff {
			ch = append([]string{"shut the guest down through VMware Tools (power off if it does not stop within " + shutdownTimeout(t).String() + ")"}, ch...)
			ch = append(ch, "power the VM on again")
		} else {
			ch = append(ch, "refused while the VM is "+string(st.PowerState())+" unless --allow-power-off")
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
	st := take(&t.run.checked.enableUUID)
	if st == nil {
		if st, err = t.vmFor(ctx); err != nil {
			return err
		}
	}
	if st == nil {
		return fmt.Errorf("VM %s not found: run the vm phase first", t.Spec.Name)
	}
	was := st.PowerState()
	if was != types.VirtualMachinePowerStatePoweredOff {
		if !t.Options.AllowPowerOff {
			return fmt.Errorf("VM %s is %s: %s can only be set while it is powered off; shut the guest down and run again, or pass --allow-power-off to let mtprep shut it down through VMware Tools (or power it off) and power it on again", t.Spec.Name, was, enableUUIDKey)
		}
		if err := s.StopVM(ctx, st, shutdownTimeout(t)); err != nil {
			return err
		}
	}
	flags := st.MO.Config.Flags // send the current flags back: unset ones would be reset by some hosts
	flags.DiskUuidEnabled = types.NewBool(true)
	if err := s.Reconfigure(ctx, "reconfigure", "VM "+t.Spec.Name, st.Ref, types.VirtualMachineConfigSpec{
		ExtraConfig: []types.BaseOptionValue{&types.OptionValue{Key: enableUUIDKey, Value: "TRUE"}},
		Flags:       &flags,
	}); err != nil {
		return err
	}
	note := fmt.Sprintf("set %s=TRUE and flags.diskUuidEnabled", enableUUIDKey)
	if was == types.VirtualMachinePowerStatePoweredOn {
		if err := s.PowerOn(ctx, "VM "+t.Spec.Name, st.Ref); err != nil {
			return fmt.Errorf("%s was set, but powering the VM on again failed: %w", enableUUIDKey, err)
		}
		note += " (VM shut down for it and powered on again)"
	}
	t.Note("enable-uuid", note)
	return nil
}

func (enableUUIDPhase) Verify(ctx context.Context, t *Target) error {
	s, err := t.vsphere(ctx)
	if err != nil {
		return err
	}
	if t.Facts.VMMoRef == "" {
		return fmt.Errorf("VM %s is unknown", t.Spec.Name)
	}
	st, err := s.ReadVM(ctx, vsphere.VMRef(t.Facts.VMMoRef))
	if err != nil {
		return err
	}
	t.recordDiskUUIDs(st)
	extra, flag := uuidEnabled(st)
	if !extra || !flag {
		return fmt.Errorf("VM %s: the reconfigure succeeded but did not stick: vSphere reports %s=%q and flags.diskUuidEnabled=%v", t.Spec.Name, enableUUIDKey, st.Extra(enableUUIDKey), flag)
	}
	if len(vsphere.Disks(st.Devices)) >= 2 && (t.Facts.DiskUUIDs["os"] == "" || t.Facts.DiskUUIDs["retention"] == "") {
		return fmt.Errorf("VM %s: vSphere reports no UUID for its OS or retention disk", t.Spec.Name)
	}
	return nil
}
