"""Small derived facts several checks share (kept here so each rule is written once)."""

from __future__ import annotations

from typing import Any

from mmfix.checks.base import Outcome, fail, warn
from mmfix.model import Environment
from mmfix.plan.actions import Action, Rebuild


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


def rebuild(env: Environment, note: str = "", **params: Any) -> Rebuild:
    """The ``Rebuild`` action for this environment: CPU ops for a CPU torch (``cpu=True``), else the
    rebuild's default arch (the visible GPUs, or the portable list) unless ``arch=`` is given.
    Other ``params`` (``mmcv_version``, ``threads_per_block``, ``source``) pass through."""
    if not torch_is_cuda(env) and not params.get("arch"):
        params.setdefault("cpu", True)
    return Rebuild(note=note, **params)


def build_problem(env: Environment, *evidence: str, action: Action | None, **facts: Any) -> Outcome:
    """A problem that only bites when mmcv is (re)built: a failure when a build is needed now,
    a warning when mmcv already has its ops (the next rebuild would hit it)."""
    if build_needed(env):
        return fail(*evidence, action=action, **facts)
    return warn(*evidence, "(mmcv already has ops: this matters for the next build)", action=action, **facts)
