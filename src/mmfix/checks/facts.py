"""Small derived facts several checks share (kept here so each rule is written once)."""

from __future__ import annotations

import shlex
from typing import Any

from packaging.version import Version

from mmfix.checks.base import Outcome, fail, warn
from mmfix.model import Environment


def torch_is_cuda(env: Environment) -> bool:
    """True when the target's torch is a CUDA build (torch.version.cuda is set)."""
    return bool(env.torch and env.torch.cuda)


def build_needed(env: Environment) -> bool:
    """True when mmcv must still be built (or installed) to have ops: none installed, or no _ext."""
    active = env.active_mmcv
    return active is None or not active.has_ext


def cuda_in_use(env: Environment) -> str | None:
    """The CUDA release a build would compile with: nvcc's, else torch's."""
    if env.host.nvcc and env.host.nvcc.version:
        return env.host.nvcc.version
    return env.torch.cuda if env.torch else None


def python_flag(env: Environment) -> str:
    return f"--python {shlex.quote(env.target.executable)}"


def rebuild_command(env: Environment, extra: str = "") -> str:
    """The exact ``mmfix rebuild`` command for this environment: --cpu for a CPU torch, the visible
    GPUs' compute capabilities as --arch for a CUDA torch."""
    parts = ["mmfix rebuild", python_flag(env)]
    if not torch_is_cuda(env):
        parts.append("--cpu")
    else:
        ccs = sorted({g.compute_capability for g in env.host.gpus if g.compute_capability}, key=Version)
        if ccs:
            parts.append(f"--arch {shlex.quote(';'.join(ccs))}")
    active = env.active_mmcv
    if active is not None:
        parts.append(f"--mmcv-version {active.version}")
    if extra:
        parts.append(extra)
    return " ".join(parts)


def pip_command(env: Environment, args: str) -> str:
    """``<target python> -m pip <args>``: pip of the target environment, never another one."""
    return f"{shlex.quote(env.target.executable)} -m pip {args}"


def build_problem(env: Environment, *evidence: str, fix: str, auto_fix: str | None = "rebuild", **facts: Any) -> Outcome:
    """A problem that only bites when mmcv is (re)built: a failure when a build is needed now,
    a warning when mmcv already has its ops (the next rebuild would hit it)."""
    if build_needed(env):
        return fail(*evidence, fix=fix, auto_fix=auto_fix, **facts)
    return warn(*evidence, "(mmcv already has ops: this matters for the next build)", fix=fix, auto_fix=auto_fix, **facts)
