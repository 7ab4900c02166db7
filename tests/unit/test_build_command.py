"""``mmfix rebuild`` end to end on Environment values built here (the probe is replaced by the
test's value; nothing is downloaded: --source points at a tree made here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmfix.commands import rebuild
from mmfix.errors import RefusedError, UsageError
from mmfix.model import Environment, Host, MmcvDist, Nvcc, TargetPython, TorchInfo


def _tree(root: Path, version: str = "2.2.0") -> Path:
    (root / "mmcv").mkdir(parents=True)
    (root / "setup.py").write_text("from setuptools import setup\nsetup()\n")
    (root / "mmcv" / "version.py").write_text(f"__version__ = '{version}'\n")
    return root


def _env(torch="2.13.0+cpu", cuda=None, nvcc_version=None) -> Environment:
    return Environment(
        TargetPython("/venv/bin/python", "3.11.7", packages={"setuptools": "84.2.1", "ninja": "1.13", "pip": "26"}),
        Host("Linux", cpu_count=2, memory_available_bytes=8 << 30,
             nvcc=Nvcc("/nonexistent/nvcc", None, nvcc_version) if nvcc_version else None),
        torch=TorchInfo(torch, "/venv/lib/python3.11/site-packages/torch", cuda=cuda) if torch else None,
        mmcv=(MmcvDist("mmcv", "2.2.0", "/venv/sp", "/venv/sp/mmcv", "py2.py3-none-any"),),
    )


def _run(**kw):
    args = dict(python=None, arch=None, cpu=False, source=None, git=None, mmcv_version=None, jobs=None,
                threads_per_block=None, prefer_wheel=None, allow_unsupported_compiler=False, dry_run=True,
                yes=False, log=None, as_json=False)
    args.update(kw)
    return rebuild.run(**args)


@pytest.fixture
def env(monkeypatch):
    holder = {"env": _env()}
    monkeypatch.setattr(rebuild, "_probe", lambda python: holder["env"])
    return holder


def test_dry_run_prints_plan_and_changes_nothing(env, tmp_path, capsys):
    src = _tree(tmp_path / "mmcv")
    before = sorted(p.name for p in src.rglob("*"))
    assert _run(cpu=True, source=src, log=tmp_path / "b.log") == 0
    out = capsys.readouterr().out
    assert "ops: CPU only" in out and "MMCV_WITH_OPS=1" in out and "--no-build-isolation" in out
    assert "setuptools-no-pkg-resources" in out
    assert sorted(p.name for p in src.rglob("*")) == before and not (tmp_path / "b.log").exists()


def test_dry_run_json(env, tmp_path, capsys):
    assert _run(cpu=True, source=_tree(tmp_path / "mmcv"), as_json=True) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "mmfix.rebuild/1" and doc["result"] == "planned"
    assert doc["plan"]["env"]["MAX_JOBS"] == "2" and doc["plan"]["cuda"] is False


def test_blockers_exit_3(env, tmp_path, capsys):
    env["env"] = _env(torch="2.14.1+cu130", cuda="13.0", nvcc_version=None)
    assert _run(arch="9.0", source=_tree(tmp_path / "mmcv")) == 3
    assert "BLOCKER cuda-home-missing" in capsys.readouterr().out


@pytest.mark.parametrize(("kw", "exc"), [
    ({"arch": "8.6"}, RefusedError),
    ({"arch": "8.6;;"}, UsageError),
    ({"arch": "foo"}, UsageError),
    ({"jobs": 0}, UsageError),
    ({"threads_per_block": 100}, UsageError),
])
def test_refused_before_any_source(env, tmp_path, kw, exc):
    with pytest.raises(exc):
        _run(source=tmp_path / "does-not-exist", **kw)


def test_source_version_must_match(env, tmp_path):
    with pytest.raises(RefusedError, match="holds mmcv 2.2.0 and --mmcv-version 2.1.0"):
        _run(cpu=True, source=_tree(tmp_path / "mmcv"), mmcv_version="2.1.0")
