package provision

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
	"golang.org/x/crypto/ssh"

	"github.com/mtprep/mtprep/provision/spec"
	"github.com/mtprep/mtprep/provision/vsphere"
)

// fakeBase writes a small ISO shaped like CentOS 6.6 x86_64 minimal
// (.discinfo, .treeinfo, an isolinux menu, random "kernel" and
// "packages"): enough for the iso phase to remaster, too little to boot
// (images/boot_test.go boots the real thing in qemu).
func fakeBase(t testing.TB, dir string) string {
	t.Helper()
	r := mrand.New(mrand.NewPCG(7, 11))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	files := map[string][]byte{
		".discinfo":             []byte("1414159991.958686\n6.6\nx86_64\n1\n"),
		".treeinfo":             []byte("[general]\nfamily = CentOS\nversion = 6.6\narch = x86_64\n\n[stage2]\nmainimage = images/install.img\n"),
		"isolinux/isolinux.cfg": []byte("default vesamenu.c32\ntimeout 600\nlabel linux\n  menu label ^Install or upgrade an existing system\n  menu default\n  kernel vmlinuz\n  append initrd=initrd.img\nlabel local\n  localboot 0xffff\n"),
		"isolinux/isolinux.bin": random(24 << 10),
		"isolinux/vmlinuz":      random(300 << 10),
		"isolinux/initrd.img":   random(200 << 10),
		"images/install.img":    random(1 << 20),
		"Packages/openssh-server-5.3p1-104.el6.x86_64.rpm": random(400 << 10),
	}
	ws := filepath.Join(dir, "base-tree")
	when := time.Date(2014, 10, 24, 14, 53, 11, 0, time.UTC)
	var size int64 = 1 << 20
	for rel, b := range files {
		p := filepath.Join(ws, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		_ = os.Chtimes(p, when, when)
		size += int64(len(b)) + 4096
	}
	out := filepath.Join(dir, "CentOS-6.6-x86_64-minimal.iso")
	d, err := diskfs.Create(out, size, diskfs.SectorSize(2048))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fsys, err := d.CreateFilesystem(disk.FilesystemSpec{Partition: 0, FSType: filesystem.TypeISO9660, VolumeLabel: "CentOS 6.6 x86_64", WorkDir: ws})
	if err != nil {
		t.Fatal(err)
	}
	bios := &iso9660.ElToritoEntry{Platform: iso9660.BIOS, Emulation: iso9660.NoEmulation, BootFile: "isolinux/isolinux.bin", BootTable: true}
	bios.SetLoadSize(4)
	if err := fsys.(*iso9660.FileSystem).Finalize(iso9660.FinalizeOptions{
		RockRidge: true, VolumeIdentifier: "CentOS 6.6 x86_64",
		ElTorito: &iso9660.ElTorito{BootCatalog: "isolinux/boot.cat", Entries: []*iso9660.ElToritoEntry{bios}},
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// userKey writes an RSA key pair for ssh.privateKey (the kickstart
// authorises its public half).
func userKey(t testing.TB, dir string) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "id_rsa")
	block, err := ssh.MarshalPrivateKey(k, "")
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := ssh.NewPublicKey(&k.PublicKey)
	if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p+".pub", ssh.MarshalAuthorizedKey(pub), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// fleetEnv is the environment a fleet test's secrets come from.
func fleetEnv(k string) (string, bool) {
	switch k {
	case "TEST_VC_PASSWORD":
		return testVCPassword, true
	case "MT_ROOT_PASSWORD":
		return "root-pw-for-the-test", true
	case "CS_PASSPHRASE":
		return "cs-passphrase", true
	}
	return "", false
}

// fleetInventory writes an inventory of n MTs (mt01…) on the simulator
// and loads it.
func fleetInventory(t testing.TB, s *sim, n int) *spec.Inventory {
	t.Helper()
	dir := t.TempDir()
	base := fakeBase(t, dir)
	key := userKey(t, dir)
	u := *s.srv.URL
	u.User = nil
	var b strings.Builder
	fmt.Fprintf(&b, `defaults:
  vsphere: {url: %q, username: user, password: {env: TEST_VC_PASSWORD}, insecure: true, datacenter: DC0, cluster: DC0_C0, datastore: LocalDS_0, network: VM Network}
  iso: {base: %q}
  network: {gateway: 192.0.2.1, dns: [192.0.2.53]}
  rootPassword: {env: MT_ROOT_PASSWORD}
  ssh: {privateKey: %q, knownHosts: %q}
  packages: {source: bundle, bundle: ./mt-bundle.tar}
  agent: {tarball: ./ASR_UA_RHEL6-64.tar.gz}
  configServer: {ip: 192.0.2.5, passphrase: {env: CS_PASSPHRASE}}
targets:
`, u.String(), base, key, filepath.Join(dir, "known_hosts"))
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  - name: mt%02d\n    network: {hostname: mt%02d.example.com, ip: 192.0.2.%d/24}\n", i, i, 10+i)
	}
	p := filepath.Join(dir, "fleet.yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	inv, err := spec.LoadInventory(p)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// simVM is the simulator's VM named name, or nil; a VM a test replaced
// with a faultyVM is found too.
func simVM(s *sim, name string) *simulator.VirtualMachine {
	for _, o := range s.model.Map().All("VirtualMachine") {
		switch vm := o.(type) {
		case *simulator.VirtualMachine:
			if vm.Name == name {
				return vm
			}
		case *faultyVM:
			if vm.Name == name {
				return vm.VirtualMachine
			}
		}
	}
	return nil
}

// datastoreDir is the simulator datastore's directory on this machine.
func datastoreDir(s *sim) string {
	return s.model.Map().Any("Datastore").(*simulator.Datastore).Summary.Url
}

// isoFiles lists the *.iso files of a directory.
func isoFiles(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".iso") {
			out = append(out, e.Name())
		}
	}
	return out
}

func statusOf(hs []*HostState) map[string]*HostState {
	m := map[string]*HostState{}
	for _, h := range hs {
		m[h.Host] = h
	}
	return m
}

// TestFleetSimulator is issue 7's simulator test: 20 MTs, 4 at a time,
// through iso, upload, vm and enable-uuid. One MT's enable-uuid
// reconfigure is made to fail: it fails, the 19 others finish, every VM
// has its disks and CD-ROMs, the datastore holds one copy of the install
// media (and 20 small seeds), and the bytes uploaded are the media once
// plus the seeds. Re-running finishes the failed MT only: the others
// report every phase done, and no vSphere task touches them.
func TestFleetSimulator(t *testing.T) {
	const n, failing = 20, "mt07"
	s := newSim(t)
	inv := fleetInventory(t, s, n)
	root := t.TempDir()
	ctx := context.Background()

	var mu sync.Mutex
	var orig *simulator.VirtualMachine
	uploaded := map[string]int64{}
	opts := FleetOptions{
		OS:          testOS,
		Concurrency: 4, Phases: "iso,upload,vm,enable-uuid", Env: fleetEnv,
		Build:     BuildOptions{WorkDir: filepath.Join(root, "build")},
		StateFile: filepath.Join(root, "fleet.state.json"), LogDir: filepath.Join(root, "logs"),
		OnPhase: func(host, phase string) {
			// The injected fault: mt07's VM exists now (the vm phase made
			// it); from here its reconfigures fail, except the lock's.
			if host == failing && phase == "enable-uuid" {
				vm := simVM(s, failing)
				mu.Lock()
				orig = vm
				mu.Unlock()
				s.model.Map().Put(&faultyVM{VirtualMachine: vm, fault: &types.InvalidState{}})
			}
		},
		OnTarget: func(tg *Target, done bool) {
			if done {
				mu.Lock()
				uploaded[tg.Spec.Name] = tg.VSphereRoundTrips().UploadBytes
				mu.Unlock()
			}
		},
	}
	hs, err := RunFleet(ctx, inv, opts)
	if err != nil {
		t.Fatal(err)
	}
	byHost := statusOf(hs)
	if len(hs) != n {
		t.Fatalf("%d hosts in the result", len(hs))
	}
	for _, h := range hs {
		want := HostDone
		if h.Host == failing {
			want = HostFailed
		}
		if h.Status != want {
			t.Errorf("%s: %s at %s (%s), want %s", h.Host, h.Status, h.Phase, h.Error, want)
		}
	}
	if h := byHost[failing]; h.Phase != "enable-uuid" || !strings.Contains(h.Error, "reconfigure VM "+failing) || !strings.Contains(h.Error, "InvalidState") {
		t.Errorf("%s: phase %s, error %q", failing, h.Phase, h.Error)
	}

	// Every VM: LSI Logic, the spec's disks, the shared media and its own
	// seed, EnableUUID (but the failed one), no lock left behind.
	mediaDS := ""
	for _, spec_ := range inv.Specs {
		vm := simVM(s, spec_.Name)
		if vm == nil {
			t.Errorf("no VM %s", spec_.Name)
			continue
		}
		var m mo.VirtualMachine
		if err := property.DefaultCollector(s.c).RetrieveOne(ctx, vm.Reference(), []string{"config"}, &m); err != nil {
			t.Fatal(err)
		}
		extra := map[string]string{}
		for _, o := range m.Config.ExtraConfig {
			ov := o.GetOptionValue()
			extra[ov.Key], _ = ov.Value.(string)
		}
		if want := spec_.Name != failing; (extra[enableUUIDKey] == "TRUE") != want {
			t.Errorf("%s: disk.EnableUUID=%q", spec_.Name, extra[enableUUIDKey])
		}
		if extra[vmLockKey] != "" {
			t.Errorf("%s: lock left: %s", spec_.Name, extra[vmLockKey])
		}
		devs := object.VirtualDeviceList(m.Config.Hardware.Device)
		if len(devs.SelectByType((*types.VirtualLsiLogicController)(nil))) != 1 {
			t.Errorf("%s: no LSI Logic controller", spec_.Name)
		}
		var sizes []int64
		for _, d := range vsphere.Disks(devs) {
			sizes = append(sizes, vsphere.DiskBytes(d)>>30)
		}
		if !slices.Equal(sizes, []int64{100, 1024}) {
			t.Errorf("%s: disks %v GB, want [100 1024]", spec_.Name, sizes)
		}
		cds := vsphere.OrderedCDROMs(devs)
		if len(cds) != 2 {
			t.Errorf("%s: %d CD-ROMs", spec_.Name, len(cds))
			continue
		}
		if mediaDS == "" {
			mediaDS = vsphere.CDROMISO(cds[0])
		}
		if got := vsphere.CDROMISO(cds[0]); got != mediaDS || !strings.HasPrefix(got, "[LocalDS_0] mtprep-iso/") {
			t.Errorf("%s: first CD-ROM %s, want the shared %s", spec_.Name, got, mediaDS)
		}
		if got := vsphere.CDROMISO(cds[1]); !strings.HasPrefix(got, "[LocalDS_0] mtprep-iso/seeds/"+spec_.Name+"-") {
			t.Errorf("%s: second CD-ROM %s, want its own seed", spec_.Name, got)
		}
	}

	// One copy of the install media on the datastore, a seed per MT.
	dir := filepath.Join(datastoreDir(s), "mtprep-iso")
	if got := isoFiles(t, dir); len(got) != 1 {
		t.Errorf("mtprep-iso holds %d ISOs, want the one shared media: %v", len(got), got)
	}
	if got := isoFiles(t, filepath.Join(dir, "seeds")); len(got) != n {
		t.Errorf("mtprep-iso/seeds holds %d seeds, want %d", len(got), n)
	}
	// The bytes: the media once, then one seed (and two checksum lines)
	// per MT.
	media, err := os.Stat(SharedMediaPath(filepath.Join(root, "build", "media"), inv.Specs[0].ISO.Base))
	if err != nil {
		t.Fatal(err)
	}
	var total, seeds int64
	for _, spec_ := range inv.Specs {
		total += uploaded[spec_.Name]
		fi, err := os.Stat(filepath.Join(root, "build", spec_.Name, spec_.Name+"-seed.iso"))
		if err != nil {
			t.Fatal(err)
		}
		seeds += fi.Size()
		if fi.Size() >= 1<<20 {
			t.Errorf("%s: seed of %d bytes", spec_.Name, fi.Size())
		}
	}
	if want := media.Size() + seeds + int64(n)*2*100; total < media.Size()+seeds || total > want {
		t.Errorf("uploaded %d bytes, want the media (%d) once and %d of seeds (at most %d in all)", total, media.Size(), seeds, want)
	}
	t.Logf("uploaded %d bytes: media %d, seeds %d (%.0f KiB per MT)", total, media.Size(), seeds, float64(total-media.Size())/float64(n)/1024)
	// One known_hosts line per MT: the seeds were written four at a time.
	kh, _ := os.ReadFile(inv.Specs[0].SSH.KnownHosts)
	if lines := strings.Count(string(kh), "\n"); lines != n {
		t.Errorf("known_hosts has %d lines, want %d", lines, n)
	}
	for _, spec_ := range inv.Specs {
		if _, err := os.Stat(filepath.Join(root, "logs", spec_.Name+".log")); err != nil {
			t.Errorf("no log for %s: %v", spec_.Name, err)
		}
	}

	// Re-run without the fault: only the failed MT changes.
	s.model.Map().Put(orig)
	before := map[types.ManagedObjectReference]bool{}
	for _, o := range s.model.Map().AllReference("Task") {
		before[o.Reference()] = true
	}
	opts.OnPhase = nil
	hs, err = RunFleet(ctx, inv, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if h.Status != HostDone {
			t.Errorf("re-run: %s: %s at %s (%s)", h.Host, h.Status, h.Phase, h.Error)
			continue
		}
		var got []string
		for _, r := range h.Results {
			got = append(got, r.Phase+"="+string(r.Status))
		}
		want := "iso=done upload=done vm=done enable-uuid=done"
		if h.Host == failing {
			want = "iso=done upload=done vm=done enable-uuid=changed"
		}
		if strings.Join(got, " ") != want {
			t.Errorf("re-run: %s: %s, want %s", h.Host, strings.Join(got, " "), want)
		}
	}
	failed := simVM(s, failing).Reference()
	if len(before) == 0 {
		t.Fatal("the simulator keeps no tasks: this check would be empty")
	}
	for _, o := range s.model.Map().AllReference("Task") {
		task := o.(*simulator.Task)
		if before[task.Reference()] {
			continue
		}
		if task.Info.Entity == nil || *task.Info.Entity != failed {
			t.Errorf("re-run started task %s (%s) on %v", task.Info.DescriptionId, task.Reference().Value, task.Info.Entity)
		}
	}
	st, err := ReadFleetState(opts.StateFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, spec_ := range inv.Specs {
		if h := st.Hosts[spec_.Name]; h == nil || h.Status != HostDone {
			t.Errorf("state file: %s: %+v", spec_.Name, h)
		}
	}
}

// TestFleetResume: Ctrl-C during one MT's vm phase lets that phase
// finish, starts nothing else, and leaves a state file saying where each
// MT stopped; the same command again starts the unfinished MTs first and
// finishes them.
func TestFleetResume(t *testing.T) {
	s := newSim(t)
	inv := fleetInventory(t, s, 3)
	root := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	opts := FleetOptions{
		OS:          testOS,
		Concurrency: 1, Phases: "iso,upload,vm,enable-uuid", Env: fleetEnv,
		Build:     BuildOptions{WorkDir: filepath.Join(root, "build")},
		StateFile: filepath.Join(root, "fleet.state.json"),
		OnPhase: func(host, phase string) {
			if host == "mt02" && phase == "vm" {
				cancel() // Ctrl-C while mt02's vm phase runs
			}
		},
	}
	hs, err := RunFleet(ctx, inv, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{"mt01": {HostDone, "enable-uuid"}, "mt02": {HostInterrupted, "vm"}, "mt03": {HostPending, ""}}
	for _, h := range hs {
		if w := want[h.Host]; h.Status != w[0] || h.Phase != w[1] {
			t.Errorf("%s: %s at %q, want %s at %q", h.Host, h.Status, h.Phase, w[0], w[1])
		}
	}
	if h := statusOf(hs)["mt02"]; len(h.Results) < 3 || h.Results[2].Phase != "vm" || h.Results[2].Status != StatusChanged {
		t.Errorf("mt02: the running vm phase did not finish: %+v", h.Results)
	}
	st, err := ReadFleetState(opts.StateFile)
	if err != nil {
		t.Fatal(err)
	}
	for host, w := range want {
		if h := st.Hosts[host]; h == nil || h.Status != w[0] {
			t.Errorf("state file: %s: %+v, want %s", host, h, w[0])
		}
	}

	var order []string
	var mu sync.Mutex
	opts.OnPhase = func(host, phase string) {
		if phase == "iso" {
			mu.Lock()
			order = append(order, host)
			mu.Unlock()
		}
	}
	hs, err = RunFleet(context.Background(), inv, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if h.Status != HostDone {
			t.Errorf("resumed: %s: %s at %s (%s)", h.Host, h.Status, h.Phase, h.Error)
		}
	}
	if !slices.Equal(order, []string{"mt02", "mt03", "mt01"}) {
		t.Errorf("resumed in order %v, want the unfinished first: mt02 mt03 mt01", order)
	}
	if h := statusOf(hs)["mt02"]; h.Results[2].Status != StatusDone || h.Results[3].Status != StatusChanged {
		t.Errorf("mt02 resumed: %+v", h.Results)
	}
}

// TestFleetSummary is the end-of-run table.
func TestFleetSummary(t *testing.T) {
	var b strings.Builder
	WriteFleetSummary(&b, []*HostState{
		{Host: "mt02", Phase: "enable-uuid", Status: HostFailed, Duration: 1500 * time.Millisecond, Error: "mt02: phase enable-uuid: reconfigure VM mt02:\nInvalidState"},
		{Host: "mt01", Phase: "enable-uuid", Status: HostDone, Duration: 2 * time.Second, Results: []Result{{Phase: "vm", Status: StatusChanged}, {Phase: "enable-uuid", Status: StatusChanged}}},
		{Host: "mt03", Phase: "enable-uuid", Status: HostDone, Results: []Result{{Phase: "vm", Status: StatusDone}}},
		{Host: "mt04", Status: HostPending},
	})
	want := `HOST                 PHASE        RESULT            TIME  DETAIL
mt01                 enable-uuid  done                2s  changed: vm,enable-uuid
mt02                 enable-uuid  failed            1.5s  mt02: phase enable-uuid: reconfigure VM mt02: InvalidState
mt03                 enable-uuid  done                0s  no change
mt04                              pending             0s  
4 MTs: 2 done, 1 failed, 0 interrupted, 1 not started
`
	if b.String() != want {
		t.Errorf("summary:\n%s\nwant\n%s", b.String(), want)
	}
}
