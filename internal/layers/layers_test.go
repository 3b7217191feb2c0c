package layers

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/mtprep/mtprep"

// osPackages are the packages that hold one OS each.
var osPackages = []string{module + "/centos", module + "/windows", module + "/ubuntu", module + "/linux"}

type pkg struct {
	ImportPath string
	Deps       []string // every package it imports, directly or not
}

// list runs go list -deps over the module's packages (not their tests)
// and returns each of the module's packages with its transitive imports.
func list(t *testing.T) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Deps", module+"/...")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list: %v\n%s", err, errb.String())
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(&out)
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	return pkgs
}

func under(path, root string) bool { return path == root || strings.HasPrefix(path, root+"/") }

func TestLayers(t *testing.T) {
	pkgs := list(t)
	isOS := func(p string) bool {
		return slices.ContainsFunc(osPackages, func(o string) bool { return under(p, o) })
	}
	rules := []struct {
		name string
		// applies picks the packages the rule is about.
		applies func(p string) bool
		// forbidden is true for an import the rule refuses.
		forbidden func(dep string) bool
	}{
		{"provision/spec imports no other package of this module",
			func(p string) bool { return under(p, module+"/provision/spec") },
			func(d string) bool { return under(d, module) && !under(d, module+"/provision/spec") }},
		{"provision/vsphere imports neither provision/spec nor an OS package nor the runner",
			func(p string) bool { return under(p, module+"/provision/vsphere") },
			func(d string) bool {
				return under(d, module+"/provision/spec") || isOS(d) || d == module+"/provision"
			}},
		// The audit reads what the phases made; it never runs them (its
		// tests may build MTs through provision: test imports are not
		// deps here).
		{"provision/audit does not import provision (the runner)",
			func(p string) bool { return under(p, module+"/provision/audit") },
			func(d string) bool { return d == module+"/provision" }},
		// An OS implements the OS interface (provision/guest) and reads the
		// spec (provision/spec); the runner, the vSphere driver and the
		// audit are not its business.
		{"OS packages never import provision, provision/vsphere, provision/audit or govmomi",
			isOS,
			func(d string) bool {
				return d == module+"/provision" || under(d, module+"/provision/vsphere") || under(d, module+"/provision/audit") ||
					under(d, "github.com/vmware/govmomi")
			}},
		{"provision and its sub-packages never import an OS package",
			func(p string) bool { return under(p, module+"/provision") },
			isOS},
	}
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			n := 0
			for path, p := range pkgs {
				if !r.applies(path) {
					continue
				}
				n++
				for _, d := range p.Deps {
					if r.forbidden(d) {
						t.Errorf("%s imports %s (directly or through another package)", path, d)
					}
				}
			}
			if n == 0 {
				t.Errorf("no package of this module is subject to this rule: is the layout in DESIGN.md still the tree's?")
			}
		})
	}
}
