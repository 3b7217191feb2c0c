package provision

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/internal/files"
	"github.com/mtprep/mtprep/provision/spec"
	"github.com/mtprep/mtprep/provision/vsphere"
)

// uploadPhase puts the MT's install media on the datastore: the shared
// media as <isoFolder>/<sha256>.iso and the MT's seed as
// <isoFolder>/seeds/<name>-<sha256>.iso, each with a sha256sum-style
// .sha256 file beside it. Named by content, a second build, or a second
// MT of the same base, uploads no media again: a fleet moves the media
// once per datastore plus one small seed per MT. Data goes to a
// temporary name and is moved into place only after its size is checked
// on the datastore (and the local file is unchanged since it was
// hashed), so an interrupted upload never looks complete.
type uploadPhase struct{}

func (uploadPhase) Name() string { return "upload" }

func (uploadPhase) makesMedia() {}

// localISO is a local ISO's identity, hashed once per run.
type localISO struct {
	path    string
	size    int64
	modTime time.Time
	sha256  string
}

// isoArtefact is one file the upload phase puts on the datastore.
type isoArtefact struct {
	role  string // "media" or "seed"
	local string
}

// artefacts are the media and the seed the upload takes: the iso phase's
// output, or what a caller put in Facts.
func (t *Target) artefacts() []isoArtefact {
	media, seed := t.Facts.ISOLocal, t.Facts.SeedLocal
	if media == "" {
		media = mediaPath(t)
	}
	if seed == "" {
		seed = seedPath(t)
	}
	return []isoArtefact{{"media", media}, {"seed", seed}}
}

// names are the artefact's datastore paths for content sha.
func (t *Target) names(a isoArtefact, sha string) isoNames {
	folder := t.Spec.VSphere.ISOFolder
	if a.role == "seed" {
		return seedNamesFor(folder, t.Spec.Name, sha)
	}
	return isoNamesFor(folder, sha)
}

// recordDatastorePath notes where an artefact is on the datastore.
func (t *Target) recordDatastorePath(a isoArtefact, p string) {
	if a.role == "seed" {
		t.Facts.SeedDatastore = p
	} else {
		t.Facts.ISODatastore = p
	}
}

// localHash returns a local ISO's sha256. The iso phase's sidecar already
// records it; it is trusted when the ISO has its recorded size and was
// not modified after the sidecar was written. Otherwise the ISO is hashed
// (once per run).
func (t *Target) localHash(ctx context.Context, p string) (*localISO, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("the MT's ISO %s: %w (the iso phase writes it)", p, spec.PathProblem(err))
	}
	if c := t.run.isos[p]; c != nil && c.size == fi.Size() && c.modTime.Equal(fi.ModTime()) {
		return c, nil
	}
	li := &localISO{path: p, size: fi.Size(), modTime: fi.ModTime()}
	if r, err := ReadISOResult(p); err == nil && r.Size == fi.Size() && isSHA256(r.SHA256) {
		if side, err := os.Stat(p + ".json"); err == nil && !fi.ModTime().After(side.ModTime()) {
			li.sha256 = r.SHA256
		}
	}
	if li.sha256 == "" {
		sum, _, err := files.SHA256(ctx, p, 0)
		if err != nil {
			return nil, fmt.Errorf("hashing the MT's ISO: %w", err)
		}
		if after, err := os.Stat(p); err != nil || after.Size() != li.size || !after.ModTime().Equal(li.modTime) {
			return nil, fmt.Errorf("the MT's ISO %s changed while it was hashed", p)
		}
		li.sha256 = sum
	}
	if t.run.isos == nil {
		t.run.isos = map[string]*localISO{}
	}
	t.run.isos[p] = li
	return li, nil
}

// isoNames are the datastore paths of one ISO.
type isoNames struct {
	dir, file, sum string // "mtprep-iso", "mtprep-iso/<sha>.iso", "….iso.sha256"
}

func isoNamesFor(folder, sha string) isoNames {
	f := path.Join(folder, sha+".iso")
	return isoNames{dir: folder, file: f, sum: f + ".sha256"}
}

// seedNamesFor names a seed by its MT and its content: the MT's name so a
// VM's second CD-ROM says whose kickstart it is, the content hash so an
// unchanged seed is not uploaded again.
func seedNamesFor(folder, name, sha string) isoNames {
	dir := path.Join(folder, "seeds")
	f := path.Join(dir, name+"-"+sha+".iso")
	return isoNames{dir: dir, file: f, sum: f + ".sha256"}
}

