package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/images"
	"github.com/mtprep/mtprep/internal/testiso"
	"github.com/mtprep/mtprep/provision"
)

// TestWindowsMTOnSimulator: `mtprep plan` and `mtprep build --phases
// iso,upload,vm,enable-uuid` with os: windows-2016 (examples/mt-windows.yaml)
// against an in-process vCenter, with a stand-in Windows Server ISO (a
// UDF bridge disc, testiso.BuildWindows). What the build made is read
// back with govmomi's own calls; a second build changes nothing. No
// Windows runs here: the guest phases are planned, not run.
func TestWindowsMTOnSimulator(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	base, err := testiso.BuildWindows(ctx, dir, "")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	baseBytes, err := os.ReadFile(base)
	if err != nil {
		t.Fatal(err)
	}
	srv, u := cliSim(t)
	// A stand-in for the Win32-OpenSSH release zip: a real zip with the
	// release's top directory and script names, placeholder contents.
	sshZip := filepath.Join(dir, "OpenSSH-Win64.zip")
	writeZip(t, sshZip, map[string]string{"OpenSSH-Win64/install-sshd.ps1": "# stand-in\n", "OpenSSH-Win64/sshd.exe": "MZ stand-in"})
	specFile := writeSpecFrom(t, "../../examples/mt-windows.yaml", func(s string) string {
		s = strings.Replace(s, `cluster: ""`, `cluster: DC0_C0`, 1)
		s = strings.Replace(s, "./OpenSSH-Win64.zip", sshZip, 1)
		return strings.Replace(s, "./en_windows_server_2016_x64_dvd_9718492.iso", base, 1)
	})
	work := filepath.Join(dir, "work")
	t.Setenv("GOVC_URL", u.String())
	t.Setenv("GOVC_USERNAME", "user")
	t.Setenv("GOVC_PASSWORD", "vc-Secret-1")
	t.Setenv("GOVC_INSECURE", "1")
	t.Setenv("MT_ROOT_PASSWORD", "Admin-Pw-1!")
	mtprep := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(append(args, "--spec", specFile, "--work-dir", work), &out, &errb)
		for _, secret := range []string{"vc-Secret-1", "Admin-Pw-1!"} {
			if strings.Contains(out.String()+errb.String(), secret) {
				t.Errorf("a secret appears in the output of %v", args)
			}
		}
		return code, out.String(), errb.String()
	}
	phases := "--phases=iso,upload,vm,enable-uuid"

	// The whole plan: the vSphere phases would change, the guest phases
	// say what they will do on the fresh MT, and the phases Windows has
	// no part for are n/a.
	code, out, errs := mtprep("plan")
	if code != 0 {
		t.Fatalf("plan: exit %d\n%s%s", code, out, errs)
	}
	for _, w := range []string{
		"autounattend.xml",
		"guest windows9Server64Guest, LSI Logic SAS SCSI", "e1000e NIC",
		"packages     n/a", "extract the Unified Setup", "setup64.exe", "format NTFS",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("plan output lacks %q:\n%s", w, out)
		}
	}

	if code, out, errs = mtprep("build", phases); code != 0 {
		t.Fatalf("build: exit %d\n%s%s", code, out, errs)
	}
	if strings.Count(out, "changed") != 4 {
		t.Errorf("first build:\n%s", out)
	}

	// The seed: autounattend.xml first, read back from the ISO; mode 0600
	// (it holds the Administrator password, base64 only).
	seed := filepath.Join(work, "mtw01-seed.iso")
	if fi, err := os.Stat(seed); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("seed %v %v, want mode 0600", fi, err)
	}
	xml, err := images.ReadSeedFile(seed, "autounattend.xml")
	if err != nil || !bytes.Contains(xml, []byte(`<ComputerName>mtw01</ComputerName>`)) {
		t.Fatalf("seed's autounattend.xml: %v\n%s", err, xml)
	}
	if z, err := images.ReadSeedFile(seed, "OpenSSH-Win64.zip"); err != nil || !bytes.Equal(z, must(os.ReadFile(sshZip))) {
		t.Errorf("the seed does not carry windows.openSSH's zip: %v", err)
	}
	if after, _ := os.ReadFile(base); !bytes.Equal(after, baseBytes) {
		t.Error("the base ISO changed: it must be attached untouched")
	}

	// What vSphere holds, read with govmomi.
	u.User = nil
	vu := u
	vu.User = srv.URL.User
	c, err := govmomi.NewClient(ctx, &vu, true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Logout(ctx)
	vmo, err := find.NewFinder(c.Client, true).VirtualMachine(ctx, "/DC0/vm/mtw01")
	if err != nil {
		t.Fatal(err)
	}
	var vm mo.VirtualMachine
	if err := vmo.Properties(ctx, vmo.Reference(), []string{"config"}, &vm); err != nil {
		t.Fatal(err)
	}
	if vm.Config.GuestId != "windows9Server64Guest" {
		t.Errorf("guest ID %s", vm.Config.GuestId)
	}
	var sas, nic, cds int
	var isos []string
	for _, d := range vm.Config.Hardware.Device {
		switch d := d.(type) {
		case *types.VirtualLsiLogicSASController:
			sas++
		case *types.ParaVirtualSCSIController:
			t.Error("a Paravirtual SCSI controller: ASR's reprotect fails with it")
		case *types.VirtualE1000e:
			nic++
		case *types.VirtualCdrom:
			cds++
			if b, ok := d.Backing.(*types.VirtualCdromIsoBackingInfo); ok {
				isos = append(isos, b.FileName)
			}
		}
	}
	if sas != 1 || nic != 1 || cds != 2 || len(isos) != 2 || !strings.Contains(isos[1], "/seeds/mtw01-") {
		t.Errorf("devices: %d LSI Logic SAS, %d e1000e, %d CD-ROMs %v", sas, nic, cds, isos)
	}
	enable := ""
	for _, o := range vm.Config.ExtraConfig {
		if ov := o.GetOptionValue(); ov.Key == "disk.EnableUUID" {
			enable, _ = ov.Value.(string)
		}
	}
	if !strings.EqualFold(enable, "TRUE") {
		t.Errorf("disk.EnableUUID=%q", enable)
	}

	// A second build changes nothing.
	code, out, errs = mtprep("build", phases, "--format", "json")
	if code != 0 {
		t.Fatalf("second build: exit %d\n%s%s", code, out, errs)
	}
	var r report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "attached as it is") || !strings.Contains(out, "Windows Server 2016 or 2019, volume id SSS_X64FREE_EN-US_DV9") {
		t.Errorf("second build does not say the base is attached untouched, with its identity:\n%s", out)
	}
	for _, p := range r.Phases {
		if p.Status != "done" {
			t.Errorf("second build: %s is %s", p.Phase, p.Status)
		}
	}
	for m := range r.VSphere.Calls {
		if strings.HasSuffix(m, "_Task") {
			t.Errorf("second build called %s", m)
		}
	}

	// A CentOS base given as a Windows base is refused before anything
	// changes, exit 2, naming iso.base.
	wrong := writeSpecFrom(t, "../../examples/mt-windows.yaml", func(s string) string {
		s = strings.Replace(s, "./OpenSSH-Win64.zip", sshZip, 1)
		return strings.Replace(s, "./en_windows_server_2016_x64_dvd_9718492.iso", specFile, 1)
	})
	var eo, ee bytes.Buffer
	if code := run([]string{"plan", "--spec", wrong, "--work-dir", filepath.Join(dir, "w2")}, &eo, &ee); code != 2 || !strings.Contains(ee.String(), "iso.base") {
		t.Errorf("a non-Windows base: exit %d, stderr %q", code, ee.String())
	}
}

