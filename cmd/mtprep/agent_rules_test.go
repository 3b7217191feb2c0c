package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/simulator"
)

// TestAgentRulesRefuseBeforeAnything: an agent ASR does not allow on a
// CentOS 6.6 MT is refused by plan and build with exit 2, naming its
// version and the rule, before any phase runs: no VM exists afterwards,
// whatever --phases says.
func TestAgentRulesRefuseBeforeAnything(t *testing.T) {
	m := simulator.VPX()
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	m.Service.TLS = new(tls.Config)
	m.Service.Listen = &url.URL{User: url.UserPassword("user", "vc-Secret-1")}
	srv := m.Service.NewServer()
	defer func() { srv.Close(); m.Remove() }()
	u := *srv.URL
	u.User = nil
	t.Setenv("GOVC_URL", u.String())
	t.Setenv("GOVC_USERNAME", "user")
	t.Setenv("GOVC_PASSWORD", "vc-Secret-1")
	t.Setenv("GOVC_INSECURE", "1")
	t.Setenv("MT_ROOT_PASSWORD", "Root-Pw-1")

	// No MT answers SSH here: a closed port.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()

	cases := []struct {
		name, tarball, csVersion string
		stderr                   []string
	}{
		{"9.11 on CentOS 6.6", "Microsoft-ASR_UA_9.11.0.0_RHEL6-64_GA_x.tar.gz", "",
			[]string{"agent.tarball: agent 9.11.0.0", "only on Ubuntu 16.04", "fix:"}},
		{"9.10 new on CentOS 6.6", "Microsoft-ASR_UA_9.10.0.0_RHEL6-64_GA_x.tar.gz", "",
			[]string{"agent 9.10.0.0", "only as an upgrade", "the MT does not answer yet"}},
		{"newer than the CS", "Microsoft-ASR_UA_9.3.0.0_RHEL6-64_GA_x.tar.gz", "9.2.0.0",
			[]string{"agent 9.3.0.0", "newer than the configuration server's 9.2.0.0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			specFile := writeSpec(t, func(s string) string {
				s = strings.Replace(s, "./ASR_UA_RHEL6-64.tar.gz", "./"+c.tarball, 1)
				if c.csVersion != "" {
					s = strings.Replace(s, "  ip: 192.0.2.5\n", "  ip: 192.0.2.5\n  version: "+c.csVersion+"\n", 1)
				}
				s = strings.Replace(s, `cluster: ""`, `cluster: DC0_C0`, 1)
				return strings.Replace(s, `address: ""                            # empty: network.ip's address`, "address: 127.0.0.1\n  port: "+port, 1)
			})
			for _, args := range [][]string{{"plan"}, {"build"}, {"build", "--phases", "upload,vm"}} {
				var out, errb bytes.Buffer
				code := run(append(args, "--spec", specFile, "--work-dir", t.TempDir()), &out, &errb)
				if code != 2 {
					t.Errorf("%v: exit %d, want 2\n%s%s", args, code, out.String(), errb.String())
				}
				for _, w := range c.stderr {
					if !strings.Contains(errb.String(), w) {
						t.Errorf("%v: stderr lacks %q:\n%s", args, w, errb.String())
					}
				}
			}
			ctx := context.Background()
			vc, err := govmomi.NewClient(ctx, srv.URL, true)
			if err != nil {
				t.Fatal(err)
			}
			defer vc.Logout(ctx)
			if vm, err := find.NewFinder(vc.Client, true).VirtualMachine(ctx, "/DC0/vm/mt01"); err == nil {
				t.Errorf("VM %s exists after a refusal", vm.InventoryPath)
			}
		})
	}
}
