<#
.SYNOPSIS
    Run mmfix from any Windows PowerShell / Developer PowerShell for VS, in the Python env you meant.

.DESCRIPTION
    Picks the interpreter the way mmfix picks its target environment:
      1. $env:MMFIX_PYTHON (an explicit python.exe),
      2. the active venv:   $env:VIRTUAL_ENV\Scripts\python.exe,
      3. the active conda:  $env:CONDA_PREFIX\python.exe,
      4. python on PATH (not the Microsoft Store alias under \WindowsApps\),
      5. the py launcher (py -3).
    If mmfix is installed there it runs "<python> -m mmfix <your arguments>". Otherwise it runs an
    mmfix.exe found on PATH (pipx install mmfix), which targets the same env through
    VIRTUAL_ENV / CONDA_PREFIX. All arguments pass through unchanged; the exit code is mmfix's.
    Nothing in your shell is changed: mmfix captures any Visual Studio environment for its own
    build subprocess only.

.EXAMPLE
    PS> .\scripts\mmfix.ps1 doctor --check msvc-unsupported
    PS> .\scripts\mmfix.ps1 rebuild --arch 8.6 --dry-run
#>
# Not 'Stop': Windows PowerShell 5.1 turns a native program's stderr into terminating errors then.
$ErrorActionPreference = 'Continue'

function Test-Python([string]$Path) {
    return $Path -and (Test-Path -LiteralPath $Path -PathType Leaf)
}

function Find-TargetPython {
    if ($env:MMFIX_PYTHON) {
        if (Test-Python $env:MMFIX_PYTHON) { return $env:MMFIX_PYTHON }
        [Console]::Error.WriteLine("mmfix: MMFIX_PYTHON=$($env:MMFIX_PYTHON) is not a file; point it at a python.exe or unset it")
        exit 1
    }
    if ($env:VIRTUAL_ENV) {
        $p = Join-Path $env:VIRTUAL_ENV 'Scripts\python.exe'
        if (Test-Python $p) { return $p }
    }
    if ($env:CONDA_PREFIX) {
        $p = Join-Path $env:CONDA_PREFIX 'python.exe'
        if (Test-Python $p) { return $p }
    }
    $onPath = Get-Command python.exe -CommandType Application -ErrorAction SilentlyContinue |
        Where-Object { $_.Source -notmatch '\\WindowsApps\\' } | Select-Object -First 1
    if ($onPath) { return $onPath.Source }
    $launcher = Get-Command py.exe -CommandType Application -ErrorAction SilentlyContinue |
        Select-Object -First 1
    if ($launcher) {
        $exe = & $launcher.Source -3 -c 'import sys; print(sys.executable)' 2>$null
        if ($LASTEXITCODE -eq 0 -and (Test-Python $exe)) { return $exe.Trim() }
    }
    return $null
}

$python = Find-TargetPython
if ($python) {
    & $python -c 'import mmfix' 2>$null
    if ($LASTEXITCODE -eq 0) {
        & $python -m mmfix @args
        exit $LASTEXITCODE
    }
}
$tool = Get-Command mmfix.exe -CommandType Application -ErrorAction SilentlyContinue |
    Select-Object -First 1
if ($tool) {
    & $tool.Source @args
    exit $LASTEXITCODE
}
if ($python) {
    [Console]::Error.WriteLine("mmfix: not installed in $python and no mmfix.exe on PATH; install it: `"$python`" -m pip install mmfix (Python >= 3.9), or pipx install mmfix")
} else {
    [Console]::Error.WriteLine('mmfix: no Python found (no VIRTUAL_ENV, CONDA_PREFIX, python or py on PATH); activate your environment first')
}
exit 1
