package images

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mtprep/mtprep/internal/testiso"
)

// windowsStandIn builds testiso's Windows Server 2016 stand-in (a
// genisoimage UDF bridge disc), skipping without genisoimage unless
// CI=true.
func windowsStandIn(t *testing.T) string {
	t.Helper()
	iso, err := testiso.BuildWindows(context.Background(), t.TempDir(), "")
	if errors.Is(err, testiso.ErrMissingHost) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return iso
}

func TestInspectWindows(t *testing.T) {
	iso := windowsStandIn(t)
	m, err := InspectWindows(context.Background(), iso)
	if err != nil {
		t.Fatal(err)
	}
	want := UDFInfo{
		VRS: []string{"BEA01", "NSR02", "TEA01"}, NSR: "NSR02",
		VolumeID: testiso.WindowsVolumeLabel, LogicalVolumeID: testiso.WindowsVolumeLabel,
		BlockSize: 2048, Domain: "*OSTA UDF Compliant", Revision: "1.02",
	}
	got := m.UDF
	got.MainVDSSector, got.MainVDSLength, got.VolumeSetID, got.Implementation = 0, 0, "", ""
	if !slices.Equal(got.VRS, want.VRS) || got.NSR != want.NSR || got.VolumeID != want.VolumeID ||
		got.LogicalVolumeID != want.LogicalVolumeID || got.BlockSize != want.BlockSize ||
		got.Domain != want.Domain || got.Revision != want.Revision {
		t.Errorf("UDF %+v\nwant %+v", m.UDF, want)
	}
	if m.Family != FamilyWindows || m.ISOVolumeID != testiso.WindowsVolumeLabel || m.Product != "Windows Server 2016 or 2019" ||
		!slices.Equal(m.ISOFiles, []string{"README.TXT"}) || len(m.SHA256) != 64 {
		t.Errorf("got %+v", m)
	}
	if len(m.Warnings) != 1 || !strings.Contains(m.Warnings[0], "2016 and 2019") {
		t.Errorf("warnings %q, want the 2016-or-2019 doubt alone", m.Warnings)
	}
	// The stand-in's files are on the UDF side only (the names as UDF
	// file identifiers: CS0, compression id 8).
	b, err := os.ReadFile(iso)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"install.wim", "bootmgr", "setup.exe", "sources", "efi", "boot"} {
		if !bytes.Contains(b, append([]byte{8}, n...)) {
			t.Errorf("no UDF file identifier %q in the stand-in", n)
		}
	}
}

// The CentOS-shaped test base given as Windows media is refused with
// what it is.
func TestInspectWindowsRefusesCentOS(t *testing.T) {
	iso, err := testiso.Build(context.Background(), t.TempDir(), testiso.Options{})
	if errors.Is(err, testiso.ErrMissingHost) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	m, err := InspectWindows(context.Background(), iso)
	if !errors.Is(err, ErrNotWindows) || !errors.Is(err, ErrUnknownBase) {
		t.Fatalf("err %v, want ErrNotWindows", err)
	}
	for _, s := range []string{"no UDF file system", `ISO volume id "CentOS_6.6_Final"`, ".discinfo", "CentOS/RHEL", "CD001"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %q", err, s)
		}
	}
	if !strings.HasSuffix(err.Error(), ": "+ErrNotWindows.Error()) {
		t.Errorf("error %q does not end with %q", err, ErrNotWindows)
	}
	if m == nil || m.ISOVolumeID != "CentOS_6.6_Final" || m.SHA256 == "" {
		t.Errorf("got %+v", m)
	}
}

