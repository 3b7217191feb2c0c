// Command sftp is the SSH benchmark behind `make bench-sftp` (not a test).
// In a lab (package internal/lab, root) it
//
//  1. builds an MT end to end in-process (every phase, the lab's install
//     stand-in playing anaconda) and prints the wall time of each guest
//     phase and the SSH round trips (sessions, connections) of that build
//     and of a second, no-change build;
//  2. uploads a 500 MB file to the guest with mtprep's SSHConn.Upload and
//     with OpenSSH's scp (same key, the OpenSSH 5.3 algorithms, strict
//     known_hosts), alternating, each to a fresh remote path, and prints
//     each time and the ratio of the rates.
//
// Upload does more than scp: it hashes the file locally, asks the guest
// for a hash of the path first (to skip a file already there), and hashes
// the result on the guest. The transfer alone (first to last byte handed
// to SFTP) is timed apart, and compared with scp; the whole Upload is
// compared with scp followed by a sha256sum on the guest.
package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mtprep/mtprep/centos"
	"github.com/mtprep/mtprep/internal/lab"
	"github.com/mtprep/mtprep/internal/testiso"
	"github.com/mtprep/mtprep/linux"
	"github.com/mtprep/mtprep/provision"
	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/provision/spec"
)

func main() {
	dir := flag.String("dir", "build/bench-sftp", "work directory: the lab's state, the test file, the MT's spec")
	sizeMB := flag.Int("size", 500, "upload size in MB")
	runs := flag.Int("runs", 3, "runs of each upload")
	skipBuild := flag.Bool("no-build", false, "skip the full-build figures")
	noSCP := flag.Bool("no-scp", false, "time mtprep's upload only (for tuning)")
	var tune tuning
	flag.IntVar(&tune.packet, "packet", 0, "SFTP write size in bytes (0: guest.DefaultSFTPPacket)")
	flag.IntVar(&tune.concurrency, "concurrency", 0, "SFTP writes in flight (0: guest.DefaultSFTPConcurrency)")
	verbose := flag.Bool("v", false, "log the lab and the build")
	flag.Parse()
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	tune.scp = !*noSCP
	if err := run(log, *dir, int64(*sizeMB)<<20, *runs, !*skipBuild, tune); err != nil {
		fmt.Fprintln(os.Stderr, "bench-sftp:", err)
		os.Exit(1)
	}
}

// tuning are the upload settings under test.
type tuning struct {
	packet, concurrency int
	scp                 bool
}

func run(log *slog.Logger, dir string, size int64, runs int, build bool, tune tuning) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	base, err := testiso.Build(ctx, dir, testiso.Options{})
	if err != nil {
		return err
	}
	blob := filepath.Join(dir, fmt.Sprintf("blob-%dm.bin", size>>20))
	if err := writeBlob(blob, size); err != nil {
		return err
	}

	t0 := time.Now()
	l, err := lab.Up(ctx, lab.Options{StateDir: filepath.Join(dir, "lab"), Logger: log})
	if err != nil {
		return err
	}
	defer l.Down()
	fmt.Printf("lab up in %v (%d CPUs)\n", time.Since(t0).Round(time.Millisecond), runtime.NumCPU())
	g := l.Guests[0]
	w, err := l.WatchInstalls(ctx, map[string]*lab.Guest{"mt01": g})
	if err != nil {
		return err
	}
	defer w.Stop()
	specFile, err := writeSpec(l, g, dir, base)
	if err != nil {
		return err
	}
	s, err := spec.Load(specFile)
	if err != nil {
		return err
	}
	if build {
		if err := buildFigures(ctx, log, s, filepath.Join(dir, "work")); err != nil {
			return err
		}
	} else if err := guest.RecordHostKey(s.SSH.KnownHosts, g.Address, 22, g.HostKeyPublic); err != nil {
		return err
	}
	return uploadFigures(ctx, s, g, blob, size, runs, tune)
}

