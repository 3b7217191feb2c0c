package spec

import (
	"errors"
	"strings"
	"testing"
)

const inventoryDefaults = `defaults:
  iso: {base: ./CentOS-6.6-x86_64-minimal.iso}
  vsphere: {datacenter: DC0, datastore: LocalDS_0, network: VM Network}
  network: {gateway: 192.0.2.1, dns: [192.0.2.53]}
  rootPassword: {env: MT_ROOT_PASSWORD}
  packages: {source: bundle, bundle: ./mt-bundle.tar}
  configServer: {ip: 192.0.2.5, passphrase: {file: ./passphrase.txt}}
  vm: {cpus: 4, memoryMB: 8192}
targets:
`

func TestParseInventory(t *testing.T) {
	src := inventoryDefaults + `  - name: mt01
    network: {hostname: mt01.example.com, ip: 192.0.2.11/24}
  - name: mt02
    network: {hostname: mt02.example.com, ip: 192.0.2.12/24}
    vm: {memoryMB: 16384}
`
	inv, err := ParseInventory("/fleet/fleet.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Specs) != 2 {
		t.Fatalf("%d specs", len(inv.Specs))
	}
	a, b := inv.Specs[0], inv.Specs[1]
	if a.Network.Gateway != "192.0.2.1" || a.Network.Hostname != "mt01.example.com" || a.VM.MemoryMB != 8192 || a.VM.CPUs != 4 {
		t.Errorf("mt01 not merged: %+v %+v", a.Network, a.VM)
	}
	if b.VM.MemoryMB != 16384 || b.VM.CPUs != 4 {
		t.Errorf("deep merge lost a default: %+v", b.VM)
	}
	if a.ISO.Base != "/fleet/CentOS-6.6-x86_64-minimal.iso" || a.SSH.Address != "192.0.2.11" {
		t.Errorf("paths/address: %q %q", a.ISO.Base, a.SSH.Address)
	}
}

func TestParseInventoryInvalid(t *testing.T) {
	cases := []struct {
		name, targets, want string
		line                int
	}{
		{"duplicate name", "  - name: mt01\n    network: {hostname: mt01.example.com, ip: 192.0.2.11/24}\n  - name: mt01\n    network: {hostname: mt02.example.com, ip: 192.0.2.12/24}\n", `target "mt01" has the same name "mt01" as target "mt01" (line 10)`, 12},
		{"duplicate ip", "  - name: mt01\n    network: {hostname: mt01.example.com, ip: 192.0.2.11/24}\n  - name: mt02\n    network: {hostname: mt02.example.com, ip: 192.0.2.11/24}\n", `same network.ip "192.0.2.11" as target "mt01"`, 13},
		{"bad target value", "  - name: mt01\n    network: {hostname: mt01, ip: 192.0.2.11/24}\n", `target "mt01": "mt01" is not a fully qualified`, 11},
		{"unknown key in target", "  - name: mt01\n    netwrk: {}\n", "unknown key", 11},
		{"no targets", "", "missing or empty", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseInventory("fleet.yaml", []byte(inventoryDefaults+c.targets))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
			if c.line != 0 {
				var ie *InputError
				errors.As(err, &ie)
				if f := findErr(err, c.want); f == nil || f.Line != c.line {
					t.Errorf("line: %v, want %d", err, c.line)
				}
			}
		})
	}
}

// FuzzParseInventory: the inventory loader never panics, its errors name
// the file, and an inventory it accepts has specs with distinct names,
// hostnames and addresses (the duplicates it must refuse).
func FuzzParseInventory(f *testing.F) {
	f.Add([]byte(inventoryDefaults + "  - name: mt01\n    network: {hostname: mt01.example.com, ip: 192.0.2.11/24}\n"))
	f.Add([]byte(inventoryDefaults + "  - name: mt01\n    network: {hostname: mt01.example.com, ip: 192.0.2.11/24}\n  - name: mt01\n    network: {hostname: mt02.example.com, ip: 192.0.2.12/24}\n"))
	f.Add([]byte("defaults: &d {name: x}\ntargets: [*d, *d]\n"))
	f.Add([]byte("targets: [{name: a, defaults: {}}]\n"))
	f.Add([]byte("- 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := ParseInventory("fleet.yaml", data)
		if err != nil {
			if !strings.Contains(err.Error(), "fleet.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		names, hosts, ips := map[string]bool{}, map[string]bool{}, map[string]bool{}
		for _, s := range inv.Specs {
			if names[s.Name] || hosts[s.Network.Hostname] || ips[s.Network.IP] {
				t.Fatalf("accepted a duplicate: %s %s %s", s.Name, s.Network.Hostname, s.Network.IP)
			}
			names[s.Name], hosts[s.Network.Hostname], ips[s.Network.IP] = true, true, true
		}
	})
}
