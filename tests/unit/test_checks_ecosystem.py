"""Doctor checks of what mmcv's neighbours changed: torch without kernels for the GPU, torch >= 2.6
weights_only loads, mmcv 2.0's removed 1.x modules, yapf 0.40.2's FormatCode(verify)."""

from __future__ import annotations

import dataclasses

import pytest
from envfactory import make_env, mmcv, torch, with_host, with_target

from mmfix.checks import run_checks
from mmfix.checks.base import CheckContext
from mmfix.model import Downstream, Environment, Finding, Gpu, Status
from mmfix.plan.actions import EnvChange, Manual


def finding(env: Environment, check_id: str) -> Finding:
    return run_checks(CheckContext(env), [check_id])[0]


def gpu(cc: str, name: str = "NVIDIA GeForce RTX 5090") -> Gpu:
    return Gpu(index=0, name=name, compute_capability=cc)


TORCH_CU124 = ("sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90")


@pytest.mark.parametrize(
    ("cc", "archs", "status"),
    [("12.0", TORCH_CU124, Status.FAIL),  # RTX 5090 under a cu124 torch
     ("12.0", (*TORCH_CU124, "sm_100", "sm_120"), Status.OK),
     ("8.9", TORCH_CU124, Status.OK),  # sm_86 SASS runs on 8.9
     ("9.0", ("sm_50", "sm_80", "compute_80"), Status.OK),  # PTX of a lower arch JIT-compiles
     ("3.5", ("sm_50", "sm_60"), Status.FAIL)],  # a GPU too old for this torch
)  # fmt: skip
def test_torch_gpu_unsupported(cc: str, archs: tuple[str, ...], status: Status) -> None:
    env = with_host(make_env(torch=torch("2.6.0+cu124", "12.4", arch_list=archs)), gpus=(gpu(cc),))
    f = finding(env, "torch-gpu-unsupported")
    assert f.status is status
    if status is Status.FAIL:
        assert isinstance(f.action, Manual) and f"sm_{cc.replace('.', '')}" in (f.fix or "")
        assert f.facts["gpus_without_kernels"] == [cc]


def test_torch_gpu_unsupported_skips_without_the_facts_it_needs() -> None:
    base = with_host(make_env(torch=torch("2.6.0+cu124", "12.4")), gpus=(gpu("12.0"),))
    assert finding(base, "torch-gpu-unsupported").status is Status.SKIP  # arch list not read
    cpu = with_host(make_env(torch=torch()), gpus=(gpu("12.0"),))
    assert finding(cpu, "torch-gpu-unsupported").status is Status.SKIP
    no_gpu = make_env(torch=torch("2.6.0+cu124", "12.4", arch_list=TORCH_CU124))
    assert finding(no_gpu, "torch-gpu-unsupported").status is Status.SKIP


@pytest.mark.parametrize(
    ("torch_v", "mmengine", "mmcv_dist", "status"),
    [("2.6.0+cu124", "0.10.7", ("mmcv", "2.2.0"), Status.WARN),
     ("2.5.1+cu124", "0.10.7", ("mmcv", "2.2.0"), Status.OK),
     ("2.7.1+cu128", None, ("mmcv-full", "1.7.2"), Status.WARN),  # mmcv 1.x's runner/checkpoint.py
     ("2.7.1+cu128", "0.10.8", ("mmcv", "2.2.0"), Status.SKIP)],  # a newer mmengine is not judged
)  # fmt: skip
def test_torch_load_weights_only(torch_v: str, mmengine: str | None, mmcv_dist: tuple[str, str], status: Status) -> None:
    ds = (Downstream("mmengine", mmengine),) if mmengine else ()
    env = make_env(torch=torch(torch_v, "12.4"), mmcv=(mmcv(*mmcv_dist, ext=True),), downstream=ds)
    f = finding(env, "torch-load-weights-only")
    assert f.status is status
    if status is Status.WARN:
        assert isinstance(f.action, Manual) and "safe_globals" in (f.fix or "")


def test_mmcv2_removed_1x_api() -> None:
    mmdet = Downstream("mmdet", "2.28.2", mmcv1x_import="mmdet/apis/train.py:7: from mmcv.runner import init_dist")
    env = make_env(mmcv=(mmcv("mmcv", "2.1.0", ext=True),), downstream=(mmdet, Downstream("mmengine", "0.10.7")))
    f = finding(env, "mmcv2-removed-1x-api")
    assert f.status is Status.FAIL and isinstance(f.action, Manual)
    assert any("mmdet/apis/train.py:7" in line for line in f.evidence) and f.facts["packages"] == ["mmdet"]
    clean = dataclasses.replace(env, downstream=(dataclasses.replace(mmdet, version="3.3.0", mmcv1x_import=None),))
    assert finding(clean, "mmcv2-removed-1x-api").status is Status.OK
    old = dataclasses.replace(env, mmcv=(mmcv("mmcv-full", "1.7.2", ext=True),))
    assert finding(old, "mmcv2-removed-1x-api").status is Status.SKIP


@pytest.mark.parametrize(
    ("yapf", "mmengine", "mmcv_dist", "status"),
    [("0.40.2", "0.8.4", ("mmcv", "2.0.1"), Status.FAIL),
     ("0.40.2", "0.8.5", ("mmcv", "2.0.1"), Status.OK),
     ("0.43.0", None, ("mmcv-full", "1.7.2"), Status.FAIL),
     ("0.40.1", "0.8.4", ("mmcv", "2.0.1"), Status.OK)],
)  # fmt: skip
def test_yapf_formatcode_verify(yapf: str, mmengine: str | None, mmcv_dist: tuple[str, str], status: Status) -> None:
    ds = (Downstream("mmengine", mmengine),) if mmengine else ()
    env = with_target(make_env(mmcv=(mmcv(*mmcv_dist),), downstream=ds), packages={"yapf": yapf})
    f = finding(env, "yapf-formatcode-verify")
    assert f.status is status
    if status is Status.FAIL:
        assert f.action == EnvChange(("yapf==0.40.1",)) and "yapf==0.40.1" in (f.fix or "")
