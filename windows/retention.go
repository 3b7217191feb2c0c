package windows

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/mtprep/mtprep/provision/guest"
	scripts "github.com/mtprep/mtprep/scripts/windows"
)

// Retention finds the retention disk by the UniqueId Windows shows for it
// (with disk.EnableUUID, the vSphere disk UUID), formats it NTFS (GPT, one
// partition) and gives it its drive letter, which Windows keeps across
// boots. The disk is \\.\PhysicalDrive<N> in messages and to Scan and
// Apply.
type Retention struct{}

// UniqueID is the UniqueId Windows' Get-Disk shows for the disk whose
// Linux WWID is wwid. The provision layer passes the WWID as Linux names
// it: "3" (the NAA designator type) + the NAA id, "36000c29…"; Windows
// shows the NAA id alone, upper case, "6000C29…". A vSphere UUID
// ("6000C298-9daa-…") and a bare NAA id give the same answer.
func UniqueID(wwid string) string {
	w := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(wwid), "-", ""))
	if len(w) == 33 && strings.HasPrefix(w, "36") {
		w = w[1:]
	}
	return strings.ToUpper(w)
}

// DevicePath names the disk for messages before it is read (its number is
// the guest's): "the disk with UniqueId 6000C29…".
func (Retention) DevicePath(wwid string) string {
	return "the disk with UniqueId " + UniqueID(wwid)
}

// uniqueIDRe is an NAA id as Get-Disk shows it (32 hex digits).
var uniqueIDRe = regexp.MustCompile(`^[0-9A-F]{32}$`)

var letterRe = regexp.MustCompile(`^([A-Za-z]):\\?$`)

// RetentionLetter is the drive letter of a retention mountpoint ("R:",
// `R:\`); ok is false for anything else (a Linux path).
func RetentionLetter(mountpoint string) (string, bool) {
	m := letterRe.FindStringSubmatch(mountpoint)
	if m == nil {
		return "", false
	}
	return strings.ToUpper(m[1]), true
}

// RefusalError is a disk Windows uses that must never be formatted (the
// boot or system disk, an offline disk, two disks with one id): the read
// itself refuses it.
type RefusalError struct{ Device, Why string }

func (e *RefusalError) Error() string { return e.Device + " " + e.Why }

// Read reads retention-state.ps1's JSON.
func (Retention) Read(ctx context.Context, r guest.Runner, wwid, mountpoint string) (guest.RetentionState, error) {
	letter, ok := RetentionLetter(mountpoint)
	if !ok {
		return guest.RetentionState{}, fmt.Errorf("retention.mountpoint %q: on Windows the retention volume is a drive letter, such as R:", mountpoint)
	}
	id := UniqueID(wwid)
	out, err := r.Script(ctx, scripts.RetentionState, nil, id, letter)
	if err != nil {
		return guest.RetentionState{}, err
	}
	st, err := ParseRetentionState(out, letter)
	if err != nil {
		return st, err
	}
	return st, nil
}

// DiskState is retention-state.ps1's JSON.
type DiskState struct {
	Matches    int             `json:"matches"`
	Disk       *Disk           `json:"disk"`
	Partitions list[Partition] `json:"partitions"`
	Volumes    list[Volume]    `json:"volumes"`
	PageFiles  list[string]    `json:"pageFiles"`
	Letter     *LetterVolume   `json:"letter"`
	Magic      list[string]    `json:"magic"`
	BackupGPT  bool            `json:"backupGpt"`
	Sampled    int             `json:"sampled"`
	NonZero    int64           `json:"nonZero"`
}

