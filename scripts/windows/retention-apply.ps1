# mtprep: format the retention disk NTFS and give it its drive letter.
# Args: NUMBER (the disk number Go read) UNIQUE_ID LETTER LABEL FORMAT
# (yes|named|no). It re-checks that disk NUMBER still has UNIQUE_ID
# (numbers can change between the check and now) and formats only that
# disk: with yes only when it is still RAW with no partition (a last look
# just before formatting), with named (the operator's --format-wwid)
# whatever it holds; with no it only gives mtprep's volume its letter.
param([string]$Number, [string]$UniqueId, [string]$Letter, [string]$Label, [string]$Format)
$d = Get-Disk -Number ([int]$Number)
if ($d.UniqueId -ne $UniqueId -and -not ($d.SerialNumber -and $d.SerialNumber.Trim() -eq $UniqueId)) {
    throw ('disk {0} has UniqueId {1}, not {2}: the disks changed since the check; nothing was written, run again' -f $Number, $d.UniqueId, $UniqueId)
}
if ($d.IsBoot -or $d.IsSystem) { throw "disk $Number is the boot or system disk: refusing" }
if ($d.IsOffline) { throw "disk $Number is offline: refusing (bring it online in Disk Management if it is the retention disk, then run again)" }
if ($d.IsReadOnly) { throw "disk $Number is read-only: refusing" }
if ($Format -eq 'yes' -or $Format -eq 'named') {
    $raw = ([string]$d.PartitionStyle -eq 'RAW' -or [string]$d.PartitionStyle -eq '0')
    if ($Format -eq 'yes') {
        if (-not $raw) {
            throw ('disk {0} has a {1} partition table now: it changed after mtprep checked it; refusing to format it' -f $Number, $d.PartitionStyle)
        }
        if (@(Get-Partition -DiskNumber $d.Number -ErrorAction SilentlyContinue).Count -gt 0) {
            throw ('disk {0} has partitions now: it changed after mtprep checked it; refusing to format it' -f $Number)
        }
    } elseif (-not $raw) {
        Clear-Disk -Number $d.Number -RemoveData -RemoveOEM -Confirm:$false
    }
    Initialize-Disk -Number $d.Number -PartitionStyle GPT
    $p = New-Partition -DiskNumber $d.Number -UseMaximumSize -DriveLetter $Letter
    Format-Volume -Partition $p -FileSystem NTFS -NewFileSystemLabel $Label -AllocationUnitSize 65536 -Confirm:$false | Out-Null
} else {
    $p = Get-Partition -DiskNumber $d.Number | Where-Object { (Get-Volume -Partition $_ -ErrorAction SilentlyContinue).FileSystemLabel -eq $Label } | Select-Object -First 1
    if (-not $p) { throw "disk $Number has no volume labelled $Label" }
    if ([string]$p.DriveLetter -ne $Letter) { Set-Partition -InputObject $p -NewDriveLetter $Letter }
}
$v = Get-Volume -DriveLetter $Letter
'volume {0}: {1} {2}' -f $Letter, $v.FileSystem, $v.FileSystemLabel
