"""Benchmark: `mmfix explain` on generated 10 MB and 100 MB build logs next to `grep -E` on the same
file, in one run.

Budgets (issue 13): 10 MB under 0.5 s; 100 MB under 15 x grep. Two grep baselines are printed:
`grep -E -c` with explain's own key literals (the same search explain does first) and the
classic `grep -E -c 'error|fatal'` (less work). grep and explain run alternately (the machine's
speed drifts; other jobs share it): minimum and median wall time of each, and the ratio of the
minimums. Also: the library call alone (no interpreter start), and peak RSS on both sizes (memory
must stay flat). Run with `nox -s bench` (or `pytest tests/bench/test_bench_explain.py -s`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "tests" / "data" / "explain" / "real-cusparse-missing.log"
MB = 1_000_000
ROUNDS = {10 * MB: 9, 100 * MB: 5}
BUDGET_10MB_S = 0.5
BUDGET_100MB_GREP_RATIO = 15.0

RSS_CHILD = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], capture_output=True); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)
LIBRARY = (
    "import sys, time; from pathlib import Path; from mmfix.explain import explain_file; "
    "t = time.perf_counter(); r = explain_file(Path(sys.argv[1])); "
    "print(time.perf_counter() - t, ','.join(r.ids))"
)


def generate(path: Path, size: int) -> None:
    """A build log of about ``size`` bytes: the compile lines and warnings of a real mmcv 2.2.0
    build (tests/data/explain/real-cusparse-missing.log) repeated with rising step numbers, then
    its real ending: one root error (cusparse.h missing) and the cascade after it."""
    lines = TEMPLATE.read_bytes().splitlines(keepends=True)
    body = [ln for ln in lines[18:430] if b"error" not in ln and b"fatal" not in ln]
    tail = lines[430:]
    written = 0
    step = 0
    with open(path, "wb") as fh:
        while written < size:
            for ln in body:
                if ln.startswith(b"["):
                    step += 1
                    ln = b"[%d/999999]" % step + ln.split(b"]", 1)[1]
                fh.write(ln)
                written += len(ln)
        fh.writelines(tail)


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    root = tmp_path_factory.mktemp("explain-bench")
    out = {}
    for size in ROUNDS:
        out[size] = root / f"build-{size // MB}mb.log"
        generate(out[size], size)
    return out


@pytest.fixture(scope="module")
def keys_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """explain's key literals as a POSIX extended regular expression file (one per line)."""
    from mmfix.explain.engine import KEYS

    path = tmp_path_factory.mktemp("explain-keys") / "keys.ere"
    path.write_text("\n".join(re.sub(r"([.\[\]()*+?{}|^$\\])", r"\\\1", k) for k in KEYS) + "\n")
    return path


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO / "src")}


def timed(argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=child_env(), check=False)
    return time.perf_counter() - t0


@pytest.mark.bench
@pytest.mark.skipif(shutil.which("grep") is None, reason="needs grep as the baseline")
def test_explain_next_to_grep(logs: dict[int, Path], keys_file: Path) -> None:
    report = [f"\nBENCH explain vs grep -E ({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; wall seconds):"]
    for size, log in sorted(logs.items()):
        out = subprocess.run([sys.executable, "-m", "mmfix", "explain", "--json", str(log)],
                             capture_output=True, env=child_env(), check=False).stdout
        assert [m["id"] for m in json.loads(out)["matches"]] == ["cuda-headers-missing"]
        commands = {
            "grep -E -c -f <explain's keys>": ["grep", "-E", "-c", "-f", str(keys_file), str(log)],
            "grep -E -c 'error|fatal'": ["grep", "-E", "-c", "error|fatal", str(log)],
            "mmfix explain --json": [sys.executable, "-m", "mmfix", "explain", "--json", str(log)],
            "mmfix explain (text)": [sys.executable, "-m", "mmfix", "explain", str(log)],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(ROUNDS[size]):
            for name, argv in commands.items():
                times[name].append(timed(argv))
        lib = float(subprocess.run([sys.executable, "-c", LIBRARY, str(log)], capture_output=True, text=True,
                                   env=child_env(), check=True).stdout.split()[0])
        same, classic, cli = (min(times[k]) for k in list(commands)[:3])
        report.append(f"  {size // MB:3d} MB log ({log.stat().st_size / MB:.1f} MB, {ROUNDS[size]} alternating rounds)")
        for name, values in times.items():
            report.append(f"    {name:34s} min {min(values):7.3f}  median {statistics.median(values):7.3f}")
        report.append(f"    explain_file() in-process          {lib:7.3f}")
        report.append(f"    ratio explain --json / grep: {cli / same:5.1f}x (same keys), {cli / classic:5.1f}x ('error|fatal')")
        if size == 10 * MB:
            report.append(f"    budget 10 MB < {BUDGET_10MB_S} s: {'met' if cli < BUDGET_10MB_S else 'MISSED'} ({cli:.3f} s)")
        else:
            ok = cli / same < BUDGET_100MB_GREP_RATIO
            report.append(f"    budget 100 MB < {BUDGET_100MB_GREP_RATIO:.0f}x grep (same keys): {'met' if ok else 'MISSED'}")
    startup = min(timed([sys.executable, "-m", "mmfix", "--version"]) for _ in range(5))
    python = min(timed([sys.executable, "-c", "pass"]) for _ in range(5))
    report.append(f"  python -c pass {python:.3f} s; mmfix --version (typer) {startup:.3f} s")
    print("\n".join(report))


@pytest.mark.bench
def test_explain_memory_is_flat(logs: dict[int, Path]) -> None:
    rows = []
    for size, log in sorted(logs.items()):
        argv = [sys.executable, "-c", RSS_CHILD, sys.executable, "-m", "mmfix", "explain", "--json", str(log)]
        rss_kb = int(subprocess.run(argv, capture_output=True, env=child_env(), check=True).stdout)
        rows.append((size, rss_kb / 1024))
    print("\nBENCH explain peak RSS: " + ", ".join(f"{s // MB} MB log {m:.1f} MiB" for s, m in rows)
          + f"; 100 MB / 10 MB = {rows[1][1] / rows[0][1]:.2f}")
    assert all(m > 0 for _, m in rows)
