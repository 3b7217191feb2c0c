// Command fleet is the benchmark behind `make bench-fleet` (not a test):
// N simulated MTs (default 50) through the vSphere phases of `mtprep
// fleet` (upload, vm, enable-uuid) at concurrency 1 and 8 in the same
// run, against govmomi's simulator in-process over HTTPS. It prints the
// wall times, the speed-up and the bytes uploaded per MT.
//
// The simulator answers in microseconds and shares the machine's two
// cores with mtprep, so without help concurrency can only overlap CPU
// work. A real vCenter is a WAN round trip away, and the workers mostly
// wait. With -rtt (default 20ms) each run is repeated through a TCP
// proxy that delays every byte by half the round trip in each direction
// (throughput is not limited), modelling that link; both figures are
// printed, labelled.
//
// Setup, not timed: a CentOS-shaped base ISO of -media MB (random
// "packages"), the iso phase for every MT (the shared media once, a seed
// per MT with its own kickstart and host key).
package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
	"github.com/vmware/govmomi/simulator"
	"golang.org/x/crypto/ssh"

	"github.com/mtprep/mtprep/centos"
	"github.com/mtprep/mtprep/provision"
	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/provision/spec"
)

func main() {
	dir := flag.String("dir", "build/bench-fleet", "work directory")
	n := flag.Int("n", 50, "MTs in the fleet")
	mediaMB := flag.Int("media", 400, "size of the base ISO's packages in MB (CentOS 6.6 minimal is about 400)")
	rtt := flag.Duration("rtt", 20*time.Millisecond, "modelled round trip to vCenter for the second pair of runs (0: none)")
	conc := flag.String("concurrency", "1,8", "the concurrencies to compare, the first is the baseline")
	flag.Parse()
	// The simulator logs every duplicate .vmdk name it works around with
	// the standard logger; the figures are what this prints. Anything else
	// it logs (a handler's panic) still shows.
	log.SetOutput(dropLines{w: os.Stderr, drop: "*types.FileAlreadyExists"})
	var cs []int
	for _, f := range strings.Split(*conc, ",") {
		var c int
		if _, err := fmt.Sscanf(f, "%d", &c); err != nil || c < 1 {
			fmt.Fprintln(os.Stderr, "bench-fleet: bad -concurrency", *conc)
			os.Exit(2)
		}
		cs = append(cs, c)
	}
	if err := run(*dir, *n, *mediaMB, *rtt, cs); err != nil {
		fmt.Fprintln(os.Stderr, "bench-fleet:", err)
		os.Exit(1)
	}
}

func env(k string) (string, bool) {
	switch k {
	case "BENCH_VC_PASSWORD":
		return "bench-pw", true
	case "BENCH_ROOT_PASSWORD", "BENCH_CS_PASSPHRASE":
		return "bench-secret", true
	}
	return "", false
}

