package testiso

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// WindowsVolumeLabel is the volume id of en_windows_server_2016_x64_dvd_9718492.iso
// (Windows Server 2019's retail media carry it too).
const WindowsVolumeLabel = "SSS_X64FREE_EN-US_DV9"

// WindowsReadme is the README.TXT of the ISO 9660 side of Microsoft's UDF
// bridge discs.
const WindowsReadme = "This disc contains a \"UDF\" file system and requires an operating system\r\n" +
	"that supports the ISO-13346 \"UDF\" file system specification.\r\n"

// WindowsTree is the tree of the Windows stand-in's UDF side: the names
// of a Server 2016 DVD's root and a few files under it, each a small
// placeholder (sources/install.wim is some 6 GB on the real disc).
var WindowsTree = []string{
	"README.TXT", "autorun.inf", "bootmgr", "bootmgr.efi", "setup.exe",
	"boot/bcd", "boot/boot.sdi", "boot/bootfix.bin", "boot/etfsboot.com",
	"efi/boot/bootx64.efi", "efi/microsoft/boot/bcd", "efi/microsoft/boot/efisys.bin",
	"sources/boot.wim", "sources/install.wim", "sources/setup.exe", "support/logging/actionqueue.dll",
}

// BuildWindows writes a stand-in for Windows Server 2016 install media
// into dir: a UDF bridge disc made by genisoimage -udf whose ISO 9660
// side shows README.TXT only (every other entry is -hide'n) and whose UDF
// side holds WindowsTree, volume id WindowsVolumeLabel. It is not
// Microsoft's layout byte for byte: genisoimage writes UDF 1.02 with its
// own implementation id ("*genisoimage") and no El Torito boot here
// (mtprep never boots or remasters Windows media; it only identifies
// them). Name defaults to windows2016-test.iso.
func BuildWindows(ctx context.Context, dir, name string) (string, error) {
	tool, err := exec.LookPath("genisoimage")
	if err != nil {
		return "", fmt.Errorf("testiso: genisoimage: %w (install genisoimage)", ErrMissingHost)
	}
	if name == "" {
		name = "windows2016-test.iso"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("testiso: %w", err)
	}
	scratch, err := os.MkdirTemp(dir, ".testiso-win-")
	if err != nil {
		return "", fmt.Errorf("testiso: %w", err)
	}
	defer os.RemoveAll(scratch)
	ws := filepath.Join(scratch, "tree")
	for _, rel := range WindowsTree {
		data := []byte("mtprep Windows stand-in placeholder: " + rel + "\r\n")
		if rel == "README.TXT" {
			data = []byte(WindowsReadme)
		}
		if err := writeFile(filepath.Join(ws, rel), data); err != nil {
			return "", err
		}
	}
	args := []string{"-quiet", "-udf", "-iso-level", "3", "-V", WindowsVolumeLabel}
	tops, err := os.ReadDir(ws)
	if err != nil {
		return "", fmt.Errorf("testiso: %w", err)
	}
	for _, e := range tops {
		if e.Name() != "README.TXT" {
			args = append(args, "-hide", e.Name())
		}
	}
	out := filepath.Join(dir, name)
	tmp := filepath.Join(scratch, name)
	args = append(args, "-o", tmp, ws)
	if b, err := exec.CommandContext(ctx, tool, args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("testiso: genisoimage %s: %w\n%s", tmp, err, b)
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", fmt.Errorf("testiso: %w", err)
	}
	return out, nil
}
