package layers

import (
	"bytes"
	"encoding/json"
	"fmt"
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
	Imports    []string // what it imports directly
	Deps       []string // every package it imports, directly or not
}

// list runs go list -deps over the module's packages (not their tests)
// and returns them and every package they import, each with its direct
// and transitive imports.
func list(t *testing.T) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Imports,Deps", module+"/...")
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
				if !under(path, module) || !r.applies(path) {
					continue
				}
				n++
				for _, line := range violations(pkgs, p, r.forbidden) {
					t.Error(line)
				}
			}
			if n == 0 {
				t.Errorf("no package of this module is subject to this rule: is the layout in DESIGN.md still the tree's?")
			}
		})
	}
}

// violations names, for each direct import of p that is forbidden or
// brings a forbidden package in, the import and what it brings: one line
// per import, not one per package of govmomi.
func violations(pkgs map[string]pkg, p pkg, forbidden func(string) bool) []string {
	var out []string
	for _, i := range p.Imports {
		if forbidden(i) {
			out = append(out, p.ImportPath+" imports "+i)
			continue
		}
		var bad []string
		for _, d := range pkgs[i].Deps {
			if forbidden(d) {
				bad = append(bad, d)
			}
		}
		switch len(bad) {
		case 0:
		case 1:
			out = append(out, p.ImportPath+" imports "+i+", which imports "+bad[0])
		default:
			out = append(out, fmt.Sprintf("%s imports %s, which imports %s and %d more forbidden packages", p.ImportPath, i, bad[0], len(bad)-1))
		}
	}
	return out
}

func TestViolations(t *testing.T) {
	pkgs := map[string]pkg{
		"m/a":   {ImportPath: "m/a", Imports: []string{"m/b", "std"}, Deps: []string{"m/b", "m/c", "g/x", "g/y", "std"}},
		"m/b":   {ImportPath: "m/b", Imports: []string{"m/c"}, Deps: []string{"m/c", "g/x", "g/y"}},
		"m/c":   {ImportPath: "m/c", Imports: []string{"g/x", "g/y"}, Deps: []string{"g/x", "g/y"}},
		"m/one": {ImportPath: "m/one", Imports: []string{"m/c2"}, Deps: []string{"m/c2", "g/x"}},
		"m/c2":  {ImportPath: "m/c2", Imports: []string{"g/x"}, Deps: []string{"g/x"}},
	}
	isG := func(d string) bool { return strings.HasPrefix(d, "g/") }
	tests := []struct {
		pkg  string
		want []string
	}{
		{"m/a", []string{"m/a imports m/b, which imports g/x and 1 more forbidden packages"}},
		{"m/c", []string{"m/c imports g/x", "m/c imports g/y"}},
		{"m/one", []string{"m/one imports m/c2, which imports g/x"}},
	}
	for _, tt := range tests {
		if got := violations(pkgs, pkgs[tt.pkg], isG); !slices.Equal(got, tt.want) {
			t.Errorf("violations(%s) = %q, want %q", tt.pkg, got, tt.want)
		}
	}
}
