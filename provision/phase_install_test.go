package provision

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/provision/vsphere"
)

func TestInstall(t *testing.T) {
	ctx := context.Background()

	t.Run("powers on, waits for SSH, ejects the ISO", func(t *testing.T) {
		s := newSim(t)
		// The guest's sshd comes up only after the install: reserve a
		// port, and listen on it once the phase is waiting.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		tg := simTarget(t, s, "127.0.0.1", port, nil)
		if rs, err := Build(ctx, tg, vspherePhases(t, "upload,vm,enable-uuid")); err != nil {
			t.Fatalf("%v (%s)", err, statuses(rs))
		}
		vm := object.NewVirtualMachine(s.c, types.ManagedObjectReference{Type: "VirtualMachine", Value: tg.Facts.VMMoRef})
		started := make(chan net.Listener, 1)
		t.Cleanup(func() {
			select {
			case l := <-started:
				l.Close()
			default:
			}
		})
		go func() {
			// Once the VM is on, the "install" finishes and sshd starts.
			_ = vm.WaitForPowerState(ctx, types.VirtualMachinePowerStatePoweredOn)
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err != nil {
				return
			}
			started <- l
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				_, _ = c.Write([]byte("SSH-2.0-OpenSSH_5.3\r\n"))
				c.Close()
			}
		}()
		rs, err := Build(ctx, tg, vspherePhases(t, "install"))
		if err != nil || rs[0].Status != StatusChanged {
			t.Fatalf("%v (%s)", err, statuses(rs))
		}
		var m mo.VirtualMachine
		if err := property.DefaultCollector(s.c).RetrieveOne(ctx, vm.Reference(), []string{"config.hardware.device", "config.extraConfig", "runtime.powerState"}, &m); err != nil {
			t.Fatal(err)
		}
		if m.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
			t.Errorf("VM is %s", m.Runtime.PowerState)
		}
		cds := object.VirtualDeviceList(m.Config.Hardware.Device).SelectByType((*types.VirtualCdrom)(nil))
		if len(cds) != 2 {
			t.Fatalf("%d CD-ROMs, want the media's and the seed's", len(cds))
		}
		for _, c := range cds {
			cd := c.GetVirtualDevice()
			if _, ok := cd.Backing.(*types.VirtualCdromIsoBackingInfo); ok {
				t.Errorf("a CD-ROM still holds an ISO: %#v", cd.Backing)
			}
			if cd.Connectable == nil || cd.Connectable.StartConnected || cd.Connectable.Connected {
				t.Errorf("a CD-ROM is still connected: %#v", cd.Connectable)
			}
		}
		marked := false
		for _, o := range m.Config.ExtraConfig {
			if ov := o.GetOptionValue(); ov.Key == installedMarker && ov.Value == tg.Facts.ISODatastore {
				marked = true
			}
		}
		if !marked {
			t.Errorf("no %s=%s", installedMarker, tg.Facts.ISODatastore)
		}
		// The vm phase now takes the empty CD-ROM as expected.
		again := simTarget(t, s, "127.0.0.1", port, nil)
		sameISOs(again, tg)
		if rs, err := Build(ctx, again, vspherePhases(t, "")); err != nil || statuses(rs) != "upload=done vm=done enable-uuid=done install=done" {
			t.Fatalf("after the install: %v (%s)", err, statuses(rs))
		}
	})

	t.Run("SSH never answers", func(t *testing.T) {
		s := newSim(t)
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		tg := simTarget(t, s, "127.0.0.1", port, nil)
		tg.Options.InstallTimeout = time.Second
		_, err := Build(ctx, tg, vspherePhases(t, ""))
		if err == nil || !strings.Contains(err.Error(), "SSH did not answer at 127.0.0.1:"+strconv.Itoa(port)+" within 1s") || !strings.Contains(err.Error(), "--install-timeout") {
			t.Fatalf("%v", err)
		}
	})

	t.Run("no ISO and never installed: not powered on", func(t *testing.T) {
		s := newSim(t)
		tg, ref := builtVM(t, s)
		vm := object.NewVirtualMachine(s.c, ref)
		devs, _ := vm.Device(ctx)
		cd := vsphere.OrderedCDROMs(devs)[0]
		if err := vm.EditDevice(ctx, devs.EjectIso(cd)); err != nil {
			t.Fatal(err)
		}
		_, err := Build(ctx, tg, vspherePhases(t, "install"))
		if err == nil || !strings.Contains(err.Error(), "has no install media and seed in its first two CD-ROMs") {
			t.Fatalf("%v", err)
		}
		if ps, _ := vm.PowerState(ctx); ps != types.VirtualMachinePowerStatePoweredOff {
			t.Errorf("VM is %s", ps)
		}
	})
}

func TestProbeSSH(t *testing.T) {
	serve := func(t *testing.T, greeting string) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				_, _ = c.Write([]byte(greeting))
				c.Close()
			}
		}()
		return l.Addr().String()
	}
	cases := []struct {
		name, greeting, banner, err string
	}{
		{"CentOS 6.6", "SSH-2.0-OpenSSH_5.3\r\n", "SSH-2.0-OpenSSH_5.3", ""},
		{"lines before the version", "Authorized use only\r\nSSH-2.0-OpenSSH_5.3\r\n", "SSH-2.0-OpenSSH_5.3", ""},
		{"not SSH", "HTTP/1.1 400 Bad Request\r\n\r\n", "", "without an SSH version line"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := ProbeSSH(context.Background(), serve(t, c.greeting), 2*time.Second)
			if b != c.banner || (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
				t.Errorf("got %q, %v; want %q, %q", b, err, c.banner, c.err)
			}
		})
	}
}
