package images

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// fixDotDirNames repairs what go-diskfs v1.9.4 writes for a directory
// whose name starts with a dot (Ubuntu's .disk): its ISO 9660 identifier
// is empty (length 0; ECMA-119 has no empty identifier, and a single 0x00
// names a directory's own "." record). Linux reads the Rock Ridge name
// (NM, ".disk") and is not confused, but go-diskfs's own reader fails on
// the directory, and so would a reader without Rock Ridge. Each such
// record gets a one-character d-character identifier no sibling has ("D"
// for the first), written over the padding byte that follows an empty
// identifier: the record's length is unchanged, so nothing moves. (The
// path tables' entries for it stay empty: there is no room, and Linux and
// ISOLINUX read directories, not path tables.) Images without dot directories (CentOS's
// dot names are files, which get a real identifier) are left as they
// are. It returns how many records it changed.
func fixDotDirNames(f *os.File, end int64) (int, error) {
	pvd := make([]byte, sectorSize)
	if _, err := f.ReadAt(pvd, 16*sectorSize); err != nil {
		return 0, err
	}
	if pvd[0] != 1 || string(pvd[1:6]) != "CD001" {
		return 0, fmt.Errorf("no primary volume descriptor at sector 16")
	}
	root := pvd[156 : 156+34]
	type dir struct{ loc, size uint32 }
	queue := []dir{{binary.LittleEndian.Uint32(root[2:6]), binary.LittleEndian.Uint32(root[10:14])}}
	seen := map[uint32]bool{queue[0].loc: true}
	renamed := map[uint32]byte{} // directory extent -> new identifier
	fixed := 0
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		if int64(d.loc)*sectorSize+int64(d.size) > end || d.size > 64<<20 {
			return fixed, fmt.Errorf("directory at sector %d (%d bytes) is past the image", d.loc, d.size)
		}
		buf := make([]byte, d.size)
		if _, err := f.ReadAt(buf, int64(d.loc)*sectorSize); err != nil && err != io.EOF {
			return fixed, err
		}
		type rec struct {
			off  int
			name string
			dir  bool
			loc  uint32
			size uint32
		}
		var recs []rec
		for off := 0; off < len(buf); {
			n := int(buf[off])
			if n == 0 {
				off = (off/sectorSize + 1) * sectorSize
				continue
			}
			if n < 34 || off+n > len(buf) || 33+int(buf[off+32]) > n {
				return fixed, fmt.Errorf("directory at sector %d: bad record at byte %d", d.loc, off)
			}
			r := buf[off : off+n]
			recs = append(recs, rec{off: off, name: string(r[33 : 33+int(r[32])]), dir: r[25]&2 != 0,
				loc: binary.LittleEndian.Uint32(r[2:6]), size: binary.LittleEndian.Uint32(r[10:14])})
			off += n
		}
		names := map[string]bool{}
		for _, r := range recs {
			names[r.name] = true
		}
		for i, r := range recs {
			if i < 2 {
				continue // "." and ".."
			}
			// go-diskfs writes the empty identifier with length 0
			// and the padding byte that then follows (ECMA-119
			// 9.1.12: a pad after an even-length identifier), where
			// the one-character name fits; a single 0x00 or 0x01 is
			// also patched.
			if r.name == "" || r.name == "\x00" || r.name == "\x01" {
				at := int64(d.loc)*sectorSize + int64(r.off)
				if r.name == "" && buf[r.off+33] != 0 {
					return fixed, fmt.Errorf("directory at sector %d: record at byte %d has an empty identifier and no padding byte", d.loc, r.off)
				}
				c, ok := renamed[r.loc]
				if !ok {
					for _, k := range []byte("DABCEFGHIJKLMNOPQRSTUVWXYZ0123456789") {
						if !names[string(k)] {
							c, ok = k, true
							break
						}
					}
					if !ok {
						return fixed, fmt.Errorf("directory at sector %d: no free one-character name", d.loc)
					}
					renamed[r.loc] = c
				}
				names[string(c)] = true
				if _, err := f.WriteAt([]byte{1, c}, at+32); err != nil {
					return fixed, err
				}
				fixed++
			}
			if r.dir && !seen[r.loc] {
				seen[r.loc] = true
				queue = append(queue, dir{r.loc, r.size})
			}
		}
	}
	if len(renamed) == 0 {
		return 0, nil
	}
	// The path tables: type L (little-endian) at 140, type M at 148;
	// size at 132.
	size := binary.LittleEndian.Uint32(pvd[132:136])
	for _, t := range []struct {
		at  int
		ord binary.ByteOrder
	}{{140, binary.LittleEndian}, {148, binary.BigEndian}} {
		var loc uint32
		if t.ord == binary.LittleEndian {
			loc = binary.LittleEndian.Uint32(pvd[t.at : t.at+4])
		} else {
			loc = binary.BigEndian.Uint32(pvd[t.at : t.at+4])
		}
		if loc == 0 || size == 0 || size > 16<<20 {
			continue
		}
		pt := make([]byte, size)
		if _, err := f.ReadAt(pt, int64(loc)*sectorSize); err != nil && err != io.EOF {
			return fixed, err
		}
		for off, idx := 0, 1; off+8 <= len(pt); idx++ {
			n := int(pt[off])
			if n == 0 || off+8+n > len(pt) {
				break
			}
			ext := t.ord.Uint32(pt[off+2 : off+6])
			// A one-byte identifier is patched; an empty one (go-diskfs:
			// 8 bytes, no room) stays: Linux and ISOLINUX read
			// directories, not the path tables.
			if c, ok := renamed[ext]; ok && idx > 1 && n == 1 {
				if _, err := f.WriteAt([]byte{c}, int64(loc)*sectorSize+int64(off)+8); err != nil {
					return fixed, err
				}
			}
			off += 8 + n + n%2
		}
	}
	return fixed, nil
}
