package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtprep/mtprep/internal/lab"
	"github.com/mtprep/mtprep/provision/spec"
)

// TestFleetMixedOS: one `mtprep fleet` run builds a CentOS 6.6 MT and an
// Ubuntu 16.04 MT side by side from one inventory (os: per target), each
// from its own base's shared media and its own seed (a kickstart, a
// preseed). A second run changes nothing.
func TestFleetMixedOS(t *testing.T) {
	l := lab.StartWith(t, lab.Options{Guests: 2, GuestFlavours: []string{lab.FlavourCentOS, lab.FlavourUbuntu}})
	bin, baseISO := getFixtures(t)
	ubuntuISO := getUbuntuBase(t)
	g1, g2 := l.Guests[0], l.Guests[1]
	w, err := l.WatchInstalls(context.Background(), map[string]*lab.Guest{"mt01": g1, "mt02": g2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "vc-password"), []byte(l.VC.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	u := *l.VC.URL
	u.User = nil
	inv := filepath.Join(dir, "fleet.yaml")
	yaml := fmt.Sprintf(`# e2e: a CentOS and an Ubuntu MT on lab guests %s and %s
defaults:
  vsphere:
    url: %s
    username: %s
    password: {file: ./vc-password}
    thumbprint: %s
    datacenter: %s
    host: DC0_H0
    datastore: %s
    network: %s
  network: {gateway: %s, dns: [%s]}
  timezone: UTC
  rootPassword: {env: MT_ROOT_PASSWORD}
  ssh: {user: root, privateKey: %s, knownHosts: ./known_hosts, hostKey: strict}
  configServer: {ip: %s, port: %d, passphrase: {file: %s}}
targets:
  - name: mt01
    os: centos-6.6
    iso: {base: %s}
    network: {hostname: mt01.lab.local, ip: %s/24, device: eth0}
    packages: {source: bundle, bundle: %s}
    agent: {tarball: %s}
  - name: mt02
    os: ubuntu-16.04
    iso: {base: %s}
    network: {hostname: mt02.lab.local, ip: %s/24, device: ens160}
    packages: {source: bundle, bundle: %s}
    agent: {tarball: %s}
`, g1.Name, g2.Name, u.String(), l.VC.Username, l.VC.Thumbprint, l.VC.Datacenter, l.VC.Datastore, l.VC.Network,
		l.HostIP, l.HostIP, g1.UserKeyFile, l.ConfigServer.IP, l.ConfigServer.Port, l.ConfigServer.PassphraseFile,
		baseISO, g1.Address, l.BundlePath, l.AgentTarball,
		ubuntuISO, g2.Address, l.UbuntuBundlePath, l.UbuntuAgentTarball)
	if err := os.WriteFile(inv, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	m := fleetMT(l, bin, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	args := []string{"fleet", "--inventory", inv, "--concurrency", "2", "--log-level", "debug", "--install-timeout", "90s", "--reboot-timeout", "2m"}

	r1 := m.mtprep(t, ctx, args...)
	if r1.code != 0 {
		t.Fatalf("fleet run failed:\n%s\nwatcher: %v", r1, w.Err())
	}
	checkFleetChanged(t, inv, "mt01", "mt02")
	m.checkNoSecret(t, "the fleet's output", r1.stdout+r1.stderr)
	reps := w.Reports()
	if len(reps) != 2 {
		t.Fatalf("the install stand-in ran %d times, want 2", len(reps))
	}
	if out, err := g2.Exec(ctx, "cat", "/etc/os-release"); err != nil || !strings.Contains(string(out), `VERSION_ID="16.04"`) {
		t.Errorf("mt02's guest is not the Ubuntu one: %s %v", out, err)
	}
	var media []string
	for _, e := range must(os.ReadDir(filepath.Join(l.VC.DatastoreDir, spec.DefaultISOFolder))) {
		if strings.HasSuffix(e.Name(), ".iso") {
			media = append(media, e.Name())
		}
	}
	if len(media) != 2 {
		t.Errorf("the datastore holds %v, want one shared media file per base (2)", media)
	}

	tasks := vcsimTasks(l)
	r2 := m.mtprep(t, ctx, args...)
	if r2.code != 0 {
		t.Fatalf("second fleet run failed:\n%s", r2)
	}
	if n := vcsimTasks(l) - tasks; n != 0 {
		t.Errorf("the second fleet run started %d vSphere tasks", n)
	}
	if !strings.Contains(r2.stdout, "2 MTs: 2 done") || strings.Count(r2.stdout, "no change") != 2 {
		t.Errorf("second fleet run:\n%s", r2.stdout)
	}
}
