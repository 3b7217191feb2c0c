package testiso

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Markers /init prints on the serial port.
const (
	CmdlineMarker     = "MTPREP-CMDLINE: "
	KickstartBegin    = "MTPREP-KS-BEGIN"
	KickstartEnd      = "MTPREP-KS-END"
	NoKickstartMarker = "MTPREP-NO-KS"
	ErrorMarker       = "MTPREP-ERROR: "
	SourceMarker      = "MTPREP-KS-SOURCE: " // the device the kickstart was read from
)

// QEMU is the emulator Boot runs (Debian package qemu-system-x86).
const QEMU = "qemu-system-x86_64"

// ErrBootTimeout is returned when the kickstart end marker did not show up
// in time.
var ErrBootTimeout = errors.New("boot timed out")

// Boot boots iso in qemu (TCG, no key pressed) and returns the serial
// output up to the kickstart end marker, /init's error markers, qemu's exit,
// or timeout. qemu is killed when ctx ends.
func Boot(ctx context.Context, iso string, timeout time.Duration) (string, error) {
	return BootStream(ctx, iso, timeout, nil)
}

// BootStream is Boot, also copying the serial output to live as it comes.
func BootStream(ctx context.Context, iso string, timeout time.Duration, live io.Writer) (string, error) {
	return BootDrives(ctx, []string{iso}, timeout, live)
}

// BootDrives is BootStream with several CD-ROMs: isos[0] is the boot
// media (IDE primary master, the guest's sr0), isos[1] the primary slave
// (sr1), isos[2] and isos[3] the secondary channel's. That is how a
// vSphere VM with shared install media at IDE 0:0 and a seed ISO at IDE
// 0:1 looks to the installer. One ISO is qemu's plain -cdrom, as before.
func BootDrives(ctx context.Context, isos []string, timeout time.Duration, live io.Writer) (string, error) {
	if _, err := exec.LookPath(QEMU); err != nil {
		return "", fmt.Errorf("testiso: %s: %w (install qemu-system-x86)", QEMU, ErrMissingHost)
	}
	if len(isos) == 0 || len(isos) > 4 {
		return "", fmt.Errorf("testiso: boot needs 1 to 4 CD-ROMs, got %d", len(isos))
	}
	iso := strings.Join(isos, " + ")
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// -nographic: serial and qemu's monitor share stdio; -monitor none
	// keeps the monitor out so the output is the guest's only.
	args := []string{"-nographic", "-no-reboot", "-m", "512"}
	if len(isos) == 1 {
		args = append(args, "-cdrom", isos[0])
	} else {
		for i, p := range isos {
			if strings.Contains(p, ",") {
				return "", fmt.Errorf("testiso: %s: qemu cannot take a comma in a drive's file name", p)
			}
			args = append(args, "-drive", fmt.Sprintf("file=%s,format=raw,if=ide,index=%d,media=cdrom", p, i))
		}
	}
	args = append(args, "-boot", "d", "-serial", "stdio", "-monitor", "none")
	cmd := exec.CommandContext(ctx, QEMU, args...)
	cmd.Stdin = nil // no key is ever pressed
	out := &serialBuffer{live: live, stop: cancel, markers: bootMarkers}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	serial := out.String()
	switch {
	case out.finished():
		return serial, nil
	case ctx.Err() == context.DeadlineExceeded:
		return serial, fmt.Errorf("testiso: boot %s: no %s after %s: %w", iso, KickstartEnd, time.Since(start).Round(time.Second), ErrBootTimeout)
	case ctx.Err() != nil:
		return serial, fmt.Errorf("testiso: boot %s: %w", iso, ctx.Err())
	case err != nil:
		return serial, fmt.Errorf("testiso: boot %s: %s: %w", iso, QEMU, err)
	default:
		return serial, fmt.Errorf("testiso: boot %s: qemu exited without %s", iso, KickstartEnd)
	}
}

// bootMarkers end a boot: /init's kickstart end, "no ks=" and error
// markers.
var bootMarkers = []string{KickstartEnd, NoKickstartMarker, ErrorMarker}

// serialBuffer collects qemu's output and stops qemu once the guest is
// done (any of markers seen): after that it only powers off, which is not
// worth waiting for.
type serialBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	live    io.Writer
	stop    func()
	markers []string
	done    bool
}

func (s *serialBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Write(p)
	if s.live != nil {
		_, _ = s.live.Write(p)
	}
	if !s.done {
		b := s.buf.Bytes()
		for _, m := range s.markers {
			if bytes.Contains(b, []byte(m)) {
				s.done = true
				// Let the rest of the line arrive, then stop qemu.
				time.AfterFunc(500*time.Millisecond, s.stop)
				break
			}
		}
	}
	return len(p), nil
}

