package images

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mtprep/mtprep/internal/testiso"
)

// ubuntuStandIn builds testiso's Ubuntu 16.04.2 server stand-in,
// skipping when the host lacks its tools unless CI=true.
func ubuntuStandIn(t *testing.T, o testiso.UbuntuOptions) string {
	t.Helper()
	iso, err := testiso.BuildUbuntu(context.Background(), t.TempDir(), o)
	if errors.Is(err, testiso.ErrMissingHost) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return iso
}

func TestParseDiskInfo(t *testing.T) {
	for _, c := range []struct {
		in   string
		want diskInfo
	}{
		{`Ubuntu-Server 16.04.2 LTS "Xenial Xerus" - Release amd64 (20170215.8)`,
			diskInfo{Product: "Ubuntu-Server", Version: "16.04.2", LTS: true, Codename: "Xenial Xerus", Kind: "Release", Arch: "amd64", Build: "20170215.8"}},
		{`Ubuntu 16.04.2 LTS "Xenial Xerus" - Release amd64 (20170215.2)` + "\n",
			diskInfo{Product: "Ubuntu", Version: "16.04.2", LTS: true, Codename: "Xenial Xerus", Kind: "Release", Arch: "amd64", Build: "20170215.2"}},
		{`Ubuntu-Server 16.04 LTS "Xenial Xerus" - Beta amd64 (20160324)`,
			diskInfo{Product: "Ubuntu-Server", Version: "16.04", LTS: true, Codename: "Xenial Xerus", Kind: "Beta", Arch: "amd64", Build: "20160324"}},
		{`Ubuntu-Server 14.04.5 LTS "Trusty Tahr" - Release i386 (20160803)`,
			diskInfo{Product: "Ubuntu-Server", Version: "14.04.5", LTS: true, Codename: "Trusty Tahr", Kind: "Release", Arch: "i386", Build: "20160803"}},
		{`Debian GNU/Linux 12.5.0 "Bookworm" - Official amd64 NETINST with firmware 20240210-11:27`,
			diskInfo{Product: "Debian GNU/Linux", Version: "12.5.0", Codename: "Bookworm", Kind: "Official amd64 NETINST with firmware", Arch: "20240210-11:27"}},
		{"", diskInfo{}},
	} {
		got := parseDiskInfo([]byte(c.in))
		c.want.Raw = strings.TrimSpace(c.in)
		if got != c.want {
			t.Errorf("parseDiskInfo(%q)\n got %+v\nwant %+v", c.in, got, c.want)
		}
	}
}

// FuzzParseDiskInfo: any bytes parse without a panic into one printable
// line; a version found is a version token.
func FuzzParseDiskInfo(f *testing.F) {
	for _, s := range []string{
		testiso.UbuntuDiskInfo, `Ubuntu 16.04.2 LTS "Xenial Xerus" - Release amd64 (20170215.2)`,
		"\uFEFFx\r\ny", `"`, `a 1.2 "b - c" - d (e`, " - ", "(", "16.04 - amd64 ()",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d := parseDiskInfo(b)
		for _, v := range []string{d.Raw, d.Product, d.Version, d.Codename, d.Kind, d.Arch, d.Build} {
			if strings.ContainsAny(v, "\r\n\x00") {
				t.Fatalf("field %q is not one printable line", v)
			}
		}
		if d.Version != "" && !isVersion(d.Version) {
			t.Fatalf("version %q", d.Version)
		}
	})
}

func TestInspectUbuntu(t *testing.T) {
	iso := ubuntuStandIn(t, testiso.UbuntuOptions{})
	info, err := InspectUbuntu(context.Background(), iso)
	if err != nil {
		t.Fatal(err)
	}
	if info.OS != FamilyUbuntu || info.Family != "Ubuntu-Server" || info.Version != "16.04.2" || info.Arch != "amd64" ||
		info.MediaID != "20170215.8" || info.Release != testiso.UbuntuDiskInfo || info.VolumeLabel != testiso.UbuntuVolumeLabel ||
		!info.HasEFI || len(info.SHA256) != 64 {
		t.Errorf("got %+v", info)
	}
	if !slices.Equal(info.Kernels, []string{"4.4.0-62", "4.8.0-36"}) || len(info.Warnings) != 0 {
		t.Errorf("kernels %q, warnings %q", info.Kernels, info.Warnings)
	}
	// InspectFamily is the same; plain Inspect refuses it as CentOS,
	// naming .disk/info.
	if i2, err := InspectFamily(context.Background(), iso, FamilyUbuntu); err != nil || i2.Version != "16.04.2" {
		t.Errorf("InspectFamily: %+v, %v", i2, err)
	}
	_, err = Inspect(context.Background(), iso)
	if !errors.Is(err, ErrUnknownBase) || !strings.Contains(err.Error(), `the disc has .disk/info "Ubuntu-Server 16.04.2 LTS`) {
		t.Errorf("Inspect: %v", err)
	}
}

