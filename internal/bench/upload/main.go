// Command upload is the vSphere benchmark behind `make bench-upload` (not a
// test): against an in-process vCenter (govmomi's simulator, over TLS) it
// uploads a 500 MB file with mtprep's upload phase (which also puts a
// 64 KiB seed ISO beside it, as every build does) and with a plain
// object.Datastore.UploadFile, alternating, and prints each time and the
// ratio; then it counts the vSphere round trips of the vm and enable-uuid
// phases on a fresh VM and on a second, no-change run.
package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"

	"github.com/mtprep/mtprep/centos"
	"github.com/mtprep/mtprep/provision"
	"github.com/mtprep/mtprep/provision/spec"
)

const specYAML = `name: mt01
vsphere: {datacenter: DC0, cluster: DC0_C0, datastore: LocalDS_0, network: VM Network, username: user, password: {env: BENCH_VC_PASSWORD}, insecure: true}
iso: {base: ./base.iso}
network: {hostname: mt01.example.com, ip: 192.0.2.10/24, gateway: 192.0.2.1, dns: [192.0.2.53]}
rootPassword: {env: BENCH_ROOT_PASSWORD}
packages: {source: vault}
`

func main() {
	dir := flag.String("dir", "build/bench-upload", "work directory for the test file")
	sizeMB := flag.Int("size", 500, "file size in MB")
	runs := flag.Int("runs", 3, "runs of each upload")
	flag.Parse()
	if err := run(*dir, int64(*sizeMB)<<20, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "bench-upload:", err)
		os.Exit(1)
	}
}

func run(dir string, size int64, runs int) error {
	ctx := context.Background()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	file := filepath.Join(dir, "bench.iso")
	sum, err := writeFile(file, size)
	if err != nil {
		return err
	}
	defer os.Remove(file)
	defer os.Remove(file + ".json")
	// The upload phase also puts the MT's seed ISO (its kickstart, tens of
	// KiB) on the datastore: a small stand-in for it.
	seed := filepath.Join(dir, "mt01-seed.iso")
	if _, err := writeFile(seed, 64<<10); err != nil {
		return err
	}
	defer os.Remove(seed)

	m := simulator.VPX()
	if err := m.Create(); err != nil {
		return err
	}
	defer m.Remove()
	m.Service.TLS = new(tls.Config)
	m.Service.Listen = &url.URL{User: url.UserPassword("user", "bench-pw")}
	srv := m.Service.NewServer()
	defer srv.Close()
	dsDir := m.Map().Any("Datastore").(*simulator.Datastore).Summary.Url
	u := *srv.URL
	u.User = nil

	env := func(k string) (string, bool) {
		switch k {
		case "BENCH_VC_PASSWORD":
			return "bench-pw", true
		case "BENCH_ROOT_PASSWORD":
			return "x", true
		}
		return "", false
	}
	newTarget := func(isoFolder string) (*provision.Target, error) {
		s, err := spec.Parse(filepath.Join(dir, "mt01.yaml"), []byte(specYAML))
		if err != nil {
			return nil, err
		}
		s.VSphere.URL = u.String()
		s.VSphere.ISOFolder = isoFolder
		t := &provision.Target{Spec: s, OS: centos.OS(), Env: env, Log: slog.New(slog.DiscardHandler), Options: provision.BuildOptions{WorkDir: dir}}
		t.Facts.ISOLocal, t.Facts.SeedLocal = file, seed
		return t, nil
	}
	upload, err := provision.Select(provision.Phases(), "upload")
	if err != nil {
		return err
	}

	// The plain upload: a govmomi client as govc makes it.
	gc, err := govmomi.NewClient(ctx, srv.URL, true)
	if err != nil {
		return err
	}
	defer gc.Logout(ctx)
	f := find.NewFinder(gc.Client, true)
	dc, err := f.Datacenter(ctx, "DC0")
	if err != nil {
		return err
	}
	f.SetDatacenter(dc)
	ds, err := f.Datastore(ctx, "LocalDS_0")
	if err != nil {
		return err
	}

	fmt.Printf("upload of %d MB to the simulator's datastore over HTTPS (%d runs each; order alternates per run)\n", size>>20, runs)
	fmt.Printf("%-4s %-28s %8s %8s %8s\n", "run", "upload", "seconds", "MB/s", "CPU s")
	var plain, cold, warm, plainCPU, warmCPU []float64
	mb := float64(size) / (1 << 20)
	// Each timed upload starts from the same state: the previous one's
	// file deleted, dirty pages written back, the heap collected.
	settle := func(dir string) {
		_ = os.RemoveAll(filepath.Join(dsDir, dir))
		syscall.Sync()
		runtime.GC()
	}
	show := func(i int, what string, d, c float64) {
		fmt.Printf("%-4d %-28s %8.2f %8.0f %8.2f\n", i+1, what, d, mb/d, c)
	}
	plainRun := func(i int) error {
		dir := fmt.Sprintf("plain-%d", i)
		c0, start := cpuSeconds(), time.Now()
		if err := ds.UploadFile(ctx, file, dir+"/bench.iso", &soap.Upload{Type: "application/octet-stream", Method: "PUT"}); err != nil {
			return fmt.Errorf("plain upload: %w", err)
		}
		d, c := time.Since(start).Seconds(), cpuSeconds()-c0
		plain, plainCPU = append(plain, d), append(plainCPU, c)
		show(i, "plain Datastore.UploadFile", d, c)
		settle(dir)
		return nil
	}
	// mtprep as in a build: the iso phase's sidecar records the ISO's
	// sha256, so the upload phase does not hash it first.
	mtprepRun := func(i int) error {
		dir := fmt.Sprintf("mtprep-%d", i)
		if err := writeSidecar(file, sum, size); err != nil {
			return err
		}
		d, c, err := timePhase(ctx, newTarget, upload, dir)
		if err != nil {
			return err
		}
		warm, warmCPU = append(warm, d), append(warmCPU, c)
		show(i, "mtprep upload phase", d, c)
		settle(dir)
		return nil
	}
	settle("")
	for i := range runs {
		first, second := plainRun, mtprepRun
		if i%2 == 1 {
			first, second = mtprepRun, plainRun
		}
		if err := first(i); err != nil {
			return err
		}
		if err := second(i); err != nil {
			return err
		}
	}
	// For reference: with no sidecar the phase hashes the file first.
	for i := range runs {
		dir := fmt.Sprintf("mtprep-cold-%d", i)
		os.Remove(file + ".json")
		d, c, err := timePhase(ctx, newTarget, upload, dir)
		if err != nil {
			return err
		}
		cold = append(cold, d)
		show(i, "mtprep, no sidecar (hashes)", d, c)
		settle(dir)
	}
	fmt.Printf("median: plain %.2f s, mtprep %.2f s (no sidecar: %.2f s)\n", median(plain), median(warm), median(cold))
	fmt.Printf("ratio plain/mtprep: %.2fx wall (target >= 1.0x), %.2fx CPU (client and simulator, same process); with no sidecar: %.2fx wall\n\n",
		median(plain)/median(warm), median(plainCPU)/median(warmCPU), median(plain)/median(cold))

	// Round trips of vm + enable-uuid: a fresh VM, then a second run as a
	// new `mtprep build` would make it (a new session).
	if err := writeSidecar(file, sum, size); err != nil {
		return err
	}
	first, err := newTarget(spec.DefaultISOFolder)
	if err != nil {
		return err
	}
	if _, err := provision.Build(ctx, first, upload); err != nil {
		return err
	}
	_ = first.Close()
	vmPhases, err := provision.Select(provision.Phases(), "vm,enable-uuid")
	if err != nil {
		return err
	}
	for _, which := range []string{"fresh VM", "second run (no change)"} {
		t, err := newTarget(spec.DefaultISOFolder)
		if err != nil {
			return err
		}
		if err := t.ConnectVSphere(ctx); err != nil {
			return err
		}
		login := t.VSphereRoundTrips()
		rs, err := provision.Build(ctx, t, vmPhases)
		if err != nil {
			return err
		}
		rt := t.VSphereRoundTrips().Sub(login)
		_ = t.Close()
		var st []string
		for _, r := range rs {
			st = append(st, r.Phase+"="+string(r.Status))
		}
		fmt.Printf("vm + enable-uuid, %s (%s): %d SOAP calls, %d HTTP requests (login: %d SOAP, %d HTTP)\n  %s\n",
			which, strings.Join(st, " "), rt.SOAP(), rt.HTTP, login.SOAP(), login.HTTP, calls(rt))
	}
	return nil
}