// A Windows disc given as a CentOS base is refused as the UDF disc it is.
func TestInspectRefusesWindows(t *testing.T) {
	iso := windowsStandIn(t)
	_, err := Inspect(context.Background(), iso)
	if !errors.Is(err, ErrUnknownBase) {
		t.Fatalf("err %v, want ErrUnknownBase", err)
	}
	for _, s := range []string{".discinfo: missing", "UDF bridge disc", `UDF volume id "SSS_X64FREE_EN-US_DV9"`, "README.TXT", "Windows", `volume id "SSS_X64FREE_EN-US_DV9"`} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %q", err, s)
		}
	}
	_, err = Remaster(context.Background(), RemasterOptions{Base: iso, Out: filepath.Join(t.TempDir(), "out.iso"), Kickstart: []byte("x")})
	if !errors.Is(err, ErrUnknownBase) || !strings.Contains(err.Error(), "UDF bridge disc") {
		t.Errorf("Remaster: %v", err)
	}
}

// Corrupt descriptors are refused, naming what is wrong: a tag checksum,
// a CRC, a tag location.
func TestInspectWindowsCorrupt(t *testing.T) {
	iso := windowsStandIn(t)
	b, err := os.ReadFile(iso)
	if err != nil {
		t.Fatal(err)
	}
	u, err := readUDF(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	lvd := -1
	for s := int(u.MainVDSSector); s < int(u.MainVDSSector)+16; s++ {
		if binary.LittleEndian.Uint16(b[s*sectorSize:]) == udfTagLVD {
			lvd = s * sectorSize
			break
		}
	}
	if lvd < 0 {
		t.Fatal("no LVD in the stand-in")
	}
	for _, c := range []struct {
		name, want string
		at         int
	}{
		{"lvd checksum", "checksum is", lvd + 4},
		{"lvd body", "CRC is", lvd + 100},
		{"lvd location", "says it is at sector", lvd + 12},
		{"anchor checksum", "anchor volume descriptor pointer: descriptor tag 2: checksum", udfAnchorSector*sectorSize + 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			bad := bytes.Clone(b)
			bad[c.at] ^= 0x40
			if c.name == "lvd location" { // keep the checksum right: only the location is wrong
				bad[lvd+4] = udfTagChecksum(bad[lvd:])
			}
			p := filepath.Join(t.TempDir(), "bad.iso")
			if err := os.WriteFile(p, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := InspectWindows(context.Background(), p)
			if !errors.Is(err, ErrNotWindows) || !strings.Contains(err.Error(), c.want) ||
				!strings.Contains(err.Error(), `ISO volume id "SSS_X64FREE_EN-US_DV9"`) {
				t.Errorf("err %v, want %q", err, c.want)
			}
		})
	}
}

// udfImage makes an in-memory disc with the descriptors readUDF reads:
// an ISO 9660 PVD and terminator, the recognition sequence, the anchor at
// 256 and a main sequence at 32 (PVD, LVD, terminator).
func udfImage(volID string, nsr string, rev uint16) []byte {
	img := make([]byte, 260*sectorSize)
	put := func(s int, b []byte) { copy(img[s*sectorSize:], b) }
	pvd := make([]byte, sectorSize)
	pvd[0] = 1
	copy(pvd[1:], "CD001\x01")
	copy(pvd[40:72], strings.Repeat(" ", 32))
	copy(pvd[40:], volID)
	put(16, pvd)
	put(17, []byte("\xffCD001\x01"))
	put(18, []byte("\x00BEA01\x01"))
	put(19, []byte("\x00"+nsr+"\x01"))
	put(20, []byte("\x00TEA01\x01"))
	avdp := make([]byte, 512)
	binary.LittleEndian.PutUint32(avdp[16:], 16*sectorSize)
	binary.LittleEndian.PutUint32(avdp[20:], 32)
	put(256, udfDescriptor(udfTagAVDP, 256, avdp))
	dstring := func(b []byte, s string) {
		b[0] = 8
		copy(b[1:], s)
		b[len(b)-1] = byte(len(s) + 1)
	}
	p := make([]byte, 512)
	dstring(p[24:56], volID)
	copy(p[389:], "*mtprep test")
	put(32, udfDescriptor(udfTagPVD, 32, p))
	l := make([]byte, 512)
	dstring(l[84:212], volID)
	binary.LittleEndian.PutUint32(l[212:], 2048)
	copy(l[217:], udfDomainOSTA)
	binary.LittleEndian.PutUint16(l[216+24:], rev)
	put(33, udfDescriptor(udfTagLVD, 33, l))
	put(34, udfDescriptor(udfTagTerminator, 34, make([]byte, 512)))
	return img
}

// udfDescriptor fills in body's tag: identifier, version 2, location,
// CRC over the rest, checksum.
func udfDescriptor(tag uint16, loc uint32, body []byte) []byte {
	b := bytes.Clone(body)
	binary.LittleEndian.PutUint16(b[0:], tag)
	binary.LittleEndian.PutUint16(b[2:], 2)
	binary.LittleEndian.PutUint32(b[12:], loc)
	binary.LittleEndian.PutUint16(b[10:], uint16(len(b)-16))
	binary.LittleEndian.PutUint16(b[8:], crcITU(b[16:]))
	b[4] = udfTagChecksum(b)
	return b
}

func TestReadUDFSynthetic(t *testing.T) {
	u, err := readUDF(bytes.NewReader(udfImage("IR3_SSS_X64FREE_EN-US_DV9", "NSR03", 0x0201)))
	if err != nil {
		t.Fatal(err)
	}
	if u.NSR != "NSR03" || u.VolumeID != "IR3_SSS_X64FREE_EN-US_DV9" || u.Revision != "2.01" || u.Implementation != "*mtprep test" || u.Domain != udfDomainOSTA {
		t.Errorf("got %+v", u)
	}
	// 16-bit CS0, big-endian.
	if s := udfDstring([]byte{16, 0, 'S', 0, 'S', 0, 0, 5}); s != "SS" {
		t.Errorf("dstring 16: %q", s)
	}
	// The CRC of ECMA-167's example (3/7.2.6 note): bytes 0x70 0x6A 0x77 give 0x3299.
	if c := crcITU([]byte{0x70, 0x6a, 0x77}); c != 0x3299 {
		t.Errorf("crc %#x, want 0x3299", c)
	}
	_, err = readUDF(bytes.NewReader(make([]byte, 40*sectorSize)))
	if !errors.Is(err, ErrNoUDF) {
		t.Errorf("blank image: %v", err)
	}
}

// FuzzUDF: readUDF and the descriptor parsers never panic on any bytes,
// and a dstring never holds control characters.
func FuzzUDF(f *testing.F) {
	img := udfImage("SSS_X64FREE_EN-US_DV9", "NSR02", 0x0102)
	f.Add(img[256*sectorSize:257*sectorSize], img[32*sectorSize:35*sectorSize])
	f.Add([]byte{}, []byte{})
	f.Add(img[256*sectorSize:256*sectorSize+64], img[33*sectorSize:33*sectorSize+300])
	f.Fuzz(func(t *testing.T, anchor, vds []byte) {
		// The fuzzer's anchor at 256 and sequence at 32, the
		// recognition sequence as on a real disc.
		d := bytes.Clone(img)
		clear(d[32*sectorSize : 35*sectorSize])
		clear(d[256*sectorSize : 257*sectorSize])
		copy(d[256*sectorSize:257*sectorSize], anchor)
		copy(d[32*sectorSize:], vds[:min(len(vds), 200*sectorSize)])
		u, err := readUDF(bytes.NewReader(d))
		if err == nil && (u.NSR == "" || u.MainVDSLength < sectorSize) {
			t.Fatalf("accepted %+v", u)
		}
		for _, b := range [][]byte{anchor, vds} {
			_, _ = parseUDFTag(b, 0)
			if len(b) >= 512 {
				var i UDFInfo
				parseUDFPVD(b, &i)
				parseUDFLVD(b, &i)
			}
			s := udfDstring(b)
			if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 }) {
				t.Fatalf("dstring %q has control characters", s)
			}
		}
	})
}
