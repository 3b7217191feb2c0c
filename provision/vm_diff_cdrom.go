package provision

import (
	"fmt"
	"strings"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/provision/vsphere"
)

// The MT's VM has two CD-ROMs until the install: the shared install media
// in the first, the MT's seed ISO in the second. "First" and "second" are
// the order in which the installer's kernel names them sr0 and sr1, which
// the media's boot argument (ks=hd:sr1:/ks.cfg) relies on: IDE drives by
// channel then master/slave, i.e. by controller bus number then unit
// number; other CD-ROMs (SATA) after them. mtprep creates both on IDE
// controller 0: units 0 and 1. vsphere.OrderedCDROMs puts them in that
// order; what each should hold is decided here.

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
func diffCDROMs(st *vsphere.VM, cds []*types.VirtualCdrom, w vmWant) []vmDiff {
	devs := st.Devices
	on := st.PowerState() == types.VirtualMachinePowerStatePoweredOn
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
		held := vsphere.CDROMISO(&c)
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
	add, err := vsphere.AddCDROMs(devs, isos)
	if err != nil {
		return append(out, vmDiff{What: strings.Join(what, ", "), Why: err.Error() + "; add a CD-ROM with " + strings.Join(isos, " and ") + " by hand"})
	}
	return append(out, vmDiff{What: strings.Join(what, ", "), Fix: "add a CD-ROM with " + strings.Join(isos, ", then one with "),
		apply: func(s *types.VirtualMachineConfigSpec) { s.DeviceChange = append(s.DeviceChange, add...) }})
}
