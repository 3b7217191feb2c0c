package provision

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mtprep/mtprep/centos"
	"github.com/mtprep/mtprep/images"
	"github.com/mtprep/mtprep/provision/spec"
)

// TestISOPhaseSharedMedia: two MTs of one base get one shared media file
// (no kickstart inside, the same bytes whoever writes it) and a seed each
// with their own kickstart; a second build writes nothing.
func TestISOPhaseSharedMedia(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	base := fakeBase(t, dir)
	key := userKey(t, dir)
	media := filepath.Join(dir, "build", "media")
	target := func(name, ip string) *Target {
		spec_, err := spec.Parse(filepath.Join(dir, name+".yaml"), []byte(strings.NewReplacer("mt01", name, "192.0.2.10", ip).Replace(validSpec)))
		if err != nil {
			t.Fatal(err)
		}
		spec_.ISO.Base, spec_.SSH.PrivateKey, spec_.SSH.KnownHosts = base, key, filepath.Join(dir, "known_hosts")
		return &Target{Spec: spec_, OS: centos.OS(), Env: fleetEnv, Log: discardLog(), Options: BuildOptions{WorkDir: filepath.Join(dir, "build", name), MediaDir: media}}
	}
	iso := vspherePhases(t, "iso")
	a, b := target("mt01", "192.0.2.10"), target("mt02", "192.0.2.11")
	for _, tg := range []*Target{a, b} {
		plan, err := Plan(ctx, tg, iso)
		if err != nil {
			t.Fatal(err)
		}
		if tg == a && (len(plan[0].Changes) != 2 || !strings.Contains(plan[0].Changes[0], "write shared install media") || !strings.Contains(plan[0].Changes[0], images.SharedKickstartArg)) {
			t.Errorf("plan: %q", plan[0].Changes)
		}
		if tg == b && (len(plan[0].Changes) != 1 || !strings.Contains(plan[0].Changes[0], "write seed")) {
			t.Errorf("plan of the second MT: %q (the media exist already)", plan[0].Changes)
		}
		if rs, err := Build(ctx, tg, iso); err != nil || rs[0].Status != StatusChanged {
			t.Fatalf("%s: %v (%s)", tg.Spec.Name, err, statuses(rs))
		}
	}
	if a.Facts.ISOLocal != b.Facts.ISOLocal {
		t.Errorf("two media files: %s, %s", a.Facts.ISOLocal, b.Facts.ISOLocal)
	}
	es, _ := os.ReadDir(media)
	var isos []string
	for _, e := range es {
		if strings.HasSuffix(e.Name(), ".iso") {
			isos = append(isos, e.Name())
		}
	}
	if len(isos) != 1 {
		t.Errorf("media dir holds %v, want one ISO", isos)
	}
	r, err := ReadISOResult(a.Facts.ISOLocal)
	if err != nil || r.Kind != "media" || r.KickstartArg != images.SharedKickstartArg {
		t.Fatalf("media sidecar: %+v %v", r, err)
	}
	for _, tg := range []*Target{a, b} {
		ks, err := images.ReadSeed(tg.Facts.SeedLocal)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(ks), "--hostname="+tg.Spec.Network.Hostname) && !strings.Contains(string(ks), tg.Spec.Network.Hostname) {
			t.Errorf("%s's seed does not name %s:\n%s", tg.Spec.Name, tg.Spec.Network.Hostname, ks)
		}
	}
	kh, _ := os.ReadFile(filepath.Join(dir, "known_hosts"))
	if strings.Count(string(kh), "\n") != 2 {
		t.Errorf("known_hosts:\n%s", kh)
	}

	// Again: nothing is written. And the media are byte for byte those a
	// fresh remaster of the base gives: their hash is their name on every
	// datastore.
	before, _ := os.Stat(a.Facts.SeedLocal)
	for _, tg := range []*Target{a, b} {
		if rs, err := Build(ctx, tg, iso); err != nil || rs[0].Status != StatusDone {
			t.Fatalf("second build: %v (%s)", err, statuses(rs))
		}
	}
	if after, _ := os.Stat(a.Facts.SeedLocal); !after.ModTime().Equal(before.ModTime()) {
		t.Error("the second build rewrote the seed")
	}
	again, err := WriteSharedMedia(ctx, MediaOptions{Base: base, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if again.SHA256 != r.SHA256 {
		t.Errorf("media of one base differ: %s, %s", again.SHA256, r.SHA256)
	}
}
