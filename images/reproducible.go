package images

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// ReproducibleEpoch is the one timestamp a reproducible image carries:
// every directory record, Rock Ridge TF field and volume date. Any fixed
// value would do; this is CentOS 6.6's release day, a plausible date for
// media made from it.
func ReproducibleEpoch() time.Time { return time.Date(2014, 10, 24, 0, 0, 0, 0, time.UTC) }

// go-diskfs v1.9.4 writes what the machine and the moment give it: the
// volume dates and the boot catalog's times are time.Now(), each file's
// Rock Ridge access and change times come from the scratch tree (a
// change time cannot be set), and its owner is whoever runs mtprep. Two
// remasters of one base would then never have the same bytes, and shared
// install media are named by their content hash (uploaded once, shared by
// every MT): normalizeImage overwrites all of those, in place, after
// go-diskfs has written the image and before anything is hashed.
//
// It walks every directory extent from the primary volume descriptor's
// root and, in each record, sets the recording date, every Rock Ridge TF
// timestamp (system use area and continuation areas) and the PX owner
// and group (0, root) to fixed values. Nothing else changes: names,
// modes, link counts and extents stay as go-diskfs wrote them.
func normalizeImage(f *os.File, end int64, epoch time.Time) error {
	pvd := make([]byte, sectorSize)
	if _, err := f.ReadAt(pvd, 16*sectorSize); err != nil {
		return fmt.Errorf("iso: reproducible: read the volume descriptor: %w", err)
	}
	if pvd[0] != 1 || string(pvd[1:6]) != "CD001" {
		return errors.New("iso: reproducible: no primary volume descriptor at sector 16")
	}
	epoch = epoch.UTC()
	short := shortTime(epoch)
	long := longTime(epoch)
	const rootRec = 156
	copy(pvd[rootRec+18:rootRec+25], short)
	// Creation, modification and effective dates; expiration "not
	// specified" (ECMA-119 8.4.26: all digits zero, offset zero).
	copy(pvd[813:830], long)
	copy(pvd[830:847], long)
	copy(pvd[847:864], "0000000000000000\x00")
	copy(pvd[864:881], long)
	if _, err := f.WriteAt(pvd, 16*sectorSize); err != nil {
		return fmt.Errorf("iso: reproducible: write the volume descriptor: %w", err)
	}

	n := &normalizer{f: f, end: end, short: short, long: long, seen: map[uint32]bool{}}
	root := pvd[rootRec : rootRec+34]
	queue := [][2]uint32{{binary.LittleEndian.Uint32(root[2:6]), binary.LittleEndian.Uint32(root[10:14])}}
	n.seen[queue[0][0]] = true
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		subdirs, err := n.directory(d[0], d[1])
		if err != nil {
			return err
		}
		queue = append(queue, subdirs...)
	}
	return nil
}

type normalizer struct {
	f           *os.File
	end         int64
	short, long []byte
	seen        map[uint32]bool
}

// directory normalises the records of one directory extent and returns
// its subdirectories not seen yet.
func (n *normalizer) directory(loc, size uint32) ([][2]uint32, error) {
	if size > maxDirBytes || int64(loc)*sectorSize+int64(size) > n.end {
		return nil, fmt.Errorf("iso: reproducible: directory extent at sector %d (%d bytes) is outside the image", loc, size)
	}
	b := make([]byte, size)
	if _, err := n.f.ReadAt(b, int64(loc)*sectorSize); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("iso: reproducible: read directory at sector %d: %w", loc, err)
	}
	var subdirs [][2]uint32
	for i := 0; i < len(b); {
		l := int(b[i])
		if l == 0 { // records do not cross sectors
			i += sectorSize - i%sectorSize
			continue
		}
		if l < recordNameOff+1 || i+l > len(b) {
			return nil, fmt.Errorf("iso: reproducible: bad directory record at sector %d byte %d", loc, i)
		}
		rec := b[i : i+l]
		i += l
		copy(rec[18:25], n.short)
		nameLen := int(rec[32])
		su := recordNameOff + nameLen
		if nameLen%2 == 0 {
			su++ // padding byte after an even-length name
		}
		if su < len(rec) {
			if err := n.systemUse(rec[su:], 0); err != nil {
				return nil, err
			}
		}
		self := nameLen == 1 && (rec[33] == 0 || rec[33] == 1)
		if rec[25]&2 != 0 && !self {
			d := [2]uint32{binary.LittleEndian.Uint32(rec[2:6]), binary.LittleEndian.Uint32(rec[10:14])}
			if !n.seen[d[0]] {
				n.seen[d[0]] = true
				subdirs = append(subdirs, d)
			}
		}
	}
	if _, err := n.f.WriteAt(b, int64(loc)*sectorSize); err != nil {
		return nil, fmt.Errorf("iso: reproducible: write directory at sector %d: %w", loc, err)
	}
	return subdirs, nil
}

// systemUse normalises the SUSP entries in b (a record's system use area
// or a continuation area), following CE entries.
func (n *normalizer) systemUse(b []byte, depth int) error {
	if depth > maxCEChain {
		return errors.New("iso: reproducible: too many chained continuation areas")
	}
	for i := 0; i+4 <= len(b); {
		sig, l := string(b[i:i+2]), int(b[i+2])
		if l < 4 || i+l > len(b) {
			return nil // padding or the end of the area
		}
		e := b[i : i+l]
		i += l
		switch sig {
		case "TF":
			if len(e) < 5 {
				continue
			}
			stamp := n.short
			if e[4]&0x80 != 0 {
				stamp = n.long
			}
			off := 5
			for bit := 0; bit < 7; bit++ {
				if e[4]&(1<<bit) == 0 {
					continue
				}
				if off+len(stamp) > len(e) {
					break
				}
				copy(e[off:], stamp)
				off += len(stamp)
			}
		case "PX":
			if len(e) >= 36 {
				clear(e[20:36]) // uid and gid, both byte orders
			}
		case "CE":
			if len(e) < 28 {
				continue
			}
			loc := int64(binary.LittleEndian.Uint32(e[4:8]))
			off := int64(binary.LittleEndian.Uint32(e[12:16]))
			size := int64(binary.LittleEndian.Uint32(e[20:24]))
			at := loc*sectorSize + off
			if size > maxCEBytes || at+size > n.end {
				return fmt.Errorf("iso: reproducible: continuation area at sector %d is outside the image", loc)
			}
			ce := make([]byte, size)
			if _, err := n.f.ReadAt(ce, at); err != nil {
				return fmt.Errorf("iso: reproducible: read continuation area: %w", err)
			}
			if err := n.systemUse(ce, depth+1); err != nil {
				return err
			}
			if _, err := n.f.WriteAt(ce, at); err != nil {
				return fmt.Errorf("iso: reproducible: write continuation area: %w", err)
			}
		case "ST":
			return nil
		}
	}
	return nil
}

// shortTime is ECMA-119's 7-byte recording date (9.1.5), in UTC.
func shortTime(t time.Time) []byte {
	return []byte{byte(t.Year() - 1900), byte(t.Month()), byte(t.Day()), byte(t.Hour()), byte(t.Minute()), byte(t.Second()), 0}
}

// longTime is ECMA-119's 17-byte volume date (8.4.26.1), in UTC.
func longTime(t time.Time) []byte {
	return append([]byte(fmt.Sprintf("%04d%02d%02d%02d%02d%02d00", t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second())), 0)
}