// isoOnDatastore is what the datastore holds under an ISO's name.
type isoOnDatastore struct {
	size      int64 // -1: absent
	sumRecord string
}

func (o isoOnDatastore) complete(li *localISO) bool {
	return o.size == li.size && o.sumRecord == li.sha256
}

// statISO looks the ISO up with an HTTP HEAD on the datastore file (no
// vSphere task: a datastore search is a task, and a build that changes
// nothing starts none) and reads the checksum file beside it.
func statISO(ctx context.Context, s *vsphere.Session, n isoNames) (isoOnDatastore, error) {
	inv, err := s.Inventory(ctx)
	if err != nil {
		return isoOnDatastore{}, err
	}
	out := isoOnDatastore{size: -1}
	if out.size, err = s.HeadFile(ctx, inv.Datastore, n.file); err != nil {
		return out, err
	}
	if out.size < 0 {
		return out, nil // no ISO: no need to look for its checksum
	}
	b, err := s.ReadSmallFile(ctx, inv.Datastore, n.sum)
	if err != nil || b == nil {
		return out, err
	}
	// sha256sum format: "<hex>  <name>"
	if f := strings.Fields(string(b)); len(f) == 2 && f[1] == path.Base(n.file) {
		out.sumRecord = f[0]
	}
	return out, nil
}

// uploadState is what Check found for each artefact, for Apply.
type uploadState struct {
	li *localISO
	n  isoNames
	st isoOnDatastore
	// installed: the VM was installed from its seed, which is then not
	// kept on the datastore (it holds the MT's secrets); remove is a seed
	// still there to delete.
	installed, remove bool
}

func (uploadPhase) Check(ctx context.Context, t *Target) (Check, error) {
	s, err := t.vsphere(ctx)
	if err != nil {
		return Check{}, err
	}
	inv, err := s.Inventory(ctx)
	if err != nil {
		return Check{}, err
	}
	ds, folder := inv.Datastore.Name(), t.Spec.VSphere.ISOFolder
	var ch, obs []string
	kept := map[string]uploadState{}
	installed, err := t.installedFrom(ctx)
	if err != nil {
		return Check{}, err
	}
	for _, a := range t.artefacts() {
		if a.role == "seed" && installed != "" {
			u, change, err := t.retiredSeed(ctx, s, ds, a)
			if err != nil {
				return Check{}, err
			}
			kept[a.role] = u
			if change != "" {
				ch = append(ch, change)
			} else {
				obs = append(obs, "seed not needed: VM "+t.Spec.Name+" was installed, and mtprep keeps no seed on the datastore after the install (it holds the MT's secrets)")
			}
			continue
		}
		li, err := t.localHash(ctx, a.local)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				where := vsphere.DatastorePath(ds, folder+"/<sha256>.iso")
				if a.role == "seed" {
					where = vsphere.DatastorePath(ds, folder+"/seeds/"+t.Spec.Name+"-<sha256>.iso")
				}
				ch = append(ch, fmt.Sprintf("upload %s %s (once the iso phase has written it) to %s", a.role, a.local, where))
				obs = append(obs, "no local "+a.role+" yet")
				continue
			}
			return Check{}, err
		}
		n := t.names(a, li.sha256)
		p := vsphere.DatastorePath(ds, n.file)
		t.recordDatastorePath(a, p)
		st, err := statISO(ctx, s, n)
		if err != nil {
			return Check{}, err
		}
		kept[a.role] = uploadState{li: li, n: n, st: st}
		if st.complete(li) {
			obs = append(obs, fmt.Sprintf("%s %s is there (%s, sha256 recorded in %s)", a.role, p, sizeText(li.size), path.Base(n.sum)))
			continue
		}
		switch {
		case st.size >= 0 && st.size != li.size:
			obs = append(obs, fmt.Sprintf("%s has %d bytes, not %d: it will be replaced", p, st.size, li.size))
		case st.size >= 0:
			obs = append(obs, fmt.Sprintf("%s has no matching %s: it will be replaced", p, path.Base(n.sum)))
		default:
			obs = append(obs, a.role+" not on the datastore")
		}
		what := fmt.Sprintf("upload %s %s (%s, sha256 %s) to %s", a.role, li.path, sizeText(li.size), li.sha256[:12], p)
		if a.role == "media" {
			what += " (shared by every MT of this base: uploaded once)"
		}
		ch = append(ch, what)
	}
	t.run.checked.upload = kept
	return Check{Done: len(ch) == 0, Changes: ch, Observed: strings.Join(obs, "; ")}, nil
}