// buildFigures builds the MT twice in-process and prints the guest phases'
// wall time and SSH round trips.
func buildFigures(ctx context.Context, log *slog.Logger, s *spec.Spec, work string) error {
	os.RemoveAll(work)
	for i, label := range []string{"first build (every phase changes)", "second build (every phase done)"} {
		t := &provision.Target{Spec: s, OS: centos.OS(), Options: provision.BuildOptions{WorkDir: work, InstallTimeout: 5 * time.Minute, RebootTimeout: 3 * time.Minute}, Log: log}
		start := time.Now()
		rs, err := provision.Build(ctx, t, provision.Phases())
		total := time.Since(start)
		ss := t.SSHRoundTrips()
		t.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		var guest time.Duration
		var parts []string
		for _, r := range rs {
			switch r.Phase {
			case "packages", "tools", "agent", "retention", "handoff":
				guest += r.Duration
				parts = append(parts, fmt.Sprintf("%s %s %v", r.Phase, r.Status, r.Duration.Round(10*time.Millisecond)))
			}
		}
		fmt.Printf("\n%s: all phases %v; guest phases %v (%s)\n", label, total.Round(10*time.Millisecond), guest.Round(10*time.Millisecond), strings.Join(parts, ", "))
		fmt.Printf("  SSH: %d sessions (%d commands/scripts, %d SFTP), %d connections\n", ss.Sessions, ss.Commands, ss.SFTP, ss.Dials)
		if i == 0 {
			fmt.Println("  (the agent phase includes a reboot of the guest, about 2.5 s of the lab's reboot delay and shutdown grace)")
		}
	}
	return nil
}

type sample struct {
	what            string
	whole, transfer time.Duration
}

