# mtprep: a full read of a range of the retention disk (read only).
# Args: DEVICE (\\.\PhysicalDriveN) OFFSET LENGTH. Unbuffered reads
# (CreateFile with FILE_FLAG_NO_BUFFERING, 0x20000000, into a page-aligned
# buffer, as unbuffered I/O needs) of 4 MiB at 4 MiB-aligned offsets,
# which every sector size divides. Prints "part <offset> zero" or "part
# <offset> nonzero <first non-zero byte's offset>", the format of one part
# of centos' retention-scan.sh; progress lines "scan <bytes> <total>" go
# to stderr. The reading is C# (Add-Type): a PowerShell loop over bytes
# would take minutes a MiB. The MtprepRaw block is rawdisk.ps1.
param([string]$Device, [string]$Offset, [string]$Length)
#mtprep:include rawdisk.ps1
$off = [long]$Offset
$len = [long]$Length
$chunk = 4194304
if ($off % $chunk -ne 0) { throw "offset $off is not 4 MiB-aligned" }
$first = [MtprepRaw]::Scan($Device, $off, $len, $chunk)
if ($first -ge 0) { 'part {0} nonzero {1}' -f $off, $first } else { 'part {0} zero' -f $off }
