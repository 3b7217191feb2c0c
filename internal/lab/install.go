package lab

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// The install stand-in: the lab's STAND-IN FOR ANACONDA, CentOS 6.6's
// installer. A real install cannot happen here (no CentOS 6.6, no KVM), so
// when the VM that `mtprep build` created in vcsim is powered on with an ISO
// in its CD-ROM, the lab plays the installer for one of its guests: it reads
// the ISO from the datastore's real directory with go-diskfs, takes /ks.cfg
// out of it, and leaves on the guest what that kickstart would leave on an
// installed system:
//
//   - the network line's host name (/etc/sysconfig/network) and address
//     (ifcfg-<device>); the address must already be the guest's, which the
//     lab does not change;
//   - rootpw --iscrypted, as root's hash in /etc/shadow;
//   - the %post section, run for real in the guest with bash, so the
//     kickstart's own script (scripts/ks-post.sh) installs root's
//     authorized_keys and the MT's SSH host key from its heredocs; its
//     output goes to the --log file, as anaconda does;
//   - the VM's disks, presented to the guest by WWID (the first the OS
//     disk, the others blank), as a VM with disk.EnableUUID=TRUE shows them;
//
// then boots the guest, so that its sshd serves the kickstart's host key
// with the kickstart's host name, and couples the VM's VMware Tools to the
// guest: like a real minimal install it has none, so vSphere reports them
// not running until something installs and starts them (tools.go). It does not check the kickstart against
// anaconda's grammar (package centos's golden tests do), partition, or
// install packages: the rest of the guest stays as the lab made it.

// InstallReport is what one stand-in install did.
type InstallReport struct {
	VM       string
	Guest    string
	ISO      string // the ISO the kickstart came from: "[LocalDS_0] mtprep-iso/seeds/mt01-<sha>.iso"
	ISOFile  string // the file behind it on the host
	Hostname string
	Address  string
	// HostKeyFingerprint is the SHA256 fingerprint of the host key the
	// guest serves after the install: the kickstart's, when it has one.
	HostKeyFingerprint string
	Disks              []*Disk
	Started, Finished  time.Time
}

// kickstartInfo is what the install stand-in takes from a ks.cfg.
type kickstartInfo struct {
	Hostname, IP, Netmask, Gateway, Device string
	DNS                                    []string
	RootHash                               string
	Post                                   string // the body of %post
	PostLog                                string // %post --log=
}

