package provision

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/provision/vsphere"
)

// installPhase powers the VM on, so it boots the kickstart installer from
// the install media (which read the kickstart from the seed in the second
// CD-ROM), waits until the install has finished and SSH answers at the
// spec's address, then ejects both ISOs. Done means: powered on, no ISO
// in a CD-ROM, SSH answering. SSH here is a TCP dial and the server's
// version line; the host-key-checked connection is the guest phases'.
type installPhase struct{}

func (installPhase) Name() string { return "install" }

// DefaultInstallTimeout bounds the wait for SSH after power-on: a CentOS
// 6.6 minimal install takes minutes, more on slow storage.
const DefaultInstallTimeout = 60 * time.Minute

// installedMarker is set in the VM's ExtraConfig when the ISO is ejected
// after an install, so later builds know the empty CD-ROM is expected. A
// guestinfo key: vSphere takes those while the VM runs.
const installedMarker = "guestinfo.mtprep.installedFrom"

func installTimeout(t *Target) time.Duration {
	if t.Options.InstallTimeout > 0 {
		return t.Options.InstallTimeout
	}
	return DefaultInstallTimeout
}

func (t *Target) sshAddr() string {
	return net.JoinHostPort(t.Spec.SSH.Address, strconv.Itoa(t.Spec.SSH.Port))
}

// heldISOs are the ISOs in the VM's CD-ROMs, in the guest's order (the
// install media first, then the seed).
func heldISOs(st *vsphere.VM) []string {
	var out []string
	for _, c := range vsphere.OrderedCDROMs(st.Devices) {
		if iso := vsphere.CDROMISO(c); iso != "" {
			out = append(out, iso)
		}
	}
	return out
}

// bootable reports whether the VM's first two CD-ROMs both hold an ISO:
// the install media boot the installer, which reads the kickstart from
// the seed in the second.
func bootable(st *vsphere.VM) bool {
	cds := vsphere.OrderedCDROMs(st.Devices)
	return len(cds) >= 2 && vsphere.CDROMISO(cds[0]) != "" && vsphere.CDROMISO(cds[1]) != ""
}

// ProbeSSH dials addr and reads the server's version line ("SSH-2.0-…").
// RFC 4253 lets a server send other lines first; a few are skipped.
func ProbeSSH(ctx context.Context, addr string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	r := bufio.NewReaderSize(conn, 512)
	for range 5 {
		line, err := r.ReadString('\n')
		if strings.HasPrefix(line, "SSH-") {
			return strings.TrimRight(line, "\r\n"), nil
		}
		if err != nil {
			return "", fmt.Errorf("%s answered without an SSH version line: %w", addr, err)
		}
	}
	return "", fmt.Errorf("%s does not speak SSH", addr)
}

type installState struct {
	st     *vsphere.VM
	on     bool
	isos   []string
	banner string
	sshErr error
}

func (t *Target) readInstall(ctx context.Context) (*installState, error) {
	st, err := t.vmFor(ctx)
	if err != nil || st == nil {
		return nil, err
	}
	is := &installState{st: st, on: st.PowerState() == types.VirtualMachinePowerStatePoweredOn, isos: heldISOs(st)}
	if is.on {
		is.banner, is.sshErr = ProbeSSH(ctx, t.sshAddr(), 5*time.Second)
	} else {
		is.sshErr = fmt.Errorf("the VM is %s", st.PowerState())
	}
	return is, nil
}

func (is *installState) done() bool { return is.on && len(is.isos) == 0 && is.sshErr == nil }

func (is *installState) observed(addr string) string {
	cd := "CD-ROM empty"
	if len(is.isos) > 0 {
		cd = "CD-ROM holds " + strings.Join(is.isos, ", ")
	}
	ssh := fmt.Sprintf("SSH at %s answers (%s)", addr, is.banner)
	if is.sshErr != nil {
		ssh = fmt.Sprintf("SSH at %s not answering", addr)
	}
	return fmt.Sprintf("%s, %s, %s", is.st.PowerState(), cd, ssh)
}

func (installPhase) Check(ctx context.Context, t *Target) (Check, error) {
	addr := t.sshAddr()
	wait := fmt.Sprintf("wait up to %s for the unattended install to finish and SSH to answer at %s", installTimeout(t), addr)
	is, err := t.readInstall(ctx)
	if err != nil {
		return Check{}, err
	}
	t.run.checked.install = is
	if is == nil {
		return Check{Changes: []string{fmt.Sprintf("power on VM %s: it boots the installer from the install media, with its %s from the seed", t.Spec.Name, answerFile(t)), wait, "eject both CD-ROMs"}, Observed: "no VM yet"}, nil
	}
	if is.done() {
		return Check{Done: true, Observed: is.observed(addr)}, nil
	}
	var ch []string
	if !is.on {
		if len(is.isos) > 0 {
			ch = append(ch, fmt.Sprintf("power on VM %s: it boots the installer from %s", t.Spec.Name, is.isos[0]))
		} else {
			ch = append(ch, fmt.Sprintf("power on VM %s", t.Spec.Name))
		}
	}
	if is.sshErr != nil {
		ch = append(ch, wait)
	}
	if len(is.isos) > 0 {
		ch = append(ch, "eject "+strings.Join(is.isos, ", "))
	}
	return Check{Changes: ch, Observed: is.observed(addr)}, nil
}

