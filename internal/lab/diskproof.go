package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// The proof that a disk is unwritten, as vSphere gives it: the backing's
// contentId and, for a thin disk, the bytes its extent holds
// (layoutEx.file[].uniqueSize). mtprep records both when it creates the
// retention disk and compares them before formatting it without a full
// read (provision/retention_provenance.go).
//
// What vcsim (govmomi v0.56.0) does on its own, and why the lab adds to
// it:
//
//   - it never sets a backing's ContentId: every disk reports none;
//   - layoutEx lists the files of the VM's directory and of each disk
//     with their apparent size (os.Stat), as size and uniqueSize alike:
//     never allocated blocks. It creates only a disk's descriptor, not
//     the -flat.vmdk extent, so a disk's extent reports 0 bytes, for ever;
//   - RefreshStorageInfo drops every layoutEx file (its existence check
//     stats the "[ds] path" string itself, which never exists) and lists
//     them again from the directory;
//   - there is no guest I/O: nothing changes when a disk is written.
//
// The lab's VM disks are sparse image files on loop devices presented to
// the guest (disks.go). The lab gives every disk a random contentId when
// vcsim creates it (in the UUID handler, vcenter.go, on every update of a
// VM, so a device edit that sends the backing back keeps it), and
// watches each presented disk's image: its mtime, size and allocated
// blocks (stat's Blocks), every toolsPoll, from outside the guest, like
// the Tools watcher. On any change, by the guest (through the loop
// device) or by anything on the host, it sets a new random contentId and
// the image's allocated bytes as the extent's size and uniqueSize in
// layoutEx; and it keeps a placeholder -flat.vmdk in the datastore whose
// apparent size is those allocated bytes, so that vcsim's own
// RefreshStorageInfo reports the same figure.
//
// Not modelled: a write the guest has not flushed (it sits in the host's
// page cache of the block device, as on a real VM it sits in the guest's)
// changes nothing until it reaches the image; ESXi's CID rules (a new CID
// on the first write after the disk is opened) beyond "any change gives a
// new contentId"; delta disks and snapshots; thick disks.

type imageStat struct {
	mtime        time.Time
	size, blocks int64
}

type diskWatch struct {
	d    *Disk
	vm   types.ManagedObjectReference
	file string // the disk's descriptor, "[ds] vm/vm_1.vmdk"
	last imageStat
}

// diskProofs holds each disk's contentId (by normalised UUID) and the
// watched images.
type diskProofs struct {
	mu      sync.Mutex
	cid     map[string]string
	watches []*diskWatch
	cancel  context.CancelFunc
	done    chan struct{}
	stopped bool
}

func normUUID(u string) string { return strings.ToLower(strings.ReplaceAll(u, "-", "")) }

func newContentID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

// contentID is the disk's contentId, made on first sight.
func (p *diskProofs) contentID(uuid string) string {
	if p == nil || uuid == "" {
		return ""
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cid == nil {
		p.cid = map[string]string{}
	}
	k := normUUID(uuid)
	if p.cid[k] == "" {
		p.cid[k] = newContentID()
	}
	return p.cid[k]
}

// written gives the disk a new contentId.
func (p *diskProofs) written(uuid string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cid == nil {
		p.cid = map[string]string{}
	}
	c := newContentID()
	p.cid[normUUID(uuid)] = c
	return c
}

func statImage(path string) (imageStat, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return imageStat{}, err
	}
	st := imageStat{mtime: fi.ModTime(), size: fi.Size()}
	if s, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.blocks = s.Blocks
	}
	return st, nil
}

