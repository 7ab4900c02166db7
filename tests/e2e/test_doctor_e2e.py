"""Issue 2 e2e: `mmfix doctor` on a real env with torch 2.13.0 CPU and the ops-less mmcv 2.2.0
(`opsless_env`, tests/e2e/conftest.py), then on the same setup after a real rebuild (`rebuilt_env`)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e


def doctor(python, *extra):
    cp = subprocess.run([sys.executable, "-m", "mmfix", "doctor", "--python", str(python), "--json", *extra],
                        capture_output=True, text=True, timeout=300)
    return cp.returncode, json.loads(cp.stdout)


def by_id(doc):
    return {f["id"]: f for f in doc["findings"]}


def test_doctor_names_missing_ops_on_the_default_pip_install(opsless_env):
    rc, doc = doctor(opsless_env)
    assert rc == 1 and doc["summary"]["exit_code"] == 1
    f = by_id(doc)
    ops = f["mmcv-ops-missing"]
    assert ops["status"] == "fail"
    assert any("mmcv 2.2.0" in e and "no mmcv/_ext" in e for e in ops["evidence"])
    # rendered from the action; no version: the planner keeps the installed 2.2.0 (nothing excludes it)
    assert ops["fix"] == f"mmfix rebuild --python {opsless_env} --cpu"
    assert ops["action"] == {"mmcv_version": None, "arch": None, "cpu": True, "threads_per_block": None,
                             "source": None, "note": "", "kind": "rebuild"}
    assert ops["title"] == "mmcv has no compiled ops (no mmcv._ext)"
    assert f["build-isolation-no-torch"]["status"] == "fail"
    # the env keeps the newest setuptools: a rebuild must patch setup.py, and doctor says so
    assert f["setuptools-no-pkg-resources"]["status"] == "warn"
    env = doc["environment"]
    assert env["torch"]["version"].startswith("2.13.0") and env["torch"]["cuda"] is None
    assert [m["name"] for m in env["mmcv"]] == ["mmcv"] and env["mmcv"][0]["wheel_tag"] == "py2.py3-none-any"


def test_doctor_reports_ops_ok_after_rebuild(rebuilt_env):
    rc, doc = doctor(rebuilt_env)
    f = by_id(doc)
    assert f["mmcv-ops-missing"]["status"] == "ok", f["mmcv-ops-missing"]
    assert doc["environment"]["ext_import"]["ok"] is True
    assert f["build-isolation-no-torch"]["status"] == "ok"
    assert rc == doc["summary"]["exit_code"]
