package images

// A reader for the few UDF structures that identify a disc, no more: the
// volume recognition sequence, the Anchor Volume Descriptor Pointer and,
// in the Main Volume Descriptor Sequence, the Primary and the Logical
// Volume Descriptor. Windows media keep every file in UDF, which go-diskfs
// cannot read; these descriptors are what can be read of them without a
// UDF file system driver.
//
// Layouts from ECMA-167 3rd edition (ISO/IEC 13346) and OSTA UDF 2.01,
// checked against pycdlib's udf.py (struct formats of the tag, the AVDP,
// the PVD and the LVD, and its CRC) and tianocore's Udf.h (BEA01, NSR02,
// NSR03, TEA01; the AVDP at sector 256 with tag identifier 2), and
// against what genisoimage -udf writes (see internal/testiso):
//
//	descriptor tag (ECMA-167 3/7.2), 16 bytes:
//	  0 tag identifier u16, 2 descriptor version u16 (2 or 3),
//	  4 tag checksum u8 (sum of bytes 0-3 and 5-15, mod 256),
//	  5 reserved, 6 serial u16, 8 descriptor CRC u16 (CRC-ITU-T, x^16 +
//	  x^12 + x^5 + 1, initial 0, over the CRCLength bytes after the tag),
//	  10 CRC length u16, 12 tag location u32 (its own sector)
//	AVDP (3/10.2, tag 2): 16 main VDS extent (length u32, location u32),
//	  24 reserve VDS extent
//	PVD (3/10.1, tag 1): 24 volume identifier dstring[32],
//	  72 volume set identifier dstring[128], 388 implementation regid
//	LVD (3/10.6, tag 6): 84 logical volume identifier dstring[128],
//	  212 logical block size u32, 216 domain identifier regid[32]
//	  ("*OSTA UDF Compliant", suffix bytes 0-1: the UDF revision, BCD,
//	  little-endian: 0x0102 is 1.02)
//	terminating descriptor: tag 8
//
// Every multi-byte number is little-endian. A dstring's last byte is the
// length used (the compression id included); the first is the OSTA CS0
// compression id: 8 (one byte a character) or 16 (two, big-endian).

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
)

// UDF descriptor tag identifiers (ECMA-167 3/7.2.1).
const (
	udfTagPVD        = 1
	udfTagAVDP       = 2
	udfTagLVD        = 6
	udfTagTerminator = 8
	udfAnchorSector  = 256
	udfDomainOSTA    = "*OSTA UDF Compliant"
)

// ErrNoUDF is wrapped when an image has no UDF volume recognition
// sequence (BEA01 ... NSR02/NSR03 ... TEA01) after its ISO 9660 volume
// descriptors.
var ErrNoUDF = errors.New("no UDF file system")

// UDFInfo is what the UDF descriptors of a disc say.
type UDFInfo struct {
	// VRS is the volume recognition sequence's identifiers in order
	// ("BEA01", "NSR02", "TEA01"); NSR the NSR descriptor's ("NSR02" for
	// UDF up to 1.50, "NSR03" from 2.00).
	VRS []string
	NSR string
	// MainVDS is the Main Volume Descriptor Sequence's extent as the
	// anchor (sector 256) gives it: first sector and length in bytes.
	MainVDSSector, MainVDSLength uint32
	VolumeID                     string // Primary Volume Descriptor's volume identifier
	VolumeSetID                  string // its volume set identifier
	Implementation               string // its implementation identifier ("*genisoimage", "*Microsoft CDIMAGE UDF")
	LogicalVolumeID              string // Logical Volume Descriptor's identifier
	BlockSize                    uint32 // logical block size
	Domain                       string // domain identifier, "*OSTA UDF Compliant"
	Revision                     string // UDF revision from the domain suffix ("1.02", "2.01")
}