// watchDisk starts watching d's image. blank: the image is what vSphere
// created (a sparse file, nothing written), so its state now is the
// disk's state at creation; otherwise the lab wrote content into it and
// the first look counts as a write.
func (l *Lab) watchDisk(d *Disk, vd vmDisk, blank bool) error {
	p := l.VC.proofs
	w := &diskWatch{d: d, vm: vd.VM, file: vd.FileName}
	if blank {
		st, err := statImage(d.Image)
		if err != nil {
			return err
		}
		w.last = st
	}
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return errors.New("the lab is down")
	}
	p.watches = append(p.watches, w)
	if p.cancel == nil {
		ctx, cancel := context.WithCancel(context.Background())
		p.cancel, p.done = cancel, make(chan struct{})
		go l.diskProofLoop(ctx, p.done)
	}
	p.mu.Unlock()
	l.syncDiskProof(w)
	return nil
}

func (p *diskProofs) stop() {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.stopped = true
	cancel, done := p.cancel, p.done
	p.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

func (l *Lab) diskProofLoop(ctx context.Context, done chan struct{}) {
	defer close(done)
	tick := time.NewTicker(toolsPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		l.SyncDiskProofs()
	}
}

// SyncDiskProofs looks at every watched disk image now and updates vSphere
// for those that changed, so a test reads the state a write leads to
// without waiting for the next poll.
func (l *Lab) SyncDiskProofs() {
	p := l.VC.proofs
	p.mu.Lock()
	ws := append([]*diskWatch(nil), p.watches...)
	p.mu.Unlock()
	for _, w := range ws {
		if !l.syncDiskProof(w) {
			p.mu.Lock()
			for i, x := range p.watches {
				if x == w {
					p.watches = append(p.watches[:i], p.watches[i+1:]...)
					break
				}
			}
			p.mu.Unlock()
		}
	}
}

// syncDiskProof compares the image with its last state; on a change it
// gives the disk a new contentId and its allocated bytes. false when the
// image or the VM is gone.
func (l *Lab) syncDiskProof(w *diskWatch) bool {
	st, err := statImage(w.d.Image)
	if err != nil {
		return false
	}
	sctx := l.VC.Model.Service.Context
	obj, ok := sctx.Map.Get(w.vm).(*simulator.VirtualMachine)
	if !ok {
		return false
	}
	if st == w.last {
		return true
	}
	w.last = st
	alloc := st.blocks * 512
	cid := l.VC.proofs.written(w.d.UUID)
	// vcsim's RefreshStorageInfo reads the extent's apparent size.
	if flat := l.flatPath(w.file); flat != "" {
		if f, err := os.OpenFile(flat, os.O_WRONLY|os.O_CREATE, 0o600); err == nil {
			_ = f.Truncate(alloc)
			f.Close()
		}
	}
	sctx.WithLock(obj, func() {
		if obj.Config == nil {
			return
		}
		for _, dev := range obj.Config.Hardware.Device {
			if vd, ok := dev.(*types.VirtualDisk); ok && vd.Key == w.d.Key {
				if b, ok := vd.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok {
					b.ContentId = cid
				}
			}
		}
		if obj.LayoutEx == nil {
			return
		}
		flatName := simulator.VirtualDiskBackingFileName(w.file)
		for i := range obj.LayoutEx.File {
			f := &obj.LayoutEx.File[i]
			if f.Name == flatName {
				f.Size, f.UniqueSize = alloc, alloc
			}
		}
		obj.LayoutEx.Timestamp = time.Now()
	})
	l.log.Debug("disk proof: image changed, new contentId", "vm", w.vm.Value, "disk", w.d.Label, "uuid", w.d.UUID, "contentId", cid, "allocated", alloc)
	return true
}

// flatPath is the host path of the extent of disk descriptor file
// ("[LocalDS_0] mt01/mt01_1.vmdk"), "" when it is not on the lab's
// datastore.
func (l *Lab) flatPath(file string) string {
	var p object.DatastorePath
	if !p.FromString(file) || p.Datastore != l.VC.Datastore || p.Path == "" {
		return ""
	}
	return filepath.Join(l.VC.DatastoreDir, filepath.FromSlash(simulator.VirtualDiskBackingFileName(p.Path)))
}
