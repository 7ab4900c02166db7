"""The entry point: plain ``explain`` command lines skip typer and give what the typer app gives."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mmfix import render
from mmfix.launch import ExplainArgs, hoist_global_flags, plain_explain

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / "tests" / "data" / "explain"


@pytest.mark.parametrize(
    ("argv", "want"),
    [
        (["explain", "a.log"], ExplainArgs(["a.log"], False, 0, False, True)),
        (["explain", "--json", "a.log", "b.log"], ExplainArgs(["a.log", "b.log"], True, 0, False, True)),
        (["-v", "explain", "a.log", "--no-color", "-q"], ExplainArgs(["a.log"], False, 1, True, False)),
        (["explain", "-vv", "--verbose"], ExplainArgs(["-"], False, 3, False, True)),
        (["explain"], ExplainArgs(["-"], False, 0, False, True)),
        (["explain", "-", "--json"], ExplainArgs(["-"], True, 0, False, True)),
    ],
)
def test_plain_explain_forms(argv: list[str], want: ExplainArgs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert plain_explain(argv) == want


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--version"],
        ["doctor"],
        ["doctor", "explain"],
        ["explain", "--help"],
        ["explain", "-h"],
        ["explain", "--", "-odd-name.log"],
        ["explain", "--jsonx", "a.log"],
        ["--bogus", "explain", "a.log"],
        ["wheels", "--json"],
    ],
)
def test_other_command_lines_go_to_typer(argv: list[str]) -> None:
    assert plain_explain(argv) is None


def test_no_color_env_turns_colour_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    opts = plain_explain(["explain", "a.log"])
    assert opts is not None and opts.color is False


def test_hoist_stops_at_double_dash() -> None:
    assert hoist_global_flags(["doctor", "-v", "--", "-q"]) == ["-v", "doctor", "--", "-q"]


def run(entry: str, *args: str, stdin: bytes = b"") -> tuple[int, str, str]:
    """``mmfix`` through ``entry``: "fast" (python -m mmfix) or "typer" (mmfix.cli.main)."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "NO_COLOR": "1"}
    if entry == "fast":
        argv = [sys.executable, "-m", "mmfix", *args]
    else:
        argv = [sys.executable, "-c", "import sys; from mmfix.cli import main; main(sys.argv[1:])", *args]
    proc = subprocess.run(argv, input=stdin, capture_output=True, env=env, timeout=120)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


@pytest.mark.parametrize(
    "args",
    [
        ["explain", str(CASES / "rtx3090-cuda110.log")],
        ["explain", "--json", str(CASES / "win-cuda92-msvc-cp936.log"), str(CASES / "grad-accum-twice.log")],
        ["-v", "explain", str(CASES / "nms-cpu-only-docker.log"), "-q"],
        ["explain", "--json", "/no/such/build.log"],
        ["explain", "/no/such/build.log"],
        ["explain", str(CASES)],
        ["explain", "--json", "-"],
    ],
)
def test_fast_path_prints_what_the_typer_app_prints(args: list[str]) -> None:
    stdin = (CASES / "mmdet3-mmcv22.log").read_bytes()
    fast = run("fast", *args, stdin=stdin)
    typer = run("typer", *args, stdin=stdin)
    assert fast == typer
    assert "Traceback" not in fast[2]


def test_fast_path_loads_neither_typer_rich_nor_dataclasses(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    log.write_bytes(b"[1/9] c++ -c x.cpp\n" * 600_000 + (CASES / "real-cusparse-missing.log").read_bytes())
    code = (
        "import sys\nfrom mmfix import launch\n"
        "try:\n    launch.main(['explain', '--json', sys.argv[1]])\nexcept SystemExit as e:\n    rc = e.code\n"
        "heavy = [m for m in ('typer', 'click', 'rich', 'pydantic', 'dataclasses', 'mmfix.model') if m in sys.modules]\n"
        "print('HEAVY', rc, heavy)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run([sys.executable, "-c", code, str(log)], capture_output=True, env=env, timeout=120)
    assert proc.stdout.decode().splitlines()[-1] == "HEAVY 0 []"
    assert '"cuda-headers-missing"' in proc.stdout.decode()


def test_explain_help_still_works() -> None:
    rc, out, _ = run("fast", "explain", "--help")
    assert rc == 0 and "Name every known problem" in out


def test_plain_text_replaces_what_stdout_cannot_encode(capsys: pytest.CaptureFixture[str]) -> None:
    import io

    class Latin1Out(io.StringIO):
        encoding = "latin-1"

        def write(self, s: str) -> int:
            s.encode(self.encoding)  # raises like a real latin-1 stream
            return super().write(s)

    out = Latin1Out()
    real = sys.stdout
    sys.stdout = out
    try:
        render.PlainText().print("注意: 包含文件 café", style="bold")
    finally:
        sys.stdout = real
    assert out.getvalue() == "??: ???? café\n"
