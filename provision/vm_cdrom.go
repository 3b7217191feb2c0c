package provision

import (
	"fmt"
	"sort"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
)

// The MT's VM has two CD-ROMs until the install: the shared install media
// in the first, the MT's seed ISO in the second. "First" and "second" are
// the order in which the installer's kernel names them sr0 and sr1, which
// the media's boot argument (ks=hd:sr1:/ks.cfg) relies on: IDE drives by
// channel then master/slave, i.e. by controller bus number then unit
// number; other CD-ROMs (SATA) after them. mtprep creates both on IDE
// controller 0: units 0 and 1.

// orderedCDROMs are the VM's CD-ROMs in the order the guest names them.
func orderedCDROMs(devs object.VirtualDeviceList) []*types.VirtualCdrom {
	type ranked struct {
		cd               *types.VirtualCdrom
		kind, bus, index int32
	}
	var l []ranked
	for _, d := range devs.SelectByType((*types.VirtualCdrom)(nil)) {
		cd := d.(*types.VirtualCdrom)
		r := ranked{cd: cd, kind: 2, index: cd.Key}
		switch c := devs.FindByKey(cd.ControllerKey).(type) {
		case *types.VirtualIDEController:
			r.kind, r.bus, r.index = 0, c.BusNumber, unit(cd.UnitNumber)
		case types.BaseVirtualSATAController:
			r.kind, r.bus, r.index = 1, c.GetVirtualSATAController().BusNumber, unit(cd.UnitNumber)
		}
		l = append(l, r)
	}
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.kind != b.kind {
			return a.kind < b.kind
		}
		if a.bus != b.bus {
			return a.bus < b.bus
		}
		return a.index < b.index
	})
	out := make([]*types.VirtualCdrom, len(l))
	for i, r := range l {
		out[i] = r.cd
	}
	return out
}

// cdWant is what one CD-ROM slot should hold.
type cdWant struct {
	role   string // "install media", "seed"
	iso    string // "" when the local file is unknown
	prefix string // matches any ISO of this role when iso is unknown
	other  string // a prefix that looks like prefix but is not this role
}

func (c cdWant) holds(iso string) bool {
	if c.iso != "" {
		return iso == c.iso
	}
	return strings.HasPrefix(iso, c.prefix) && strings.HasSuffix(iso, ".iso") && (c.other == "" || !strings.HasPrefix(iso, c.other))
}

// diffCDROMs lists how the VM's CD-ROMs differ from media in the first
// and seed in the second, connected at power on. --fix inserts an ISO,
// connects a CD-ROM, or adds the missing CD-ROMs on an IDE controller
// with free slots.
func diffCDROMs(st *vmState, cds []*types.VirtualCdrom, w vmWant) []vmDiff {
	devs := st.devices
	on := st.powerState() == types.VirtualMachinePowerStatePoweredOn
	want := []cdWant{
		{role: "install media", iso: w.iso, prefix: w.isoPrefix, other: w.isoPrefix + "seeds/"},
		{role: "seed", iso: w.seed, prefix: w.seedPrefix},
	}
	ordinal := []string{"first", "second"}
	var out []vmDiff
	var missing []cdWant
	for i, cw := range want {
		if i >= len(cds) {
			missing = append(missing, cw)
			continue
		}
		c := *cds[i]
		held := cdromISO(&c)
		switch {
		case cw.holds(held) && (c.Connectable == nil || !c.Connectable.StartConnected):
			out = append(out, vmDiff{What: fmt.Sprintf("the %s CD-ROM (%s) is not connected at power on", ordinal[i], cw.role), Fix: "connect it at power on",
				apply: func(s *types.VirtualMachineConfigSpec) {
					c.Connectable = &types.VirtualDeviceConnectInfo{StartConnected: true, Connected: on, AllowGuestControl: true}
					s.DeviceChange = append(s.DeviceChange, &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: &c})
				}})
		case cw.holds(held):
		case cw.iso == "":
			out = append(out, vmDiff{What: fmt.Sprintf("the %s CD-ROM holds no mtprep %s", ordinal[i], cw.role), Why: "the local " + cw.role + " is unknown: run the iso and upload phases first"})
		default:
			if held == "" {
				held = "no ISO"
			}
			iso := cw.iso
			out = append(out, vmDiff{What: fmt.Sprintf("the %s CD-ROM holds %s, not the %s %s", ordinal[i], held, cw.role, iso), Fix: "insert " + iso,
				apply: func(s *types.VirtualMachineConfigSpec) {
					devs.InsertIso(&c, iso)
					c.Connectable = &types.VirtualDeviceConnectInfo{StartConnected: true, Connected: on, AllowGuestControl: true}
					s.DeviceChange = append(s.DeviceChange, &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: &c})
				}})
		}
	}
	if len(missing) == 0 {
		return out
	}
	var what, isos []string
	for _, m := range missing {
		what = append(what, "no CD-ROM for the "+m.role)
		isos = append(isos, m.iso)
		if m.iso == "" {
			return append(out, vmDiff{What: strings.Join(what, ", "), Why: "the local " + m.role + " is unknown: run the iso and upload phases first"})
		}
	}
	add, err := addCDROMs(devs, isos)
	if err != nil {
		return append(out, vmDiff{What: strings.Join(what, ", "), Why: err.Error() + "; add a CD-ROM with " + strings.Join(isos, " and ") + " by hand"})
	}
	return append(out, vmDiff{What: strings.Join(what, ", "), Fix: "add a CD-ROM with " + strings.Join(isos, ", then one with "),
		apply: func(s *types.VirtualMachineConfigSpec) { s.DeviceChange = append(s.DeviceChange, add...) }})
}

// addCDROMs makes the device changes that add one CD-ROM per ISO, in
// order, in the first free IDE slots (so they come after the existing
// CD-ROMs in the guest's naming). It works on copies: the VM's device
// list is not changed.
func addCDROMs(devs object.VirtualDeviceList, isos []string) ([]types.BaseVirtualDeviceConfigSpec, error) {
	l := make(object.VirtualDeviceList, 0, len(devs)+len(isos))
	for _, d := range devs {
		if c, ok := d.(*types.VirtualIDEController); ok {
			cc := *c
			cc.Device = append([]int32(nil), c.Device...)
			d = &cc
		}
		l = append(l, d)
	}
	var change []types.BaseVirtualDeviceConfigSpec
	for _, iso := range isos {
		var ide *types.VirtualIDEController
		var ides []*types.VirtualIDEController
		for _, d := range l.SelectByType((*types.VirtualIDEController)(nil)) {
			ides = append(ides, d.(*types.VirtualIDEController))
		}
		sort.Slice(ides, func(i, j int) bool { return ides[i].BusNumber < ides[j].BusNumber })
		for _, c := range ides {
			if len(c.Device) < 2 {
				ide = c
				break
			}
		}
		if ide == nil {
			return nil, fmt.Errorf("no free IDE slot")
		}
		cd, err := l.CreateCdrom(ide)
		if err != nil {
			return nil, err
		}
		l.InsertIso(cd, iso)
		l = append(l, cd)
		change = append(change, &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, Device: cd})
	}
	return change, nil
}
