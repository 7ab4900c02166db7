"""e2e fixtures: real venvs with real torch and the real mmcv 2.2.0 from PyPI (cached between runs).

``opsless_env``: a venv (Python 3.11, torch 2.13.0 CPU, setuptools at the newest release >= 82) with
the ops-less mmcv 2.2.0 that a default ``pip install mmcv==2.2.0`` gives today when its isolated
build is allowed setuptools<82 (``PIP_CONSTRAINT``): a ``py2.py3-none-any`` wheel without ``_ext``
(catalog ``build-isolation-no-torch``). Cached under ~/.cache/mmfix-tests/; never modified by tests.

``rebuilt_env``: a fresh copy of that setup in which ``mmfix rebuild --cpu --mmcv-version 2.2.0
--yes --force-build`` ran once (about 11 minutes on 2 cores); every e2e test that needs a rebuilt env
shares it.

One wheelhouse per e2e session: every mmfix the tests start uses ``MMFIX_CACHE_DIR`` =
``~/.cache/mmfix-tests/mmfix-cache`` (empty on a fresh CI machine), so the build ``rebuilt_env`` keeps
is what a second venv installs (tests/e2e/test_wheelhouse_e2e.py): mmcv 2.2.0 is compiled once per run.
Tests that must compile pass ``--force-build``; tests whose build must fail pass ``--no-wheelhouse``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from filelock import FileLock

CACHE = Path(os.environ.get("MMFIX_TEST_CACHE", Path.home() / ".cache" / "mmfix-tests"))
PY311 = Path.home() / ".pyenv" / "versions" / "3.11.7" / "bin" / "python"
TORCH_CPU = "torch==2.13.0"
MMCV = "mmcv==2.2.0"
REBUILD_LOG = CACHE / "rebuild-e2e.log"
# the session's mmfix cache, and so its wheelhouse (mmfix's subprocesses inherit it)
os.environ.setdefault("MMFIX_CACHE_DIR", str(CACHE / "mmfix-cache"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cuda: opt-in real CUDA compile (nox -s e2e_cuda)")
    config.addinivalue_line("markers", "py313: opt-in Python 3.13 target, downloads a cp313 torch (nox -s e2e_py313)")


def _run(argv: list[str], env: dict[str, str] | None = None, timeout: float = 3600) -> str:
    cp = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    if cp.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({cp.returncode}):\n{cp.stdout[-4000:]}\n{cp.stderr[-4000:]}")
    return cp.stdout


def _python_of(venv: Path) -> Path:
    return venv / "bin" / "python"


def make_opsless_venv(venv: Path, torch_req: str = TORCH_CPU, fresh: bool = True) -> Path:
    """Create ``venv`` with ``torch_req``, the newest setuptools and the ops-less mmcv 2.2.0.

    ``fresh=False`` keeps an existing venv and only adds what is missing. Returns the venv's
    python. Raises RuntimeError with pip's output when a step fails.
    """
    base = Path(os.environ.get("MMFIX_E2E_PYTHON", PY311))
    if fresh and venv.exists():
        shutil.rmtree(venv)
    if not _python_of(venv).exists():
        _run([str(base), "-m", "venv", str(venv)])
    py = str(_python_of(venv))
    pip = [py, "-m", "pip", "install", "-q"]
    _run([*pip, "-U", "pip", "setuptools", "wheel"])
    _run([*pip, torch_req, "ninja", "numpy"])
    install_opsless_mmcv(Path(py), venv / "build-constraints.txt")
    return Path(py)


def install_opsless_mmcv(py: Path, constraints: Path, pip_cache: Path | None = None) -> None:
    """``pip install mmcv==2.2.0`` the way it goes today: pip builds the sdist in an isolated
    environment without torch (allowed setuptools<82 there, through ``constraints``), which gives
    the ops-less ``py2.py3-none-any`` wheel. With ``pip_cache`` pip keeps that wheel in this cache
    (and reuses it later, catalog ``pip-cache-stale-wheel``); else nothing is cached."""
    pip = [str(py), "-m", "pip", "install", "-q"]
    lines = ["setuptools<82"]
    system = Path("/etc/xdg/pip/constraints.txt")
    if system.exists():
        lines += [ln for ln in system.read_text().splitlines() if ln and not ln.startswith("#")]
    constraints.write_text("\n".join(lines) + "\n")
    # pip >= 25.3 reads build constraints from --build-constraint only (older pip: PIP_CONSTRAINT
    # reaches the isolated build env too). No constraint on the env itself: setuptools stays >= 82.
    has_flag = "--build-constraint" in _run([str(py), "-m", "pip", "install", "--help"])
    extra = ["--build-constraint", str(constraints)] if has_flag else []
    env = dict(os.environ) if has_flag else dict(os.environ, PIP_CONSTRAINT=str(constraints))
    if pip_cache is not None:
        env["PIP_CACHE_DIR"] = str(pip_cache)
        _run([*pip, "--force-reinstall", "--no-deps", *extra, MMCV], env=env)
    else:
        _run([*pip, "--no-cache-dir", *extra, MMCV], env=env)


def _healthy_opsless(py: Path) -> bool:
    if not py.exists():
        return False
    code = (
        "import importlib.metadata as m, importlib.util as u, pathlib, mmcv, setuptools;"
        "assert m.version('mmcv') == '2.2.0';"
        "assert not list(pathlib.Path(mmcv.__file__).parent.glob('_ext*'));"
        "assert int(setuptools.__version__.split('.')[0]) >= 82;"
        "assert m.version('torch').startswith('2.13.0')"
    )
    return subprocess.run([str(py), "-c", code], capture_output=True).returncode == 0


def ensure_opsless_env(name: str = "venv-opsless-py311") -> Path:
    """The cached ops-less venv (created once, checked every time); returns its python."""
    CACHE.mkdir(parents=True, exist_ok=True)
    venv = CACHE / name
    with FileLock(str(CACHE / f"{name}.lock")):
        py = _python_of(venv)
        if not _healthy_opsless(py):
            make_opsless_venv(venv)
        return py


@pytest.fixture(scope="session")
def opsless_env() -> Path:
    """Path of the python of a venv with torch 2.13.0 CPU and the ops-less mmcv 2.2.0 (read-only)."""
    return ensure_opsless_env()


@pytest.fixture(scope="session")
def mmfix_cmd() -> list[str]:
    """How to start the mmfix under test."""
    return [sys.executable, "-m", "mmfix"]


@pytest.fixture(scope="session")
def rebuilt_env(mmfix_cmd: list[str]) -> Path:
    """A second ops-less venv in which ``mmfix rebuild --cpu --mmcv-version 2.2.0 --yes --force-build``
    ran once (a real compile even when the session's wheelhouse holds the build; it keeps it there).

    The rebuild's exit code and output are in the ``rebuild_result`` fixture. The session's
    wheelhouse keeps the wheel it built: the repair matrix and the second-venv test install it.
    """
    py = ensure_opsless_env("venv-rebuild-py311")
    # always start from the ops-less state: a previous session may have rebuilt it
    if not _healthy_opsless(py):  # pragma: no cover - ensure_opsless_env just made it so
        raise RuntimeError("rebuild venv is not in the ops-less state")
    t0 = time.monotonic()
    cp = subprocess.run(
        [*mmfix_cmd, "--no-color", "rebuild", "--python", str(py), "--cpu", "--mmcv-version", "2.2.0",
         "--yes", "--force-build", "--log", str(REBUILD_LOG)],
        capture_output=True, text=True, timeout=3600,
    )
    REBUILD_RESULT.update(returncode=cp.returncode, stdout=cp.stdout, stderr=cp.stderr,
                          seconds=round(time.monotonic() - t0))
    return py


REBUILD_RESULT: dict[str, object] = {}


@pytest.fixture(scope="session")
def rebuild_result(rebuilt_env: Path) -> dict[str, object]:
    """returncode, stdout, stderr of the one ``mmfix rebuild`` run by ``rebuilt_env``."""
    return REBUILD_RESULT

TORCH_CUDA = "torch==2.14.1"


@pytest.fixture(scope="session")
def cuda_env() -> Path:
    """A venv with torch 2.14.1+cu130 (5.5 GB, from this machine's disk), the ops-less mmcv 2.2.0
    and PyPI's cuobjdump (nvidia-cuda-cuobjdump); cached, topped up when incomplete."""
    venv = CACHE / "venv-cuda-py311"
    with FileLock(str(CACHE / "venv-cuda-py311.lock")):
        py = _python_of(venv)
        probe = "import importlib.metadata as m; assert m.version('torch').startswith('2.14.1'); m.version('mmcv')"
        if not py.exists() or subprocess.run([str(py), "-c", probe], capture_output=True).returncode:
            make_opsless_venv(venv, TORCH_CUDA, fresh=False)
        _run([str(py), "-m", "pip", "install", "-q", "nvidia-cuda-cuobjdump"])
    return py
