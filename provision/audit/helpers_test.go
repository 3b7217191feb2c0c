package audit

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vmware/govmomi/simulator"

	"github.com/mtprep/mtprep/centos"
	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/provision/spec"
	"github.com/mtprep/mtprep/provision/spec/spectest"
)

const validSpec = spectest.Valid

// testOS is what cmd/mtprep maps os: centos-6.6 to. Tests may use an OS
// package; provision/audit itself never imports one (internal/layers).
func testOS(name string) (*guest.OS, bool) {
	if name == centos.Name {
		return centos.OS(), true
	}
	return nil, false
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const testVCPassword = "pass"

// sim is an in-process vCenter (govmomi's simulator).
type sim struct {
	model *simulator.Model
	srv   *simulator.Server
}

// simSpec is the spec of mt01 on a simulator, and the environment that
// holds its vCenter password.
type simSpec struct {
	Spec *spec.Spec
	Env  spec.LookupEnv
}

// simMT is mt01's spec pointed at the simulator (as provision's tests
// make their Target's), edited by edit.
func simMT(t *testing.T, s *sim, edit func(*spec.Spec)) *simSpec {
	t.Helper()
	sp, err := spec.Parse(filepath.Join(t.TempDir(), "mt01.yaml"), []byte(validSpec))
	if err != nil {
		t.Fatal(err)
	}
	u := *s.srv.URL
	u.User = nil
	sp.VSphere.URL = u.String()
	sp.VSphere.Username = "user"
	sp.VSphere.Password = spec.Secret{Env: "TEST_VC_PASSWORD"}
	sp.VSphere.Insecure = true
	sp.VSphere.Cluster = "DC0_C0"
	if edit != nil {
		edit(sp)
	}
	env := func(k string) (string, bool) {
		if k == "TEST_VC_PASSWORD" {
			return testVCPassword, true
		}
		return "", false
	}
	return &simSpec{Spec: sp, Env: env}
}
