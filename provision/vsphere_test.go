package provision

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/simulator/esx"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/centos"
	"github.com/mtprep/mtprep/provision/spec"
)

// sim is an in-process vCenter (govmomi's simulator) and a client of the
// test's own, for checking results independently of mtprep's code.
type sim struct {
	model *simulator.Model
	srv   *simulator.Server
	c     *vim25.Client
}

func newSim(t *testing.T) *sim {
	t.Helper()
	m := simulator.VPX()
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	m.Service.TLS = new(tls.Config)
	// Only this user and password log in (the default is any).
	m.Service.Listen = &url.URL{User: url.UserPassword("user", testVCPassword)}
	srv := m.Service.NewServer()
	t.Cleanup(func() { srv.Close(); m.Remove() })
	c, err := govmomi.NewClient(context.Background(), srv.URL, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Logout(context.Background()) })
	return &sim{model: m, srv: srv, c: c.Client}
}

// tasks counts the simulator's task objects: a run that changes nothing
// starts none. (Tasks are not managed entities: Map().All("Task") would
// always be empty.)
func (s *sim) tasks() int { return len(s.model.Map().AllReference("Task")) }

// sshGuest is a local listener that answers like CentOS 6.6's sshd, the
// "guest" the install phase waits for.
func sshGuest(t *testing.T) (string, int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
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
	a := l.Addr().(*net.TCPAddr)
	return a.IP.String(), a.Port
}

const testVCPassword = "pass"

