"""The Windows entry scripts: what can be checked without a Windows shell.

cmd.exe mis-resolves labels in batch files with LF-only line ends, and Windows PowerShell 5.1
reads a BOM-less script as ANSI: both scripts must stay CRLF and ASCII. The interpreter search
order (MMFIX_PYTHON, VIRTUAL_ENV, CONDA_PREFIX, python on PATH, py -3) must be the same in both.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
ORDER = {
    "mmfix.cmd": ["MMFIX_PYTHON", "VIRTUAL_ENV%\\Scripts\\python.exe", "CONDA_PREFIX%\\python.exe",
                  "where python.exe", "py -3"],
    "mmfix.ps1": ["env:MMFIX_PYTHON", "'Scripts\\python.exe'", "$env:CONDA_PREFIX 'python.exe'",
                  "Get-Command python.exe", "-3 -c"],
}


@pytest.mark.parametrize("name", sorted(ORDER))
def test_script_is_crlf_ascii(name: str) -> None:
    data = (SCRIPTS / name).read_bytes()
    data.decode("ascii")
    assert data.count(b"\n") == data.count(b"\r\n") > 10


@pytest.mark.parametrize("name", sorted(ORDER))
def test_interpreter_search_order(name: str) -> None:
    body = (SCRIPTS / name).read_text(encoding="ascii")
    body = body[body.find("setlocal" if name.endswith(".cmd") else "#>"):]  # code, not the help
    positions = [body.find(marker) for marker in ORDER[name]]
    assert -1 not in positions, list(zip(ORDER[name], positions))
    assert positions == sorted(positions)


def test_arguments_pass_through_and_exit_code_kept() -> None:
    cmd = (SCRIPTS / "mmfix.cmd").read_text(encoding="ascii")
    assert '"%MMFIX_PY%" -m mmfix %*' in cmd and "mmfix.exe %*" in cmd
    assert cmd.count("exit /b %ERRORLEVEL%") == 2 and "setlocal" in cmd
    ps1 = (SCRIPTS / "mmfix.ps1").read_text(encoding="ascii")
    assert "& $python -m mmfix @args" in ps1 and "& $tool.Source @args" in ps1
    assert ps1.count("exit $LASTEXITCODE") == 2
    assert "WindowsApps" in cmd and "WindowsApps" in ps1  # the Store alias is not a Python
