"""Opt-in (``nox -s e2e_py313``): ``mmfix doctor --fix --yes`` on a Python 3.13 target.

On Python 3.13 ``pip install mmcv`` cannot even install the ops-less wheel: every mmcv release's
setup.py fails in ``get_version()`` (catalog ``setup-py-python313``), so the state users reach is a
venv with torch and no mmcv at all. mmfix must build mmcv with ops for it (both source patches:
setuptools >= 82 and Python 3.13) and install mmcv's own requirements beside it.

Cost: a cp313 torch 2.13.0 download (PyPI's Linux torch is the CUDA build with its nvidia-* wheels,
several GB; ``MMFIX_E2E_TORCH_INDEX`` points pip at another index, e.g. a CPU one), cached in
~/.cache/mmfix-tests; then one mmcv compile (CPU: ~10-25 min on 2 cores; a CUDA torch compiles CUDA
ops for ``MMFIX_E2E_ARCH``, default 8.6, about three times that).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from conftest import CACHE, _run
from filelock import FileLock
from test_repair_matrix import NMS_CHECK, copy_venv, doctor_json

pytestmark = pytest.mark.py313


def _python313() -> Path | None:
    found = sorted((Path.home() / ".pyenv" / "versions").glob("3.13.*/bin/python"))
    return found[-1] if found else None


@pytest.fixture(scope="module")
def py313_torch_env() -> Path:
    """A cached Python 3.13 venv with torch 2.13.0, the newest setuptools, ninja and numpy."""
    base = _python313()
    if base is None:
        pytest.skip("no Python 3.13 under ~/.pyenv/versions")
    venv = CACHE / "venv-py313-torch"
    py = venv / "bin" / "python"
    with FileLock(str(CACHE / "venv-py313-torch.lock")):
        ok = py.exists() and subprocess.run([str(py), "-c", "import importlib.metadata as m; m.version('torch')"],
                                            capture_output=True).returncode == 0
        if not ok:
            shutil.rmtree(venv, ignore_errors=True)
            _run([str(base), "-m", "venv", str(venv)])
            _run([str(py), "-m", "pip", "install", "-q", "-U", "pip", "setuptools", "wheel", "ninja", "numpy"])
            index = os.environ.get("MMFIX_E2E_TORCH_INDEX")
            _run([str(py), "-m", "pip", "install", "-q", *(["--index-url", index] if index else []), "torch==2.13.0"],
                 timeout=7200)
    return py


def test_doctor_fix_builds_mmcv_for_python_3_13(py313_torch_env: Path, mmfix_cmd: list[str], tmp_path: Path) -> None:
    py = copy_venv(py313_torch_env, tmp_path / "venv")
    env = dict(os.environ, MMFIX_CACHE_DIR=str(tmp_path / "mmfix-cache"), MMFIX_INDEX_URL=f"file://{tmp_path}/index")
    env.pop("MMFIX_OFFLINE", None)
    # what a user meets first: pip cannot install mmcv at all on 3.13
    tried = subprocess.run([str(py), "-m", "pip", "install", "--no-cache-dir", "mmcv==2.2.0"],
                           capture_output=True, text=True, timeout=1800)
    assert tried.returncode != 0 and ("__version__" in tried.stderr + tried.stdout
                                      or "pkg_resources" in tried.stderr + tried.stdout)
    cuda = subprocess.run([str(py), "-c", "import importlib.util as u, pathlib; "
                           "s = u.find_spec('torch').submodule_search_locations[0]; "
                           "print((pathlib.Path(s) / 'version.py').read_text())"],
                          capture_output=True, text=True).stdout
    if "cuda: Optional[str] = None" not in cuda and "cuda = None" not in cuda:
        env.setdefault("TORCH_CUDA_ARCH_LIST", os.environ.get("MMFIX_E2E_ARCH", "8.6"))
    t0 = time.monotonic()
    cp = subprocess.run([*mmfix_cmd, "--no-color", "doctor", "--fix", "--yes", "--python", str(py)],
                        capture_output=True, text=True, env=env, timeout=3 * 3600)
    print(f"\n[py313] doctor --fix --yes: {round(time.monotonic() - t0)} s, exit {cp.returncode}")
    print(cp.stdout[cp.stdout.find("plan, round 1:"):][:3000])
    assert cp.returncode == 0, cp.stdout[-4000:] + cp.stderr[-4000:]
    assert "setup-py-python313" in cp.stdout
    rc, after = doctor_json(mmfix_cmd, py, env)
    assert rc == 0, [f for f in after["findings"] if f["status"] == "fail"]
    nms = subprocess.run([str(py), "-c", "import json; " + NMS_CHECK], capture_output=True, text=True, timeout=300)
    assert nms.returncode == 0 and json.loads(nms.stdout.strip().splitlines()[-1]) == [0, 2], nms.stderr[-2000:]
    shutil.rmtree(tmp_path / "venv")
