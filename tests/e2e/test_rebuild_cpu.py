"""e2e (nox -s e2e): the main job on real input. One CPU build (~11 min on 2 cores) shared by all
tests through the ``rebuilt_env`` fixture; the forced failure stops at its first compile."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mmfix.builder.source import from_sdist

pytestmark = pytest.mark.e2e

PY313 = Path.home() / ".pyenv" / "versions" / "3.13.0" / "bin" / "python"

NMS_CHECK = (
    "import torch; from mmcv.ops import nms; "
    "b = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]]); "
    "s = torch.tensor([0.9, 0.8, 0.7]); d, k = nms(b, s, 0.5); "
    "assert k.tolist() == [0, 2], k; assert abs(float(d[1, 4]) - 0.7) < 1e-6; print('nms ok')"
)


def _doctor_ops(mmfix_cmd: list[str], py: Path) -> dict:
    cp = subprocess.run([*mmfix_cmd, "doctor", "--python", str(py), "--check", "mmcv-ops-missing", "--json"],
                        capture_output=True, text=True, timeout=600)
    doc = json.loads(cp.stdout)
    return next(f for f in doc["findings"] if f["id"] == "mmcv-ops-missing")


def test_doctor_before_reports_ops_missing(opsless_env: Path, mmfix_cmd: list[str]) -> None:
    assert _doctor_ops(mmfix_cmd, opsless_env)["status"] == "fail"


def test_rebuild_cpu_installs_working_ops(rebuilt_env: Path, rebuild_result: dict) -> None:
    print(rebuild_result.get("stdout"), rebuild_result.get("stderr"))
    print(f"rebuild took {rebuild_result.get('seconds')} s")
    assert rebuild_result["returncode"] == 0
    out = str(rebuild_result["stdout"])
    assert "setuptools-no-pkg-resources" in out and "ops: CPU only" in out
    cp = subprocess.run([str(rebuilt_env), "-c", NMS_CHECK], capture_output=True, text=True)
    assert cp.returncode == 0 and "nms ok" in cp.stdout, cp.stderr


def test_setuptools_stays_newest(rebuilt_env: Path) -> None:
    cp = subprocess.run([str(rebuilt_env), "-c", "import setuptools; print(setuptools.__version__)"],
                        capture_output=True, text=True)
    assert int(cp.stdout.split(".")[0]) >= 82


def test_doctor_after_reports_ops_ok(rebuilt_env: Path, mmfix_cmd: list[str]) -> None:
    assert _doctor_ops(mmfix_cmd, rebuilt_env)["status"] == "ok"


def test_forced_failure_keeps_previous_mmcv(opsless_env: Path, mmfix_cmd: list[str], tmp_path: Path) -> None:
    env = dict(os.environ, CFLAGS="-fmmfix-no-such-flag")
    log = tmp_path / "fail.log"
    cp = subprocess.run(
        [*mmfix_cmd, "--no-color", "rebuild", "--python", str(opsless_env), "--cpu", "--mmcv-version", "2.2.0",
         "--yes", "--no-wheelhouse", "--log", str(log)],
        capture_output=True, text=True, env=env, timeout=3600,
    )
    assert cp.returncode == 1, cp.stdout + cp.stderr
    assert "nothing was installed" in cp.stderr
    assert "-fmmfix-no-such-flag" in cp.stderr  # the named problem, not the whole log
    assert str(log) in cp.stderr + cp.stdout
    still = subprocess.run([str(opsless_env), "-c", "import mmcv; print(mmcv.__version__)"],
                           capture_output=True, text=True)
    assert still.returncode == 0 and still.stdout.strip() == "2.2.0"


@pytest.fixture(scope="module")
def py313_setuptools() -> Path:
    """A Python 3.13 venv with the newest setuptools and packaging (what setup.py imports)."""
    if not PY313.exists():
        pytest.skip("no pyenv Python 3.13")
    venv = Path.home() / ".cache" / "mmfix-tests" / "venv-py313-setuptools"
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([str(PY313), "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "setuptools", "packaging"], check=True)
    return py


@pytest.mark.parametrize(("version", "name"), [("2.2.0", "mmcv"), ("1.7.2", "mmcv-full")])
def test_python313_get_version_patch(py313_setuptools: Path, tmp_path: Path, version: str, name: str) -> None:
    from mmfix.patching import patch_build_source

    tree = from_sdist(version)
    env = dict(os.environ, MMCV_WITH_OPS="1")
    results = {}
    for label, pyver in (("unpatched", "3.12.0"), ("patched", "3.13.0")):
        src = tmp_path / label
        shutil.copytree(tree.path, src)
        # both copies lose pkg_resources (else setup.py stops before get_version); only the
        # 3.13 copy gets setup-py-python313
        patch_build_source(src, version, "2.0.0", pyver)
        results[label] = subprocess.run([str(py313_setuptools), "setup.py", "--name", "--version"], cwd=src,
                                        capture_output=True, text=True, env=env, timeout=300)
    assert results["unpatched"].returncode != 0
    assert "KeyError: '__version__'" in results["unpatched"].stderr
    assert results["patched"].returncode == 0, results["patched"].stderr[-2000:]
    lines = results["patched"].stdout.split()
    assert name in lines and version in lines
