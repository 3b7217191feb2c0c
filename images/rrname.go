package images

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// go-diskfs v1.9.4 reports file names without a leading "." (its
// directoryEntry.Name strips it, meant for ISO 9660 "NAME." forms), so
// .discinfo and .treeinfo read as "discinfo" and "treeinfo", and it keeps
// only the first piece of a Rock Ridge name split over several NM fields.
// This reader gets the names right from the directory records; everything
// else (modes, times, extents, symlinks) still comes from go-diskfs, whose
// ReadDir returns the same records in the same order.

// Limits against hostile images: a directory or a continuation area this
// large is not a CentOS ISO.
const (
	maxDirBytes   = 64 << 20
	maxCEBytes    = 64 << 10
	maxCEChain    = 32
	recordNameOff = 33
)

// recordName is the name and extent of one directory record, and where
// the record is in the image.
type recordName struct {
	name     string
	location uint32
	offset   int64 // byte offset of the record in the image
}

// dirRecordNames returns the names of the records in the directory extent
// at sector loc, in order, leaving out "." and ".." and the records of
// relocated directories (Rock Ridge RE), as go-diskfs's ReadDir does.
// skip is the SUSP skip length from the root's SP field.
func dirRecordNames(r io.ReaderAt, loc, size uint32, skip int) ([]recordName, error) {
	if size > maxDirBytes {
		return nil, fmt.Errorf("directory of %d bytes is too large", size)
	}
	b := make([]byte, size)
	if _, err := r.ReadAt(b, int64(loc)*sectorSize); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	var out []recordName
	for i := 0; i < len(b); {
		n := int(b[i])
		if n == 0 { // records do not cross sectors: go to the next one
			i += sectorSize - i%sectorSize
			continue
		}
		if n < recordNameOff+1 || i+n > len(b) {
			return nil, fmt.Errorf("bad directory record at byte %d", i)
		}
		rec := b[i : i+n]
		recOff := int64(loc)*sectorSize + int64(i)
		i += n
		idLen := int(rec[32])
		if recordNameOff+idLen > len(rec) {
			return nil, fmt.Errorf("bad directory record name length at byte %d", i-n)
		}
		id := rec[recordNameOff : recordNameOff+idLen]
		if idLen == 1 && (id[0] == 0 || id[0] == 1) {
			continue // "." and ".."
		}
		suspOff := recordNameOff + idLen
		if idLen%2 == 0 {
			suspOff++ // padding byte
		}
		nm, relocated, err := susp(r, rec, suspOff+skip)
		if err != nil {
			return nil, fmt.Errorf("record %q: %w", id, err)
		}
		if relocated {
			continue
		}
		name := nm
		if name == "" {
			name = isoName(string(id), rec[25]&0x02 != 0)
		}
		out = append(out, recordName{name: name, location: binary.LittleEndian.Uint32(rec[2:6]), offset: recOff})
	}
	return out, nil
}

// susp reads a record's System Use fields, following CE continuations:
// the Rock Ridge name (NM pieces joined) and whether RE marks it relocated.
func susp(r io.ReaderAt, rec []byte, off int) (name string, relocated bool, err error) {
	var nm strings.Builder
	area := []byte(nil)
	if off < len(rec) {
		area = rec[off:]
	}
	for hops := 0; ; hops++ {
		var next []byte
		for len(area) >= 4 {
			sig, l := string(area[0:2]), int(area[2])
			if l < 4 || l > len(area) {
				break
			}
			data := area[4:l]
			switch sig {
			case "NM":
				if len(data) >= 1 && data[0]&0x06 == 0 { // not "." or ".." flags
					nm.Write(data[1:])
				}
			case "RE":
				relocated = true
			case "CE":
				if len(data) >= 24 {
					loc := binary.LittleEndian.Uint32(data[0:4])
					ceOff := binary.LittleEndian.Uint32(data[8:12])
					ceLen := binary.LittleEndian.Uint32(data[16:20])
					if ceLen > maxCEBytes {
						return "", false, fmt.Errorf("continuation area of %d bytes", ceLen)
					}
					next = make([]byte, ceLen)
					if _, err := r.ReadAt(next, int64(loc)*sectorSize+int64(ceOff)); err != nil && !errors.Is(err, io.EOF) {
						return "", false, err
					}
				}
			case "ST":
				area = nil
				continue
			}
			area = area[l:]
		}
		if next == nil {
			break
		}
		if hops >= maxCEChain {
			return "", false, errors.New("continuation chain too long")
		}
		area = next
	}
	return nm.String(), relocated, nil
}

// isoName is a plain ISO 9660 identifier as a file name: without the
// ";1" version, and without the "." of an extension-less file.
func isoName(id string, dir bool) string {
	if dir {
		return id
	}
	if i := strings.IndexByte(id, ';'); i >= 0 {
		id = id[:i]
	}
	return strings.TrimSuffix(id, ".")
}

// suspSkip returns the SUSP skip length (SP field of the root's "."
// record), 0 when there is none.
func suspSkip(r io.ReaderAt) (rootLoc, rootSize uint32, skip int, err error) {
	pvd := make([]byte, sectorSize)
	if _, err := r.ReadAt(pvd, 16*sectorSize); err != nil {
		return 0, 0, 0, err
	}
	root := pvd[156 : 156+34]
	rootLoc = binary.LittleEndian.Uint32(root[2:6])
	rootSize = binary.LittleEndian.Uint32(root[10:14])
	self := make([]byte, 255)
	if _, err := r.ReadAt(self, int64(rootLoc)*sectorSize); err != nil && !errors.Is(err, io.EOF) {
		return 0, 0, 0, err
	}
	n := int(self[0])
	// "." has a one-byte identifier, so its System Use area starts at 34.
	if n >= 34+7 && string(self[34:36]) == "SP" && self[38] == 0xBE && self[39] == 0xEF {
		skip = int(self[40])
	}
	return rootLoc, rootSize, skip, nil
}