// writeZip writes a zip of files (name → content).
func writeZip(t *testing.T, path string, files map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestFleetMixedWindowsCLI: one inventory with a CentOS 6.6 MT and a
// Windows MT; `mtprep fleet --phases iso,upload,vm,enable-uuid` on the
// simulator builds both VMs, each with its OS's profile and media (the
// CentOS base remastered, the Windows base attached untouched).
func TestFleetMixedWindowsCLI(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	winBase, err := testiso.BuildWindows(ctx, dir, "")
	if err == nil {
		var centosBase string
		if centosBase, err = testiso.Build(ctx, dir, testiso.Options{}); err == nil {
			defer os.Remove(centosBase)
			testFleetMixed(t, dir, centosBase, winBase)
			return
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(err)
	}
	t.Skip(err)
}

func testFleetMixed(t *testing.T, dir, centosBase, winBase string) {
	_, u := cliSim(t)
	t.Setenv("GOVC_URL", u.String())
	t.Setenv("GOVC_USERNAME", "user")
	t.Setenv("GOVC_PASSWORD", "vc-Secret-1")
	t.Setenv("GOVC_INSECURE", "1")
	t.Setenv("MT_ROOT_PASSWORD", "Admin-Pw-1!")
	key := filepath.Join(dir, "id_rsa")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Skipf("ssh-keygen: %v %s", err, out)
	}
	sshZip := filepath.Join(dir, "OpenSSH-Win64.zip")
	writeZip(t, sshZip, map[string]string{"OpenSSH-Win64/install-sshd.ps1": "# stand-in\n"})
	inv := filepath.Join(dir, "fleet.yaml")
	yaml := fmt.Sprintf(`defaults:
  vsphere: {datacenter: DC0, cluster: DC0_C0, datastore: LocalDS_0, network: VM Network}
  network: {gateway: 192.0.2.1, dns: [192.0.2.53]}
  rootPassword: {env: MT_ROOT_PASSWORD}
  ssh: {privateKey: %s, knownHosts: %s}
  configServer: {ip: 192.0.2.5, passphrase: {env: MT_ROOT_PASSWORD}}
targets:
  - name: mt01
    os: centos-6.6
    iso: {base: %s}
    network: {hostname: mt01.example.com, ip: 192.0.2.11/24}
    packages: {source: vault}
  - name: mtw01
    os: windows-2016
    iso: {base: %s}
    network: {hostname: mtw01.example.com, ip: 192.0.2.21/24}
    windows: {openSSH: %s}
    retention: {mountpoint: "R:", filesystem: ntfs}
`, key, filepath.Join(dir, "known_hosts"), centosBase, winBase, sshZip)
	if err := os.WriteFile(inv, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"fleet", "--inventory", inv, "--concurrency", "2", "--phases", "iso,upload,vm,enable-uuid"}, &out, &errb); code != 0 {
		t.Fatalf("fleet: exit %d\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "2 MTs: 2 done") {
		t.Errorf("summary:\n%s", out.String())
	}
	st, err := provision.ReadFleetState(inv + ".state.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"mt01", "mtw01"} {
		if h := st.Hosts[name]; h == nil || h.Status != provision.HostDone {
			t.Errorf("%s: %+v", name, h)
		}
	}
	// Each VM has its OS's guest ID and controller.
	vu := u
	vu.User = url.UserPassword("user", "vc-Secret-1")
	c, err := govmomi.NewClient(context.Background(), &vu, true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Logout(context.Background())
	for name, want := range map[string]string{"mt01": "centos64Guest", "mtw01": "windows9Server64Guest"} {
		vmo, err := find.NewFinder(c.Client, true).VirtualMachine(context.Background(), "/DC0/vm/"+name)
		if err != nil {
			t.Fatal(err)
		}
		var vm mo.VirtualMachine
		if err := vmo.Properties(context.Background(), vmo.Reference(), []string{"config.guestId"}, &vm); err != nil {
			t.Fatal(err)
		}
		if vm.Config.GuestId != want {
			t.Errorf("%s: guest ID %s, want %s", name, vm.Config.GuestId, want)
		}
	}
}
