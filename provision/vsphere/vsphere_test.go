package vsphere

import (
	"context"
	"crypto/tls"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

func TestIsFreeESXiLicense(t *testing.T) {
	for _, c := range []struct {
		l    types.LicenseManagerLicenseInfo
		free bool
	}{
		{types.LicenseManagerLicenseInfo{EditionKey: "esxBasic", Name: "VMware vSphere 6 Hypervisor"}, true},
		{types.LicenseManagerLicenseInfo{EditionKey: "esxBasic.vram", Name: "vSphere Hypervisor"}, true},
		{types.LicenseManagerLicenseInfo{EditionKey: "eval", Name: "Evaluation Mode"}, false},
		{types.LicenseManagerLicenseInfo{EditionKey: "esx.enterprisePlus.cpuPackage", Name: "VMware vSphere 7 Enterprise Plus"}, false},
		{types.LicenseManagerLicenseInfo{EditionKey: "esx.standard.cpuPackage", Name: "VMware vSphere 8 Standard"}, false},
	} {
		if got := IsFreeESXiLicense(c.l); got != c.free {
			t.Errorf("%+v: free=%v", c.l, got)
		}
	}
}

func TestFaultLine(t *testing.T) {
	e := &Error{Op: "reconfigure", Object: "VM mt01", Fault: &types.LocalizedMethodFault{
		Fault:            &types.InvalidPowerState{RequestedState: "poweredOff", ExistingState: "poweredOn"},
		LocalizedMessage: "*types.InvalidPowerState",
	}}
	if got, want := e.Error(), "reconfigure VM mt01: the VM is poweredOn, the operation needs poweredOff (InvalidPowerState)"; got != want {
		t.Errorf("%q\nwant %q", got, want)
	}
	e = &Error{Op: "create", Object: "VM mt01 in /DC0/vm", Fault: &types.LocalizedMethodFault{
		Fault:            &types.RestrictedVersion{},
		LocalizedMessage: "Current license or ESXi version prohibits execution of the requested operation.",
	}}
	if got := e.Error(); !strings.HasPrefix(got, "create VM mt01 in /DC0/vm: Current license") || !strings.Contains(got, "free edition") || !strings.HasSuffix(got, "(RestrictedVersion)") || strings.Contains(got, "\n") {
		t.Errorf("%q", got)
	}
}

func TestCdromLockAnswer(t *testing.T) {
	yesNo := types.ChoiceOption{ChoiceInfo: []types.BaseElementDescription{
		&types.ElementDescription{Key: "0", Description: types.Description{Label: "Yes"}},
		&types.ElementDescription{Key: "1", Description: types.Description{Label: "No"}},
	}}
	cases := []struct {
		name string
		q    types.VirtualMachineQuestionInfo
		want string
		ok   bool
	}{
		{"locked tray", types.VirtualMachineQuestionInfo{Id: "q1", Text: "The guest operating system has locked the CD-ROM door and is probably using the CD-ROM...", Choice: yesNo}, "0", true},
		{"by message id", types.VirtualMachineQuestionInfo{Id: "q2", Message: []types.VirtualMachineMessage{{Id: "msg.cdromdisconnect.locked"}}, Choice: yesNo}, "0", true},
		{"another question", types.VirtualMachineQuestionInfo{Id: "q3", Text: "This virtual machine might have been moved or copied.", Choice: yesNo}, "", false},
	}
	for _, c := range cases {
		got, ok := CDROMLockAnswer(&c.q)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: %q %v", c.name, got, ok)
		}
	}
}

// TestConnectConfigErrors: without Config.InputError, a bad value comes
// back as a *ConfigError naming the key; with it, as the caller's error.
func TestConnectConfigErrors(t *testing.T) {
	m := simulator.VPX()
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	m.Service.TLS = new(tls.Config)
	m.Service.Listen = &url.URL{User: url.UserPassword("user", "pass")}
	srv := m.Service.NewServer()
	defer func() { srv.Close(); m.Remove() }()
	u := *srv.URL
	u.User = nil
	cfg := Config{URL: u.String(), Username: "user", Password: func() (string, error) { return "pass", nil }, Insecure: true,
		Datacenter: "DC0", Datastore: "NoSuchDS", Network: "VM Network", Cluster: "DC0_C0"}
	ctx := context.Background()
	s, err := Connect(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Logout() }()
	_, err = s.Inventory(ctx)
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Key != "vsphere.datastore" || !strings.Contains(err.Error(), `datastore "NoSuchDS" not found in datacenter DC0 (found: LocalDS_0)`) {
		t.Fatalf("got %v, want a ConfigError on vsphere.datastore", err)
	}
	if rt := s.RoundTrips(); rt.SOAP() == 0 || rt.Calls["RetrieveProperties"] == 0 {
		t.Errorf("round trips not counted: %+v", rt)
	}

	mine := errors.New("mine")
	cfg.Password = func() (string, error) { return "wrong", nil }
	cfg.InputError = func(key, problem, fix string) error {
		if key != "vsphere.password" || !strings.Contains(problem, "InvalidLogin") {
			t.Errorf("InputError(%q, %q, %q)", key, problem, fix)
		}
		return mine
	}
	if _, err := Connect(ctx, cfg); !errors.Is(err, mine) {
		t.Fatalf("bad password: %v, want the caller's error", err)
	}
}
