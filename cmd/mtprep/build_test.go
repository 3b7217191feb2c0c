package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/provision"
	"github.com/mtprep/mtprep/provision/spec"
)

// TestBuildAndPlanCLI drives `mtprep plan` and `mtprep build` against an
// in-process vCenter, connected through the govc variables.
func TestBuildAndPlanCLI(t *testing.T) {
	srv, u := cliSim(t)

	// The MT's sshd, answering once the VM is "installed".
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("SSH-2.0-OpenSSH_5.3\r\n"))
			c.Close()
		}
	}()
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)

	specFile := writeSpec(t, func(s string) string {
		s = strings.Replace(s, `cluster: ""`, `cluster: DC0_C0`, 1)
		s = strings.Replace(s, `address: ""                            # empty: network.ip's address`, "address: 127.0.0.1\n  port: "+port, 1)
		return s
	})
	work := t.TempDir()
	// Stand-ins for what the iso phase writes (its own tests remaster a
	// real base): the shared media and this MT's seed.
	sp, err := spec.Load(specFile)
	if err != nil {
		t.Fatal(err)
	}
	media := provision.SharedMediaPath(filepath.Join(work, "media"), sp.ISO.Base)
	_ = os.MkdirAll(filepath.Dir(media), 0o755)
	if err := os.WriteFile(media, bytes.Repeat([]byte("iso!"), 300000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "mt01-seed.iso"), bytes.Repeat([]byte("ks!"), 20000), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOVC_URL", u.String())
	t.Setenv("GOVC_USERNAME", "user")
	t.Setenv("GOVC_PASSWORD", "vc-Secret-1")
	t.Setenv("GOVC_INSECURE", "1")
	t.Setenv("MT_ROOT_PASSWORD", "Root-Pw-1")
	vsphere := "--phases=upload,vm,enable-uuid,install"

	mtprep := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(append(args, "--spec", specFile, "--work-dir", work), &out, &errb)
		if strings.Contains(out.String()+errb.String(), "vc-Secret-1") {
			t.Errorf("the vCenter password appears in the output of %v", args)
		}
		return code, out.String(), errb.String()
	}

	code, out, errs := mtprep("plan", vsphere)
	if code != 0 {
		t.Fatalf("plan: exit %d\n%s%s", code, out, errs)
	}
	for _, w := range []string{"PHASE", "upload       would-change  upload ", "vm           would-change  create VM mt01", "enable-uuid  would-change", "install      would-change  power on VM mt01"} {
		if !strings.Contains(out, w) {
			t.Errorf("plan output lacks %q:\n%s", w, out)
		}
	}

	if code, out, errs = mtprep("build", vsphere); code != 0 {
		t.Fatalf("build: exit %d\n%s%s", code, out, errs)
	}
	if strings.Count(out, "changed") != 4 {
		t.Errorf("first build:\n%s", out)
	}

	code, out, errs = mtprep("build", vsphere, "--format", "json")
	if code != 0 {
		t.Fatalf("second build: exit %d\n%s%s", code, out, errs)
	}
	var r report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !r.OK || len(r.Phases) != 4 || r.Facts == nil || r.Facts.VMMoRef == "" || r.VSphere == nil {
		t.Fatalf("second build: %s", out)
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

	// Exit codes.
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"unknown phase", []string{"build", "--phases", "vm,nope"}, 2, `unknown phase "nope"`},
		{"bad format", []string{"plan", "--format", "xml"}, 2, "--format"},
		{"missing datastore", []string{"plan", vsphere}, 2, `datastore "NoSuchDS" not found`},
		{"failed phase", []string{"build", "--phases", "enable-uuid"}, 1, "is poweredOn"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "missing datastore" {
				t.Setenv("GOVC_DATASTORE", "NoSuchDS")
				spec2 := writeSpec(t, func(s string) string { return strings.Replace(s, "datastore: LocalDS_0", `datastore: ""`, 1) })
				var out, errb bytes.Buffer
				if code := run(append(c.args, "--spec", spec2, "--work-dir", work), &out, &errb); code != c.code || !strings.Contains(errb.String(), c.stderr) {
					t.Errorf("exit %d, want %d; stderr %q", code, c.code, errb.String())
				}
				return
			}
			if c.name == "failed phase" {
				// Make enable-uuid apply on the powered-on VM.
				if err := unsetEnableUUID(srv.URL, "mt01"); err != nil {
					t.Fatal(err)
				}
			}
			code, out, errs := mtprep(c.args...)
			if code != c.code || !strings.Contains(errs, c.stderr) {
				t.Errorf("exit %d, want %d; stdout %q stderr %q", code, c.code, out, errs)
			}
		})
	}
}

// cliSim starts an in-process vCenter (user "user", password
// "vc-Secret-1") for the CLI tests; u is its URL without the user.
func cliSim(t *testing.T) (*simulator.Server, url.URL) {
	t.Helper()
	m := simulator.VPX()
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	m.Service.TLS = new(tls.Config)
	m.Service.Listen = &url.URL{User: url.UserPassword("user", "vc-Secret-1")}
	srv := m.Service.NewServer()
	t.Cleanup(func() { srv.Close(); m.Remove() })
	u := *srv.URL
	u.User = nil
	return srv, u
}

// unsetEnableUUID clears disk.EnableUUID on the VM, through the API.
func unsetEnableUUID(u *url.URL, name string) error {
	ctx := context.Background()
	c, err := govmomi.NewClient(ctx, u, true)
	if err != nil {
		return err
	}
	defer c.Logout(ctx)
	vm, err := find.NewFinder(c.Client, true).VirtualMachine(ctx, "/DC0/vm/"+name)
	if err != nil {
		return err
	}
	task, err := vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{
		ExtraConfig: []types.BaseOptionValue{&types.OptionValue{Key: "disk.EnableUUID", Value: ""}},
		Flags:       &types.VirtualMachineFlagInfo{DiskUuidEnabled: types.NewBool(false)},
	})
	if err != nil {
		return err
	}
	return task.Wait(ctx)
}