func run(dir string, n, mediaMB int, rtt time.Duration, cs []int) error {
	ctx := context.Background()
	// Absolute: the inventory's relative paths are its directory's.
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	fmt.Printf("bench-fleet: %d MTs, phases upload,vm,enable-uuid, govmomi simulator in-process over HTTPS; %d CPUs\n", n, runtime.NumCPU())

	start := time.Now()
	base, err := writeBase(dir, mediaMB)
	if err != nil {
		return err
	}
	key, err := writeKey(dir)
	if err != nil {
		return err
	}
	// The iso phase for all MTs, once: no vSphere in it.
	inv, err := inventory(dir, "https://127.0.0.1:1/sdk", base, key, n)
	if err != nil {
		return err
	}
	work := filepath.Join(dir, "build")
	hs, err := provision.RunFleet(ctx, inv, provision.FleetOptions{
		OS:          func(string) (*guest.OS, bool) { return centos.OS(), true },
		Concurrency: runtime.NumCPU(), Phases: "iso", Env: env,
		Build: provision.BuildOptions{WorkDir: work}, StateFile: filepath.Join(dir, "iso.state.json"),
	})
	if err != nil {
		return err
	}
	if err := allDone(hs); err != nil {
		return fmt.Errorf("iso phase: %w", err)
	}
	media, err := os.Stat(provision.SharedMediaPath(filepath.Join(work, "media"), base))
	if err != nil {
		return err
	}
	var seeds int64
	for _, s := range inv.Specs {
		fi, err := os.Stat(filepath.Join(work, s.Name, s.Name+"-seed.iso"))
		if err != nil {
			return err
		}
		seeds += fi.Size()
	}
	fmt.Printf("setup (not timed, %s): shared media %.1f MB, %d seeds of %.1f KiB on average\n\n",
		time.Since(start).Round(time.Second), float64(media.Size())/(1<<20), n, float64(seeds)/float64(n)/1024)

	type result struct {
		wall, cpu float64
		up        int64
		soap      int64
	}
	rtts := []time.Duration{0}
	if rtt > 0 {
		rtts = append(rtts, rtt)
	}
	fmt.Printf("%-22s %11s %8s %8s %12s %14s %10s\n", "link to vCenter", "concurrency", "wall s", "CPU s", "speed-up", "uploaded MB", "SOAP/MT")
	for _, d := range rtts {
		var res []result
		for _, c := range cs {
			r, err := func() (result, error) {
				sim, err := startSim(d)
				if err != nil {
					return result{}, err
				}
				defer sim.close()
				inv, err := inventory(dir, sim.url, base, key, n)
				if err != nil {
					return result{}, err
				}
				var mu sync.Mutex
				var r result
				c0, t0 := cpuSeconds(), time.Now()
				hs, err := provision.RunFleet(ctx, inv, provision.FleetOptions{
					OS:          func(string) (*guest.OS, bool) { return centos.OS(), true },
					Concurrency: c, Phases: "upload,vm,enable-uuid", Env: env,
					Build:     provision.BuildOptions{WorkDir: work},
					StateFile: filepath.Join(dir, fmt.Sprintf("run-%d-%d.state.json", d.Milliseconds(), c)),
					LogDir:    filepath.Join(dir, fmt.Sprintf("logs-%d-%d", d.Milliseconds(), c)),
					OnTarget: func(t *provision.Target, done bool) {
						if done {
							rt := t.VSphereRoundTrips()
							mu.Lock()
							r.up += rt.UploadBytes
							r.soap += rt.SOAP()
							mu.Unlock()
						}
					},
				})
				r.wall, r.cpu = time.Since(t0).Seconds(), cpuSeconds()-c0
				if err != nil {
					return r, err
				}
				return r, allDone(hs)
			}()
			if err != nil {
				return fmt.Errorf("concurrency %d, rtt %s: %w", c, d, err)
			}
			res = append(res, r)
			link := "none added (loopback)"
			if d > 0 {
				link = fmt.Sprintf("%s round trip", d)
			}
			fmt.Printf("%-22s %11d %8.2f %8.2f %11.2fx %14.1f %10.0f\n", link, c, r.wall, r.cpu, res[0].wall/r.wall, float64(r.up)/(1<<20), float64(r.soap)/float64(n))
			runtime.GC()
		}
		last := res[len(res)-1]
		perMT := float64(last.up-media.Size()) / float64(n)
		fmt.Printf("  bytes uploaded: %.1f MB in all = the media (%.1f MB) once + %.1f KiB per MT (target < 1024 KiB)\n",
			float64(last.up)/(1<<20), float64(media.Size())/(1<<20), perMT/1024)
		fmt.Printf("  speed-up at concurrency %d: %.2fx (target >= 5x)\n\n", cs[len(cs)-1], res[0].wall/last.wall)
	}
	return nil
}

func allDone(hs []*provision.HostState) error {
	var bad []string
	for _, h := range hs {
		if h.Status != provision.HostDone {
			bad = append(bad, fmt.Sprintf("%s %s at %s: %s", h.Host, h.Status, h.Phase, h.Error))
		}
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

// inventory writes and loads an inventory of n MTs on the vCenter at u.
func inventory(dir, u, base, key string, n int) (*spec.Inventory, error) {
	var b strings.Builder
	fmt.Fprintf(&b, `defaults:
  vsphere: {url: %q, username: user, password: {env: BENCH_VC_PASSWORD}, insecure: true, datacenter: DC0, cluster: DC0_C0, datastore: LocalDS_0, network: VM Network}
  iso: {base: %q}
  network: {gateway: 10.0.0.1, dns: [10.0.0.53]}
  rootPassword: {env: BENCH_ROOT_PASSWORD}
  ssh: {privateKey: %q, knownHosts: %q}
  packages: {source: vault}
  configServer: {ip: 10.0.0.5, passphrase: {env: BENCH_CS_PASSPHRASE}}
targets:
`, u, base, key, filepath.Join(dir, "known_hosts"))
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  - {name: mt%03d, network: {hostname: mt%03d.example.com, ip: 10.0.%d.%d/16}}\n", i, i, i/200, 10+i%200)
	}
	p := filepath.Join(dir, "fleet.yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		return nil, err
	}
	return spec.LoadInventory(p)
}

// sim is an in-process vCenter, reached directly or through a proxy that
// delays every byte.
type sim struct {
	url   string
	close func()
}

func startSim(rtt time.Duration) (*sim, error) {
	m := simulator.VPX()
	if err := m.Create(); err != nil {
		return nil, err
	}
	m.Service.TLS = new(tls.Config)
	m.Service.Listen = &url.URL{User: url.UserPassword("user", "bench-pw")}
	srv := m.Service.NewServer()
	u := *srv.URL
	u.User = nil
	s := &sim{url: u.String(), close: func() { srv.Close(); m.Remove() }}
	if rtt == 0 {
		return s, nil
	}
	p, err := newDelayProxy(u.Host, rtt/2)
	if err != nil {
		s.close()
		return nil, err
	}
	u.Host = p.ln.Addr().String()
	s.url = u.String()
	inner := s.close
	s.close = func() { p.close(); inner() }
	return s, nil
}

// delayProxy forwards TCP connections to backend, delivering each chunk
// of bytes oneWay after it arrived, in each direction: latency without a
// bandwidth limit (chunks in flight overlap), as on a long, fat link.
type delayProxy struct {
	ln      net.Listener
	backend string
	oneWay  time.Duration
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   []net.Conn
}

func newDelayProxy(backend string, oneWay time.Duration) (*delayProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &delayProxy{ln: ln, backend: backend, oneWay: oneWay}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

func (p *delayProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		b, err := net.Dial("tcp", p.backend)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, b)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(b, c)
		go p.pipe(c, b)
	}
}