// Disk is the Get-Disk properties the script selects. PowerShell 5.1's
// ConvertTo-Json writes a CIM enum as its number (PartitionStyle 0 RAW,
// 1 MBR, 2 GPT) where no type data turns it into a string, and as the
// string where it does: both forms are read.
type Disk struct {
	Number             int       `json:"Number"`
	UniqueID           string    `json:"UniqueId"`
	SerialNumber       string    `json:"SerialNumber"`
	FriendlyName       string    `json:"FriendlyName"`
	Size               int64     `json:"Size"`
	PartitionStyle     enumValue `json:"PartitionStyle"`
	IsBoot             bool      `json:"IsBoot"`
	IsSystem           bool      `json:"IsSystem"`
	IsOffline          bool      `json:"IsOffline"`
	OfflineReason      enumValue `json:"OfflineReason"`
	IsReadOnly         bool      `json:"IsReadOnly"`
	NumberOfPartitions int       `json:"NumberOfPartitions"`
	OperationalStatus  enumValue `json:"OperationalStatus"`
	HealthStatus       enumValue `json:"HealthStatus"`
}

// Partition is Get-Partition's properties.
type Partition struct {
	PartitionNumber int          `json:"PartitionNumber"`
	DriveLetter     driveValue   `json:"DriveLetter"`
	AccessPaths     list[string] `json:"AccessPaths"`
	Offset          int64        `json:"Offset"`
	Size            int64        `json:"Size"`
	Type            enumValue    `json:"Type"`
	GptType         string       `json:"GptType"`
	MbrType         enumValue    `json:"MbrType"`
	IsBoot          bool         `json:"IsBoot"`
	IsSystem        bool         `json:"IsSystem"`
	IsActive        bool         `json:"IsActive"`
	IsHidden        bool         `json:"IsHidden"`
}

// Volume is Get-Volume's properties.
type Volume struct {
	DriveLetter     driveValue `json:"DriveLetter"`
	FileSystem      string     `json:"FileSystem"`
	FileSystemLabel string     `json:"FileSystemLabel"`
	Size            int64      `json:"Size"`
	SizeRemaining   int64      `json:"SizeRemaining"`
	DriveType       enumValue  `json:"DriveType"`
}

// LetterVolume is what holds the retention letter now, on any disk.
type LetterVolume struct {
	DiskNumber      *int   `json:"DiskNumber"`
	FileSystem      string `json:"FileSystem"`
	FileSystemLabel string `json:"FileSystemLabel"`
	Size            int64  `json:"Size"`
}

var partitionStyles = map[int64]string{0: "RAW", 1: "MBR", 2: "GPT"}

// partitionTable is blkid's name for the style ("dos", "gpt"), as the
// Linux MT reports it; "" for RAW.
func partitionTable(style enumValue) string {
	switch strings.ToUpper(style.Name(partitionStyles)) {
	case "MBR":
		return "dos"
	case "GPT":
		return "gpt"
	case "RAW", "", "UNKNOWN":
		return ""
	}
	return strings.ToLower(style.Name(partitionStyles))
}

// fsType is a Windows file system's name as blkid names it.
func fsType(fs string) string {
	switch f := strings.ToLower(strings.TrimSpace(fs)); f {
	case "fat", "fat32", "fat16", "fat12":
		return "vfat"
	case "raw", "unknown":
		return ""
	default:
		return f
	}
}

// magicFS are the raw-read signatures that name what the disk is.
var magicFS = map[string]string{
	"ntfs": "ntfs", "vfat": "vfat", "exfat": "exfat", "xfs": "xfs", "ext": "ext4", "btrfs": "btrfs", "refs": "refs",
	"crypto_LUKS": "crypto_LUKS", "LVM2_member": "LVM2_member", "swap": "swap",
}