// sizeText is a size for messages: MB for media, KB for a seed.
func sizeText(n int64) string {
	if n >= 10<<20 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	return fmt.Sprintf("%d KB", (n+1023)>>10)
}

func (uploadPhase) Apply(ctx context.Context, t *Target) error {
	s, err := t.vsphere(ctx)
	if err != nil {
		return err
	}
	inv, err := s.Inventory(ctx)
	if err != nil {
		return err
	}
	kept := take(&t.run.checked.upload)
	var notes []string
	for _, a := range t.artefacts() {
		u, ok := kept[a.role]
		if ok && u.installed {
			if u.remove {
				if err := removeSeed(ctx, s, inv.Datastore, u.n); err != nil {
					return err
				}
				notes = append(notes, "removed the seed "+u.n.file+" from the datastore (the VM is installed; the seed holds its secrets)")
			}
			continue
		}
		if !ok {
			li, err := t.localHash(ctx, a.local)
			if err != nil {
				return err
			}
			u = uploadState{li: li, n: t.names(a, li.sha256)}
			if u.st, err = statISO(ctx, s, u.n); err != nil {
				return err
			}
		}
		if u.st.complete(u.li) {
			continue
		}
		if a.role == "media" {
			// A fleet's workers reach this at once for the one media
			// file: the first uploads, the others wait and find it there.
			unlock := t.sharedState().lock(ctx, "upload|"+s.Host()+"|"+inv.Datastore.Reference().Value+"|"+u.n.file)
			if unlock == nil {
				return ctx.Err()
			}
			st, err := statISO(ctx, s, u.n)
			if err == nil && st.complete(u.li) {
				unlock()
				t.recordDatastorePath(a, vsphere.DatastorePath(inv.Datastore.Name(), u.n.file))
				notes = append(notes, fmt.Sprintf("media %s uploaded by another MT of this run", u.n.file))
				continue
			}
			if err == nil {
				u.st = st
			}
			note, err := uploadISO(ctx, s, t, inv.Datastore, u)
			unlock()
			if err != nil {
				return err
			}
			notes = append(notes, note)
		} else {
			note, err := uploadISO(ctx, s, t, inv.Datastore, u)
			if err != nil {
				return err
			}
			notes = append(notes, note)
		}
		t.recordDatastorePath(a, vsphere.DatastorePath(inv.Datastore.Name(), u.n.file))
	}
	if len(notes) > 0 {
		t.Note("upload", strings.Join(notes, "; "))
	}
	return nil
}

func (uploadPhase) Verify(ctx context.Context, t *Target) error {
	c, err := uploadPhase{}.Check(ctx, t)
	if err != nil {
		return err
	}
	if !c.Done {
		return fmt.Errorf("%s", c.Observed)
	}
	return nil
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// installedFrom is the install media the MT's VM was installed from (the
// install phase's record), "" for no VM or one not installed yet.
func (t *Target) installedFrom(ctx context.Context) (string, error) {
	st, err := t.vmFor(ctx)
	if err != nil || st == nil {
		return "", err
	}
	return st.Extra(installedMarker), nil
}

// retiredSeed is the seed of an installed MT: a change that removes it
// from the datastore when it is still there, else none.
func (t *Target) retiredSeed(ctx context.Context, s *vsphere.Session, ds string, a isoArtefact) (uploadState, string, error) {
	u := uploadState{installed: true}
	li, err := t.localHash(ctx, a.local)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return u, "", nil
		}
		return u, "", err
	}
	u.li, u.n = li, t.names(a, li.sha256)
	if u.st, err = statISO(ctx, s, u.n); err != nil {
		return u, "", err
	}
	if u.st.size < 0 {
		return u, "", nil
	}
	u.remove = true
	return u, fmt.Sprintf("remove the seed %s from the datastore: VM %s is installed, and the seed holds its secrets", vsphere.DatastorePath(ds, u.n.file), t.Spec.Name), nil
}

// removeSeed deletes a seed and its checksum file from the datastore.
func removeSeed(ctx context.Context, s *vsphere.Session, ds *object.Datastore, n isoNames) error {
	for _, f := range []string{n.file, n.sum} {
		if err := s.DeleteFile(ctx, ds, f); err != nil && !vsphere.IsFault[*types.FileNotFound](err) {
			return fmt.Errorf("removing the seed %s: %w", f, err)
		}
	}
	return nil
}