// parseKickstart reads the commands the stand-in applies; everything else
// (partitioning, packages, firewall) is anaconda's business and ignored.
func parseKickstart(ks []byte) (kickstartInfo, error) {
	var k kickstartInfo
	var post strings.Builder
	inPost, sawPost := false, false
	sc := bufio.NewScanner(bytes.NewReader(ks))
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if inPost {
			if strings.TrimSpace(line) == "%end" {
				inPost = false
				continue
			}
			post.WriteString(line + "\n")
			continue
		}
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch f[0] {
		case "network":
			for _, a := range f[1:] {
				key, v, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
				switch key {
				case "hostname":
					k.Hostname = v
				case "ip":
					k.IP = v
				case "netmask":
					k.Netmask = v
				case "gateway":
					k.Gateway = v
				case "device":
					k.Device = v
				case "nameserver":
					k.DNS = strings.Split(v, ",")
				}
			}
		case "rootpw":
			if len(f) == 3 && f[1] == "--iscrypted" {
				k.RootHash = f[2]
			}
		case "%post":
			if sawPost {
				return k, errors.New("kickstart has more than one %post section")
			}
			inPost, sawPost = true, true
			for _, a := range f[1:] {
				if v, ok := strings.CutPrefix(a, "--log="); ok {
					k.PostLog = v
				}
				if a == "--nochroot" {
					return k, errors.New("%post --nochroot is not supported by the lab's install stand-in")
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return k, err
	}
	if inPost {
		return k, errors.New("kickstart: %post without %end")
	}
	if k.IP == "" || k.Hostname == "" {
		return k, errors.New("kickstart has no static network line with --ip and --hostname")
	}
	if k.Device == "" {
		k.Device = "eth0"
	}
	k.Post = post.String()
	return k, nil
}

// readISOFile reads one file out of an ISO 9660 image, read-only. go-diskfs
// panics on some malformed images; that becomes an error.
func readISOFile(isoPath, name string) (_ []byte, err error) {
	f, err := os.Open(isoPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: malformed ISO: %v", isoPath, r)
		}
	}()
	// Read with a zero workspace: Close of an iso9660.FileSystem deletes its
	// workspace directory, and this one has none.
	fsys, err := iso9660.Read(file.New(f, true), st.Size(), 0, 2048)
	if err != nil {
		return nil, fmt.Errorf("%s: not an ISO 9660 image: %w", isoPath, err)
	}
	var lastErr error
	// Rock Ridge gives the real name; a plain ISO 9660 reader may see it
	// upper-cased.
	for _, n := range []string{name, strings.ToUpper(name)} {
		fh, err := fsys.OpenFile(n, os.O_RDONLY)
		if err != nil {
			lastErr = err
			continue
		}
		return io.ReadAll(io.LimitReader(fh, 4<<20))
	}
	return nil, fmt.Errorf("%s: %s: %w", isoPath, name, lastErr)
}

// datastoreFile maps "[LocalDS_0] dir/file.iso" to the file behind it on
// the host; only the lab's datastore has files the lab can read.
func (l *Lab) datastoreFile(dsPath string) (string, error) {
	var p object.DatastorePath
	if !p.FromString(dsPath) {
		return "", fmt.Errorf("%q is not a datastore path", dsPath)
	}
	if p.Datastore != l.VC.Datastore {
		return "", fmt.Errorf("%q is on datastore %s; the lab can read only %s", dsPath, p.Datastore, l.VC.Datastore)
	}
	rel := filepath.Clean("/" + p.Path)
	return filepath.Join(l.VC.DatastoreDir, rel), nil
}

// vmCdromISOs returns the datastore paths of the ISOs in vm's CD-ROMs, in
// device order, and whether any of those CD-ROMs connects at power-on.
func vmCdromISOs(devs []types.BaseVirtualDevice) ([]string, bool) {
	var isos []string
	connected := false
	for _, d := range devs {
		cd, ok := d.(*types.VirtualCdrom)
		if !ok {
			continue
		}
		b, ok := cd.Backing.(*types.VirtualCdromIsoBackingInfo)
		if !ok || b.FileName == "" {
			continue
		}
		isos = append(isos, b.FileName)
		if cd.Connectable == nil || cd.Connectable.StartConnected || cd.Connectable.Connected {
			connected = true
		}
	}
	return isos, connected
}

// findVM returns the VM named vmName in the lab's datacenter.
func (l *Lab) findVM(ctx context.Context, vmName string) (*object.VirtualMachine, error) {
	f := find.NewFinder(l.VC.client.Client, true)
	dc, err := f.Datacenter(ctx, l.VC.Datacenter)
	if err != nil {
		return nil, err
	}
	f.SetDatacenter(dc)
	return f.VirtualMachine(ctx, vmName)
}

// Install plays anaconda for VM vmName on guest g (see the comment at the
// top of this file): it reads the kickstart from the ISO in the VM's
// CD-ROM, powers the guest off if it runs, presents the VM's disks,
// applies the kickstart, boots the guest and couples the VM's VMware
// Tools to it (tools.go). The guest's address must be the kickstart's.
func (l *Lab) Install(ctx context.Context, g *Guest, vmName string) (*InstallReport, error) {
	rep := &InstallReport{VM: vmName, Guest: g.Name, Started: time.Now()}
	fail := func(err error) (*InstallReport, error) {
		return rep, fmt.Errorf("install stand-in: VM %s on guest %s: %w", vmName, g.Name, err)
	}
	vm, err := l.findVM(ctx, vmName)
	if err != nil {
		return fail(err)
	}
	var m mo.VirtualMachine
	if err := vm.Properties(ctx, vm.Reference(), []string{"config.hardware.device"}, &m); err != nil {
		return fail(err)
	}
	if m.Config == nil {
		return fail(errors.New("the VM has no configuration"))
	}
	isos, _ := vmCdromISOs(m.Config.Hardware.Device)
	if len(isos) == 0 {
		return fail(errors.New("no ISO in the VM's CD-ROMs: nothing to install from"))
	}
	// The kickstart is on the install media itself (mtprep iso:
	// ks=cdrom:/ks.cfg) or on a small seed ISO in a second CD-ROM (mtprep
	// build's shared media: ks=hd:sr1:/ks.cfg): the first CD-ROM that has
	// /ks.cfg is where anaconda would find it. An Ubuntu MT's seed holds
	// /preseed.cfg instead (the shared media's generic preseed loads it).
	var ksText, psText []byte
	var tried []string
	for _, iso := range isos {
		file, err := l.datastoreFile(iso)
		if err != nil {
			return fail(err)
		}
		b, err := readISOFile(file, "/ks.cfg")
		if err == nil {
			rep.ISO, rep.ISOFile, ksText = iso, file, b
			break
		}
		tried = append(tried, err.Error())
		if b, perr := readISOFile(file, "/preseed.cfg"); perr == nil {
			rep.ISO, rep.ISOFile, psText = iso, file, b
			break
		}
	}
	var ks kickstartInfo
	var ps *preseedInfo
	switch {
	case ksText != nil:
		if ks, err = parseKickstart(ksText); err != nil {
			return fail(err)
		}
	case psText != nil:
		p, err := parsePreseed(psText)
		if err != nil {
			return fail(err)
		}
		ks, ps = p.kickstartInfo, &p
	default:
		return fail(fmt.Errorf("no CD-ROM holds /ks.cfg or /preseed.cfg: %s", strings.Join(tried, "; ")))
	}
	rep.Hostname, rep.Address = ks.Hostname, ks.IP
	if net.ParseIP(ks.IP).String() != g.Address {
		return fail(fmt.Errorf("the kickstart gives the MT address %s, but the lab guest has %s: set network.ip to %s/24", ks.IP, g.Address, g.Address))
	}
	l.log.Info("install stand-in: installing", "vm", vmName, "guest", g.Name, "kickstart_from", rep.ISO, "hostname", ks.Hostname)

	// The installer runs instead of the old system: nothing answers at the
	// address until it has finished and the new system has booted.
	if st := g.State(); st != GuestOff {
		if err := g.PowerOff(ctx); err != nil {
			return fail(fmt.Errorf("power the guest off: %w", err))
		}
	}
	if rep.Disks, err = l.PresentDisks(ctx, g, vmName); err != nil {
		return fail(err)
	}
	if ps != nil {
		err = l.applyPreseed(ctx, g, *ps)
	} else {
		err = l.applyKickstart(ctx, g, ks)
	}
	if err != nil {
		return fail(err)
	}
	boot, err := g.PowerOn(ctx)
	if err != nil {
		return fail(fmt.Errorf("boot the installed guest: %w", err))
	}
	if !boot.SSHD {
		return fail(fmt.Errorf("the installed guest booted without sshd:\n%s", boot.Log))
	}
	key, err := l.guestHostKey(g)
	if err != nil {
		return fail(err)
	}
	rep.HostKeyFingerprint = ssh.FingerprintSHA256(key)
	// The lab's own known_hosts follows, so Guest.Dial still works.
	if err := l.replaceKnownHost(g, key); err != nil {
		return fail(err)
	}
	// The VM's Tools report what the installed guest runs: a CentOS 6.6
	// minimal install has no VMware Tools, so not running until the tools
	// phase installs and starts them.
	if err := l.bindTools(vm.Reference(), g, ks.Hostname); err != nil {
		return fail(err)
	}
	rep.Finished = time.Now()
	l.log.Info("install stand-in: installed", "vm", vmName, "guest", g.Name, "hostname", ks.Hostname,
		"host_key", rep.HostKeyFingerprint, "disks", len(rep.Disks), "elapsed", rep.Finished.Sub(rep.Started).Round(time.Millisecond))
	return rep, nil
}

// applyKickstart writes what anaconda would into the powered-off guest's
// root, and runs %post there.
func (l *Lab) applyKickstart(ctx context.Context, g *Guest, ks kickstartInfo) error {
	if g.Flavour == FlavourUbuntu {
		return fmt.Errorf("the seed holds a kickstart (CentOS), but lab guest %s is Ubuntu 16.04", g.Name)
	}
	rfs, err := openRootFS(g.Root)
	if err != nil {
		return err
	}
	defer rfs.Close()
	network := fmt.Sprintf("NETWORKING=yes\nHOSTNAME=%s\nGATEWAY=%s\n", ks.Hostname, ks.Gateway)
	if err := rfs.WriteFile("/etc/sysconfig/network", []byte(network), 0o644); err != nil {
		return err
	}
	ifcfg := fmt.Sprintf("DEVICE=%s\nTYPE=Ethernet\nONBOOT=yes\nNM_CONTROLLED=no\nBOOTPROTO=none\nIPADDR=%s\nNETMASK=%s\nGATEWAY=%s\n", ks.Device, ks.IP, ks.Netmask, ks.Gateway)
	for i, d := range ks.DNS {
		ifcfg += fmt.Sprintf("DNS%d=%s\n", i+1, d)
	}
	if err := rfs.WriteFile("/etc/sysconfig/network-scripts/ifcfg-"+ks.Device, []byte(ifcfg), 0o644); err != nil {
		return err
	}
	if ks.RootHash != "" {
		if err := setRootHash(rfs, ks.RootHash); err != nil {
			return fmt.Errorf("rootpw: %w", err)
		}
	}
	if strings.TrimSpace(ks.Post) == "" {
		return nil
	}
	// %post runs in the installed system with bash, as anaconda runs it in
	// its chroot. The script file holds the host key's private half: it
	// lives only while the script runs.
	const script = "/tmp/.mtlab-ks-post.sh"
	if err := rfs.WriteFile(script, []byte(ks.Post), 0o700); err != nil {
		return err
	}
	defer rfs.RemoveAll(script)
	out, err := g.Exec(ctx, "bash", script)
	if ks.PostLog != "" {
		if werr := rfs.WriteFile(ks.PostLog, out, 0o600); werr != nil {
			l.log.Warn("install stand-in: write the %post log", "path", ks.PostLog, "err", werr)
		}
	}
	if err != nil {
		return fmt.Errorf("%%post: %w: %s", err, out)
	}
	return nil
}

// setRootHash puts hash in root's password field of the guest's
// /etc/shadow (a copy in the overlay; the host's file is never written).
func setRootHash(rfs *rootFS, hash string) error {
	b, err := rfs.ReadFile("/etc/shadow")
	if err != nil {
		return err
	}
	lines := strings.Split(string(b), "\n")
	found := false
	for i, line := range lines {
		f := strings.Split(line, ":")
		if len(f) >= 2 && f[0] == "root" {
			f[1] = hash
			lines[i] = strings.Join(f, ":")
			found = true
		}
	}
	if !found {
		return errors.New("no root line in /etc/shadow")
	}
	if err := rfs.WriteFile("/etc/shadow", []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		return err
	}
	return rfs.Chmod("/etc/shadow", 0)
}

// guestHostKey reads the public host key the guest's sshd serves.
func (l *Lab) guestHostKey(g *Guest) (ssh.PublicKey, error) {
	rfs, err := openRootFS(g.Root)
	if err != nil {
		return nil, err
	}
	defer rfs.Close()
	b, err := rfs.ReadFile("/etc/ssh/ssh_host_rsa_key.pub")
	if err != nil {
		return nil, err
	}
	key, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		return nil, fmt.Errorf("guest host key: %w", err)
	}
	return key, nil
}

