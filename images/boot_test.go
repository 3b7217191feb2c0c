package images

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtprep/mtprep/internal/testiso"
)

// TestBootKickstartISO is the end-to-end check of the issue: build a
// CentOS-6.6-shaped base (Debian's ISOLINUX and kernel, a busybox
// initramfs), remaster it with a kickstart no other run has, boot the
// result in qemu with no key pressed, and require that the kernel got
// ks=cdrom:/ks.cfg and read exactly this kickstart from the CD.
//
// Without qemu, ISOLINUX or a kernel it skips, except with CI=true, where
// it fails: .ci/apt-packages.d/iso.txt installs them.
//
//	go test ./images -run TestBootKickstartISO -v
func TestBootKickstartISO(t *testing.T) {
	ctx, dir, base, unavailable := bootTestBase(t)
	nonce := fmt.Sprintf("%d-%016x", time.Now().UnixNano(), rand.Uint64())
	ks := "# mtprep boot test " + nonce + "\n" +
		"install\ncdrom\nlang en_US.UTF-8\nkeyboard us\n" +
		"rootpw --iscrypted $6$salt$" + nonce + "\n" +
		"%packages --nobase\n@core\n%end\n"
	out := filepath.Join(dir, "mt-boot-test.iso")
	res, err := Remaster(ctx, RemasterOptions{Base: base, Out: out, Kickstart: []byte(ks)})
	if err != nil {
		t.Fatal(err)
	}
	// The test base is laid out like the real media (testiso): pungi's
	// release line, media id and volume id were accepted, not worked around.
	if b := res.Base; b.Release != "CentOS 6.6" || b.MediaID != MediaID66 || b.VolumeLabel != testiso.VolumeLabel || len(b.Warnings) > 0 {
		t.Errorf("base identified as %+v", b)
	}

	start := time.Now()
	serial, err := testiso.Boot(ctx, out, 180*time.Second)
	if errors.Is(err, testiso.ErrMissingHost) {
		unavailable(err)
	}
	t.Logf("booted in %s", time.Since(start).Round(100*time.Millisecond))
	if err != nil {
		t.Fatalf("%v\nserial output:\n%s", err, serial)
	}
	r := testiso.ParseSerial(serial)
	switch {
	case r.Error != "":
		t.Fatalf("the guest reported: %s\nserial output:\n%s", r.Error, serial)
	case !strings.Contains(" "+r.Cmdline+" ", " "+KickstartArg+" "):
		t.Fatalf("kernel command line %q lacks %s\nserial output:\n%s", r.Cmdline, KickstartArg, serial)
	case !r.HasKS:
		t.Fatalf("no kickstart printed\nserial output:\n%s", serial)
	case r.Source != "sr0":
		t.Fatalf("kickstart read from %q, want sr0\nserial output:\n%s", r.Source, serial)
	case r.Kickstart != ks:
		t.Fatalf("the guest read\n%q\nwant\n%q", r.Kickstart, ks)
	}
	t.Logf("kernel command line: %s", r.Cmdline)
}

