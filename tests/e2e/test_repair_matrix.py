"""The repair matrix (issue 12): each case a fresh venv in a broken state real users reach, one
``mmfix doctor --fix --yes``, then doctor exits 0, nms gives ``[0, 2]`` in the target and the
downstream package imports.

Each venv is a copy of the cached ops-less venv of ``conftest.opsless_env`` (torch 2.13.0 CPU, the
``py2.py3-none-any`` mmcv 2.2.0 a default ``pip install mmcv==2.2.0`` gives today), changed by the
case with real pip commands; a copy is those same files without another minute of torch install.

Cost (2 cores, idle; measured numbers in the README's doctor section): every mmcv version is compiled
at most once per session. A version is compiled by the first test that needs it and kept in the
session's wheelhouse (conftest: one ``MMFIX_CACHE_DIR`` for the whole session), from which mmfix
installs it in seconds for the later cases. In a full ``nox -s e2e`` run ``rebuilt_env``
(test_doctor_e2e.py) has already compiled 2.2.0; this module then compiles only 2.1.0 (about 9
minutes) and each other case takes well under a minute.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from conftest import install_opsless_mmcv

pytestmark = pytest.mark.e2e

NMS_CHECK = (
    "import torch; from mmcv.ops import nms; "
    "b = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]]); "
    "s = torch.tensor([0.9, 0.8, 0.7]); d, k = nms(b, s, 0.5); print(json.dumps(k.tolist()))"
)
# mmdet 3.3.0 with --no-deps and its pure-Python requirements (its others, pycocotools, scipy,
# shapely, matplotlib, are only needed below mmdet's top-level import)
MMDET = ("mmdet==3.3.0",)
MMDET_PURE_DEPS = ("six", "terminaltables", "tqdm")
TIMES: dict[str, float] = {}

# (case, expected mmcv after the repair, the import that must work after it)
CASES = [
    # first: when 2.2.0 is not on the index yet, this case compiles it, with setuptools >= 82 (patched)
    ("newest-setuptools", "2.2.0", "mmcv"),
    ("opsless", "2.2.0", "mmcv"),
    ("lite-over-mmcv", "2.2.0", "mmcv"),
    ("mmdet-3.3.0", "2.1.0", "mmdet"),
]


def pip(py: Path, *args: str, env: dict[str, str] | None = None) -> str:
    cp = subprocess.run([str(py), "-m", "pip", *args], capture_output=True, text=True, env=env, timeout=1800)
    assert cp.returncode == 0, f"pip {' '.join(args)}:\n{cp.stdout[-2000:]}\n{cp.stderr[-2000:]}"
    return cp.stdout


@pytest.fixture(scope="module")
def stale_pip_cache(opsless_env: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pip cache holding the ops-less mmcv 2.2.0 wheel, made by a real cached ``pip install``
    (in a scratch copy of the venv); each case copies it so the purge is real and stays local."""
    root = tmp_path_factory.mktemp("stale-pip-cache")
    scratch = copy_venv(opsless_env, root / "venv")
    install_opsless_mmcv(scratch, root / "constraints.txt", pip_cache=root / "cache")
    shutil.rmtree(root / "venv")
    return root / "cache"


def copy_venv(template_python: Path, dest: Path) -> Path:
    """A fresh venv with the template's files (``bin/python`` stays a link to the base interpreter;
    mmfix and these tests use ``python -m pip``, never the copied scripts' shebangs)."""
    shutil.copytree(template_python.parent.parent, dest, symlinks=True)
    return dest / "bin" / "python"


def setup_case(case: str, py: Path, work: Path, env: dict[str, str], stale_cache: Path) -> None:
    """Turn the copied ops-less venv into the case's broken state, with real pip commands."""
    if case == "newest-setuptools":
        assert int(pip(py, "show", "setuptools").split("Version: ")[1].split(".")[0]) >= 82
        return
    # the other cases: a setuptools that still has pkg_resources, pip's cache holding the ops-less wheel
    pip(py, "install", "-q", "setuptools>=77,<82")
    shutil.copytree(stale_cache, work / "pip-cache")
    if case == "lite-over-mmcv":
        pip(py, "install", "-q", "--no-deps", "mmcv-lite==2.2.0", env=env)
    if case == "mmdet-3.3.0":
        pip(py, "install", "-q", "--no-deps", *MMDET, env=env)
        pip(py, "install", "-q", *MMDET_PURE_DEPS, env=env)


