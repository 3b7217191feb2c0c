package images

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInspect(t *testing.T) {
	good := centosTree(t)
	disc := func(release string) baseTree {
		return withFile(good, ".discinfo", []byte("1414159991.958686\n"+release+"\nx86_64\n1\n"))
	}
	tree := func(family, version, arch string) baseTree {
		return withFile(good, ".treeinfo", []byte("[general]\nfamily = "+family+"\nversion = "+version+"\narch = "+arch+"\n"))
	}
	tests := []struct {
		name     string
		tree     baseTree
		wantErr  []string // substrings of the error; nil: no error
		want     BaseInfo // string fields checked when set
		efi      bool     // check want.HasEFI
		warnings int      // len(Warnings)
	}{
		{name: "centos 6.6 x86_64 as pungi writes it", tree: good,
			want: BaseInfo{Family: "CentOS", Version: "6.6", Arch: "x86_64", VolumeLabel: "CentOS_6.6_Final", HasEFI: true,
				MediaID: MediaID66, Media: "CentOS 6.6 x86_64", Release: "CentOS 6.6", Discs: "1"}, efi: true},
		{name: "release line version only (a remaster)", tree: disc("6.6"), want: BaseInfo{Version: "6.6", Release: "6.6"}},
		{name: "release line CentOS Linux 6.6", tree: disc("CentOS Linux 6.6"), want: BaseInfo{Release: "CentOS Linux 6.6"}},
		{name: "CRLF and trailing blanks",
			tree: withFile(good, ".discinfo", []byte("1414159991.958686\r\nCentOS 6.6  \r\nx86_64\r\n1\r\n")),
			want: BaseInfo{Release: "CentOS 6.6", Arch: "x86_64", MediaID: MediaID66, Discs: "1"}},
		{name: "DVD1 of the bin set", tree: withFile(good, ".discinfo", []byte("1414159991.958686\nCentOS 6.6\nx86_64\n1\n")),
			want: BaseInfo{Discs: "1"}},
		{name: "unpacked set, discs 1,2", tree: withFile(good, ".discinfo", []byte("1414159991.958686\nCentOS 6.6\nx86_64\n1,2\n")),
			want: BaseInfo{Discs: "1,2"}},
		{name: "no disc numbers line", tree: withFile(good, ".discinfo", []byte("1414159991.958686\nCentOS 6.6\nx86_64\n"))},
		{name: "unknown media id: a respin, warned",
			tree: withFile(good, ".discinfo", []byte("1500000000.123456\nCentOS 6.6\nx86_64\n1\n")),
			want: BaseInfo{MediaID: "1500000000.123456"}, warnings: 1},
		{name: "DVD2 does not boot",
			tree:    withFile(good, ".discinfo", []byte("1414159991.958686\nCentOS 6.6\nx86_64\n2\n")),
			wantErr: []string{`.discinfo: disc numbers (line 4) are "2": not disc 1`}},
		{name: "release CentOS 6.5 refused", tree: disc("CentOS 6.5"),
			wantErr: []string{`.discinfo: release (line 2) "CentOS 6.5": version is "6.5", want "6.6"`, `release "CentOS 6.5" (version "6.5")`}},
		{name: "release CentOS 7 refused", tree: disc("CentOS 7"),
			wantErr: []string{`version is "7", want "6.6"`}},
		{name: "release garbage refused", tree: disc("Final Release"),
			wantErr: []string{`.discinfo: release (line 2) "Final Release" has no version number`}},
		{name: "release line empty", tree: disc(""),
			wantErr: []string{".discinfo: line 2 (release) is empty"}},
		{name: "6.5 media id with a 6.6 treeinfo: a contradiction",
			tree:    withFile(good, ".discinfo", []byte("1385726732.061157\nCentOS 6.6\nx86_64\n1\n")),
			wantErr: []string{`media id (line 1) 1385726732.061157 is CentOS 6.5 x86_64's, want CentOS 6.6 x86_64's 1414159991.958686`}},
		{name: "CentOS 6.5, every value shown",
			tree: withFile(tree("CentOS", "6.5", "x86_64"), ".discinfo", []byte("1385726732.061157\nCentOS 6.5\nx86_64\n1\n")),
			wantErr: []string{`.treeinfo: [general] version is "6.5", want "6.6"`,
				`found: .discinfo media id "1385726732.061157" (CentOS 6.5 x86_64), release "CentOS 6.5" (version "6.5"), arch "x86_64", discs "1"; .treeinfo family "CentOS", version "6.5", arch "x86_64"`,
				`volume id "CentOS_6.6_Final"`, "fix: use CentOS-6.6-x86_64-minimal.iso or CentOS-6.6-x86_64-bin-DVD1.iso"},
			want: BaseInfo{Version: "6.5"}},
		{name: "wrong arch i386",
			tree:    withFile(tree("CentOS", "6.6", "i386"), ".discinfo", []byte("1414159991.958686\nCentOS 6.6\ni386\n1\n")),
			wantErr: []string{`.discinfo: arch (line 3) is "i386", want "x86_64"`, `.treeinfo: [general] arch is "i386"`},
			want:    BaseInfo{Arch: "i386"}},
		{name: "treeinfo decides: discinfo says 6.6, treeinfo 7", tree: tree("CentOS", "7", "x86_64"),
			wantErr: []string{`.treeinfo: [general] version is "7", want "6.6"`}, want: BaseInfo{Version: "7"}},
		{name: "no EFI image", tree: withFile(good, "images/efiboot.img", nil),
			want: BaseInfo{Version: "6.6", HasEFI: false}, efi: true},
		{name: "missing .discinfo", tree: withFile(good, ".discinfo", nil),
			wantErr: []string{".discinfo: missing"}},
		{name: "missing .treeinfo", tree: withFile(good, ".treeinfo", nil),
			wantErr: []string{".treeinfo: missing"}},
		{name: "another family", tree: tree("Red Hat Enterprise Linux", "6.6", "x86_64"),
			wantErr: []string{`.treeinfo: [general] family is "Red Hat Enterprise Linux", want "CentOS"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iso := diskfsISO(t, tt.tree, "CentOS_6.6_Final")
			info, err := Inspect(context.Background(), iso)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
			} else {
				if !errors.Is(err, ErrUnknownBase) {
					t.Fatalf("err = %v, want ErrUnknownBase", err)
				}
				for _, s := range append(tt.wantErr, iso) {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not say %q", err, s)
					}
				}
				if !strings.HasPrefix(err.Error(), "iso: ") {
					t.Errorf("error %q is not prefixed iso:", err)
				}
			}
			if info == nil {
				t.Fatal("no BaseInfo with the error")
			}
			if info.SHA256 != sha256File(t, iso) {
				t.Errorf("SHA256 = %s, want %s", info.SHA256, sha256File(t, iso))
			}
			if fi, _ := os.Stat(iso); info.Size != fi.Size() {
				t.Errorf("Size = %d, want %d", info.Size, fi.Size())
			}
			check := func(field, got, want string) {
				if want != "" && got != want {
					t.Errorf("%s = %q, want %q", field, got, want)
				}
			}
			check("Family", info.Family, tt.want.Family)
			check("Version", info.Version, tt.want.Version)
			check("Arch", info.Arch, tt.want.Arch)
			check("VolumeLabel", info.VolumeLabel, tt.want.VolumeLabel)
			check("MediaID", info.MediaID, tt.want.MediaID)
			check("Media", info.Media, tt.want.Media)
			check("Release", info.Release, tt.want.Release)
			check("Discs", info.Discs, tt.want.Discs)
			if tt.efi && info.HasEFI != tt.want.HasEFI {
				t.Errorf("HasEFI = %v, want %v", info.HasEFI, tt.want.HasEFI)
			}
			if len(info.Warnings) != tt.warnings {
				t.Errorf("Warnings = %q, want %d", info.Warnings, tt.warnings)
			}
		})
	}
}

func TestReleaseVersion(t *testing.T) {
	tests := map[string]string{
		"CentOS 6.6":        "6.6",
		"6.6":               "6.6",
		"CentOS Linux 6.6":  "6.6",
		"  CentOS   6.6  ":  "6.6",
		"CentOS 6.5":        "6.5",
		"CentOS 7":          "7",
		"CentOS 6.6 Final":  "6.6", // the last token that is a version, not the last token
		"Red Hat 6 6.6":     "6.6",
		"CentOS 6.6.":       "",
		"CentOS .6":         "",
		"CentOS 6..6":       "",
		"CentOS v6.6":       "",
		"CentOS-6.6":        "",
		"Final Release":     "",
		"":                  "",
		"\x00\xff 6.6 \x00": "6.6",
	}
	for in, want := range tests {
		if got := releaseVersion(in); got != want {
			t.Errorf("releaseVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseDiscinfo(t *testing.T) {
	tests := []struct {
		in   string
		want discinfo
	}{
		{"1414159991.958686\nCentOS 6.6\nx86_64\n1\n", discinfo{MediaID66, "CentOS 6.6", "6.6", "x86_64", "1"}},
		{"1414159991.958686\r\n6.6\r\nx86_64\r\n1\r\n", discinfo{MediaID66, "6.6", "6.6", "x86_64", "1"}},
		{"\uFEFF1414159991.958686\nCentOS 6.6\nx86_64", discinfo{MediaID66, "CentOS 6.6", "6.6", "x86_64", ""}},
		{"1414159991.958686\n", discinfo{MediaID: MediaID66}},
		{"", discinfo{}},
		{"\n\n\n\n\n", discinfo{}},
	}
	for _, tt := range tests {
		if got := parseDiscinfo([]byte(tt.in)); got != tt.want {
			t.Errorf("parseDiscinfo(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

// TestInspectPungiBase reads a base built with genisoimage and pungi's
// flags (-U -J -R -T, volume id CentOS_6.6_Final): untranslated ISO 9660
// names, Joliet and TRANS.TBL must not confuse the reader.
func TestInspectPungiBase(t *testing.T) {
	iso := pungiISO(t, centosTree(t), "CentOS_6.6_Final")
	info, err := Inspect(context.Background(), iso)
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != "6.6" || info.Release != "CentOS 6.6" || info.MediaID != MediaID66 || !info.HasEFI || info.VolumeLabel != "CentOS_6.6_Final" {
		t.Errorf("got %+v", info)
	}
}

// TestInspectXorrisoBase reads a base with Rock Ridge plus Joliet: go-diskfs
// alone would call .discinfo "discinfo"; see rrname.go.
func TestInspectXorrisoBase(t *testing.T) {
	iso := xorrisoISO(t, centosTree(t), "CentOS_6.6_Final")
	info, err := Inspect(context.Background(), iso)
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != "6.6" || info.Arch != "x86_64" || info.Family != "CentOS" || !info.HasEFI || info.VolumeLabel != "CentOS_6.6_Final" {
		t.Errorf("got %+v", info)
	}
}

func TestInspectNotAnISO(t *testing.T) {
	dir := t.TempDir()
	tests := map[string][]byte{
		"empty":   {},
		"garbage": random(11, 100_000),
		"zeros":   make([]byte, 100_000),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, name+".iso")
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Inspect(context.Background(), p)
			if !errors.Is(err, ErrUnknownBase) || !strings.Contains(err.Error(), p) {
				t.Fatalf("err = %v, want ErrUnknownBase naming %s", err, p)
			}
		})
	}
	if _, err := Inspect(context.Background(), filepath.Join(dir, "nothere.iso")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want ErrNotExist", err)
	}
}

func TestInspectCancelled(t *testing.T) {
	iso := diskfsISO(t, centosTree(t), "CentOS 6.6 x86_64")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Inspect(ctx, iso); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestParseIni(t *testing.T) {
	got := parseIni([]byte("; comment\n[general]\nFamily = CentOS\nversion: 6.6\n# x\n[stage2]\nmainimage = images/install.img\n"))
	if got["general"]["family"] != "CentOS" || got["general"]["version"] != "6.6" || got["stage2"]["mainimage"] != "images/install.img" {
		t.Errorf("got %v", got)
	}
}