// Other Ubuntu discs are refused with every value found.
func TestInspectUbuntuRefusals(t *testing.T) {
	for _, c := range []struct {
		name, info string
		want       []string
	}{
		{"desktop", `Ubuntu 16.04.2 LTS "Xenial Xerus" - Release amd64 (20170215.2)`,
			[]string{`product is "Ubuntu", want Ubuntu-Server`, "desktop and live media"}},
		{"i386", `Ubuntu-Server 16.04.2 LTS "Xenial Xerus" - Release i386 (20170215.8)`,
			[]string{`arch is "i386", want "amd64"`}},
		{"trusty", `Ubuntu-Server 14.04.5 LTS "Trusty Tahr" - Release amd64 (20160803)`,
			[]string{`version is "14.04.5", want 16.04`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			iso := ubuntuStandIn(t, testiso.UbuntuOptions{DiskInfo: c.info})
			info, err := InspectUbuntu(context.Background(), iso)
			if !errors.Is(err, ErrNotUbuntu) || !errors.Is(err, ErrUnknownBase) || info == nil {
				t.Fatalf("err %v", err)
			}
			if strings.Contains(err.Error(), "CentOS") {
				t.Errorf("error %q names CentOS", err)
			}
			for _, s := range append(c.want, strconv.Quote(c.info), strconv.Quote(testiso.UbuntuVolumeLabel), "pool kernels 4.4.0-62 4.8.0-36") {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
		})
	}
	// A CentOS base and a Windows one, as Ubuntu.
	_, err := InspectUbuntu(context.Background(), pungiISO(t, centosTree(t), "CentOS_6.6_Final"))
	if !errors.Is(err, ErrNotUbuntu) || !strings.Contains(err.Error(), ".disk/info: missing") || !strings.Contains(err.Error(), "CentOS/RHEL") {
		t.Errorf("CentOS as Ubuntu: %v", err)
	}
	if _, err := InspectFamily(context.Background(), "x.iso", FamilyWindows); err == nil || !strings.Contains(err.Error(), "InspectWindows") {
		t.Errorf("InspectFamily windows: %v", err)
	}
}

func TestUbuntuKernelDoubts(t *testing.T) {
	if w := ubuntuKernelDoubts("16.04.2", []string{"4.4.0-62", "4.8.0-36"}); len(w) != 0 {
		t.Errorf("16.04.2: %q", w)
	}
	w := ubuntuKernelDoubts("16.04.3", []string{"4.10.0-28", "4.4.0-87"})
	if len(w) != 2 || !strings.Contains(w[0], "4.10.0-28-generic in pool/ is newer than ASR supports (4.10.0-24-generic)") {
		t.Errorf("16.04.3: %q", w)
	}
	if w := ubuntuKernelDoubts("16.04.2", []string{"4.4.0-62"}); len(w) != 1 || !strings.Contains(w[0], "known to hold 4.4.0-62 4.8.0-36") {
		t.Errorf("16.04.2 without HWE: %q", w)
	}
}

func TestRewriteUbuntuBoot(t *testing.T) {
	iso, txt, err := RewriteUbuntuBoot([]byte(testiso.UbuntuIsolinuxCfg), []byte(testiso.UbuntuTxtCfg), 0, UbuntuSharedBootArgs)
	if err != nil {
		t.Fatal(err)
	}
	wantISO := `# D-I config version 2.0
# search path for the c32 support libraries (libcom32, libutil etc.)
path 
include menu.cfg
ui vesamenu.c32
prompt 0
timeout 50
# mtprep: gfxboot waits for a key: ui gfxboot bootlogo
default mtprep
`
	if string(iso) != wantISO {
		t.Errorf("isolinux.cfg:\n%s\nwant:\n%s", iso, wantISO)
	}
	wantHead := `default mtprep
label mtprep
  menu label ^Install master target (mtprep preseed)
  menu default
  kernel /install/vmlinuz
  append auto=true priority=critical file=/cdrom/preseed/mtprep.seed vga=788 initrd=/install/initrd.gz console=ttyS0 panic=1 quiet ---
label install
  menu label ^Install Ubuntu Server
`
	if !strings.HasPrefix(string(txt), wantHead) {
		t.Errorf("txt.cfg:\n%s\nwant it to start:\n%s", txt, wantHead)
	}
	if !strings.HasSuffix(string(txt), "label hd\n  menu label ^Boot from first hard disk\n  localboot 0x80\n") {
		t.Errorf("txt.cfg lost its tail:\n%s", txt)
	}
	// Idempotent, and the single-ISO arguments replace the shared ones.
	iso2, txt2, err := RewriteUbuntuBoot(iso, txt, 0, UbuntuSharedBootArgs)
	if err != nil || !bytes.Equal(iso2, iso) || !bytes.Equal(txt2, txt) {
		t.Errorf("second rewrite differs (%v):\n%s\n%s", err, iso2, txt2)
	}
	_, txt3, err := RewriteUbuntuBoot(iso, txt, 2*time.Second, UbuntuBootArgs)
	if err != nil || !strings.Contains(string(txt3), "append auto=true priority=critical file=/cdrom/preseed/mt.seed vga=788") ||
		strings.Contains(string(txt3), "mtprep.seed") || strings.Count(string(txt3), "label mtprep") != 1 {
		t.Errorf("single ISO (%v):\n%s", err, txt3)
	}
	if _, _, err := RewriteUbuntuBoot(iso, []byte("label hd\n  localboot 0x80\n"), 0, UbuntuBootArgs); !errors.Is(err, ErrIsolinuxCfg) {
		t.Errorf("no install entry: %v", err)
	}
}

func TestRewriteUbuntuGrub(t *testing.T) {
	out, err := RewriteUbuntuGrub([]byte(testiso.UbuntuGrubCfg), 0, UbuntuSharedBootArgs)
	if err != nil {
		t.Fatal(err)
	}
	want := "set default=0\nset timeout=5\nmenuentry \"Install master target (mtprep preseed)\" {\n\tset gfxpayload=keep\n" +
		"\tlinux /install/vmlinuz auto=true priority=critical file=/cdrom/preseed/mtprep.seed quiet ---\n\tinitrd\t/install/initrd.gz\n}\n" +
		"menuentry \"Install Ubuntu Server\" {"
	if !strings.Contains(string(out), want) {
		t.Errorf("grub.cfg:\n%s\nwant:\n%s", out, want)
	}
	again, err := RewriteUbuntuGrub(out, 0, UbuntuSharedBootArgs)
	if err != nil || !bytes.Equal(again, out) {
		t.Errorf("second rewrite differs (%v):\n%s", err, again)
	}
}

// FuzzRewriteUbuntuBoot: any isolinux.cfg and txt.cfg rewrite without a
// panic; a rewrite that succeeds has the mtprep entry with the arguments
// once and ends isolinux.cfg with "default mtprep", with no active
// gfxboot ui.
func FuzzRewriteUbuntuBoot(f *testing.F) {
	f.Add([]byte(testiso.UbuntuIsolinuxCfg), []byte(testiso.UbuntuTxtCfg))
	f.Add([]byte("ui gfxboot x\r\ndefault foo\r\n"), []byte("label install\r\n kernel k\r\n append - -- x\r\n"))
	f.Add([]byte(""), []byte("label mtprep\nkernel a\nlabel install\nlinux /install/vmlinuz\n"))
	f.Fuzz(func(t *testing.T, iso, txt []byte) {
		newISO, newTxt, err := RewriteUbuntuBoot(iso, txt, 0, UbuntuSharedBootArgs)
		if err != nil {
			return
		}
		_, entries := parseCfg(newTxt)
		n := 0
		for _, e := range entries {
			if e.name == UbuntuLabel {
				n++
			}
		}
		if n != 1 || !strings.Contains(string(newTxt), "append "+UbuntuSharedBootArgs) {
			t.Fatalf("no mtprep entry in\n%q", newTxt)
		}
		if !strings.HasSuffix(string(newISO), "default "+UbuntuLabel+"\n") && !strings.HasSuffix(string(newISO), "default "+UbuntuLabel+"\r\n") {
			t.Fatalf("isolinux.cfg does not end with default mtprep:\n%q", newISO)
		}
		lines, _ := parseCfg(newISO)
		for _, l := range lines {
			if l.key == "ui" && isGfxboot(l) {
				t.Fatalf("gfxboot still on:\n%q", newISO)
			}
		}
	})
}

// TestRemasterUbuntu: shared media carry the generic preseed and boot
// it; single-ISO media carry the MT's; both keep md5sum.txt right for
// what changed; shared media are reproducible and pass on no MT preseed.
func TestRemasterUbuntu(t *testing.T) {
	ctx := context.Background()
	base := ubuntuStandIn(t, testiso.UbuntuOptions{})
	dir := t.TempDir()
	shared := filepath.Join(dir, "shared.iso")
	res, err := Remaster(ctx, RemasterOptions{Base: base, Out: shared, Family: FamilyUbuntu, Reproducible: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Base.OS != FamilyUbuntu || res.Base.Version != "16.04.2" {
		t.Errorf("base %+v", res.Base)
	}
	read := func(iso, p string) string {
		t.Helper()
		img, err := openISO(iso)
		if err != nil {
			t.Fatal(err)
		}
		defer img.Close()
		b, err := img.readSmall(p, 1<<20)
		if err != nil {
			t.Fatalf("%s in %s: %v", p, iso, err)
		}
		return string(b)
	}
	if got := read(shared, UbuntuSharedPreseedPath); got != GenericPreseed {
		t.Errorf("%s is\n%s", UbuntuSharedPreseedPath, got)
	}
	txt := read(shared, ubuntuTxtCfgPath)
	if !strings.Contains(txt, "append "+UbuntuSharedBootArgs+" vga=788") {
		t.Errorf("txt.cfg:\n%s", txt)
	}
	grub := read(shared, ubuntuGrubCfgPath)
	if !strings.Contains(grub, UbuntuSharedBootArgs) {
		t.Errorf("grub.cfg:\n%s", grub)
	}
	sums := read(shared, ubuntuMD5Path)
	for p, data := range map[string]string{ubuntuTxtCfgPath: txt, UbuntuSharedPreseedPath: GenericPreseed, ubuntuGrubCfgPath: grub} {
		if !strings.Contains(sums, md5Hex([]byte(data))+"  ./"+p+"\n") {
			t.Errorf("md5sum.txt has no right line for %s", p)
		}
	}
	if strings.Contains(sums, "md5sum.txt") {
		t.Errorf("md5sum.txt lists itself")
	}
	// The same again: the same bytes.
	again := filepath.Join(dir, "again.iso")
	res2, err := Remaster(ctx, RemasterOptions{Base: base, Out: again, Family: FamilyUbuntu, Reproducible: true})
	if err != nil || res2.SHA256 != res.SHA256 {
		t.Errorf("second shared remaster: %v, sha256 %s vs %s", err, res2.SHA256, res.SHA256)
	}

	single := filepath.Join(dir, "single.iso")
	preseed := "d-i passwd/root-password-crypted password $6$x$mt07\n"
	if _, err := Remaster(ctx, RemasterOptions{Base: base, Out: single, Family: FamilyUbuntu, Preseed: []byte(preseed)}); err != nil {
		t.Fatal(err)
	}
	if got := read(single, UbuntuPreseedPath); got != preseed {
		t.Errorf("mt.seed: %q", got)
	}
	if txt := read(single, ubuntuTxtCfgPath); !strings.Contains(txt, "append "+UbuntuBootArgs+" ") {
		t.Errorf("single txt.cfg:\n%s", txt)
	}
	// Shared media made from the single ISO drop its MT preseed.
	fromSingle := filepath.Join(dir, "from-single.iso")
	if _, err := Remaster(ctx, RemasterOptions{Base: single, Out: fromSingle, Family: FamilyUbuntu, Reproducible: true}); err != nil {
		t.Fatal(err)
	}
	img, err := openISO(fromSingle)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if _, byPath, _ := img.tree(); byPath[UbuntuPreseedPath].path != "" {
		t.Errorf("shared media from a single ISO still hold %s", UbuntuPreseedPath)
	}

	for _, o := range []RemasterOptions{
		{Base: base, Out: filepath.Join(dir, "x.iso"), Family: FamilyUbuntu, Kickstart: []byte("ks")},
		{Base: base, Out: filepath.Join(dir, "x.iso"), Family: FamilyUbuntu, Preseed: []byte{}},
		{Base: base, Out: filepath.Join(dir, "x.iso"), Family: FamilyWindows},
		{Base: base, Out: filepath.Join(dir, "x.iso"), Preseed: []byte("x")},
	} {
		if _, err := Remaster(ctx, o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	// A CentOS remaster of the Ubuntu base is refused.
	if _, err := Remaster(ctx, RemasterOptions{Base: base, Out: filepath.Join(dir, "c.iso"), Kickstart: []byte("x")}); !errors.Is(err, ErrUnknownBase) {
		t.Errorf("CentOS remaster of Ubuntu: %v", err)
	}
}
