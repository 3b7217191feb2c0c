// Command mktestiso drives package testiso for make: it builds the
// CentOS-6.6-shaped test base, remasters an ISO with images.Remaster (the
// code behind `mtprep iso`, without a spec), and boots an ISO in qemu.
//
//	mktestiso [-dir build] [-filler-mb 0] [-family centos|ubuntu|windows]
//	                                               build the base (or a stand-in of the
//	                                               other families), print its path
//	mktestiso remaster -base B -out O -ks FILE     images.Remaster, print sha256 and time
//	mktestiso boot [-timeout 180s] [-want-ks FILE] ISO
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mtprep/mtprep/images"
	"github.com/mtprep/mtprep/internal/testiso"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mktestiso:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "boot":
			return boot(ctx, args[1:], stdout)
		case "remaster":
			return remaster(ctx, args[1:], stdout, stderr)
		}
	}
	fs := flag.NewFlagSet("mktestiso", flag.ContinueOnError)
	dir := fs.String("dir", "build", "directory for the ISO")
	filler := fs.Int("filler-mb", 0, "MiB of incompressible Packages/*.rpm filler (about 450 for a real-sized base)")
	family := fs.String("family", "centos", "which stand-in: centos (the test base), ubuntu (16.04.2 server) or windows (Server 2016, UDF)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var p string
	var err error
	switch *family {
	case "centos":
		p, err = testiso.Build(ctx, *dir, testiso.Options{FillerMB: *filler})
	case "ubuntu":
		p, err = testiso.BuildUbuntu(ctx, *dir, testiso.UbuntuOptions{})
	case "windows":
		p, err = testiso.BuildWindows(ctx, *dir, "")
	default:
		return fmt.Errorf("-family %q: want centos, ubuntu or windows", *family)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, p)
	return nil
}

func remaster(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mktestiso remaster", flag.ContinueOnError)
	base := fs.String("base", "", "base ISO")
	out := fs.String("out", "", "ISO to write")
	ks := fs.String("ks", "", "kickstart file")
	verbose := fs.Bool("v", false, "log to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	data, err := os.ReadFile(*ks)
	if err != nil {
		return err
	}
	o := images.RemasterOptions{Base: *base, Out: *out, Kickstart: data}
	if *verbose {
		o.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	start := time.Now()
	r, err := images.Remaster(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s %s %d bytes in %s (base sha256 %s)\n", r.SHA256, r.Out, r.Size,
		time.Since(start).Round(time.Millisecond), r.Base.SHA256)
	return nil
}

func boot(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("mktestiso boot", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 180*time.Second, "give up after this long")
	wantKS := fs.String("want-ks", "", "fail unless the guest printed exactly this kickstart file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: mktestiso boot [-timeout D] [-want-ks FILE] ISO")
	}
	start := time.Now()
	live := &redactor{w: stdout}
	serial, err := testiso.BootStream(ctx, fs.Arg(0), *timeout, live)
	live.flush()
	if err != nil {
		return err
	}
	r := testiso.ParseSerial(serial)
	fmt.Fprintf(stdout, "--- booted in %s\nkernel command line: %s\n", time.Since(start).Round(time.Second), r.Cmdline)
	switch {
	case r.Error != "":
		return fmt.Errorf("guest: %s", r.Error)
	case !strings.Contains(" "+r.Cmdline+" ", " "+images.KickstartArg+" "):
		return fmt.Errorf("the kernel did not get %s", images.KickstartArg)
	case !r.HasKS:
		return errors.New("the guest printed no kickstart")
	}
	if *wantKS != "" {
		want, err := os.ReadFile(*wantKS)
		if err != nil {
			return err
		}
		if r.Kickstart != string(want) {
			return fmt.Errorf("the guest read a different kickstart than %s", *wantKS)
		}
		fmt.Fprintf(stdout, "the guest read %s from the CD, byte for byte\n", *wantKS)
	}
	return nil
}

// redactor passes serial output through line by line, replacing the body
// of PEM private keys (mtprep's kickstart carries the MT's SSH host key)
// and the root password hash, so the demo does not print secrets.
type redactor struct {
	w       io.Writer
	line    []byte
	inKey   bool
	skipped int
}

func (r *redactor) Write(p []byte) (int, error) {
	for _, c := range p {
		r.line = append(r.line, c)
		if c == '\n' {
			r.emit()
		}
	}
	return len(p), nil
}

func (r *redactor) emit() {
	l := string(r.line)
	r.line = r.line[:0]
	switch {
	case strings.Contains(l, "-----BEGIN") && strings.Contains(l, "PRIVATE KEY-----"):
		r.inKey, r.skipped = true, 0
		_, _ = io.WriteString(r.w, l)
	case r.inKey && strings.Contains(l, "-----END"):
		r.inKey = false
		fmt.Fprintf(r.w, "[%d lines of private key not shown]\r\n", r.skipped)
		_, _ = io.WriteString(r.w, l)
	case r.inKey:
		r.skipped++
	case strings.HasPrefix(strings.TrimSpace(l), "rootpw "):
		_, _ = io.WriteString(r.w, "rootpw --iscrypted [hash not shown]\r\n")
	default:
		_, _ = io.WriteString(r.w, l)
	}
}

func (r *redactor) flush() {
	if len(r.line) > 0 {
		r.emit()
	}
}