// ParseRetentionState maps retention-state.ps1's JSON onto the OS-neutral
// state; a disk Windows itself uses (boot, system, offline, or two disks
// with one id) is a *RefusalError.
func ParseRetentionState(out []byte, letter string) (guest.RetentionState, error) {
	var st guest.RetentionState
	i := bytes.IndexByte(out, '{')
	if i < 0 {
		return st, fmt.Errorf("retention-state.ps1: no JSON in %q", firstLine(out))
	}
	var ds DiskState
	if err := json.Unmarshal(bytes.TrimSpace(out[i:]), &ds); err != nil {
		return st, fmt.Errorf("retention-state.ps1: %w", err)
	}
	switch {
	case ds.Matches > 1:
		return st, &RefusalError{Device: "the retention disk's UniqueId", Why: fmt.Sprintf("matches %d disks: refusing to pick one", ds.Matches)}
	case ds.Matches == 0 || ds.Disk == nil:
		return st, nil
	}
	d := ds.Disk
	st.Device = `\\.\PhysicalDrive` + strconv.Itoa(d.Number)
	st.Size = d.Size
	st.ReadOnly = d.IsReadOnly
	st.PartitionTable = partitionTable(d.PartitionStyle)
	st.BackupGPT = ds.BackupGPT
	st.Sampled, st.NonZero = ds.Sampled, ds.NonZero
	var letters []string
	for _, p := range ds.Partitions {
		typ := p.Type.Name(nil)
		if typ == "" {
			typ = p.GptType
		}
		st.Signatures = append(st.Signatures, fmt.Sprintf("partition %d %s (Get-Partition)", p.PartitionNumber, strings.TrimSpace(typ)))
		if p.DriveLetter != "" {
			letters = append(letters, string(p.DriveLetter)+":")
		}
		for _, a := range p.AccessPaths {
			if strings.HasPrefix(a, `\\?\Volume{`) {
				continue // every volume has one: not a mount
			}
			if m := letterRe.FindStringSubmatch(a); m != nil {
				continue // the drive letter, counted above
			}
			st.Mounted = append(st.Mounted, strings.TrimRight(a, `\`))
		}
	}
	for _, v := range ds.Volumes {
		fs := fsType(v.FileSystem)
		if fs != "" {
			st.Signatures = append(st.Signatures, fs+" (Get-Volume)")
			if st.FSType == "" {
				st.FSType, st.Label = fs, v.FileSystemLabel
			}
		}
		if v.DriveLetter != "" && !slices.Contains(letters, string(v.DriveLetter)+":") {
			letters = append(letters, string(v.DriveLetter)+":")
		}
	}
	for _, m := range ds.Magic {
		if m == "mbr-boot-signature" || m == "gpt" {
			continue // the partition style says it
		}
		st.Signatures = append(st.Signatures, m+" (raw read)")
		if st.FSType == "" && magicFS[m] != "" {
			st.FSType = magicFS[m]
		}
	}
	if st.PartitionTable == "" && slices.Contains(ds.Magic, "gpt") {
		st.PartitionTable = "gpt"
	}
	slices.Sort(letters)
	st.Mounted = append(letters, st.Mounted...)
	for _, pf := range ds.PageFiles {
		if len(pf) >= 2 && pf[1] == ':' && slices.Contains(letters, strings.ToUpper(pf[:2])) {
			st.Swap = true
		}
	}
	if lv := ds.Letter; lv != nil && lv.DiskNumber != nil && *lv.DiskNumber == d.Number {
		// Windows keeps the letter across boots: the fstab line's analogue.
		st.FstabDevice, st.FstabFS = st.Device, fsType(lv.FileSystem)
	}
	if why := refusal(d, st); why != "" {
		return st, &RefusalError{Device: st.Device, Why: why}
	}
	return st, nil
}

// refusal is why Windows' use of the disk forbids touching it.
func refusal(d *Disk, st guest.RetentionState) string {
	switch {
	case d.IsBoot && d.IsSystem:
		return "is the boot and system disk (Windows runs from it): it is not the retention disk"
	case d.IsBoot:
		return "is the boot disk (it holds the Windows volume): it is not the retention disk"
	case d.IsSystem:
		return "is the system disk (it holds the boot loader's partition): it is not the retention disk"
	case d.IsOffline:
		return fmt.Sprintf("is offline (reason %s): if it is the retention disk, bring it online in Disk Management (or Set-Disk -IsOffline $false) and run again", d.OfflineReason.Name(map[int64]string{1: "Policy", 2: "Redundant path", 3: "Snapshot", 4: "Collision", 5: "Resource exhaustion", 6: "Critical write failures", 7: "Data integrity scan required"}))
	case d.Size <= 0:
		return "has zero size"
	case st.Swap:
		return "holds a page file: Windows uses it"
	}
	return ""
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}

// scanChunk is one retention-scan.ps1 call: a progress step and where
// Ctrl-C stops the scan. A multiple of the script's 4 MiB reads.
const scanChunk = 1 << 30

// Scan reads the whole disk chunk by chunk and stops at the first chunk
// with a non-zero byte; it only reads.
func (Retention) Scan(ctx context.Context, r guest.Runner, device string, size int64, env guest.Env) (guest.ScanResult, error) {
	return guest.ScanChunks(ctx, device, size, scanChunk, env, func(ctx context.Context, off, n int64) (int64, error) {
		out, err := r.Script(ctx, scripts.RetentionScan, nil, device, strconv.FormatInt(off, 10), strconv.FormatInt(n, 10))
		if err != nil {
			return -1, err
		}
		return ParseScan(string(out), off, n)
	})
}

// ParseScan reads retention-scan.ps1's one "part" line for [off, off+n):
// the non-zero offset, or -1 when the range is zero. No line is an error:
// no proof.
func ParseScan(out string, off, n int64) (int64, error) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "part" {
			continue
		}
		start, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || start != off {
			return -1, fmt.Errorf("retention-scan.ps1: bad line %q", line)
		}
		switch f[2] {
		case "zero":
			return -1, nil
		case "nonzero":
			if len(f) < 4 {
				return -1, fmt.Errorf("retention-scan.ps1: bad line %q", line)
			}
			o, err := strconv.ParseInt(f[3], 10, 64)
			if err != nil || o < off || o >= off+n {
				return -1, fmt.Errorf("retention-scan.ps1: bad line %q", line)
			}
			return o, nil
		}
		return -1, fmt.Errorf("retention-scan.ps1: %s", strings.Join(f[2:], " "))
	}
	return -1, fmt.Errorf("retention-scan.ps1 reported nothing for bytes %d..%d: the scan did not finish", off, off+n)
}

var physRe = regexp.MustCompile(`^\\\\\.\\PhysicalDrive([0-9]+)$`)

// Apply formats the disk (when format) NTFS with label and gives its
// volume the mountpoint's letter. The script re-checks that the disk
// number still has the UniqueId Read saw, and formats only a RAW disk.
func (Retention) Apply(ctx context.Context, r guest.Runner, wwid, device, mountpoint, label string, format guest.Format) error {
	m := physRe.FindStringSubmatch(device)
	if m == nil {
		return fmt.Errorf("retention: %q is not a \\\\.\\PhysicalDriveN device", device)
	}
	letter, ok := RetentionLetter(mountpoint)
	if !ok {
		return fmt.Errorf("retention.mountpoint %q: on Windows the retention volume is a drive letter, such as R:", mountpoint)
	}
	id := UniqueID(wwid)
	if !uniqueIDRe.MatchString(id) {
		return fmt.Errorf("retention: WWID %q has no Windows UniqueId: refusing to format %s", wwid, device)
	}
	f := "no"
	switch format {
	case guest.FormatBlank:
		f = "yes"
	case guest.FormatNamed:
		f = "named"
	}
	_, err := r.Script(ctx, scripts.RetentionApply, nil, m[1], id, letter, label, f)
	return err
}

// Steps: GPT, one partition with the drive letter, NTFS.
func (Retention) Steps(mountpoint string) string {
	return "initialize GPT, one partition as " + mountpoint + ", format NTFS (the letter stays across boots)"
}
