"""The command line as a user meets it: exit codes and one-line errors (no tracebacks)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def mmfix(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mmfix", *args], capture_output=True, text=True, timeout=120)


def test_version():
    r = mmfix("--version")
    assert r.returncode == 0 and r.stdout.startswith("mmfix ")


@pytest.mark.parametrize("args", [["doctor", "--python", "/no/such/python"], ["doctor", "--check", "no-such-id"]])
def test_usage_errors_are_one_line_exit_2(args):
    r = mmfix(*args)
    assert r.returncode == 2
    lines = [line for line in r.stderr.splitlines() if line.startswith("mmfix: error:")]
    assert len(lines) == 1 and "Traceback" not in r.stderr


def test_doctor_json_on_this_interpreter():
    r = mmfix("doctor", "--python", sys.executable, "--json")
    doc = json.loads(r.stdout)
    assert doc["schema"] == "mmfix.doctor/1"
    assert {"environment", "findings", "summary"} <= set(doc)
    assert r.returncode == doc["summary"]["exit_code"]
    ids = [f["id"] for f in doc["findings"]]
    assert "mmcv-ops-missing" in ids and len(ids) == len(set(ids))


def test_doctor_list():
    r = mmfix("doctor", "--list")
    assert r.returncode == 0 and "mmcv-ops-missing" in r.stdout


def test_doctor_exits_1_when_ops_are_missing(tmp_path, monkeypatch):
    from test_probe_target import fake_site

    sp = fake_site(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(sp) + ":" + ":".join(sys.path))
    r = mmfix("doctor", "--python", sys.executable, "--check", "mmcv-ops-missing", "--no-color")
    assert r.returncode == 1, r.stderr
    assert "✗ mmcv-ops-missing" in r.stdout and "fix: mmfix rebuild" in r.stdout


def test_global_flags_after_the_command_are_accepted():
    r = mmfix("doctor", "--list", "-v", "--no-color")
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("args", [
    ["doctor", "--python", "/bin/ls"],
    ["doctor", "--python", "/bin/echo"],
    ["doctor", "--python", ""],
    ["doctor", "--yes"],
    ["doctor", "--check", ""],
    ["rebuild", "--arch", "8.6", "--cpu"],
    ["rebuild", "--mmcv-version", "nonsense"],
    ["revert", "--source", "/no/such/tree"],
])
def test_bad_input_is_one_short_line_exit_2(args):
    r = mmfix(*args)
    assert r.returncode == 2, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("mmfix: error:")]
    assert len(errors) == 1 and len(errors[0]) < 300 and "Traceback" not in r.stderr


def test_json_mode_errors_are_a_json_document():
    r = mmfix("doctor", "--python", "/no/such/python", "--json")
    doc = json.loads(r.stdout)
    assert r.returncode == 2
    assert doc["schema"] == "mmfix.error/1" and doc["error"]["exit_code"] == 2


def test_a_deleted_venv_is_named_not_guessed_past(tmp_path):
    import os

    env = dict(os.environ, VIRTUAL_ENV=str(tmp_path / "gone"))
    r = subprocess.run([sys.executable, "-m", "mmfix", "doctor"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2 and "VIRTUAL_ENV" in r.stderr


def test_doctor_fix_dry_run_plans_2_1_0_for_mmdet_3_3(tmp_path, monkeypatch):
    """The fake site has mmdet 3.3.0 beside the ops-less mmcv 2.2.0: the plan rebuilds 2.1.0."""
    from test_probe_target import fake_site

    sp = fake_site(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(sp) + ":" + ":".join(sys.path))
    monkeypatch.setenv("MMFIX_OFFLINE", "1")
    r = mmfix("doctor", "--python", sys.executable, "--fix", "--dry-run", "--json")
    doc = json.loads(r.stdout)
    assert doc["schema"] == "mmfix.plan/1" and doc["stopped"] == "dry-run"
    assert r.returncode == doc["exit_code"] == 1  # nothing changed: the failures are still there
    (step,) = doc["rounds"][0]["steps"]
    assert step["kind"] == "rebuild" and step["action"]["mmcv_version"] == "2.1.0"
    assert "downstream-version-mismatch" in step["answers"] and step["outcome"] is None
    assert doc["rounds"][0]["mmcv"]["why"][0].startswith("mmcv 2.1.0: the newest release allowed by mmdet 3.3.0")
    text = mmfix("--no-color", "doctor", "--python", sys.executable, "--fix", "--dry-run")
    assert "1. rebuild mmcv 2.1.0 with " in text.stdout and "dry run: nothing was changed" in text.stdout


def test_doctor_fix_without_a_terminal_asks_for_yes(tmp_path, monkeypatch):
    from test_probe_target import fake_site

    sp = fake_site(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(sp) + ":" + ":".join(sys.path))
    monkeypatch.setenv("MMFIX_OFFLINE", "1")
    r = mmfix("--no-color", "doctor", "--python", sys.executable, "--fix")
    assert r.returncode == 3 and "pass --yes" in r.stderr and "Traceback" not in r.stderr
    assert "plan, round 1:" in r.stdout  # shown before it asked


def test_an_unusable_cache_folder_is_one_line_naming_it(tmp_path, monkeypatch):
    from mmfix.builder.source import cache_dir
    from mmfix.errors import MmfixError

    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    monkeypatch.setenv("MMFIX_CACHE_DIR", str(not_a_dir))
    with pytest.raises(MmfixError, match=f"cannot create mmfix's cache folder {not_a_dir}/sdists") as err:
        cache_dir("sdists")
    assert "MMFIX_CACHE_DIR" in (err.value.fix or "")


def test_an_os_error_on_a_path_is_one_line_and_a_json_document(tmp_path, capsys):
    """An OSError that names a path is an error about that path, not 'cannot write the output';
    under --json stdout still carries a document."""
    from mmfix import render
    from mmfix.cli import run_guarded

    def fails() -> int:
        (tmp_path / "missing" / "x").read_text()
        return 0

    render.configure(render.Options(color=False, json=True))
    try:
        assert run_guarded(fails) == 1
    finally:
        render.configure(render.Options())
    out, err = capsys.readouterr()
    assert err.count("mmfix: error:") == 1 and "missing/x" in err and "cannot write the output" not in err
    assert json.loads(out)["error"]["what"].startswith("cannot use ")


@pytest.mark.parametrize("args, fix", [
    (["rebuild", "--threads-per-block", "abc"], "mmfix rebuild --help"),
    (["doctor", "--frobnicate"], "mmfix doctor --help"),
    (["frob"], "mmfix --help"),
])
def test_option_parsing_errors_are_one_line_and_json_under_json(args, fix):
    r = mmfix(*args)
    assert r.returncode == 2 and r.stdout == "" and "Usage:" not in r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("mmfix: error: ") and r.stderr.rstrip().endswith(fix)
    r = mmfix(*args, "--json")
    doc = json.loads(r.stdout)
    assert doc["schema"] == "mmfix.error/1" and doc["error"]["exit_code"] == 2 and doc["error"]["fix"] == fix


def test_doctor_says_when_the_active_env_is_mmfix_own(tmp_path):
    """mmfix's own venv first on PATH, nothing activated: doctor diagnoses it, and says so."""
    import os
    from pathlib import Path

    if not (Path(sys.executable).parent / "python").exists():
        pytest.skip("no 'python' beside this interpreter")

    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    r = subprocess.run([sys.executable, "-m", "mmfix", "doctor"], capture_output=True, text=True, timeout=120,
                       env=env, cwd=tmp_path)
    assert r.returncode in (0, 1) and "is the environment mmfix runs in" in r.stderr, r.stderr[-500:]
    r = subprocess.run([sys.executable, "-m", "mmfix", "doctor", "--python", sys.executable], capture_output=True,
                       text=True, timeout=120, env=env, cwd=tmp_path)
    assert "is the environment mmfix runs in" not in r.stderr  # named on purpose: no note