// TestBootSharedMediaWithSeed is the same check for a fleet's media:
// shared install media (no kickstart inside, booting with
// ks=hd:sr1:/ks.cfg) in the first CD-ROM and this MT's seed ISO in the
// second, as the vm phase attaches them. The guest must get the shared
// boot argument and read exactly this MT's kickstart from sr1, the seed.
//
//	go test ./images -run TestBootSharedMediaWithSeed -v
func TestBootSharedMediaWithSeed(t *testing.T) {
	ctx, dir, base, unavailable := bootTestBase(t)
	media := filepath.Join(dir, "shared.iso")
	if _, err := Remaster(ctx, RemasterOptions{Base: base, Out: media, KickstartArg: SharedKickstartArg, Reproducible: true}); err != nil {
		t.Fatal(err)
	}
	nonce := fmt.Sprintf("%d-%016x", time.Now().UnixNano(), rand.Uint64())
	ks := "# mtprep seed boot test " + nonce + "\ninstall\ncdrom\nnetwork --hostname mt07.example.com\n%packages --nobase\n@core\n%end\n"
	seed := filepath.Join(dir, "seed.iso")
	if _, err := WriteSeed(ctx, SeedOptions{Out: seed, Kickstart: []byte(ks)}); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	serial, err := testiso.BootDrives(ctx, []string{media, seed}, 180*time.Second, nil)
	if errors.Is(err, testiso.ErrMissingHost) {
		unavailable(err)
	}
	t.Logf("booted in %s", time.Since(start).Round(100*time.Millisecond))
	if err != nil {
		t.Fatalf("%v\nserial output:\n%s", err, serial)
	}
	r := testiso.ParseSerial(serial)
	switch {
	case r.Error != "":
		t.Fatalf("the guest reported: %s\nserial output:\n%s", r.Error, serial)
	case !strings.Contains(" "+r.Cmdline+" ", " "+SharedKickstartArg+" "):
		t.Fatalf("kernel command line %q lacks %s\nserial output:\n%s", r.Cmdline, SharedKickstartArg, serial)
	case strings.Contains(r.Cmdline, KickstartArg):
		t.Fatalf("kernel command line %q also has %s", r.Cmdline, KickstartArg)
	case r.Source != "sr1":
		t.Fatalf("kickstart read from %q, want sr1 (the seed)\nserial output:\n%s", r.Source, serial)
	case !r.HasKS:
		t.Fatalf("no kickstart printed\nserial output:\n%s", serial)
	case r.Kickstart != ks:
		t.Fatalf("the guest read\n%q\nwant\n%q", r.Kickstart, ks)
	}
	t.Logf("kernel command line: %s; kickstart from %s", r.Cmdline, r.Source)
}

