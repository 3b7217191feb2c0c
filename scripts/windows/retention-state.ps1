# mtprep: what the retention disk holds and what uses it, as JSON (read
# only). Args: UNIQUE_ID (the vSphere disk UUID as Windows shows it with
# disk.EnableUUID: 6000C29..., upper case) LETTER (the retention volume's
# drive letter, R). The disk is matched by UniqueId or SerialNumber,
# never by number. Besides Get-Disk, Get-Partition and Get-Volume (which
# show a Linux file system as RAW) it reads the disk itself: known
# signatures in its first 64 KiB, the backup GPT header in its last
# sector, and 64 MiB sampled across it, counting non-zero bytes, with
# unbuffered reads (the MtprepRaw block, the same in retention-scan.ps1).
param([string]$UniqueId, [string]$Letter)
Add-Type -TypeDefinition @'
using System;
using System.ComponentModel;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
public static class MtprepRaw {
    [DllImport("kernel32.dll", SetLastError = true, CharSet = CharSet.Unicode)]
    static extern SafeFileHandle CreateFile(string name, uint access, uint share, IntPtr sa, uint disposition, uint flags, IntPtr template);
    [DllImport("kernel32.dll", SetLastError = true)]
    static extern bool SetFilePointerEx(SafeFileHandle h, long distance, out long position, uint method);
    [DllImport("kernel32.dll", SetLastError = true)]
    static extern bool ReadFile(SafeFileHandle h, IntPtr buffer, int count, out int read, IntPtr overlapped);
    [DllImport("kernel32.dll", SetLastError = true)]
    static extern IntPtr VirtualAlloc(IntPtr address, UIntPtr size, uint type, uint protect);
    [DllImport("kernel32.dll", SetLastError = true)]
    static extern bool VirtualFree(IntPtr address, UIntPtr size, uint type);
    // GENERIC_READ; FILE_SHARE_READ | FILE_SHARE_WRITE; OPEN_EXISTING;
    // FILE_FLAG_NO_BUFFERING (0x20000000): reads of whole sectors at
    // sector offsets into a page-aligned buffer (VirtualAlloc).
    public static SafeFileHandle Open(string device) {
        SafeFileHandle h = CreateFile(device, 0x80000000, 3, IntPtr.Zero, 3, 0x20000000, IntPtr.Zero);
        if (h.IsInvalid) { throw new Win32Exception(Marshal.GetLastWin32Error(), "opening " + device); }
        return h;
    }
    static IntPtr Alloc(int n) {
        IntPtr p = VirtualAlloc(IntPtr.Zero, (UIntPtr)(uint)n, 0x3000, 0x04);
        if (p == IntPtr.Zero) { throw new Win32Exception(Marshal.GetLastWin32Error(), "VirtualAlloc"); }
        return p;
    }
    static int ReadAt(SafeFileHandle h, IntPtr buf, long offset, int n) {
        long pos;
        if (!SetFilePointerEx(h, offset, out pos, 0)) { throw new Win32Exception(Marshal.GetLastWin32Error(), "seek to " + offset); }
        int got;
        if (!ReadFile(h, buf, n, out got, IntPtr.Zero)) { throw new Win32Exception(Marshal.GetLastWin32Error(), "read at " + offset); }
        return got;
    }
    // Read returns up to n bytes (whole sectors) at offset (a sector multiple).
    public static byte[] Read(string device, long offset, int n) {
        using (SafeFileHandle h = Open(device)) {
            IntPtr buf = Alloc(n);
            try {
                int got = ReadAt(h, buf, offset, n);
                byte[] b = new byte[got];
                Marshal.Copy(buf, b, 0, got);
                return b;
            } finally { VirtualFree(buf, UIntPtr.Zero, 0x8000); }
        }
    }
    public static long CountNonZero(byte[] b) {
        long c = 0;
        for (int i = 0; i < b.Length; i++) { if (b[i] != 0) { c++; } }
        return c;
    }
    // Scan reads [offset, offset+length) in chunks and returns the first
    // offset of the first non-zero byte, -1 when all are zero; "scan <bytes> <total>"
    // lines go to stderr.
    public static long Scan(string device, long offset, long length, int chunk) {
        using (SafeFileHandle h = Open(device)) {
            IntPtr buf = Alloc(chunk);
            long[] words = new long[chunk / 8];
            try {
                long done = 0;
                while (done < length) {
                    int got = ReadAt(h, buf, offset + done, chunk);
                    if (got <= 0) { throw new Exception("the read ended at byte " + (offset + done)); }
                    int n = (int)Math.Min((long)got, length - done);
                    Marshal.Copy(buf, words, 0, (n + 7) / 8);
                    for (int w = 0; w < (n + 7) / 8; w++) {
                        if (words[w] != 0) {
                            for (int i = w * 8; i < Math.Min(w * 8 + 8, n); i++) {
                                if (Marshal.ReadByte(buf, i) != 0) { return offset + done + i; }
                            }
                        }
                    }
                    done += n;
                    Console.Error.WriteLine("scan " + done + " " + length);
                }
                return -1;
            } finally { VirtualFree(buf, UIntPtr.Zero, 0x8000); }
        }
    }
}
'@
$out = [ordered]@{ matches = 0; disk = $null; partitions = @(); volumes = @(); pageFiles = @(); letter = $null; magic = @(); backupGpt = $false; sampled = 0; nonZero = 0 }
$disks = @(Get-Disk | Where-Object { $_.UniqueId -eq $UniqueId -or ($_.SerialNumber -and $_.SerialNumber.Trim() -eq $UniqueId) })
$out.matches = $disks.Count
$pf = @(Get-CimInstance -ClassName Win32_PageFileUsage -ErrorAction SilentlyContinue | ForEach-Object { $_.Name })
$out.pageFiles = $pf
$lv = Get-Volume -DriveLetter $Letter -ErrorAction SilentlyContinue
if ($lv) {
    $lp = Get-Partition -DriveLetter $Letter -ErrorAction SilentlyContinue
    $out.letter = [ordered]@{ DiskNumber = $(if ($lp) { $lp.DiskNumber } else { $null }); FileSystem = $lv.FileSystem; FileSystemLabel = $lv.FileSystemLabel; Size = $lv.Size }
}
if ($disks.Count -eq 1) {
    $d = $disks[0]
    $out.disk = $d | Select-Object Number, UniqueId, SerialNumber, FriendlyName, Size, PartitionStyle, IsBoot, IsSystem, IsOffline, OfflineReason, IsReadOnly, NumberOfPartitions, OperationalStatus, HealthStatus, LogicalSectorSize
    $parts = @(Get-Partition -DiskNumber $d.Number -ErrorAction SilentlyContinue)
    $out.partitions = @($parts | Select-Object PartitionNumber, DriveLetter, AccessPaths, Offset, Size, Type, GptType, MbrType, IsBoot, IsSystem, IsActive, IsHidden)
    $out.volumes = @($parts | ForEach-Object { Get-Volume -Partition $_ -ErrorAction SilentlyContinue } | Select-Object DriveLetter, FileSystem, FileSystemLabel, Size, SizeRemaining, DriveType)
    if (-not $d.IsOffline -and $d.Size -gt 0) {
        $dev = '\\.\PhysicalDrive{0}' -f $d.Number
        $mib = 1048576
        $buf = [MtprepRaw]::Read($dev, 0, $mib)
        $ascii = [Text.Encoding]::ASCII
        function At([int]$o, [int]$len) { $ascii.GetString($buf, $o, $len) }
        $m = @()
        if ($buf.Length -ge 65544) {
            if ($buf[510] -eq 0x55 -and $buf[511] -eq 0xAA) { $m += 'mbr-boot-signature' }
            if ((At 512 8) -eq 'EFI PART') { $m += 'gpt' }
            if ((At 3 8) -eq 'NTFS    ') { $m += 'ntfs' }
            if ((At 82 5) -eq 'FAT32' -or (At 54 5) -eq 'FAT16' -or (At 54 5) -eq 'FAT12') { $m += 'vfat' }
            if ((At 3 8) -eq 'EXFAT   ') { $m += 'exfat' }
            if ((At 3 4) -eq 'ReFS') { $m += 'refs' }
            if ((At 0 4) -eq 'XFSB') { $m += 'xfs' }
            if ($buf[1080] -eq 0x53 -and $buf[1081] -eq 0xEF) { $m += 'ext' }
            if ((At 0 4) -eq 'LUKS' -and $buf[4] -eq 0xBA -and $buf[5] -eq 0xBE) { $m += 'crypto_LUKS' }
            for ($s = 0; $s -lt 4; $s++) { if ((At (512 * $s + 0) 8) -eq 'LABELONE') { $m += 'LVM2_member' } }
            if ((At 4086 10) -eq 'SWAPSPACE2') { $m += 'swap' }
            if ((At 65536 8) -eq '_BHRfS_M') { $m += 'btrfs' }
        }
        $out.magic = @($m | Select-Object -Unique)
        $sector = [long]$d.LogicalSectorSize
        if ($sector -le 0) { $sector = 512 }
        $tail = [MtprepRaw]::Read($dev, [long]$d.Size - $sector, [int]$sector)
        if ($tail.Length -ge 8 -and $ascii.GetString($tail, 0, 8) -eq 'EFI PART') { $out.backupGpt = $true }
        $count = 64
        $step = [long][Math]::Floor(([long]$d.Size / $mib) / $count) * $mib
        if ($step -lt $mib) { $step = $mib; $count = [int]([long]$d.Size / $mib) }
        $nz = [long]0
        for ($i = 0; $i -lt $count; $i++) {
            $b = [MtprepRaw]::Read($dev, [long]$i * $step, $mib)
            if ($b.Length -le 0) { break }
            $nz += [MtprepRaw]::CountNonZero($b)
            $out.sampled++
        }
        $out.nonZero = $nz
    }
}
$out | ConvertTo-Json -Depth 5 -Compress
