"""Benchmark: `mmfix doctor` wall time next to `python -m torch.utils.collect_env` on the same env.

Target (issue 2): doctor <= 0.5 x collect_env. Prints the numbers; run with `nox -s bench`.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

CACHE = Path(os.environ.get("MMFIX_TEST_CACHE", Path.home() / ".cache" / "mmfix-tests"))
PY311 = Path.home() / ".pyenv" / "versions" / "3.11.7" / "bin" / "python"


def torch_env() -> Path:
    """A cached venv with torch 2.13.0 CPU (the wheel pip takes from this machine's disk)."""
    venv = CACHE / "bench-torch213"
    python = venv / "bin" / "python"
    if not (venv / ".ready").exists():
        base = str(PY311) if PY311.exists() else sys.executable
        subprocess.run([base, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "torch==2.13.0", "numpy"], check=True)
        (venv / ".ready").write_text("ok")
    return python


def wall(argv: list[str], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


@pytest.mark.bench
def test_doctor_vs_collect_env():
    python = torch_env()
    doctor = wall([sys.executable, "-m", "mmfix", "doctor", "--python", str(python), "--json"])
    collect = wall([str(python), "-m", "torch.utils.collect_env"])
    ratio = doctor / collect
    print(f"\nBENCH doctor {doctor:.2f} s | collect_env {collect:.2f} s | ratio {ratio:.2f} (target <= 0.5)")
    assert doctor > 0 and collect > 0
