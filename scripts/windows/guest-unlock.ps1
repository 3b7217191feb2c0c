# mtprep: release the guest lock PATH if it is still this run's.
# Args: RUN_ID PATH.
param([string]$RunId, [string]$Path)
$cur = ''
try { $cur = ([IO.File]::ReadAllText($Path)).Trim() } catch { exit 0 }
if ((' ' + $cur + ' ').Contains(' run=' + $RunId + ' ')) { Remove-Item -LiteralPath $Path -Force }
