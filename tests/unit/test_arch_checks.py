"""Family B config checks on Environment values built here."""

from __future__ import annotations

import pytest

from mmfix.checks import arch
from mmfix.checks.base import CheckContext
from mmfix.model import Environment, Gpu, Host, Nvcc, Status, TargetPython, TorchInfo
from mmfix.plan.actions import Rebuild

BY_ID = {c.id: c for c in arch.CHECKS}


def _env(env=None, gpus=(), torch="2.14.1+cu130", cuda="13.0", nvcc="13.0") -> Environment:
    return Environment(
        TargetPython("/p", "3.11.7"),
        Host("Linux", env=env or {}, gpus=tuple(gpus),
             nvcc=Nvcc("/usr/local/bin/nvcc", None, nvcc) if nvcc else None),
        torch=TorchInfo(torch, "/sp/torch", cuda=cuda) if torch else None,
    )


def _run(check_id: str, env: Environment):
    return BY_ID[check_id].run(CheckContext(env))


@pytest.mark.parametrize(
    ("value", "status", "fix_has"),
    [
        ("8.6;9.0", Status.OK, None),
        ("8.6, 9.0", Status.FAIL, "--arch '8.6;9.0'"),
        ("8.6;", Status.FAIL, "8.6"),
        ("3.0", Status.FAIL, None),
        ("Blackwell", Status.OK, None),
        ("foo", Status.FAIL, "TORCH_CUDA_ARCH_LIST"),
    ],
)
def test_arch_list_invalid(value, status, fix_has):
    f = _run("arch-list-invalid", _env({"TORCH_CUDA_ARCH_LIST": value}))
    assert f.status == status, f.evidence
    if fix_has:
        assert fix_has in (f.fix or "")


def test_unset_without_gpu_fails_on_new_torch_only():
    assert _run("arch-list-invalid", _env()).status == Status.FAIL
    assert _run("arch-list-invalid", _env(gpus=[Gpu(0, "L4", "8.9")])).status == Status.OK
    assert _run("arch-list-invalid", _env(torch="1.7.1+cu110", cuda="11.0")).status == Status.OK
    assert _run("arch-list-invalid", _env(torch="2.13.0+cpu", cuda=None)).status == Status.SKIP


def test_name_unknown_to_old_torch():
    f = _run("arch-list-invalid", _env({"TORCH_CUDA_ARCH_LIST": "8.0;9.0"}, torch="1.13.1+cu117", cuda="11.7"))
    assert f.status == Status.FAIL and "9.0" in f.evidence[0]
    assert f.action == Rebuild(arch="8.0") and f.fix == f.action.command("/p")


def test_nvcc_arch_unsupported():
    f = _run("nvcc-arch-unsupported", _env({"TORCH_CUDA_ARCH_LIST": "3.7;8.6"}))
    assert f.status == Status.FAIL and any("CUDA 9.0-11.8" in e for e in f.evidence)
    assert isinstance(f.action, Rebuild) and f.action.arch == "8.6"
    assert (f.fix or "").startswith("mmfix rebuild --python /p --arch 8.6")
    assert _run("nvcc-arch-unsupported", _env(gpus=[Gpu(0, "H200", "9.0")])).status == Status.OK
    assert _run("nvcc-arch-unsupported", _env(nvcc=None)).status == Status.SKIP
    assert _run("nvcc-arch-unsupported", _env()).status == Status.SKIP


def test_cuda_args_override_arch():
    f = _run("cuda-args-override-arch", _env({"MMCV_CUDA_ARGS": "-gencode=arch=compute_80,code=sm_80 -O3"}))
    assert f.status == Status.WARN and "'-O3'" in (f.fix or "")
    assert _run("cuda-args-override-arch", _env({"MMCV_CUDA_ARGS": "-O3"})).status == Status.OK


def test_threads_per_block_is_runtime_only():
    f = _run("threads-per-block", _env())
    assert f.status == Status.SKIP and f.evidence == ("seen only at run time: use mmfix explain on the traceback",)
