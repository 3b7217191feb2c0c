// Command audit is the benchmark behind `make bench-audit` (not a test):
// on an in-process vCenter (govmomi's simulator over HTTPS on loopback)
// holding N VMs made to look like MTs, it runs the vSphere half of
// `mtprep audit` for all N (audit.VSphere: one retrieval over a
// container view) and a baseline that reads the same VM properties with
// one RetrieveOne per VM, alternating the order each run, and prints both
// times, the ratio and the round trips. -rtt lists request delays to run
// the comparison at: 0 is loopback as is; others put a proxy in front of
// the simulator that waits that long before every HTTP request, as a
// vCenter across a network would.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/provision/audit"
	"github.com/mtprep/mtprep/provision/spec"
)

const (
	benchUser     = "user"
	benchPassword = "bench-pw"
	passwordEnv   = "BENCH_VC_PASSWORD"
)

func main() {
	vms := flag.Int("vms", 1000, "simulated MTs")
	runs := flag.Int("runs", 3, "runs of each approach (alternating)")
	rtts := flag.String("rtt", "0", "comma-separated delays added before every HTTP request (0: loopback as is)")
	out := flag.String("out", "", "also append the figures as Markdown table rows to this file")
	flag.Parse()
	var delays []time.Duration
	for _, f := range strings.Split(*rtts, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil || d < 0 {
			fmt.Fprintf(os.Stderr, "bench-audit: -rtt %q: %v\n", f, err)
			os.Exit(2)
		}
		delays = append(delays, d)
	}
	if err := run(context.Background(), *vms, *runs, delays, *out); err != nil {
		fmt.Fprintln(os.Stderr, "bench-audit:", err)
		os.Exit(1)
	}
}

type sample struct {
	wall, cpu time.Duration
	calls     int64 // SOAP calls after the login
	session   int64 // with the login's
}

func run(ctx context.Context, n, runs int, rtts []time.Duration, outFile string) error {
	if n < 2 || n%2 != 0 {
		return fmt.Errorf("-vms %d: give an even number ≥ 2", n)
	}
	t0 := time.Now()
	m := simulator.VPX()
	// VMs are made per resource pool: the standalone host's and the
	// cluster's, so half in each.
	m.Host, m.Cluster, m.ClusterHost, m.Machine = 1, 1, 3, n/2
	if err := m.Create(); err != nil {
		return err
	}
	defer m.Remove()
	mtLike(m)
	m.Service.TLS = new(tls.Config)
	m.Service.Listen = &url.URL{User: url.UserPassword(benchUser, benchPassword)}
	srv := m.Service.NewServer()
	defer srv.Close()
	target := *srv.URL
	target.User = nil
	var names []string
	for _, o := range m.Map().All("VirtualMachine") {
		names = append(names, o.(*simulator.VirtualMachine).Name)
	}
	slices.Sort(names)
	if len(names) != n {
		return fmt.Errorf("the simulator made %d VMs, not %d", len(names), n)
	}
	fmt.Printf("bench-audit: %d VMs, %d hosts, %d datastores in the simulator (set up in %s); %d runs each, alternating\n",
		n, len(m.Map().All("HostSystem")), len(m.Map().All("Datastore")), time.Since(t0).Round(time.Millisecond), runs)
	for _, rtt := range rtts {
		endpoint := target.String()
		if rtt > 0 {
			p, err := delayProxy(&target, rtt)
			if err != nil {
				return err
			}
			endpoint = p.URL
			defer p.Close()
		}
		row, err := compare(ctx, endpoint, names, runs, rtt)
		if err != nil {
			return err
		}
		if outFile != "" {
			if err := appendFile(outFile, row); err != nil {
				return err
			}
		}
	}
	return nil
}