// readUDF reads a disc's UDF identification. The ISO 9660 volume
// descriptors from sector 16 are skipped up to their terminator; the
// volume recognition sequence must follow. Errors wrap ErrNoUDF when
// there is no UDF at all, and say what was read otherwise.
func readUDF(r io.ReaderAt) (*UDFInfo, error) {
	info := &UDFInfo{}
	sector := make([]byte, sectorSize)
	read := func(s uint32) error {
		if _, err := r.ReadAt(sector, int64(s)*sectorSize); err != nil {
			return fmt.Errorf("read sector %d: %w", s, err)
		}
		return nil
	}
	// Volume recognition sequence (ECMA-167 2/8): one structure a
	// sector from 16, ISO 9660's CD001 first. 64 sectors is far more
	// than any disc has.
	inExtended := false
vrs:
	for s := uint32(16); s < 16+64; s++ {
		if err := read(s); err != nil {
			if errors.Is(err, io.EOF) {
				break vrs
			}
			return info, err
		}
		id := string(sector[1:6])
		switch id {
		case "CD001", "CDW02", "BOOT2":
			if inExtended {
				info.VRS = append(info.VRS, id)
			}
			continue
		case "BEA01":
			inExtended = true
		case "NSR02", "NSR03":
			if inExtended && info.NSR == "" {
				info.NSR = id
			}
		case "TEA01":
		default:
			break vrs // the sequence ends at the first unrecorded sector
		}
		info.VRS = append(info.VRS, id)
		if id == "TEA01" {
			break vrs
		}
	}
	if info.NSR == "" {
		return info, fmt.Errorf("%w: the volume recognition sequence is %s, with no NSR02 or NSR03 in a BEA01 area",
			ErrNoUDF, vrsString(info.VRS))
	}
	if err := read(udfAnchorSector); err != nil {
		return info, fmt.Errorf("UDF (%s): anchor volume descriptor pointer: %w", info.NSR, err)
	}
	tag, err := parseUDFTag(sector, udfAnchorSector)
	if err != nil {
		return info, fmt.Errorf("UDF (%s): sector %d, the anchor volume descriptor pointer: %w", info.NSR, udfAnchorSector, err)
	}
	if tag != udfTagAVDP {
		return info, fmt.Errorf("UDF (%s): sector %d has tag %d, want the anchor volume descriptor pointer's (2)", info.NSR, udfAnchorSector, tag)
	}
	info.MainVDSLength = binary.LittleEndian.Uint32(sector[16:20])
	info.MainVDSSector = binary.LittleEndian.Uint32(sector[20:24])
	if info.MainVDSLength < sectorSize {
		return info, fmt.Errorf("UDF (%s): the main volume descriptor sequence is %d bytes at sector %d: too short",
			info.NSR, info.MainVDSLength, info.MainVDSSector)
	}
	// ECMA-167 3/8.4.2: at least 16 sectors are reserved for the
	// sequence; a disc with more than 64 descriptors in it is not one
	// mtprep needs to read.
	n := min(info.MainVDSLength/sectorSize, 64)
	var havePVD, haveLVD bool
	for i := uint32(0); i < n; i++ {
		s := info.MainVDSSector + i
		if err := read(s); err != nil {
			return info, fmt.Errorf("UDF (%s): main volume descriptor sequence: %w", info.NSR, err)
		}
		if allZero(sector[:16]) {
			break // unrecorded: the sequence ended without a terminator
		}
		tag, err := parseUDFTag(sector, s)
		if err != nil {
			return info, fmt.Errorf("UDF (%s): main volume descriptor sequence, sector %d: %w", info.NSR, s, err)
		}
		switch tag {
		case udfTagPVD:
			if !havePVD {
				parseUDFPVD(sector, info)
				havePVD = true
			}
		case udfTagLVD:
			if !haveLVD {
				parseUDFLVD(sector, info)
				haveLVD = true
			}
		}
		if tag == udfTagTerminator {
			break
		}
	}
	switch {
	case !havePVD:
		return info, fmt.Errorf("UDF (%s): no primary volume descriptor in the main volume descriptor sequence (sector %d, %d bytes)",
			info.NSR, info.MainVDSSector, info.MainVDSLength)
	case !haveLVD:
		return info, fmt.Errorf("UDF (%s): no logical volume descriptor in the main volume descriptor sequence (sector %d, %d bytes)",
			info.NSR, info.MainVDSSector, info.MainVDSLength)
	}
	return info, nil
}