// replaceKnownHost makes the lab's known_hosts name key for g's address,
// keeping the other guests' lines.
func (l *Lab) replaceKnownHost(g *Guest, key ssh.PublicKey) error {
	l.khMu.Lock()
	defer l.khMu.Unlock()
	b, err := os.ReadFile(g.KnownHostsFile)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	var out strings.Builder
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == g.Address {
			continue
		}
		if line != "" {
			out.WriteString(line + "\n")
		}
	}
	out.WriteString(knownhosts.Line([]string{g.Address}, key) + "\n")
	tmp := g.KnownHostsFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(out.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, g.KnownHostsFile)
}

// InstallWatcher plays the installer for VMs as they power on; see
// WatchInstalls.
type InstallWatcher struct {
	l      *Lab
	vms    map[string]*Guest
	events chan installEvent
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	reports []*InstallReport
	errs    []error
	changed chan struct{}
}

type installEvent struct {
	vm    string
	on    bool
	media bool // powered on with an ISO in a connected CD-ROM
	guest *Guest
}

// WatchInstalls couples each VM named in vms (by name, in the lab's
// vCenter) to a lab guest until ctx ends or Stop is called: when the VM
// powers on with an ISO in its CD-ROM, the lab installs from it (Install);
// when it powers on without one, the guest boots; when it powers off, the
// guest powers off.
//
// The power changes are seen inside vcsim (a registry handler, called in
// the power task itself), not by polling: the guest must be down before
// the power-on task returns, or the caller (mtprep's install phase) could
// find the old system's sshd still answering at the address and go on
// before the "installer" ran. The install itself then runs in the
// background, as a real one does. A VM already powered on with an ISO when
// the watch starts is installed at once.
func (l *Lab) WatchInstalls(ctx context.Context, vms map[string]*Guest) (*InstallWatcher, error) {
	ctx, cancel := context.WithCancel(ctx)
	w := &InstallWatcher{
		l: l, vms: vms, events: make(chan installEvent, 16), cancel: cancel,
		done: make(chan struct{}), changed: make(chan struct{}),
	}
	h := &powerHook{w: w, ref: types.ManagedObjectReference{Type: "MtlabInstallWatcher", Value: fmt.Sprintf("mtlab-install-%p", w)}}
	reg := l.VC.Model.Map()
	reg.AddHandler(h)
	// A VM already on with an ISO (powered on before the watch began).
	for name, g := range vms {
		vm, err := l.findVM(ctx, name)
		if err != nil {
			continue // not created yet: the handler sees its power-on
		}
		var m mo.VirtualMachine
		if err := vm.Properties(ctx, vm.Reference(), []string{"runtime.powerState", "config.hardware.device"}, &m); err != nil {
			reg.RemoveHandler(h)
			cancel()
			return nil, err
		}
		if m.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn && m.Config != nil {
			if isos, connected := vmCdromISOs(m.Config.Hardware.Device); len(isos) > 0 && connected {
				w.events <- installEvent{vm: name, on: true, media: true, guest: g}
			}
		}
	}
	go func() {
		defer close(w.done)
		defer reg.RemoveHandler(h)
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-w.events:
				w.handle(ctx, ev)
			}
		}
	}()
	return w, nil
}

