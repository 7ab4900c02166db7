"""``mmfix explain`` through the real entry point (``python -m mmfix``): exit codes, one-line errors,
JSON schema, stdin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / "tests" / "data" / "explain"


def mmfix(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "mmfix", "explain", *args],
        input=stdin if stdin is not None else b"",
        capture_output=True,
        env=env,
        timeout=120,
    )


def one_line(proc: subprocess.CompletedProcess[bytes]) -> str:
    err = proc.stderr.decode()
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    proc = mmfix(str(empty))
    assert proc.returncode == 1
    assert "no log text found" in one_line(proc)
    assert proc.stdout == b""


def test_random_bytes(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(os.urandom(2 * 1024 * 1024))
    proc = mmfix(str(junk))
    assert proc.returncode == 1
    assert "no log text found" in one_line(proc)


def test_missing_path(tmp_path: Path) -> None:
    proc = mmfix(str(tmp_path / "nope.log"))
    assert proc.returncode == 2
    assert "no such file" in one_line(proc)


def test_directory(tmp_path: Path) -> None:
    proc = mmfix(str(tmp_path))
    assert proc.returncode == 2
    assert "directory" in one_line(proc)


def test_named_problem_exit_0_and_human_output() -> None:
    proc = mmfix(str(CASES / "win-torch16-module-h.log"))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert "torch-header-constexpr-win-cuda" in out
    assert "4 times, lines 12-18" in out
    assert "mmfix patch-torch-headers" in out
    assert out.index("torch-header-constexpr-win-cuda") < out.index("ninja") if "ninja" in out else True


def test_json_schema() -> None:
    proc = mmfix(str(CASES / "gcc-too-new-cuda118.log"), "--json")
    assert proc.returncode == 0
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "mmfix.explain/1"
    first = doc["matches"][0]
    assert first["id"] == "gcc-unsupported"
    assert first["line"] == 5
    assert first["facts"]["gcc_max"] == 11
    assert {"id", "line", "text", "facts", "fix"} <= set(first)
    assert "unmatched" in doc


def test_json_grouped_match_has_count_and_lines() -> None:
    doc = json.loads(mmfix(str(CASES / "win-torch16-module-h.log"), "--json").stdout)
    first = doc["matches"][0]
    assert (first["count"], first["lines"]) == (4, [12, 14, 16, 18])


def test_stdin_and_nothing_known() -> None:
    log = b"step 1\nerror: something nobody has seen before\nmore\n"
    proc = mmfix("-", stdin=log)
    assert proc.returncode == 1
    out = proc.stdout.decode()
    assert "No known problem" in out
    assert "line 2: error: something nobody has seen before" in out
    doc = json.loads(mmfix("--json", stdin=log).stdout)
    assert doc["matches"] == []
    assert doc["unmatched"][0]["line"] == 2


def test_several_files_one_not_a_log(tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    proc = mmfix(str(empty), str(CASES / "mmdet3-mmcv22.log"))
    assert proc.returncode == 0
    out = proc.stdout.decode()
    assert "no log text found" in out
    assert "downstream-version-mismatch" in out


def test_cp936_crlf_case_through_the_cli() -> None:
    proc = mmfix(str(CASES / "win-cuda92-msvc-cp936.log"), "--json")
    doc = json.loads(proc.stdout)
    assert [m["id"] for m in doc["matches"]] == ["msvc-unsupported"]
    assert doc["matches"][0]["text"].endswith("Only the versions 2012, 2013, 2015 and 2017 are supported!")


def test_global_flags_after_the_command_and_the_double_dash() -> None:
    from mmfix.cli import hoist_global_flags

    assert hoist_global_flags(["explain", "a.log", "-vv", "--no-color", "-q"]) == ["-vv", "--no-color", "-q", "explain", "a.log"]
    assert hoist_global_flags(["doctor", "-v", "--", "-q"]) == ["-v", "doctor", "--", "-q"]
    proc = mmfix(str(CASES / "grad-accum-twice.log"), "-q", "--json")  # a global flag after the files
    assert proc.returncode == 0 and json.loads(proc.stdout)["matches"][0]["id"] == "double-backward-hooks"


def test_a_closed_stdout_is_no_traceback() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run([sys.executable, "-m", "mmfix", "explain", str(CASES / "rtx3090-cuda110.log")],
                          capture_output=False, stderr=subprocess.PIPE, env=env, timeout=120,
                          preexec_fn=lambda: os.close(1))  # like `mmfix explain x >&-`
    assert proc.returncode == 0 and b"Traceback" not in proc.stderr


def test_explain_help_comes_from_typer() -> None:
    proc = subprocess.run([sys.executable, "-m", "mmfix", "explain", "--help"], capture_output=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO / "src"), "COLUMNS": "120"})
    assert proc.returncode == 0 and b"Name every known problem" in proc.stdout
