"""Benchmark: `mmfix explain` on a generated 100 MB build log next to `grep -E -c 'error|fatal'`.

Target (issue 5): explain <= 1.5 x grep on the same file, memory flat in file size. Prints:
- wall time of grep and of the full CLI (`python -m mmfix explain [--json]`), run alternately
  (the machine's speed drifts), as minimum and median, with the ratio of the minimums and the
  median of the per-round ratios;
- the library call alone (`explain_file` in a child that has imported it), with and without
  the grep prefilter;
- peak RSS (``resource.getrusage(RUSAGE_CHILDREN)``) of the CLI on 10 MB and 100 MB.
Run with `nox -s bench` (or `pytest tests/bench/test_bench_explain.py -s`).
"""

from __future__ import annotations

import json
import os
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
    for size in (10 * MB, 100 * MB):
        path = root / f"build-{size // MB}mb.log"
        generate(path, size)
        out[size] = path
    return out


def best(argv: list[str], runs: int = 3, env: dict[str, str] | None = None) -> tuple[float, str]:
    times, out = [], ""
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, env=env, check=False)
        times.append(time.perf_counter() - t0)
        out = proc.stdout.decode()
    return min(times), out


def timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
    return time.perf_counter() - t0


def child_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO / "src"), **extra}


ROUNDS = 15  # grep and explain alternate, so both meet the same machine state


@pytest.mark.bench
@pytest.mark.skipif(shutil.which("grep") is None, reason="needs grep as the baseline")
def test_explain_vs_grep(logs: dict[int, Path]) -> None:
    log = logs[100 * MB]
    _, count = best(["grep", "-E", "-c", "error|fatal", str(log)], runs=1)
    _, out = best([sys.executable, "-m", "mmfix", "explain", "--json", str(log)], runs=1, env=child_env())
    assert [m["id"] for m in json.loads(out)["matches"]] == ["cuda-headers-missing"]
    grep = ["grep", "-E", "-c", "error|fatal", str(log)]
    commands = {
        "mmfix explain --json (CLI)": [sys.executable, "-m", "mmfix", "explain", "--json", str(log)],
        "mmfix explain (CLI, text)": [sys.executable, "-m", "mmfix", "explain", str(log)],
    }
    rows: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in commands}
    grep_all: list[float] = []
    for _ in range(ROUNDS):
        for name, argv in commands.items():
            g = timed(grep)
            e = timed(argv, env=child_env())
            rows[name][0].append(e)
            rows[name][1].append(e / g)
            grep_all.append(g)
    lib = [
        float(best([sys.executable, "-c", LIBRARY, str(log)], env=child_env(**extra))[1].split()[0])
        for extra in ({}, {"MMFIX_NO_GREP": "1"})
    ]
    startup_s, _ = best([sys.executable, "-m", "mmfix", "--version"], env=child_env())
    python_s, _ = best([sys.executable, "-c", "pass"])
    size = log.stat().st_size / MB
    g_min, g_med = min(grep_all), statistics.median(grep_all)
    lines = [
        f"\nBENCH explain {size:.0f} MB log (grep count {count.strip()}), {ROUNDS} alternating rounds, "
        f"{os.cpu_count()} CPUs:",
        f"  grep -E -c 'error|fatal'          min {g_min:6.3f} s  median {g_med:6.3f} s",
    ]
    for name, (times, ratios) in rows.items():
        lines.append(
            f"  {name:32s} min {min(times):6.3f} s  median {statistics.median(times):6.3f} s  "
            f"ratio: of mins {min(times) / g_min:4.2f}, median of pairs {statistics.median(ratios):4.2f} "
            "(target <= 1.5)"
        )
    lines += [
        f"  explain_file, grep prefilter      {lib[0]:6.3f} s  ratio {lib[0] / g_min:5.2f} (in-process)",
        f"  explain_file, Python prefilter    {lib[1]:6.3f} s  ratio {lib[1] / g_min:5.2f} (in-process)",
        f"  python -c pass                    {python_s:6.3f} s;  mmfix --version (typer) {startup_s:6.3f} s",
    ]
    print("\n".join(lines))
    assert g_min > 0 and all(min(t) > 0 for t, _ in rows.values())


@pytest.mark.bench
def test_explain_memory_is_flat(logs: dict[int, Path]) -> None:
    rows = []
    for no_grep in ("", "1"):
        for size, log in sorted(logs.items()):
            argv = [sys.executable, "-c", RSS_CHILD, sys.executable, "-m", "mmfix", "explain", "--json", str(log)]
            env = child_env(MMFIX_NO_GREP=no_grep) if no_grep else child_env()
            rss_kb = int(subprocess.run(argv, capture_output=True, env=env, check=True).stdout)
            rows.append((size, "python" if no_grep else "grep", rss_kb / 1024))
    print("\nBENCH explain peak RSS (MiB):")
    for size, mode, mib in rows:
        print(f"  {size // MB:4d} MB log, {mode:6s} prefilter: {mib:6.1f} MiB")
    by_mode: dict[str, list[float]] = {}
    for _, mode, mib in rows:
        by_mode.setdefault(mode, []).append(mib)
    for mode, (small, big) in by_mode.items():
        print(f"  {mode}: 100 MB / 10 MB = {big / small:.2f}")
    assert statistics.mean(m for _, _, m in rows) > 0