func (installPhase) Apply(ctx context.Context, t *Target) error {
	s, err := t.vsphere(ctx)
	if err != nil {
		return err
	}
	is := take(&t.run.checked.install)
	if is == nil {
		if is, err = t.readInstall(ctx); err != nil {
			return err
		}
	}
	if is == nil {
		return fmt.Errorf("VM %s not found: run the vm phase first", t.Spec.Name)
	}
	name := "VM " + t.Spec.Name
	if !is.on {
		if !bootable(is.st) && is.st.Extra(installedMarker) == "" {
			return fmt.Errorf("%s has no install media and seed in its first two CD-ROMs (it holds %d ISO(s)) and was not installed by mtprep: powering it on would install nothing; run the vm phase (with --fix to insert them)", name, len(is.isos))
		}
		if err := s.PowerOn(ctx, name, is.st.Ref); err != nil {
			return err
		}
		if t.Spec.VM.Firmware == "efi" && t.OS != nil && t.OS.VM.EFIKeyPrompt && len(is.isos) > 0 {
			t.pressThroughPrompt(ctx, s, is.st.Ref, name)
		}
		t.Log.Info("powered on; the kickstart install runs unattended", "vm", t.Spec.Name)
	}
	if is.sshErr != nil {
		if err := t.waitForSSH(ctx, s, is.st.Ref); err != nil {
			return err
		}
	}
	if len(is.isos) == 0 {
		t.Note("install", "powered on; SSH answers at "+t.sshAddr())
		return nil
	}
	return t.ejectISO(ctx, s, is)
}

// waitForSSH polls SSH every few seconds until it answers, logging
// progress every 30 s. It gives up early when the VM powers off (a failed
// kickstart, or someone at the console).
func (t *Target) waitForSSH(ctx context.Context, s *vsphere.Session, ref types.ManagedObjectReference) error {
	addr, timeout := t.sshAddr(), installTimeout(t)
	start := time.Now()
	deadline := start.Add(timeout)
	lastLog, lastPower := start, start
	// Probe every 3 s; short timeouts (tests) probe more often.
	every := min(3*time.Second, max(100*time.Millisecond, timeout/20))
	for {
		banner, err := ProbeSSH(ctx, addr, 5*time.Second)
		if err == nil {
			t.Log.Info("SSH answers", "addr", addr, "banner", banner, "after", time.Since(start).Round(time.Second))
			return nil
		}
		now := time.Now()
		if now.After(deadline) {
			return fmt.Errorf("SSH did not answer at %s within %s (last: %v): the install may have failed or still be running; look at the VM's console, or raise --install-timeout", addr, timeout, err)
		}
		if now.Sub(lastPower) >= 30*time.Second {
			lastPower = now
			power, err := s.ReadPowerState(ctx, "VM "+t.Spec.Name, ref)
			if err != nil {
				return err
			}
			if power != types.VirtualMachinePowerStatePoweredOn {
				return fmt.Errorf("VM %s is %s while waiting for the install: the kickstart may have failed; look at the VM's console", t.Spec.Name, power)
			}
		}
		if now.Sub(lastLog) >= 30*time.Second {
			lastLog = now
			t.Log.Info("waiting for the install to finish and SSH to answer", "addr", addr,
				"elapsed", now.Sub(start).Round(time.Second), "remaining", deadline.Sub(now).Round(time.Second))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}

// ejectISO empties every CD-ROM holding an ISO and records the install
// in one reconfigure (vsphere.EjectCDROMs answers a locked tray's
// question).
func (t *Target) ejectISO(ctx context.Context, s *vsphere.Session, is *installState) error {
	if err := s.EjectCDROMs(ctx, t.Spec.Name, is.st, []types.BaseOptionValue{&types.OptionValue{Key: installedMarker, Value: is.isos[0]}}); err != nil {
		return err
	}
	note := fmt.Sprintf("installed from %s; SSH answers at %s; ISO ejected", is.isos[0], t.sshAddr())
	// The seed holds the MT's secrets (the root password's hash, or on
	// Windows the Administrator password, only base64; the private host
	// key): once the MT answers, it leaves the datastore.
	if seed := seedOf(t, is.isos); seed != "" {
		inv, err := s.Inventory(ctx)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(seed, "["+inv.Datastore.Name()+"] ")
		if err := removeSeed(ctx, s, inv.Datastore, isoNames{file: rel, sum: rel + ".sha256"}); err != nil {
			return err
		}
		note += "; seed removed from the datastore"
	}
	t.Note("install", note)
	return nil
}

func (installPhase) Verify(ctx context.Context, t *Target) error {
	is, err := t.readInstall(ctx)
	if err != nil {
		return err
	}
	if is == nil {
		return fmt.Errorf("VM %s not found", t.Spec.Name)
	}
	if !is.done() {
		return fmt.Errorf("VM %s: %s", t.Spec.Name, is.observed(t.sshAddr()))
	}
	return nil
}

func (installPhase) installsMT() {}

// seedOf is the MT's own seed among the ISOs its CD-ROMs held, "" when
// none is (mtprep iso's single ISO, or another datastore's).
func seedOf(t *Target, isos []string) string {
	for _, iso := range isos {
		if strings.Contains(iso, "] "+t.Spec.VSphere.ISOFolder+"/seeds/"+t.Spec.Name+"-") {
			return iso
		}
	}
	return ""
}

// pressThroughPrompt presses the space bar on the console once a second
// for the first seconds after power-on, as Packer's boot_command does for
// the same prompt: EFI media that ask for a key boot the installer, and a
// key pressed once it runs is harmless. A console that takes no keys is
// logged with the manual fix, not fatal.
func (t *Target) pressThroughPrompt(ctx context.Context, s *vsphere.Session, ref types.ManagedObjectReference, name string) {
	for i := 0; i < 12; i++ {
		if err := s.PressSpace(ctx, ref, name); err != nil {
			t.Log.Warn("install: could not press a key at the EFI boot prompt; press one at the VM's console if it waits at \"Press any key to boot from CD or DVD\"", "vm", t.Spec.Name, "err", err)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
	t.Log.Info("install: pressed space at the EFI boot prompt", "vm", t.Spec.Name)
}
