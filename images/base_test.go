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
	tests := []struct {
		name    string
		tree    baseTree
		wantErr []string // substrings of the error; nil: no error
		want    BaseInfo // string fields checked when set
		efi     bool     // check want.HasEFI
	}{
		{name: "centos 6.6 x86_64", tree: good,
			want: BaseInfo{Family: "CentOS", Version: "6.6", Arch: "x86_64", VolumeLabel: "CentOS 6.6 x86_64", HasEFI: true}, efi: true},
		{name: "no EFI image", tree: withFile(good, "images/efiboot.img", nil),
			want: BaseInfo{Version: "6.6", HasEFI: false}, efi: true},
		{name: "wrong version 6.5",
			tree: withFile(withFile(good, ".discinfo", []byte("1385726732.061157\n6.5\nx86_64\n1\n")),
				".treeinfo", []byte("[general]\nfamily = CentOS\nversion = 6.5\narch = x86_64\n")),
			wantErr: []string{`.discinfo: version (line 2) is "6.5", want "6.6"`, `.treeinfo: [general] version is "6.5"`},
			want:    BaseInfo{Version: "6.5"}},
		{name: "wrong arch i386",
			tree: withFile(withFile(good, ".discinfo", []byte("1414159991.958686\n6.6\ni386\n1\n")),
				".treeinfo", []byte("[general]\nfamily = CentOS\nversion = 6.6\narch = i386\n")),
			wantErr: []string{`.discinfo: arch (line 3) is "i386", want "x86_64"`, `.treeinfo: [general] arch is "i386"`},
			want:    BaseInfo{Arch: "i386"}},
		{name: "missing .discinfo", tree: withFile(good, ".discinfo", nil),
			wantErr: []string{".discinfo: missing"}},
		{name: "missing .treeinfo", tree: withFile(good, ".treeinfo", nil),
			wantErr: []string{".treeinfo: missing"}},
		{name: "another family",
			tree:    withFile(good, ".treeinfo", []byte("[general]\nfamily = Red Hat Enterprise Linux\nversion = 6.6\narch = x86_64\n")),
			wantErr: []string{`.treeinfo: [general] family is "Red Hat Enterprise Linux", want "CentOS"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iso := diskfsISO(t, tt.tree, "CentOS 6.6 x86_64")
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
			if tt.efi && info.HasEFI != tt.want.HasEFI {
				t.Errorf("HasEFI = %v, want %v", info.HasEFI, tt.want.HasEFI)
			}
		})
	}
}

// TestInspectXorrisoBase reads a base made like CentOS's media (Rock Ridge
// plus Joliet plus TRANS.TBL): go-diskfs alone would call .discinfo
// "discinfo"; see rrname.go.
func TestInspectXorrisoBase(t *testing.T) {
	iso := xorrisoISO(t, centosTree(t), "CentOS 6.6 x86_64")
	info, err := Inspect(context.Background(), iso)
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != "6.6" || info.Arch != "x86_64" || info.Family != "CentOS" || !info.HasEFI || info.VolumeLabel != "CentOS 6.6 x86_64" {
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
