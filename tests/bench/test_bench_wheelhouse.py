"""Wheelhouse benchmark (nox -s bench): the time from ``mmfix doctor --fix --yes`` to a green
``mmfix doctor`` in a second venv of the same combination, next to the first venv's, in one run.

Both venvs: Python 3.11, torch 2.13.0 CPU, the ops-less mmcv 2.2.0 (``pip install mmcv==2.2.0``).
The first repair compiles mmcv (ccache off: a cold build, as a new user's) and keeps the verified
wheel in an empty wheelhouse (a fresh ``MMFIX_CACHE_DIR``); the second installs it from there.
Target: second / first <= 0.05. Cost: one cold CPU build (~15 min on 2 idle cores) plus ~1 min.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("mmfix_e2e_envs", Path(__file__).resolve().parents[1] / "e2e" / "conftest.py")
assert _spec and _spec.loader
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)

TARGET = 0.05


def _repair(python: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """Seconds for ``doctor --fix --yes`` and until a green ``doctor``; the fix run's stderr."""
    mmfix = [sys.executable, "-m", "mmfix", "--no-color"]
    t0 = time.monotonic()
    fix = subprocess.run([*mmfix, "doctor", "--fix", "--yes", "--python", str(python)], capture_output=True, text=True,
                         env=env, timeout=4 * 3600)
    fixed = time.monotonic() - t0
    assert fix.returncode == 0, fix.stdout[-3000:] + fix.stderr[-3000:]
    doctor = subprocess.run([*mmfix, "doctor", "--python", str(python)], capture_output=True, text=True, env=env,
                            timeout=600)
    green = time.monotonic() - t0
    assert doctor.returncode == 0, doctor.stdout[-3000:]
    return fixed, green, fix.stderr


@pytest.fixture(scope="module")
def two_venvs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[float, float, str]]:
    first = _e2e.make_opsless_venv(_e2e.CACHE / "venv-bench-wheelhouse-a")
    second = _e2e.make_opsless_venv(_e2e.CACHE / "venv-bench-wheelhouse-b")
    env = dict(os.environ, MMFIX_CACHE_DIR=str(tmp_path_factory.mktemp("mmfix-cache")), CCACHE_DISABLE="1")
    env.pop("MMFIX_WHEELHOUSE", None)
    return {"first": _repair(first, env), "second": _repair(second, env)}


def test_second_venv_from_the_wheelhouse(two_venvs: dict[str, tuple[float, float, str]]) -> None:
    (fix1, green1, err1), (fix2, green2, err2) = two_venvs["first"], two_venvs["second"]
    assert "kept in the wheelhouse:" in err1
    assert "from the wheelhouse instead of building" in err2
    ratio = green2 / green1
    print(f"\nfirst venv (compiles): doctor --fix {fix1:.0f} s, green doctor after {green1:.0f} s"
          f"\nsecond venv (wheelhouse): doctor --fix {fix2:.1f} s, green doctor after {green2:.1f} s"
          f"\nsecond / first = {ratio:.3f} (target <= {TARGET})")
    assert ratio <= TARGET
