// Package images identifies the base ISOs mtprep installs master targets
// from and remasters them into unattended install media. Three families:
//
//   - CentOS 6.6 x86_64 (Inspect; Remaster with Family FamilyCentOS or ""):
//     .discinfo and .treeinfo must agree; ks.cfg is added (or, for shared
//     media, the kickstart comes from a seed ISO) and a kickstart entry
//     becomes the default of isolinux.cfg with a short timeout.
//   - Ubuntu 16.04.x server amd64 (InspectUbuntu; Remaster with Family
//     FamilyUbuntu): .disk/info and the debian-installer tree decide; the
//     menu (isolinux.cfg, txt.cfg, grub.cfg) gets a default entry booting
//     with auto=true priority=critical file=/cdrom/preseed/..., gfxboot
//     is turned off, and the media carry either the MT's preseed
//     (preseed/mt.seed) or, shared, GenericPreseed (preseed/mtprep.seed),
//     which loads the MT's preseed.cfg from its seed CD.
//   - Windows Server 2016 (InspectWindows): UDF bridge discs, whose files
//     go-diskfs cannot read, are identified from their ISO 9660 volume id
//     and UDF descriptors (udf.go), and never remastered: Setup reads
//     autounattend.xml from the seed CD.
//
// Remaster reads the user's base ISO with go-diskfs and writes a new El
// Torito bootable ISO (BIOS, plus EFI when the base has an EFI image) with
// Rock Ridge names and without Joliet: go-diskfs v1.9.4 ISOs with Joliet
// do not boot with ISOLINUX.
//
// Everything is pure Go; no external tool runs. The ISO is streamed, never
// loaded into memory, and a partial output is never left behind.
//
// go-diskfs writes the directories, Rock Ridge fields, boot catalog and the
// small files; the base's file data is appended after them with one
// in-kernel copy per file (copy_file_range) rather than passing through
// go-diskfs's workspace, and both checksums are computed while the copy
// runs. See treePlan in workspace.go. go-diskfs v1.9.4 drops the leading
// dot of file names it reads (.discinfo), so names come from rrname.go,
// and writes an empty ISO 9660 identifier for a directory whose name
// starts with a dot (Ubuntu's .disk), which fixDotDirNames repairs.
package images