// timePhase runs the upload phase (check, upload, verify) on a logged-in
// Target (the plain upload's client is logged in too) and returns its wall
// and CPU seconds.
func timePhase(ctx context.Context, newTarget func(string) (*provision.Target, error), phases []provision.Phase, folder string) (float64, float64, error) {
	t, err := newTarget(folder)
	if err != nil {
		return 0, 0, err
	}
	defer t.Close()
	if err := t.ConnectVSphere(ctx); err != nil {
		return 0, 0, err
	}
	c0, start := cpuSeconds(), time.Now()
	rs, err := provision.Build(ctx, t, phases)
	if err != nil {
		return 0, 0, err
	}
	d, c := time.Since(start).Seconds(), cpuSeconds()-c0
	if rs[0].Status != provision.StatusChanged {
		return 0, 0, fmt.Errorf("upload phase: %s", rs[0].Status)
	}
	return d, c, nil
}

// cpuSeconds is the process's user and system time: steadier than wall
// time on a shared machine.
func cpuSeconds() float64 {
	var r syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r)
	return float64(r.Utime.Nano()+r.Stime.Nano()) / 1e9
}

// writeFile writes size bytes of pseudo-random data (incompressible, like
// an ISO) and returns its sha256.
func writeFile(name string, size int64) (string, error) {
	f, err := os.Create(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	r := rand.NewChaCha8([32]byte{1, 2, 3})
	if _, err := io.CopyN(io.MultiWriter(f, h), r, size); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), f.Close()
}

// writeSidecar records the sha256 as the iso phase does beside its ISO.
func writeSidecar(iso, sum string, size int64) error {
	b, _ := json.Marshal(provision.ISOResult{Out: iso, SHA256: sum, Size: size})
	return os.WriteFile(iso+".json", b, 0o644)
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func calls(rt provision.RoundTrips) string {
	var l []string
	for k, v := range rt.Calls {
		l = append(l, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(l)
	return strings.Join(l, ", ")
}