// parseUDFTag checks a descriptor tag (its checksum, version, location
// and CRC) at the start of a 2048-byte sector read at sector loc, and
// returns its identifier.
func parseUDFTag(b []byte, loc uint32) (uint16, error) {
	if len(b) < 16 {
		return 0, fmt.Errorf("descriptor tag: %d bytes, want 16", len(b))
	}
	id := binary.LittleEndian.Uint16(b[0:2])
	version := binary.LittleEndian.Uint16(b[2:4])
	if sum := udfTagChecksum(b); sum != b[4] {
		return id, fmt.Errorf("descriptor tag %d: checksum is %#02x, the bytes give %#02x", id, b[4], sum)
	}
	if version != 2 && version != 3 {
		return id, fmt.Errorf("descriptor tag %d: version %d, want 2 or 3", id, version)
	}
	if got := binary.LittleEndian.Uint32(b[12:16]); got != loc {
		return id, fmt.Errorf("descriptor tag %d: says it is at sector %d, read at %d", id, got, loc)
	}
	crcLen := int(binary.LittleEndian.Uint16(b[10:12]))
	if 16+crcLen > len(b) {
		return id, fmt.Errorf("descriptor tag %d: CRC length %d is past the sector", id, crcLen)
	}
	if want, got := binary.LittleEndian.Uint16(b[8:10]), crcITU(b[16:16+crcLen]); want != got {
		return id, fmt.Errorf("descriptor tag %d: CRC is %#04x, the %d bytes give %#04x", id, want, crcLen, got)
	}
	return id, nil
}

// udfTagChecksum is ECMA-167 3/7.2.3: the sum of the tag's bytes but the
// checksum's own (byte 4), modulo 256.
func udfTagChecksum(b []byte) byte {
	var sum byte
	for i := 0; i < 16; i++ {
		if i != 4 {
			sum += b[i]
		}
	}
	return sum
}

// crcITU is the CRC of ECMA-167 3/7.2.6: CRC-ITU-T (x^16 + x^12 + x^5 + 1,
// most significant bit first, initial value 0, no final xor).
func crcITU(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc ^= uint16(c) << 8
		for i := 0; i < 8; i++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

func parseUDFPVD(b []byte, info *UDFInfo) {
	info.VolumeID = udfDstring(b[24:56])
	info.VolumeSetID = udfDstring(b[72:200])
	info.Implementation = regidName(b[388:420])
}

func parseUDFLVD(b []byte, info *UDFInfo) {
	info.LogicalVolumeID = udfDstring(b[84:212])
	info.BlockSize = binary.LittleEndian.Uint32(b[212:216])
	domain := b[216:248]
	info.Domain = regidName(domain)
	if rev := binary.LittleEndian.Uint16(domain[24:26]); rev != 0 {
		info.Revision = fmt.Sprintf("%x.%02x", rev>>8, rev&0xff)
	}
}

// regidName is an entity identifier's (ECMA-167 1/7.4) identifier field,
// bytes 1-23, up to its first NUL.
func regidName(b []byte) string {
	id := b[1:24]
	if i := strings.IndexByte(string(id), 0); i >= 0 {
		id = id[:i]
	}
	return printable(string(id))
}

// udfDstring decodes a dstring (ECMA-167 1/7.2.12) in OSTA CS0: the last
// byte is the length used; the first the compression id. Anything else
// (a length past the field, an unknown compression id) gives the raw
// bytes' printable part in brackets, so a message can still show it.
func udfDstring(b []byte) string {
	if len(b) < 2 {
		return ""
	}
	n := int(b[len(b)-1])
	if n == 0 {
		return ""
	}
	if n > len(b)-1 {
		return "[" + printable(string(b[:len(b)-1])) + "]"
	}
	data := b[1:n]
	switch b[0] {
	case 8:
		r := make([]rune, len(data))
		for i, c := range data {
			r[i] = rune(c) // CS0 with 8 bits is Latin-1
		}
		return printable(string(r))
	case 16:
		if len(data)%2 != 0 {
			data = data[:len(data)-1]
		}
		u := make([]uint16, len(data)/2)
		for i := range u {
			u[i] = binary.BigEndian.Uint16(data[2*i:])
		}
		return printable(string(utf16.Decode(u)))
	default:
		return "[" + printable(string(b[:n])) + "]"
	}
}

// printable drops control characters (and NULs) so that a hostile disc's
// identifiers cannot garble a message or a terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\uFFFD' {
			return -1
		}
		return r
	}, s)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func vrsString(ids []string) string {
	if len(ids) == 0 {
		return "only ISO 9660's (CD001)"
	}
	return strings.Join(ids, ", ")
}
