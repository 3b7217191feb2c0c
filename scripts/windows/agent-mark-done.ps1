# mtprep: record an interrupted agent preparation as done (the operator's
# decision). Args: STATE_DIR.
param([string]$StateDir)
New-Item -ItemType Directory -Force -Path $StateDir | Out-Null
Set-Content -LiteralPath (Join-Path $StateDir 'agent.done') -Value (Get-Date).ToUniversalTime().ToString('o') -Encoding ASCII
