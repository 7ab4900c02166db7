"""Build benchmarks (nox -s bench): printed numbers next to their targets.

- cold build core utilisation: (user+sys of the build's processes) / (wall x cores); target >= 0.9.
  Cold = ccache told to recompile everything (CCACHE_RECACHE=1, which also primes the cache).
- warm rebuild with ccache as a fraction of the cold wall time; target <= 0.1.
Both build mmcv 2.2.0 CPU ops in the e2e ops-less venv (nothing is installed). ~11 min + ~1 min on 2 cores.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from mmfix.builder import plan as planmod
from mmfix.builder.runner import find_ccache, prepare_source, run_build
from mmfix.builder.source import from_sdist
from mmfix.probe import probe

_spec = importlib.util.spec_from_file_location("mmfix_e2e_envs", Path(__file__).resolve().parents[1] / "e2e" / "conftest.py")
assert _spec and _spec.loader
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)
ensure_opsless_env = _e2e.ensure_opsless_env

UTILISATION_TARGET = 0.9
WARM_FRACTION_TARGET = 0.1


@pytest.fixture(scope="module")
def cold_and_warm(tmp_path_factory):
    ccache = find_ccache()
    if not ccache:
        pytest.skip("ccache is not installed")
    py = ensure_opsless_env()
    env = probe(str(py))
    plan = planmod.make_plan(env, mmcv_version="2.2.0", cpu=True, ccache=ccache)
    tree = from_sdist("2.2.0")
    logs = tmp_path_factory.mktemp("bench")
    runs = {}
    for label, extra in (("cold", {"CCACHE_RECACHE": "1"}), ("warm", {})):
        src, _ = prepare_source(plan, tree)
        res = run_build(plan, src, logs / f"{label}.log", base_env={**os.environ, **extra})
        assert res.ok, (logs / f"{label}.log").read_text()[-3000:]
        runs[label] = res
    return plan, env, runs


def test_cold_build_core_utilisation(cold_and_warm):
    plan, env, runs = cold_and_warm
    cold = runs["cold"]
    cores = min(env.host.cpu_count, plan.jobs)
    util = cold.cpu_seconds / (cold.seconds * env.host.cpu_count)
    print(f"\ncold build: wall {cold.seconds:.0f} s, cpu {cold.cpu_seconds:.0f} s, {cold.steps_total} steps, "
          f"MAX_JOBS={plan.jobs}, cores={env.host.cpu_count} (jobs on cores: {cores}); "
          f"utilisation {util:.2f} (target >= {UTILISATION_TARGET})")
    assert util >= UTILISATION_TARGET


def test_warm_rebuild_fraction(cold_and_warm):
    _plan, _env, runs = cold_and_warm
    frac = runs["warm"].seconds / runs["cold"].seconds
    print(f"\nwarm rebuild with ccache: {runs['warm'].seconds:.0f} s of cold {runs['cold'].seconds:.0f} s = "
          f"{frac:.3f} (target <= {WARM_FRACTION_TARGET})")
    assert frac <= WARM_FRACTION_TARGET
