// Package images inspects CentOS 6.6 installation ISOs and remasters them
// into unattended "master target" install media.
//
// Remaster reads the user's base ISO with go-diskfs, checks that it really is
// CentOS 6.6 x86_64 (.discinfo and .treeinfo), adds ks.cfg, makes a
// kickstart entry the default of isolinux.cfg with a short timeout, and
// writes a new El Torito bootable ISO (BIOS, plus EFI when the base has
// images/efiboot.img) with Rock Ridge names and without Joliet: go-diskfs
// v1.9.4 ISOs with Joliet do not boot with ISOLINUX.
//
// Everything is pure Go; no external tool runs. The ISO is streamed, never
// loaded into memory, and a partial output is never left behind.
//
// go-diskfs writes the directories, Rock Ridge fields, boot catalog and the
// small files; the base's file data is appended after them with one
// in-kernel copy per file (copy_file_range) rather than passing through
// go-diskfs's workspace, and both checksums are computed while the copy
// runs. See treePlan in workspace.go. go-diskfs v1.9.4 drops the leading
// dot of file names it reads (.discinfo), so names come from rrname.go.
package images