func uploadFigures(ctx context.Context, s *spec.Spec, g *lab.Guest, blob string, size int64, runs int, tune tuning) error {
	cfg := guest.ConfigFor(s, linux.Shell{}, nil, nil)
	cfg.SFTPPacket, cfg.SFTPConcurrency = tune.packet, tune.concurrency
	if cfg.SFTPPacket == 0 {
		cfg.SFTPPacket = guest.DefaultSFTPPacket
	}
	if cfg.SFTPConcurrency == 0 {
		cfg.SFTPConcurrency = guest.DefaultSFTPConcurrency
	}
	conn, err := guest.Dial(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.Run(ctx, "mkdir", "-p", "/root/bench"); err != nil {
		return err
	}
	scp := func(remote string, legacy bool) error {
		args := []string{"-q", "-B", "-i", s.SSH.PrivateKey,
			"-o", "UserKnownHostsFile=" + s.SSH.KnownHosts, "-o", "StrictHostKeyChecking=yes", "-o", "GlobalKnownHostsFile=/dev/null",
			"-o", "HostKeyAlgorithms=ssh-rsa", "-o", "PubkeyAcceptedAlgorithms=ssh-rsa",
			"-o", "KexAlgorithms=diffie-hellman-group14-sha1,diffie-hellman-group-exchange-sha1",
			"-o", "Ciphers=aes128-ctr", "-o", "MACs=hmac-sha1"}
		if legacy {
			args = append(args, "-O") // the SCP protocol, as OpenSSH 5.3's scp speaks it
		}
		args = append(args, blob, "root@"+g.Address+":"+remote)
		cmd := exec.CommandContext(ctx, "scp", args...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("scp: %w: %s", err, out)
		}
		return nil
	}
	var samples []sample
	fmt.Printf("\nuploading %d MB to %s, %d runs each after a warm-up run 0, alternating (aes128-ctr, hmac-sha1 on both sides); mtprep: SFTP writes of %d bytes, %d in flight\n",
		size>>20, g.Address, runs, cfg.SFTPPacket, cfg.SFTPConcurrency)
	kinds := []string{"mtprep Upload", "scp -O (SCP protocol)", "scp (SFTP protocol)"}
	if !tune.scp {
		kinds = kinds[:1]
	}
	// Run 0 warms up (the guest's tmpfs, the host's page cache) and is not
	// counted.
	for i := 0; i <= runs; i++ {
		for _, what := range kinds {
			remote := fmt.Sprintf("/root/bench/%d-%s.bin", i, strings.Fields(what)[0])
			var sm sample
			sm.what = what
			switch what {
			case "mtprep Upload":
				var mu sync.Mutex
				var first, last time.Time
				start := time.Now()
				res, err := conn.Upload(ctx, blob, remote, func(_ string, done, total int64) {
					mu.Lock()
					defer mu.Unlock()
					if first.IsZero() && done > 0 {
						first = time.Now()
					}
					if done == total {
						last = time.Now()
					}
				})
				if err != nil {
					return err
				}
				sm.whole = time.Since(start)
				if res.Skipped || res.Resumed > 0 || res.Sent != size {
					return fmt.Errorf("upload %d: %+v, want a full transfer", i, res)
				}
				sm.transfer = last.Sub(first)
			default:
				start := time.Now()
				if err := scp(remote, strings.Contains(what, "-O")); err != nil {
					return err
				}
				sm.transfer = time.Since(start)
				if _, err := conn.Run(ctx, "sha256sum", remote); err != nil {
					return err
				}
				sm.whole = time.Since(start)
			}
			if i > 0 {
				samples = append(samples, sm)
			}
			fmt.Printf("  run %d  %-22s transfer %6.2fs (%6.1f MB/s)   whole %6.2fs\n", i, what, sm.transfer.Seconds(), mbps(size, sm.transfer), sm.whole.Seconds())
			if _, err := conn.Run(ctx, "rm", "-f", remote); err != nil {
				return err
			}
		}
	}
	med := func(what string, whole bool) time.Duration {
		var d []time.Duration
		for _, s := range samples {
			if s.what == what {
				if whole {
					d = append(d, s.whole)
				} else {
					d = append(d, s.transfer)
				}
			}
		}
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return d[len(d)/2]
	}
	m, mw := med("mtprep Upload", false), med("mtprep Upload", true)
	fmt.Printf("\nmedians (ratio = scp time / mtprep time; above 1.0 mtprep is faster)\n")
	fmt.Printf("  mtprep Upload            transfer %.2fs (%.1f MB/s), whole %.2fs\n", m.Seconds(), mbps(size, m), mw.Seconds())
	for _, what := range kinds[1:] {
		st, sw := med(what, false), med(what, true)
		fmt.Printf("  vs %-22s transfer %.2fs vs %.2fs: %.2fx   whole (+ sha256sum on the guest) %.2fs vs %.2fs: %.2fx\n",
			what, m.Seconds(), st.Seconds(), st.Seconds()/m.Seconds(), mw.Seconds(), sw.Seconds(), sw.Seconds()/mw.Seconds())
	}
	_, err = conn.Run(ctx, "rm", "-rf", "/root/bench")
	fmt.Printf("  mtprep SSH for the uploads: %+v\n", conn.Stats())
	return err
}

func mbps(size int64, d time.Duration) float64 { return float64(size) / 1e6 / d.Seconds() }

// writeBlob writes size bytes that do not compress (neither side
// compresses, but a fair test does not depend on it), once.
func writeBlob(path string, size int64) error {
	if st, err := os.Stat(path); err == nil && st.Size() == size {
		return nil
	}
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	r := rand.NewChaCha8(sha256.Sum256([]byte(path)))
	if _, err := io.CopyN(f, r, size); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

// writeSpec writes the MT's spec for the lab, like make demo's: secrets in
// files of mode 0600.
func writeSpec(l *lab.Lab, g *lab.Guest, dir, base string) (string, error) {
	sec := filepath.Join(dir, "secrets")
	if err := os.MkdirAll(sec, 0o700); err != nil {
		return "", err
	}
	for name, v := range map[string]string{"vc": l.VC.Password, "root": fmt.Sprintf("bench-%x", rand.Uint64())} {
		if err := os.WriteFile(filepath.Join(sec, name), []byte(v+"\n"), 0o600); err != nil {
			return "", err
		}
	}
	os.Remove(filepath.Join(dir, "known_hosts"))
	u := *l.VC.URL
	u.User = nil
	spec := fmt.Sprintf(`name: mt01
vsphere: {url: "%s", username: "%s", password: {file: %s/vc}, thumbprint: "%s", datacenter: DC0, host: DC0_H0, datastore: LocalDS_0, network: VM Network}
iso: {base: %s}
network: {hostname: mt01.lab.local, ip: %s/24, gateway: %s, dns: [%s]}
rootPassword: {file: %s/root}
ssh: {privateKey: %s, knownHosts: %s/known_hosts, hostKey: strict}
packages: {source: bundle, bundle: %s}
agent: {tarball: %s}
configServer: {ip: %s, port: %d, passphrase: {file: %s}}
`, u.String(), l.VC.Username, sec, l.VC.Thumbprint, base, g.Address, l.HostIP, l.HostIP, sec,
		g.UserKeyFile, dir, l.BundlePath, l.AgentTarball, l.ConfigServer.IP, l.ConfigServer.Port, l.ConfigServer.PassphraseFile)
	p := filepath.Join(dir, "mt01.yaml")
	return p, os.WriteFile(p, []byte(spec), 0o644)
}
