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
	"github.com/mtprep/mtprep/provision"
	"github.com/mtprep/mtprep/provision/spec"
)

// TestFleetTwoGuests is issue 7's lab test: two lab guests get the full
// build in one `mtprep fleet` run (concurrency 2), from one shared install
// media file and a seed each; the install stand-in finds each MT's
// kickstart on its own seed. A second run changes nothing and starts no
// vSphere task.
func TestFleetTwoGuests(t *testing.T) {
	l := lab.StartWith(t, lab.Options{Guests: 2})
	bin, baseISO := getFixtures(t)
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
	yaml := fmt.Sprintf(`# e2e: two MTs on lab guests %s and %s
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
  iso: {base: %s}
  network: {gateway: %s, dns: [%s], device: eth0}
  timezone: UTC
  rootPassword: {env: MT_ROOT_PASSWORD}
  ssh: {user: root, privateKey: %s, knownHosts: ./known_hosts, hostKey: strict}
  packages: {source: bundle, bundle: %s}
  agent: {tarball: %s}
  configServer: {ip: %s, port: %d, passphrase: {file: %s}}
targets:
  - name: mt01
    network: {hostname: mt01.lab.local, ip: %s/24}
  - name: mt02
    network: {hostname: mt02.lab.local, ip: %s/24}
`, g1.Name, g2.Name, u.String(), l.VC.Username, l.VC.Thumbprint, l.VC.Datacenter, l.VC.Datastore, l.VC.Network, baseISO,
		l.HostIP, l.HostIP, g1.UserKeyFile, l.BundlePath, l.AgentTarball, l.ConfigServer.IP, l.ConfigServer.Port, l.ConfigServer.PassphraseFile,
		g1.Address, g2.Address)
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
	for _, name := range checkFleetChanged(t, inv, "mt01", "mt02") {
		log := string(must(os.ReadFile(filepath.Join(dir, "logs", name+".log"))))
		m.checkNoSecret(t, name+"'s log", log)
	}
	m.checkNoSecret(t, "the fleet's output", r1.stdout+r1.stderr)

	// One install per guest, each from its own seed; one media file on
	// the datastore for both.
	reps := w.Reports()
	if len(reps) != 2 {
		t.Fatalf("the install stand-in ran %d times, want 2", len(reps))
	}
	for _, rep := range reps {
		if !strings.Contains(rep.ISO, "mtprep-iso/seeds/"+rep.VM+"-") {
			t.Errorf("VM %s installed from %s, want its own seed", rep.VM, rep.ISO)
		}
	}
	var media []string
	for _, e := range must(os.ReadDir(filepath.Join(l.VC.DatastoreDir, spec.DefaultISOFolder))) {
		if strings.HasSuffix(e.Name(), ".iso") {
			media = append(media, e.Name())
		}
	}
	if len(media) != 1 {
		t.Errorf("the datastore holds %v, want one shared media file", media)
	}

	// Again: nothing to do, no vSphere task.
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

// fleetMT is the mt that runs `mtprep fleet` over an inventory in dir,
// with the secrets that must never appear.
func fleetMT(l *lab.Lab, bin, dir string) *mt {
	rootPW := "Root-Pw-" + fmt.Sprint(time.Now().UnixNano())
	m := &mt{l: l, bin: bin, dir: dir, env: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "MT_ROOT_PASSWORD=" + rootPW}}
	m.secrets = map[string]string{
		"root password":        rootPW,
		"vCenter password":     l.VC.Password,
		"configuration server": strings.TrimSpace(string(must(os.ReadFile(l.ConfigServer.PassphraseFile)))),
	}
	return m
}

// checkFleetChanged checks that the fleet state file says every phase of
// each named MT changed, and returns the names.
func checkFleetChanged(t *testing.T, inv string, names ...string) []string {
	t.Helper()
	st, err := provision.ReadFleetState(inv + ".state.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		h := st.Hosts[name]
		if h == nil || h.Status != provision.HostDone || len(h.Results) != len(provision.Phases()) {
			t.Fatalf("%s: %+v", name, h)
		}
		for _, r := range h.Results {
			if r.Status != provision.StatusChanged {
				t.Errorf("%s: phase %s is %s, want changed (%s)", name, r.Phase, r.Status, r.Error)
			}
		}
	}
	return names
}