def doctor_json(mmfix_cmd: list[str], py: Path, env: dict[str, str]) -> tuple[int, dict]:
    cp = subprocess.run([*mmfix_cmd, "doctor", "--python", str(py), "--json"], capture_output=True, text=True,
                        env=env, timeout=600)
    return cp.returncode, json.loads(cp.stdout)


@pytest.mark.parametrize(("case", "expected", "module"), CASES, ids=[c[0] for c in CASES])
def test_doctor_fix_repairs_the_environment(case: str, expected: str, module: str, opsless_env: Path,
                                            stale_pip_cache: Path,
                                            mmfix_cmd: list[str], tmp_path: Path) -> None:
    py = copy_venv(opsless_env, tmp_path / "venv")
    env = dict(os.environ, PIP_CACHE_DIR=str(tmp_path / "pip-cache"))  # the session's MMFIX_CACHE_DIR
    env.pop("MMFIX_OFFLINE", None)
    setup_case(case, py, tmp_path, env, stale_pip_cache)
    rc, before = doctor_json(mmfix_cmd, py, env)
    assert rc == 1, "the case must start broken"

    t0 = time.monotonic()
    cp = subprocess.run([*mmfix_cmd, "--no-color", "doctor", "--fix", "--yes", "--python", str(py)],
                        capture_output=True, text=True, env=env, timeout=3600)
    TIMES[case] = round(time.monotonic() - t0)
    (tmp_path / "fix.out").write_text(cp.stdout + "\n--- stderr ---\n" + cp.stderr)
    from_house = "from the wheelhouse" in (cp.stdout + cp.stderr)
    print(f"\n[{case}] doctor --fix --yes: {TIMES[case]} s, exit {cp.returncode}; "
          f"mmcv {expected} {'from the wheelhouse' if from_house else 'compiled'}")
    print(cp.stdout[cp.stdout.find("plan, round 1:"):][:3000])
    assert cp.returncode == 0, cp.stdout[-4000:] + cp.stderr[-4000:]

    rc, after = doctor_json(mmfix_cmd, py, env)
    assert rc == 0 and after["summary"]["fail"] == 0, [f for f in after["findings"] if f["status"] == "fail"]
    versions = {m["name"]: m["version"] for m in after["environment"]["mmcv"]}
    assert versions == {"mmcv": versions.get("mmcv")} and versions["mmcv"].startswith(expected[:4])
    nms = subprocess.run([str(py), "-c", "import json; " + NMS_CHECK], capture_output=True, text=True, timeout=300)
    assert nms.returncode == 0 and json.loads(nms.stdout.strip().splitlines()[-1]) == [0, 2], nms.stderr[-2000:]
    imp = subprocess.run([str(py), "-c", f"import {module}; print({module}.__version__)"], capture_output=True,
                         text=True, timeout=300)
    assert imp.returncode == 0, imp.stderr[-2000:]
    if case != "newest-setuptools":
        assert "mmcv" not in pip(py, "cache", "list", "mmcv", env=env)  # the ops-less wheel was purged
        assert "purge-pip-cache" in cp.stdout or "pip's cache" in cp.stdout
    else:  # mmfix patched setup.py in its build copy; the env keeps the newest setuptools
        assert int(pip(py, "show", "setuptools").split("Version: ")[1].split(".")[0]) >= 82
    shutil.rmtree(tmp_path / "venv")  # 1.4 GB each


def test_conflicting_downstream_ranges_are_refused_before_any_change(
        opsless_env: Path, mmfix_cmd: list[str], tmp_path: Path) -> None:
    """mmdet 3.3.0 (mmcv 2.x) beside mmsegmentation 0.30.0 (mmcv-full 1.x), both real wheels installed
    with --no-deps: refused with exit 3, naming both, and the environment is left as it was."""
    py = copy_venv(opsless_env, tmp_path / "venv")
    env = dict(os.environ, MMFIX_CACHE_DIR=str(tmp_path / "mmfix-cache"), MMFIX_OFFLINE="1")
    pip(py, "install", "-q", "--no-deps", *MMDET, "mmsegmentation==0.30.0")
    before = pip(py, "freeze")
    cp = subprocess.run([*mmfix_cmd, "--no-color", "doctor", "--fix", "--yes", "--python", str(py)],
                        capture_output=True, text=True, env=env, timeout=600)
    assert cp.returncode == 3, cp.stdout[-3000:] + cp.stderr[-3000:]
    assert "mmdet 3.3.0 needs mmcv>=2.0.0rc4,<2.2.0" in cp.stderr and "mmseg 0.30.0 needs mmcv" in cp.stderr
    assert "Traceback" not in cp.stderr and pip(py, "freeze") == before
    shutil.rmtree(tmp_path / "venv")
