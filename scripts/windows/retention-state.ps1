# mtprep: what the retention disk holds and what uses it, as JSON (read
# only). Args: UNIQUE_ID (the vSphere disk UUID as Windows shows it with
# disk.EnableUUID: 6000C29..., upper case) LETTER (the retention volume's
# drive letter, R). The disk is matched by UniqueId or SerialNumber,
# never by number. Besides Get-Disk, Get-Partition and Get-Volume (which
# show a Linux file system as RAW) it reads the disk itself: known
# signatures in its first 64 KiB, the backup GPT header in its last
# sector, and 64 MiB sampled across it, counting non-zero bytes, with
# unbuffered reads (the MtprepRaw block, rawdisk.ps1).
param([string]$UniqueId, [string]$Letter)
#mtprep:include rawdisk.ps1
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