// bootTestBase prepares a boot test: the CentOS-shaped test base built in
// a temporary directory, a context bounding the test, and unavailable,
// which skips (or fails with CI=true) when the host lacks qemu, ISOLINUX
// or a kernel.
func bootTestBase(t *testing.T) (ctx context.Context, dir, base string, unavailable func(error)) {
	t.Helper()
	ci := os.Getenv("CI") == "true"
	unavailable = func(err error) {
		t.Helper()
		if ci {
			t.Fatalf("boot test cannot run with CI=true: %v", err)
		}
		t.Skipf("boot test skipped: %v (install the packages in .ci/apt-packages.d/iso.txt)", err)
	}
	if testing.Short() && !ci {
		t.Skip("boot test skipped with -short (about 15 s in qemu)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	dir = t.TempDir()
	base, err := testiso.Build(ctx, dir, testiso.Options{})
	if errors.Is(err, testiso.ErrMissingHost) {
		unavailable(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return ctx, dir, base, unavailable
}

// TestBootUbuntuSharedMediaWithSeed boots shared Ubuntu media (the
// Ubuntu-shaped stand-in remastered with no MT data) with an MT's seed
// ISO in the second CD-ROM. The stand-in's initramfs plays d-i: it must
// get the preseed boot arguments, read the generic preseed from the
// install medium, and the generic preseed's early command (run by
// busybox sh) must find the seed on sr1 and hand exactly this MT's
// preseed.cfg to debconf-set-selections.
//
//	go test ./images -run TestBootUbuntuSharedMediaWithSeed -v
func TestBootUbuntuSharedMediaWithSeed(t *testing.T) {
	ctx, dir, unavailable := bootTestContext(t)
	base, err := testiso.BuildUbuntu(ctx, dir, testiso.UbuntuOptions{})
	if errors.Is(err, testiso.ErrMissingHost) {
		unavailable(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	media := filepath.Join(dir, "ubuntu-shared.iso")
	if _, err := Remaster(ctx, RemasterOptions{Base: base, Out: media, Family: FamilyUbuntu, Reproducible: true}); err != nil {
		t.Fatal(err)
	}
	nonce := fmt.Sprintf("%d-%016x", time.Now().UnixNano(), rand.Uint64())
	preseed := "# mtprep Ubuntu seed boot test " + nonce + "\n" +
		"d-i netcfg/get_hostname string mt07\n" +
		"d-i passwd/root-password-crypted password $6$salt$" + nonce + "\n" +
		"d-i preseed/late_command string cp " + UbuntuSeedDir + "/authorized_keys /target/root/.ssh/\n"
	seed := filepath.Join(dir, "seed.iso")
	if _, err := WriteSeed(ctx, SeedOptions{Out: seed, Files: []SeedFile{
		{Name: UbuntuSeedPreseed, Data: []byte(preseed)},
		{Name: "authorized_keys", Data: []byte("ssh-ed25519 AAAA mtprep\n")},
	}}); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	serial, err := testiso.BootDrives(ctx, []string{media, seed}, 180*time.Second, nil)
	if errors.Is(err, testiso.ErrMissingHost) {
		unavailable(err)
	}
	t.Logf("booted in %s", time.Since(start).Round(100*time.Millisecond))
	if err != nil {
		t.Fatalf("%v\nserial output:\n%s", err, serial)
	}
	r := testiso.ParseSerial(serial)
	switch {
	case r.Error != "":
		t.Fatalf("the guest reported: %s\nserial output:\n%s", r.Error, serial)
	case !strings.Contains(" "+r.Cmdline+" ", " "+UbuntuSharedBootArgs+" "):
		t.Fatalf("kernel command line %q lacks %s\nserial output:\n%s", r.Cmdline, UbuntuSharedBootArgs, serial)
	case strings.Contains(r.Cmdline, "ubuntu-server.seed"):
		t.Fatalf("kernel command line %q still names the base's preseed", r.Cmdline)
	case !r.HasMedia || r.MediaPreseed != GenericPreseed:
		t.Fatalf("the medium's preseed as read:\n%q\nwant the generic preseed\nserial output:\n%s", r.MediaPreseed, serial)
	case r.Source != "sr1":
		t.Fatalf("MT preseed read from %q, want sr1 (the seed)\nserial output:\n%s", r.Source, serial)
	case !r.HasKS || r.Kickstart != preseed:
		t.Fatalf("debconf-set-selections got\n%q\nwant\n%q\nserial output:\n%s", r.Kickstart, preseed, serial)
	}
	t.Logf("kernel command line: %s; MT preseed from %s", r.Cmdline, r.Source)
}

// bootTestContext is bootTestBase without the CentOS base.
func bootTestContext(t *testing.T) (ctx context.Context, dir string, unavailable func(error)) {
	t.Helper()
	ci := os.Getenv("CI") == "true"
	unavailable = func(err error) {
		t.Helper()
		if ci {
			t.Fatalf("boot test cannot run with CI=true: %v", err)
		}
		t.Skipf("boot test skipped: %v (install the packages in .ci/apt-packages.d/iso.txt)", err)
	}
	if testing.Short() && !ci {
		t.Skip("boot test skipped with -short (about 15 s in qemu)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx, t.TempDir(), unavailable
}

// TestBootUbuntuSingleISO: Ubuntu media with the MT's preseed inside
// boot with file=/cdrom/preseed/mt.seed, and the stand-in reads exactly
// that preseed from the medium (sr0).
//
//	go test ./images -run TestBootUbuntuSingleISO -v
func TestBootUbuntuSingleISO(t *testing.T) {
	ctx, dir, unavailable := bootTestContext(t)
	base, err := testiso.BuildUbuntu(ctx, dir, testiso.UbuntuOptions{})
	if errors.Is(err, testiso.ErrMissingHost) {
		unavailable(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	nonce := fmt.Sprintf("%d-%016x", time.Now().UnixNano(), rand.Uint64())
	preseed := "# mtprep Ubuntu single ISO boot test " + nonce + "\nd-i netcfg/get_hostname string mt08\n"
	media := filepath.Join(dir, "ubuntu-mt.iso")
	if _, err := Remaster(ctx, RemasterOptions{Base: base, Out: media, Family: FamilyUbuntu, Preseed: []byte(preseed)}); err != nil {
		t.Fatal(err)
	}
	serial, err := testiso.Boot(ctx, media, 180*time.Second)
	if errors.Is(err, testiso.ErrMissingHost) {
		unavailable(err)
	}
	if err != nil {
		t.Fatalf("%v\nserial output:\n%s", err, serial)
	}
	r := testiso.ParseSerial(serial)
	switch {
	case r.Error != "":
		t.Fatalf("the guest reported: %s\nserial output:\n%s", r.Error, serial)
	case !strings.Contains(" "+r.Cmdline+" ", " "+UbuntuBootArgs+" "):
		t.Fatalf("kernel command line %q lacks %s\nserial output:\n%s", r.Cmdline, UbuntuBootArgs, serial)
	case r.Source != "sr0" || r.MediaPreseed != preseed || r.Kickstart != preseed:
		t.Fatalf("preseed from %q:\n%q\nwant\n%q\nserial output:\n%s", r.Source, r.Kickstart, preseed, serial)
	}
	t.Logf("kernel command line: %s", r.Cmdline)
}