// simTarget is a Target for mt01 on the simulator, with a small random
// file as its ISO and the SSH "guest" at sshAddr:sshPort (0: none).
func simTarget(t *testing.T, s *sim, sshAddr string, sshPort int, edit func(*spec.Spec)) *Target {
	t.Helper()
	spec_, err := spec.Parse(filepath.Join(t.TempDir(), "mt01.yaml"), []byte(validSpec))
	if err != nil {
		t.Fatal(err)
	}
	u := *s.srv.URL
	u.User = nil
	spec_.VSphere.URL = u.String()
	spec_.VSphere.Username = "user"
	spec_.VSphere.Password = spec.Secret{Env: "TEST_VC_PASSWORD"}
	spec_.VSphere.Insecure = true
	spec_.VSphere.Cluster = "DC0_C0"
	if sshPort != 0 {
		spec_.SSH.Address, spec_.SSH.Port = sshAddr, sshPort
	}
	if edit != nil {
		edit(spec_)
	}
	// Random bytes for the shared media and the seed: the vSphere phases
	// only move and attach them.
	iso := filepath.Join(t.TempDir(), "media.iso")
	seed := filepath.Join(t.TempDir(), "mt01-seed.iso")
	for _, f := range []struct {
		path string
		size int
	}{{iso, 1<<20 + 123}, {seed, 64 << 10}} {
		b := make([]byte, f.size)
		_, _ = rand.Read(b)
		if err := os.WriteFile(f.path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := func(k string) (string, bool) {
		switch k {
		case "TEST_VC_PASSWORD":
			return testVCPassword, true
		case "TEST_VC_WRONG":
			return "wrong", true
		}
		return "", false
	}
	tg := &Target{
		Spec: spec_, OS: centos.OS(), Env: env, Log: slog.New(slog.DiscardHandler),
		Options: BuildOptions{WorkDir: t.TempDir(), InstallTimeout: 30 * 1e9},
	}
	tg.Facts.ISOLocal, tg.Facts.SeedLocal = iso, seed
	t.Cleanup(func() { _ = tg.Close() })
	return tg
}

// sameISOs gives dst the local media and seed of src, as a second run
// over the same work directory would find them.
func sameISOs(dst, src *Target) {
	dst.Facts.ISOLocal, dst.Facts.SeedLocal = src.Facts.ISOLocal, src.Facts.SeedLocal
}

func vspherePhases(t *testing.T, names string) []Phase {
	t.Helper()
	if names == "" {
		names = "upload,vm,enable-uuid,install"
	}
	ps, err := Select(Phases(), names)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func statuses(rs []Result) string {
	var l []string
	for _, r := range rs {
		l = append(l, r.Phase+"="+string(r.Status))
	}
	return strings.Join(l, " ")
}

func TestConnectErrors(t *testing.T) {
	s := newSim(t)
	// A port nothing listens on.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()
	// An HTTPS server that is not vSphere.
	cases := []struct {
		name    string
		edit    func(*spec.Spec)
		input   bool // an InputError (exit 2)
		key     string
		message string
	}{
		{"no url", func(sp *spec.Spec) { sp.VSphere.URL = "" }, true, "vsphere.url", "not set"},
		{"nothing listening", func(sp *spec.Spec) { sp.VSphere.URL = "https://" + closed + "/sdk" }, false, "", "cannot reach vSphere"},
		{"unknown host", func(sp *spec.Spec) { sp.VSphere.URL = "https://vcenter.invalid/sdk" }, true, "vsphere.url", "cannot resolve host"},
		{"not an sdk", func(sp *spec.Spec) { sp.VSphere.URL = strings.Replace(sp.VSphere.URL, "/sdk", "/nope", 1) }, true, "vsphere.url", "does not answer as a vSphere SDK endpoint"},
		{"untrusted certificate", func(sp *spec.Spec) { sp.VSphere.Insecure = false }, true, "vsphere.url", "is not trusted"},
		{"wrong thumbprint", func(sp *spec.Spec) {
			sp.VSphere.Insecure = false
			sp.VSphere.Thumbprint = strings.TrimSuffix(strings.Repeat("AB:", 32), ":")
		}, true, "vsphere.thumbprint", "not the pinned"},
		{"bad password", func(sp *spec.Spec) { sp.VSphere.Password = spec.Secret{Env: "WRONG_PW"} }, true, "vsphere.password", "WRONG_PW is not set"},
		{"bad credentials", func(sp *spec.Spec) { sp.VSphere.Password = spec.Secret{Env: "TEST_VC_WRONG"} }, true, "vsphere.password", "InvalidLogin"},
		{"missing datacenter", func(sp *spec.Spec) { sp.VSphere.Datacenter = "DC9" }, true, "vsphere.datacenter", `datacenter "DC9" not found (found: DC0)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tg := simTarget(t, s, "", 0, c.edit)
			err := tg.ConnectVSphere(context.Background())
			if err == nil {
				t.Fatal("connected")
			}
			var ie *spec.InputError
			if errors.As(err, &ie) != c.input || (c.input && ie.Key != c.key) {
				t.Errorf("InputError %v (key %v), want %v %q: %v", errors.As(err, &ie), ie, c.input, c.key, err)
			}
			if !strings.Contains(err.Error(), c.message) {
				t.Errorf("error %q does not say %q", err, c.message)
			}
			if strings.Contains(err.Error(), testVCPassword+"@") || strings.Contains(err.Error(), ":"+testVCPassword) {
				t.Errorf("the password leaks: %v", err)
			}
		})
	}

	t.Run("pinned thumbprint", func(t *testing.T) {
		tg := simTarget(t, s, "", 0, func(sp *spec.Spec) {
			sp.VSphere.Insecure = false
			sp.VSphere.Thumbprint = soap.ThumbprintSHA256(s.srv.Certificate())
		})
		if err := tg.ConnectVSphere(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("untrusted certificate shows the thumbprint to pin", func(t *testing.T) {
		tg := simTarget(t, s, "", 0, func(sp *spec.Spec) { sp.VSphere.Insecure = false })
		err := tg.ConnectVSphere(context.Background())
		if err == nil || !strings.Contains(err.Error(), soap.ThumbprintSHA256(s.srv.Certificate())) {
			t.Errorf("%v", err)
		}
	})
	t.Run("GOVC_PASSWORD", func(t *testing.T) {
		tg := simTarget(t, s, "", 0, func(sp *spec.Spec) { sp.VSphere.Password = spec.Secret{} })
		tg.Env = func(k string) (string, bool) {
			if k == "GOVC_PASSWORD" {
				return testVCPassword, true
			}
			return "", false
		}
		tg.Spec.VSphere.ApplyGovcEnv(tg.Env)
		if err := tg.ConnectVSphere(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestMissingInventory(t *testing.T) {
	s := newSim(t)
	cases := []struct {
		name, key, message string
		edit               func(*spec.Spec)
		phases             string
	}{
		{"datastore", "vsphere.datastore", `datastore "NoSuchDS" not found in datacenter DC0 (found: LocalDS_0)`, func(sp *spec.Spec) { sp.VSphere.Datastore = "NoSuchDS" }, "upload"},
		{"network", "vsphere.network", `network "NoSuchNet" not found`, func(sp *spec.Spec) { sp.VSphere.Network = "NoSuchNet" }, "vm"},
		{"folder", "vsphere.folder", "not found", func(sp *spec.Spec) { sp.VSphere.Folder = "nope" }, "vm"},
		{"host", "vsphere.host", `ESXi host "esx9" not found`, func(sp *spec.Spec) { sp.VSphere.Host = "esx9" }, "upload,vm"},
		{"cluster", "vsphere.cluster", `cluster "C9" not found`, func(sp *spec.Spec) { sp.VSphere.Cluster = "C9" }, "upload,vm"},
		{"neither host nor cluster", "vsphere.host", "datacenter DC0 has several", func(sp *spec.Spec) { sp.VSphere.Cluster = "" }, "upload,vm"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tg := simTarget(t, s, "", 0, c.edit)
			before := s.tasks()
			_, err := Build(context.Background(), tg, vspherePhases(t, c.phases))
			var ie *spec.InputError
			if !errors.As(err, &ie) || ie.Key != c.key || !strings.Contains(err.Error(), c.message) {
				t.Fatalf("got %v, want an InputError on %s saying %q", err, c.key, c.message)
			}
			if c.name == "datastore" && s.tasks() != before {
				t.Error("a task ran before the missing datastore was reported")
			}
		})
	}
}

func TestFreeESXiRefused(t *testing.T) {
	m := simulator.ESX()
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	m.Service.TLS = new(tls.Config)
	lm := m.Map().Get(*esx.ServiceContent.LicenseManager).(*simulator.LicenseManager)
	lm.Licenses = []types.LicenseManagerLicenseInfo{{LicenseKey: "00000-00000-00000-00000-00000", EditionKey: "esxBasic", Name: "VMware vSphere 7 Hypervisor"}}
	srv := m.Service.NewServer()
	defer func() { srv.Close(); m.Remove() }()
	s := &sim{model: m, srv: srv}
	tg := simTarget(t, s, "", 0, func(sp *spec.Spec) { sp.VSphere.Datacenter = "" })
	rs, err := Plan(context.Background(), tg, vspherePhases(t, ""))
	if err == nil || !strings.Contains(err.Error(), "free edition") || !strings.Contains(err.Error(), "cannot fail back") {
		t.Fatalf("plan on a free ESXi: %v %s", err, statuses(rs))
	}
}
