package windows

import (
	"errors"
	"strings"
	"testing"

	"github.com/mtprep/mtprep/provision/spec"
	"github.com/mtprep/mtprep/provision/spec/spectest"
)

// FuzzAutounattend: any string in any spec value the answer file takes
// (host name, password, DNS, time zone, IP, gateway, image name, product
// key) either is refused or renders an answer file that parses and has
// exactly the element structure of the base one: one Disk (DiskID 0), one
// first-logon command (the constant one), no element a value added.
func FuzzAutounattend(f *testing.F) {
	f.Add("mt01.example.com", "pw", "192.0.2.53", "America/New_York", "192.0.2.10/24", "192.0.2.1", "", "")
	f.Add("mt01</ComputerName><Disk><DiskID>1</DiskID><WillWipeDisk>true</WillWipeDisk></Disk>", "pw", "192.0.2.53", "UTC", "192.0.2.10/24", "192.0.2.1", "", "")
	f.Add("mt01", "</Value></AdministratorPassword><SynchronousCommand><CommandLine>calc</CommandLine></SynchronousCommand>", "192.0.2.53", "UTC", "192.0.2.10/24", "", "", "")
	f.Add("mt01", "pw", "192.0.2.53</IpAddress><IpAddress>6.6.6.6", "Europe/Berlin", "192.0.2.10/24", "192.0.2.1", "x]]><Disk/>", "")
	f.Add("mt01", "p\x00w\xff\ufffe", "1.1.1.1", "Europe/Berlin\n<TimeZone>", "10.0.0.2/8", "10.0.0.1", "Windows Server 2016 SERVERDATACENTER' & \"", "AAAAA-BBBBB-CCCCC-DDDDD-EEEEE")
	base, err := spec.Parse("mt01.yaml", []byte(spectest.Valid))
	if err != nil {
		f.Fatal(err)
	}
	// The reference structures: with and without a gateway (Routes) and a
	// product key (ProductKey), the two optional parts.
	want := map[[2]bool]string{}
	for _, gw := range []bool{false, true} {
		for _, key := range []bool{false, true} {
			s := *base
			o := Options{}
			if !gw {
				s.Network.Gateway = ""
			}
			if key {
				o.ProductKey = "AAAAA-BBBBB-CCCCC-DDDDD-EEEEE"
			}
			u, err := UnattendFor(&s, "pw", o)
			if err != nil {
				f.Fatal(err)
			}
			ref, err := u.Render()
			if err != nil {
				f.Fatal(err)
			}
			want[[2]bool{gw, key}] = shape(f, ref)
		}
	}
	f.Fuzz(func(t *testing.T, host, password, dns, tz, ip, gw, image, key string) {
		s := *base
		s.Network.Hostname, s.Network.DNS, s.Timezone, s.Network.IP, s.Network.Gateway = host, []string{dns}, tz, ip, gw
		u, err := UnattendFor(&s, password, Options{ImageName: image, ProductKey: key})
		if err != nil {
			var ie *spec.InputError
			if !errors.As(err, &ie) && !strings.HasPrefix(err.Error(), "windows: ") {
				t.Fatalf("refusal is neither an input error nor the renderer's: %v", err)
			}
			return
		}
		out, err := u.Render()
		if err != nil {
			t.Fatalf("render: %v", err)
		}
		// A host name without a domain has no DNSDomain: the one
		// element a value may leave out.
		got := strings.Replace(shape(t, out), dnsDomainShape, "", 1)
		w := strings.Replace(want[[2]bool{gw != "", key != ""}], dnsDomainShape, "", 1)
		if got != w {
			t.Fatalf("structure changed:\n%s", out)
		}
		checkStructure(t, out, BIOS)
	})
}

const dnsDomainShape = "/unattend/settings/component/Interfaces/Interface/DNSDomain\n"
