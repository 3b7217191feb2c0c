// Command mtlab starts and stops the mtprep lab (package internal/lab) for
// people and for process-level tests:
//
//	mtlab up     [-state DIR] [-guests N] [-install-vm NAME] [-v]
//	                                             start, write DIR/lab.env, run until SIGINT/SIGTERM
//	mtlab down   [-state DIR]                    stop a running `mtlab up` of DIR and remove leftovers
//	mtlab status [-state DIR]                    list the labs in the registry
//
// DIR defaults to build/lab. lab.env is a shell file ("set -a; . lab.env")
// with the govc variables (GOVC_URL, ...) and MTLAB_* (guest address, SSH
// key, known_hosts, configuration server, repository URLs, bundle and agent
// tarballs).
//
// While it runs, `mtlab up` plays the installer for guest 1 (the lab's
// stand-in for anaconda, see lab.Lab.Install): when the VM named by
// -install-vm (default mt01) is powered on in the lab's vCenter with an ISO
// in its CD-ROM, as `mtprep build` does, the lab applies that ISO's
// kickstart to guest 1 and boots it. -install-vm "" turns this off.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/mtprep/mtprep/internal/lab"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	cmd, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet("mtlab "+cmd, flag.ExitOnError)
	state := fs.String("state", "build/lab", "state directory (runs, cache, lab.env)")
	guests := fs.Int("guests", 1, "number of MT guests (up)")
	verbose := fs.Bool("v", false, "debug logging, including the guests' sshd (up)")
	installVM := fs.String("install-vm", "mt01", "VM whose power-on with an ISO installs guest 1 (the lab's stand-in for anaconda); empty: none (up)")
	jsonOut := fs.Bool("json", false, "JSON output (status)")
	flavour := fs.String("flavour", lab.FlavourCentOS, "the guests' OS: \"\" (CentOS 6.6) or "+lab.FlavourUbuntu+" (up)")
	fs.Parse(args)
	abs, err := filepath.Abs(*state)
	if err != nil {
		fatal(err)
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	switch cmd {
	case "up":
		err = up(log, abs, *guests, *installVM, *flavour)
	case "down":
		err = down(log, abs)
	case "status":
		err = status(abs, *jsonOut)
	default:
		usage()
	}
	if err != nil {
		fatal(err)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: mtlab up|down|status [-state DIR] [-guests N] [-flavour ubuntu-16.04] [-v] [-json]")
	os.Exit(2)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "mtlab:", err)
	os.Exit(1)
}

func up(log *slog.Logger, state string, guests int, installVM, flavour string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := os.MkdirAll(state, 0o755); err != nil {
		return err
	}
	envFile := filepath.Join(state, "lab.env")
	pidFile := filepath.Join(state, "mtlab.pid")
	os.Remove(envFile)
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	defer os.Remove(pidFile)
	upCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	l, err := lab.Up(upCtx, lab.Options{Guests: guests, StateDir: state, Logger: log, Flavour: flavour})
	cancel()
	if err != nil {
		return err
	}
	defer func() {
		if err := l.Down(); err != nil {
			log.Error("lab down", "err", err)
		}
		os.Remove(envFile)
		fmt.Fprintf(os.Stderr, "mtlab: up took %v, down took %v\n", l.UpTime.Round(time.Millisecond), l.DownTime.Round(time.Millisecond))
	}()
	if installVM != "" {
		w, err := l.WatchInstalls(ctx, map[string]*lab.Guest{installVM: l.Guests[0]})
		if err != nil {
			return fmt.Errorf("install stand-in for VM %s: %w", installVM, err)
		}
		defer w.Stop()
	}
	if err := l.WriteEnvFile(envFile); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "mtlab: up in %v; environment in %s\n", l.UpTime.Round(time.Millisecond), envFile)
	fmt.Fprintf(os.Stderr, "  vCenter  %s (user %s)\n", l.VC.URL.Redacted(), l.VC.Username)
	for _, g := range l.Guests {
		fmt.Fprintf(os.Stderr, "  guest    %s %s (VM %s) ssh -i %s -o UserKnownHostsFile=%s root@%s\n", g.Name, g.Address, g.VMName, g.UserKeyFile, g.KnownHostsFile, g.Address)
	}
	fmt.Fprintf(os.Stderr, "  config   %s\n  repo     %s\n  bundle   %s\n  agent    %s\n", l.ConfigServer.Addr(), l.RepoURL, l.BundlePath, l.AgentTarball)
	if installVM != "" {
		fmt.Fprintf(os.Stderr, "  install  powering on VM %s with an ISO installs guest %s (stand-in for anaconda)\n", installVM, l.Guests[0].Name)
	}
	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "mtlab: stopping")
	return nil
}

// down stops the running `mtlab up` of this state directory (found in the
// lab registry), then removes whatever dead labs left behind.
func down(log *slog.Logger, state string) error {
	var errs []error
	for _, s := range lab.Statuses() {
		r := s.Record
		if !s.Live || r.StateDir != state || r.Program != "mtlab" {
			continue
		}
		log.Info("stopping running lab", "pid", r.Pid, "run", r.RunID)
		if err := syscall.Kill(r.Pid, syscall.SIGTERM); err != nil {
			errs = append(errs, err)
			continue
		}
		if !waitDead(s.Slot, 90*time.Second) {
			log.Warn("lab did not stop, killing it", "pid", r.Pid)
			syscall.Kill(r.Pid, syscall.SIGKILL)
			waitDead(s.Slot, 10*time.Second)
		}
	}
	if err := lab.CleanupContext(context.Background(), state, log); err != nil {
		errs = append(errs, err)
	}
	os.Remove(filepath.Join(state, "lab.env"))
	os.Remove(filepath.Join(state, "mtlab.pid"))
	return errors.Join(errs...)
}

func waitDead(slot int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		live := false
		for _, s := range lab.Statuses() {
			if s.Slot == slot && s.Live {
				live = true
			}
		}
		if !live {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

func status(state string, asJSON bool) error {
	st := lab.Statuses()
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	if len(st) == 0 {
		fmt.Println("no labs")
	}
	for _, s := range st {
		r := s.Record
		what := "dead (run mtlab down)"
		if s.Live {
			what = "running"
		}
		fmt.Printf("slot %d  run %s  %s  pid %d (%s)  since %s\n  state %s\n  vcenter %s  guests %v\n",
			s.Slot, r.RunID, what, r.Pid, r.Program, r.Started.Format(time.RFC3339), r.StateDir, r.VCenter, r.Guests)
	}
	if _, err := os.Stat(filepath.Join(state, "lab.env")); err == nil {
		fmt.Printf("environment: %s\n", filepath.Join(state, "lab.env"))
	}
	return nil
}
