package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/simulator"

	"github.com/mtprep/mtprep/provision"
)

// TestFleetCLI drives `mtprep plan --inventory` and `mtprep fleet` on an
// in-process vCenter: three MTs, one of which has no seed ISO and fails;
// the others are built, the summary names all three, the exit status is
// 1, and each MT has its log file and its line in the state file.
func TestFleetCLI(t *testing.T) {
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

	dir := t.TempDir()
	key := filepath.Join(dir, "id_rsa")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Skipf("ssh-keygen: %v %s", err, out)
	}
	inv := filepath.Join(dir, "fleet.yaml")
	yaml := fmt.Sprintf(`defaults:
  vsphere: {datacenter: DC0, cluster: DC0_C0, datastore: LocalDS_0, network: VM Network}
  iso: {base: ./CentOS-6.6-x86_64-minimal.iso}
  network: {gateway: 192.0.2.1, dns: [192.0.2.53]}
  rootPassword: {env: MT_ROOT_PASSWORD}
  ssh: {privateKey: %s, knownHosts: %s}
  packages: {source: vault}
  configServer: {ip: 192.0.2.5, passphrase: {env: MT_ROOT_PASSWORD}}
targets:
  - {name: mt01, network: {hostname: mt01.example.com, ip: 192.0.2.11/24}}
  - {name: mt02, network: {hostname: mt02.example.com, ip: 192.0.2.12/24}}
  - {name: mt03, network: {hostname: mt03.example.com, ip: 192.0.2.13/24}}
`, key, filepath.Join(dir, "known_hosts"))
	if err := os.WriteFile(inv, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	// What the iso phase writes (its tests remaster a real base): the
	// shared media, and a seed for mt01 and mt03 only.
	build := filepath.Join(dir, "build")
	media := provision.SharedMediaPath(filepath.Join(build, "media"), filepath.Join(dir, "CentOS-6.6-x86_64-minimal.iso"))
	write := func(p string, b []byte) {
		t.Helper()
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(media, bytes.Repeat([]byte("media!"), 200000))
	write(filepath.Join(build, "mt01", "mt01-seed.iso"), bytes.Repeat([]byte("ks1"), 10000))
	write(filepath.Join(build, "mt03", "mt03-seed.iso"), bytes.Repeat([]byte("ks3"), 10000))

	mtprep := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		if strings.Contains(out.String()+errb.String(), "vc-Secret-1") {
			t.Errorf("the vCenter password appears in the output of %v", args)
		}
		return code, out.String(), errb.String()
	}
	phases := "--phases=upload,vm,enable-uuid"

	code, out, errs := mtprep("plan", "--inventory", inv, phases)
	if code != 0 {
		t.Fatalf("plan: exit %d\n%s%s", code, out, errs)
	}
	for _, w := range []string{"== mt01 (mt01.example.com) ==", "== mt03 (mt03.example.com) ==", "vm           would-change  create VM mt02", "shared by every MT of this base"} {
		if !strings.Contains(out, w) {
			t.Errorf("plan output lacks %q:\n%s", w, out)
		}
	}
	code, out, _ = mtprep("plan", "--inventory", inv, phases, "--format", "json")
	var reports []report
	if err := json.Unmarshal([]byte(out), &reports); code != 0 || err != nil || len(reports) != 3 || reports[1].Name != "mt02" {
		t.Fatalf("plan json: exit %d, %v\n%s", code, err, out)
	}

	code, out, errs = mtprep("fleet", "--inventory", inv, "--concurrency", "2", phases)
	if code != 1 {
		t.Fatalf("fleet: exit %d, want 1\n%s%s", code, out, errs)
	}
	for _, w := range []string{"HOST", "mt01                 enable-uuid  done", "mt02                 upload       failed", "mt02-seed.iso", "mt03                 enable-uuid  done", "3 MTs: 2 done, 1 failed"} {
		if !strings.Contains(out, w) {
			t.Errorf("summary lacks %q:\n%s", w, out)
		}
	}
	if !strings.Contains(errs, "not every MT is done") {
		t.Errorf("stderr: %s", errs)
	}
	for _, h := range []string{"mt01", "mt02", "mt03"} {
		if fi, err := os.Stat(filepath.Join(dir, "logs", h+".log")); err != nil || fi.Size() == 0 {
			t.Errorf("log of %s: %v", h, err)
		}
	}
	st, err := provision.ReadFleetState(inv + ".state.json")
	if err != nil {
		t.Fatal(err)
	}
	if st.Hosts["mt02"].Status != provision.HostFailed || st.Hosts["mt01"].Status != provision.HostDone {
		t.Errorf("state file: %+v", st.Hosts)
	}

	// The seed appears; the same command finishes mt02 alone.
	write(filepath.Join(build, "mt02", "mt02-seed.iso"), bytes.Repeat([]byte("ks2"), 10000))
	code, out, errs = mtprep("fleet", "--inventory", inv, phases)
	if code != 0 {
		t.Fatalf("second fleet run: exit %d\n%s%s", code, out, errs)
	}
	for _, w := range []string{"mt01                 enable-uuid  done", "no change", "mt02                 enable-uuid  done", "changed: upload,vm,enable-uuid", "3 MTs: 3 done"} {
		if !strings.Contains(out, w) {
			t.Errorf("second summary lacks %q:\n%s", w, out)
		}
	}

	// Bad usage: exit 2.
	for _, args := range [][]string{
		{"fleet"},
		{"fleet", "--inventory", inv, "--concurrency", "0"},
		{"fleet", "--inventory", inv, "--phases", "nope"},
		{"plan", "--inventory", inv, "--spec", inv},
	} {
		if code, _, errs := mtprep(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errs)
		}
	}
}

// TestFleetDisplay: the live area holds the running MTs and a count; an
// MT that ends leaves a line above it.
func TestFleetDisplay(t *testing.T) {
	var b bytes.Buffer
	d := newFleetDisplay(&b, []string{"mt01", "mt02", "mt03"})
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	d.now = func() time.Time { return now }
	d.phase("mt01", "iso")
	d.phase("mt02", "upload")
	now = now.Add(time.Second)
	d.progress("mt02")("upload media.iso", 150<<20, 300<<20)
	now = now.Add(90 * time.Second)
	d.phase("mt01", provision.HostDone)
	d.finish()
	screen := render(b.String())
	want := "mt01                 done after 1m31s\n" +
		"mt02                 upload       upload media.iso  50% (150/300 MB)\n" +
		"1/3 MTs: 1 running, 1 done, 0 failed, 0 interrupted, 1 waiting\n"
	if screen != want {
		t.Errorf("screen:\n%s\nwant\n%s\nraw %q", screen, want, b.String())
	}
}

// render plays the display's output on a minimal terminal: lines, cursor
// up ("ESC[nA"), carriage return, clear to the end of the screen
// ("ESC[J").
func render(s string) string {
	var lines []string
	row := 0
	for len(s) > 0 {
		switch {
		case strings.HasPrefix(s, "\x1b["):
			i := strings.IndexAny(s[2:], "AJ") + 2
			var n int
			fmt.Sscanf(s[2:i], "%d", &n)
			if s[i] == 'A' {
				row -= n
			} else {
				lines = lines[:row]
			}
			s = s[i+1:]
		case s[0] == '\r':
			s = s[1:]
		default:
			j := strings.IndexByte(s, '\n')
			line := s[:j]
			if row < len(lines) {
				lines[row] = line
			} else {
				lines = append(lines, line)
			}
			row++
			s = s[j+1:]
		}
	}
	return strings.Join(lines, "\n") + "\n"
}