func appendFile(name, s string) error {
	f, err := os.OpenFile(name, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(f, s); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// compare runs both approaches runs times each against endpoint,
// alternating which goes first, and returns a Markdown table row.
func compare(ctx context.Context, endpoint string, names []string, runs int, rtt time.Duration) (string, error) {
	n := len(names)
	specs, err := makeSpecs(endpoint, names)
	if err != nil {
		return "", err
	}
	env := func(k string) (string, bool) {
		if k == passwordEnv {
			return benchPassword, true
		}
		return "", false
	}
	fmt.Printf("\nrequest delay: %s\n", rttText(rtt))

	mtprepRun := func() (sample, error) {
		var res *audit.VSphereResult
		s, err := measure(func() error {
			var err error
			res, err = audit.VSphere(ctx, specs, env)
			return err
		})
		if err != nil {
			return s, err
		}
		hosts := map[string]bool{}
		for _, f := range res.Findings {
			hosts[f.Host] = true
		}
		if len(hosts) != n {
			return s, fmt.Errorf("mtprep: findings for %d MTs, want %d", len(hosts), n)
		}
		for _, f := range res.Findings {
			if f.Result == audit.Fail {
				return s, fmt.Errorf("mtprep: %s %s FAIL: %s", f.Host, f.ID, f.Reason)
			}
		}
		s.calls, s.session = res.RoundTrips, res.SessionRoundTrips
		return s, nil
	}
	baselineRun := func() (sample, error) {
		var calls int64
		s, err := measure(func() error {
			var err error
			calls, err = perVMBaseline(ctx, endpoint, n)
			return err
		})
		s.calls = calls
		return s, err
	}

	var mt, base []sample
	for i := range runs {
		order := []string{"mtprep", "baseline"}
		if i%2 == 1 {
			order = []string{"baseline", "mtprep"}
		}
		for _, which := range order {
			runtime.GC()
			var s sample
			var err error
			if which == "mtprep" {
				s, err = mtprepRun()
				mt = append(mt, s)
			} else {
				s, err = baselineRun()
				base = append(base, s)
			}
			if err != nil {
				return "", fmt.Errorf("%s run %d: %w", which, i+1, err)
			}
			fmt.Printf("  run %d %-8s %8s wall %8s cpu %6d SOAP calls\n", i+1, which, s.wall.Round(time.Millisecond), s.cpu.Round(time.Millisecond), s.calls)
		}
	}
	mw, bw := median(mt, func(s sample) time.Duration { return s.wall }), median(base, func(s sample) time.Duration { return s.wall })
	mc, bc := median(mt, func(s sample) time.Duration { return s.cpu }), median(base, func(s sample) time.Duration { return s.cpu })
	ratio, cpuRatio := float64(bw)/float64(mw), float64(bc)/float64(mc)
	verdict := "met"
	if ratio < 20 {
		verdict = "NOT met"
	}
	fmt.Printf("  mtprep (one retrieval):    median %s wall, %s cpu, %d SOAP calls after the login (%d with it)\n", mw.Round(time.Millisecond), mc.Round(time.Millisecond), mt[0].calls, mt[0].session)
	fmt.Printf("  baseline (RetrieveOne/VM): median %s wall, %s cpu, %d SOAP calls after the login\n", bw.Round(time.Millisecond), bc.Round(time.Millisecond), base[0].calls)
	fmt.Printf("  ratio baseline/mtprep: %.1fx wall, %.1fx cpu (target >= 20x: %s)\n", ratio, cpuRatio, verdict)
	return fmt.Sprintf("| %s | %d | %s | %d | %s (%s cpu) | %d | %s (%s cpu) | %d | %.1f× (%.1f× cpu) |\n",
		time.Now().UTC().Format("2006-01-02 15:04"), n, rttText(rtt), runs,
		mw.Round(time.Millisecond), mc.Round(time.Millisecond), mt[0].calls,
		bw.Round(time.Millisecond), bc.Round(time.Millisecond), base[0].calls, ratio, cpuRatio), nil
}

func rttText(d time.Duration) string {
	if d == 0 {
		return "loopback"
	}
	return d.String()
}

// mtLike makes the simulator's VMs pass the audit's vSphere checks, so
// both approaches read what an MT fleet holds: disk.EnableUUID and its
// flag set, VMware Tools running, an LSI Logic controller (vcsim's are
// Paravirtual), datastores VMFS.
func mtLike(m *simulator.Model) {
	sctx := m.Service.Context
	for _, o := range m.Map().All("VirtualMachine") {
		vm := o.(*simulator.VirtualMachine)
		sctx.WithLock(vm, func() {
			vm.Config.ExtraConfig = append(vm.Config.ExtraConfig, &types.OptionValue{Key: "disk.EnableUUID", Value: "TRUE"})
			vm.Config.Flags.DiskUuidEnabled = types.NewBool(true)
			vm.Guest.ToolsRunningStatus = string(types.VirtualMachineToolsRunningStatusGuestToolsRunning)
			for i, d := range vm.Config.Hardware.Device {
				if c, ok := d.(*types.ParaVirtualSCSIController); ok {
					vm.Config.Hardware.Device[i] = &types.VirtualLsiLogicController{VirtualSCSIController: c.VirtualSCSIController}
				}
			}
		})
	}
	for _, o := range m.Map().All("Datastore") {
		ds := o.(*simulator.Datastore)
		sctx.WithLock(ds, func() { ds.Summary.Type = "VMFS" })
	}
}

func makeSpecs(endpoint string, names []string) ([]*spec.Spec, error) {
	var out []*spec.Spec
	for i, name := range names {
		y := fmt.Sprintf(`name: %s
vsphere: {url: %q, username: %s, password: {env: %s}, insecure: true}
iso: {base: ./unused.iso}
network: {hostname: mt%d.example.com, ip: 10.%d.%d.%d/8, gateway: 10.0.0.1, dns: [10.0.0.2]}
rootPassword: {env: BENCH_ROOT_PASSWORD}
packages: {source: vault}
audit: {protectedDatastores: [LocalDS_0]}
`, name, endpoint, benchUser, passwordEnv, i, 1+i/65536, (i/256)%256, 2+i%250)
		s, err := spec.Parse("bench.yaml", []byte(y))
		if err != nil {
			return nil, fmt.Errorf("spec for %s: %w", name, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// perVMBaseline is the naive way: log in, list the VMs (one call, without
// properties, generous to the baseline: finding each VM by name would cost
// more), then one RetrieveOne per VM with the audit's properties. It
// reads neither hosts, datastores, licenses nor privileges, so it is a
// lower bound on a per-VM implementation's cost. Returns the SOAP calls
// after the login.
func perVMBaseline(ctx context.Context, endpoint string, n int) (int64, error) {
	u, err := soap.ParseURL(endpoint)
	if err != nil {
		return 0, err
	}
	sc := soap.NewClient(u, true)
	c, err := vim25.NewClient(ctx, sc)
	if err != nil {
		return 0, err
	}
	counter := &countingRT{next: c.RoundTripper}
	c.RoundTripper = counter
	if err := session.NewManager(c).Login(ctx, url.UserPassword(benchUser, benchPassword)); err != nil {
		return 0, err
	}
	defer func() { _ = session.NewManager(c).Logout(context.WithoutCancel(ctx)) }()
	counter.reset()
	v, err := view.NewManager(c).CreateContainerView(ctx, c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	if err != nil {
		return 0, err
	}
	refs, err := v.Find(ctx, []string{"VirtualMachine"}, nil)
	_ = v.Destroy(ctx)
	if err != nil {
		return 0, err
	}
	if len(refs) != n {
		return 0, fmt.Errorf("baseline: %d VMs listed, want %d", len(refs), n)
	}
	pc := property.DefaultCollector(c)
	props := audit.VMProperties()
	for _, ref := range refs {
		var vm mo.VirtualMachine
		if err := pc.RetrieveOne(ctx, ref, props, &vm); err != nil {
			return 0, fmt.Errorf("baseline: %s: %w", ref, err)
		}
		if vm.Config == nil {
			return 0, fmt.Errorf("baseline: %s: no config", ref)
		}
	}
	return counter.n(), nil
}

// countingRT counts SOAP calls (a soap.RoundTripper).
type countingRT struct {
	next  soap.RoundTripper
	mu    sync.Mutex
	calls int64
}

func (c *countingRT) RoundTrip(ctx context.Context, req, res soap.HasFault) error {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return c.next.RoundTrip(ctx, req, res)
}

func (c *countingRT) reset() { c.mu.Lock(); c.calls = 0; c.mu.Unlock() }
func (c *countingRT) n() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// measure times f: wall time and the process's CPU time (client and
// simulator together), steadier than wall time on a shared machine.
func measure(f func() error) (sample, error) {
	cpu0 := cpuTime()
	t0 := time.Now()
	err := f()
	return sample{wall: time.Since(t0), cpu: cpuTime() - cpu0}, err
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func median(s []sample, f func(sample) time.Duration) time.Duration {
	v := make([]time.Duration, len(s))
	for i, x := range s {
		v[i] = f(x)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

// proxy is a TLS reverse proxy in front of the simulator that waits rtt
// before forwarding each request: the round-trip time of a remote vCenter.
type proxy struct {
	URL string
	srv *http.Server
}

func (p *proxy) Close() { _ = p.srv.Close() }

func delayProxy(target *url.URL, rtt time.Duration) (*proxy, error) {
	// The request's path (/sdk) is kept: proxy to the host only.
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: target.Scheme, Host: target.Host})
	rp.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // the simulator's self-signed certificate, on loopback
	ts := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(rtt)
		rp.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 10 * time.Second}
	ln, err := listenLoopback()
	if err != nil {
		return nil, err
	}
	go func() { _ = ts.Serve(ln) }()
	return &proxy{URL: "http://" + ln.Addr().String() + "/sdk", srv: ts}, nil
}

func listenLoopback() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
