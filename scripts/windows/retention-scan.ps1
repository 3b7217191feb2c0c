# mtprep: a full read of a range of the retention disk (read only).
# Args: DEVICE (\\.\PhysicalDriveN) OFFSET LENGTH. Unbuffered reads
# (FILE_FLAG_NO_BUFFERING, 0x20000000) of 4 MiB at 4 MiB-aligned offsets,
# which every sector size divides. Prints "part <offset> zero" or
# "part <offset> nonzero <first non-zero byte's offset>" for the range,
# in the format centos' retention-scan.sh prints one part in; progress
# lines "scan <bytes> <total>" go to stderr.
param([string]$Device, [string]$Offset, [string]$Length)
Add-Type -TypeDefinition 'public static class MtprepScan { public static int First(byte[] b, int n) { for (int i = 0; i < n; i++) { if (b[i] != 0) { return i; } } return -1; } }'
$off = [long]$Offset
$len = [long]$Length
$chunk = 4194304
if ($off % $chunk -ne 0) { throw "offset $off is not 4 MiB-aligned" }
$fs = New-Object IO.FileStream $Device, ([IO.FileMode]::Open), ([IO.FileAccess]::Read), ([IO.FileShare]::ReadWrite), 4096, ([IO.FileOptions]0x20000000)
try {
    $buf = New-Object byte[] $chunk
    $null = $fs.Seek($off, 'Begin')
    $done = [long]0
    while ($done -lt $len) {
        # An unbuffered read must be a whole number of sectors: read the
        # full buffer and look only at the range's part of it.
        $r = $fs.Read($buf, 0, $chunk)
        if ($r -le 0) { throw ('read ended at byte {0} of {1}' -f ($off + $done), $Device) }
        $n = [int][Math]::Min([long]$r, $len - $done)
        $i = [MtprepScan]::First($buf, $n)
        if ($i -ge 0) {
            'part {0} nonzero {1}' -f $off, ($off + $done + $i)
            exit 0
        }
        $done += $n
        [Console]::Error.WriteLine(('scan {0} {1}' -f $done, $len))
    }
    'part {0} zero' -f $off
} finally { $fs.Dispose() }