func (w *InstallWatcher) handle(ctx context.Context, ev installEvent) {
	l, g := w.l, ev.guest
	var err error
	switch {
	case ev.on && ev.media:
		var rep *InstallReport
		rep, err = l.Install(ctx, g, ev.vm)
		if err == nil {
			w.mu.Lock()
			w.reports = append(w.reports, rep)
			w.mu.Unlock()
		}
	case ev.on:
		if g.State() == GuestOff {
			var boot BootReport
			if boot, err = g.PowerOn(ctx); err == nil && !boot.SSHD {
				err = fmt.Errorf("guest %s booted without sshd", g.Name)
			}
		}
	}
	if err != nil {
		l.log.Error("install watcher", "vm", ev.vm, "guest", g.Name, "err", err)
		w.mu.Lock()
		w.errs = append(w.errs, err)
		w.mu.Unlock()
	}
	w.mu.Lock()
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
}

// Reports returns the installs done so far.
func (w *InstallWatcher) Reports() []*InstallReport {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]*InstallReport(nil), w.reports...)
}

// Err returns the watcher's failures so far, joined.
func (w *InstallWatcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return errors.Join(w.errs...)
}

// WaitInstalls waits until n installs have finished (or one failed).
func (w *InstallWatcher) WaitInstalls(ctx context.Context, n int) error {
	for {
		w.mu.Lock()
		got, errs, ch := len(w.reports), errors.Join(w.errs...), w.changed
		w.mu.Unlock()
		if errs != nil {
			return errs
		}
		if got >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Stop ends the watch and waits for an install in progress to end.
func (w *InstallWatcher) Stop() {
	w.cancel()
	<-w.done
}

// powerHook is the vcsim registry handler of an InstallWatcher: vcsim
// calls UpdateObject in the goroutine that changes an object, with the
// object locked, so it must not call back into vcsim. It only powers the
// guest off (the lab's own process control) and queues the event.
type powerHook struct {
	w   *InstallWatcher
	ref types.ManagedObjectReference
}

func (h *powerHook) Reference() types.ManagedObjectReference                       { return h.ref }
func (h *powerHook) PutObject(*simulator.Context, mo.Reference)                    {}
func (h *powerHook) RemoveObject(*simulator.Context, types.ManagedObjectReference) {}

func (h *powerHook) UpdateObject(_ *simulator.Context, obj mo.Reference, changes []types.PropertyChange) {
	vm, ok := obj.(*mo.VirtualMachine)
	if !ok {
		return
	}
	g, watched := h.w.vms[vm.Name]
	if !watched {
		return
	}
	var state types.VirtualMachinePowerState
	for _, c := range changes {
		if c.Name == "runtime.powerState" {
			state, _ = c.Val.(types.VirtualMachinePowerState)
		}
	}
	if state == "" {
		return
	}
	ev := installEvent{vm: vm.Name, guest: g, on: state == types.VirtualMachinePowerStatePoweredOn}
	if ev.on && vm.Config != nil {
		isos, connected := vmCdromISOs(vm.Config.Hardware.Device)
		ev.media = len(isos) > 0 && connected
	}
	// Down before the power task returns: a VM that boots the installer, or
	// powers off, has no sshd answering at its address.
	if (!ev.on || ev.media) && g.State() != GuestOff {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := g.PowerOff(ctx); err != nil {
			h.w.l.log.Warn("install watcher: power the guest off", "vm", vm.Name, "guest", g.Name, "err", err)
		}
		cancel()
	}
	if !ev.on {
		return
	}
	select {
	case h.w.events <- ev:
	default:
		h.w.l.log.Warn("install watcher: event queue full, dropped", "vm", vm.Name)
	}
}