// KernelBoot is a direct kernel boot (qemu -kernel/-initrd) with SCSI
// disks: how the debian-installer test boots d-i's netboot kernel.
type KernelBoot struct {
	Kernel, Initrd, Append string
	// Disks are raw images on one virtio-scsi controller, target i for
	// Disks[i], so the guest names them sda, sdb, … in order.
	Disks    []string
	MemoryMB int // 0: 1024
	// Done are the serial markers that end the boot (as KickstartEnd does
	// for Boot); the boot also ends when qemu exits (the guest powered
	// off, -no-reboot).
	Done []string
}

// BootKernel runs b in qemu (TCG, no network, no key pressed) and returns
// the serial output up to one of b.Done's markers, qemu's exit or timeout.
// found says whether a marker ended it.
func BootKernel(ctx context.Context, b KernelBoot, timeout time.Duration, live io.Writer) (serial string, found bool, err error) {
	if _, err := exec.LookPath(QEMU); err != nil {
		return "", false, fmt.Errorf("testiso: %s: %w (install qemu-system-x86)", QEMU, ErrMissingHost)
	}
	mem := b.MemoryMB
	if mem == 0 {
		mem = 1024
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	args := []string{"-nographic", "-vga", "none", "-no-reboot", "-m", fmt.Sprint(mem), "-nic", "none",
		"-kernel", b.Kernel, "-initrd", b.Initrd, "-append", b.Append,
		"-device", "virtio-scsi-pci,id=scsi0"}
	for i, d := range b.Disks {
		if strings.Contains(d, ",") {
			return "", false, fmt.Errorf("testiso: %s: qemu cannot take a comma in a drive's file name", d)
		}
		args = append(args, "-drive", fmt.Sprintf("file=%s,format=raw,if=none,id=disk%d,cache=unsafe", d, i),
			"-device", fmt.Sprintf("scsi-hd,drive=disk%d,bus=scsi0.0,channel=0,scsi-id=%d,lun=0", i, i))
	}
	args = append(args, "-serial", "stdio", "-monitor", "none")
	cmd := exec.CommandContext(ctx, QEMU, args...)
	cmd.Stdin = nil
	out := &serialBuffer{live: live, stop: cancel, markers: b.Done}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	runErr := cmd.Run()
	serial = out.String()
	switch {
	case out.finished():
		return serial, true, nil
	case ctx.Err() == context.DeadlineExceeded:
		return serial, false, fmt.Errorf("testiso: boot %s: no %s after %s: %w", b.Kernel, strings.Join(b.Done, " or "), time.Since(start).Round(time.Second), ErrBootTimeout)
	case ctx.Err() != nil:
		return serial, false, fmt.Errorf("testiso: boot %s: %w", b.Kernel, ctx.Err())
	case runErr != nil:
		return serial, false, fmt.Errorf("testiso: boot %s: %s: %w", b.Kernel, QEMU, runErr)
	}
	return serial, false, nil // the guest powered off
}

func (s *serialBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func (s *serialBuffer) finished() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done
}

// Serial is what /init reported.
type Serial struct {
	Cmdline string // the kernel command line
	// Kickstart is the kickstart text, "\n" line ends; for the Ubuntu
	// stand-in, the preseed its debconf-set-selections was given (or the
	// medium's preseed when that has no early command).
	Kickstart string
	HasKS     bool   // the markers were found
	Error     string // an /init error or "no ks=" report, if any
	Source    string // the device the kickstart (preseed) was read from ("sr1")
	// MediaPreseed is the preseed the Ubuntu stand-in read from the
	// install medium (file=); HasMedia says its markers were found.
	MediaPreseed string
	HasMedia     bool
}

// ParseSerial extracts /init's report from a serial log (which has "\r\n"
// line ends and kernel messages around it).
func ParseSerial(serial string) Serial {
	s := strings.ReplaceAll(serial, "\r\n", "\n")
	var r Serial
	for _, line := range strings.Split(s, "\n") {
		if i := strings.Index(line, CmdlineMarker); i >= 0 && r.Cmdline == "" {
			r.Cmdline = strings.TrimSpace(line[i+len(CmdlineMarker):])
		}
		if i := strings.Index(line, ErrorMarker); i >= 0 && r.Error == "" {
			r.Error = strings.TrimSpace(line[i+len(ErrorMarker):])
		}
		if i := strings.Index(line, SourceMarker); i >= 0 && r.Source == "" {
			r.Source = strings.TrimSpace(line[i+len(SourceMarker):])
		}
		if strings.Contains(line, NoKickstartMarker) && r.Error == "" {
			r.Error = "the kernel command line has no ks=cdrom: or ks=hd:"
		}
	}
	if b := strings.Index(s, MediaPreseedBegin+"\n"); b >= 0 {
		body := s[b+len(MediaPreseedBegin)+1:]
		if e := strings.Index(body, MediaPreseedEnd); e >= 0 {
			r.MediaPreseed, r.HasMedia = body[:e], true
		}
	}
	begin := strings.Index(s, KickstartBegin+"\n")
	if begin < 0 {
		return r
	}
	body := s[begin+len(KickstartBegin)+1:]
	end := strings.Index(body, KickstartEnd)
	if end < 0 {
		return r
	}
	r.Kickstart, r.HasKS = body[:end], true
	return r
}