type chunk struct {
	b  []byte
	at time.Time
}

func (p *delayProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	ch := make(chan chunk, 1024)
	go func() {
		defer close(ch)
		for {
			buf := make([]byte, 64<<10)
			n, err := src.Read(buf)
			if n > 0 {
				ch <- chunk{buf[:n], time.Now().Add(p.oneWay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range ch {
		time.Sleep(time.Until(c.at))
		if _, err := dst.Write(c.b); err != nil {
			break
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	for range ch { // drain so the reader can finish
	}
}

func (p *delayProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// writeBase writes a CentOS-6.6-shaped ISO with mb MB of random
// "packages": the iso phase remasters it like the real one.
func writeBase(dir string, mb int) (string, error) {
	r := mrand.NewChaCha8([32]byte{7})
	random := func(n int) []byte {
		b := make([]byte, n)
		_, _ = io.ReadFull(r, b)
		return b
	}
	files := map[string][]byte{
		".discinfo":             []byte("1414159991.958686\n6.6\nx86_64\n1\n"),
		".treeinfo":             []byte("[general]\nfamily = CentOS\nversion = 6.6\narch = x86_64\n\n[stage2]\nmainimage = images/install.img\n"),
		"isolinux/isolinux.cfg": []byte("default vesamenu.c32\ntimeout 600\nlabel linux\n  menu label ^Install or upgrade an existing system\n  menu default\n  kernel vmlinuz\n  append initrd=initrd.img\n"),
		"isolinux/isolinux.bin": random(24 << 10),
		"isolinux/vmlinuz":      random(4 << 20),
		"isolinux/initrd.img":   random(32 << 20),
	}
	ws := filepath.Join(dir, "base-tree")
	write := func(rel string, b []byte) error {
		p := filepath.Join(ws, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, b, 0o644)
	}
	size := int64(8 << 20)
	for rel, b := range files {
		if err := write(rel, b); err != nil {
			return "", err
		}
		size += int64(len(b)) + 4096
	}
	for i := 0; i < mb/8; i++ {
		if err := write(fmt.Sprintf("Packages/filler-%03d-1.0-1.el6.x86_64.rpm", i), random(8<<20)); err != nil {
			return "", err
		}
		size += 8<<20 + 4096
	}
	out := filepath.Join(dir, "CentOS-6.6-x86_64-minimal.iso")
	d, err := diskfs.Create(out, size, diskfs.SectorSize(2048))
	if err != nil {
		return "", err
	}
	defer d.Close()
	fsys, err := d.CreateFilesystem(disk.FilesystemSpec{Partition: 0, FSType: filesystem.TypeISO9660, VolumeLabel: "CentOS 6.6 x86_64", WorkDir: ws})
	if err != nil {
		return "", err
	}
	bios := &iso9660.ElToritoEntry{Platform: iso9660.BIOS, Emulation: iso9660.NoEmulation, BootFile: "isolinux/isolinux.bin", BootTable: true}
	bios.SetLoadSize(4)
	err = fsys.(*iso9660.FileSystem).Finalize(iso9660.FinalizeOptions{
		RockRidge: true, VolumeIdentifier: "CentOS 6.6 x86_64",
		ElTorito: &iso9660.ElTorito{BootCatalog: "isolinux/boot.cat", Entries: []*iso9660.ElToritoEntry{bios}},
	})
	_ = os.RemoveAll(ws) // go-diskfs removes it too; be sure, it is the base's size
	return out, err
}

func writeKey(dir string) (string, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	block, err := ssh.MarshalPrivateKey(k, "")
	if err != nil {
		return "", err
	}
	pub, _ := ssh.NewPublicKey(&k.PublicKey)
	p := filepath.Join(dir, "id_rsa")
	if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
		return "", err
	}
	return p, os.WriteFile(p+".pub", ssh.MarshalAuthorizedKey(pub), 0o644)
}

// dropLines writes what the standard logger writes, but for lines
// containing drop.
type dropLines struct {
	w    io.Writer
	drop string
}

func (d dropLines) Write(p []byte) (int, error) {
	if strings.Contains(string(p), d.drop) {
		return len(p), nil
	}
	return d.w.Write(p)
}

// cpuSeconds is the process's user and system time (client and simulator
// alike: they share the process).
func cpuSeconds() float64 {
	var r syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r)
	return float64(r.Utime.Nano()+r.Stime.Nano()) / 1e9
}
