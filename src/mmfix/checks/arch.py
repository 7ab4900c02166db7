"""Catalog family B, config part: the arch list and nvcc arguments a build would use
(shared/CATALOG.md section B: ``arch-list-invalid``, ``nvcc-arch-unsupported``,
``cuda-args-override-arch``, ``threads-per-block``). Uses the rebuild's arch parser
(mmfix.builder.arch) so doctor and rebuild agree on what torch accepts.
"""

from __future__ import annotations

from mmfix.builder import arch as archmod
from mmfix.builder.plan import torch_cuda
from mmfix.checks.base import Check, CheckContext, Outcome, check, ok, skip, warn
from mmfix.checks.facts import build_problem, rebuild
from mmfix.errors import MmfixError
from mmfix.knowledge import cuda as kcuda
from mmfix.knowledge.torch_arch import UNSET_NEEDS_GPU_SINCE, supported_arches
from mmfix.model import Environment
from mmfix.plan.actions import Manual

CHECKS: list[Check] = []


def _torch_version(env: Environment) -> str | None:
    return env.torch.version if env.torch else None


def _requested(env: Environment) -> tuple[tuple[archmod.Arch, ...] | None, str]:
    """The arches a build would target: TORCH_CUDA_ARCH_LIST, else the visible GPUs."""
    text = env.host.env.get("TORCH_CUDA_ARCH_LIST")
    tv = _torch_version(env)
    if text:
        return archmod.parse_arch_list(text, tv), "TORCH_CUDA_ARCH_LIST"
    ccs = [g.compute_capability for g in env.host.gpus if g.compute_capability]
    if ccs:
        return archmod.parse_arch_list(";".join(sorted(set(ccs))), tv, known_only=False), "the visible GPUs"
    return None, "-"


@check(CHECKS, "arch-list-invalid", "B", "TORCH_CUDA_ARCH_LIST is one torch accepts",
       "TORCH_CUDA_ARCH_LIST is one torch rejects")
def arch_list_invalid(ctx: CheckContext) -> Outcome:
    env = ctx.env
    tv = _torch_version(env)
    if env.torch is None or not torch_cuda(env.torch):
        return skip("no CUDA build of torch in the target env: the arch list is not used")
    text = env.host.env.get("TORCH_CUDA_ARCH_LIST")
    if text is None or not text.strip():
        if env.host.gpus:
            return ok("TORCH_CUDA_ARCH_LIST is unset: torch builds for the visible GPUs")
        if archmod_version_ge(tv, UNSET_NEEDS_GPU_SINCE):
            portable = kcuda.portable_archs(torch_cuda(env.torch) or "") or "8.6"
            return build_problem(ctx.env,
                f"TORCH_CUDA_ARCH_LIST is unset and no GPU is visible: torch {tv} then fails with "
                "IndexError in _get_cuda_arch_flags",
                action=rebuild(ctx.env, f"picks the portable list {portable}"),
                headline="TORCH_CUDA_ARCH_LIST is unset and no GPU is visible: torch cannot pick an arch",
            )
        return ok(f"TORCH_CUDA_ARCH_LIST is unset; torch {tv} builds for the current GPU")
    try:
        archs = archmod.parse_arch_list(text, tv)
    except MmfixError as exc:
        return build_problem(ctx.env, f"TORCH_CUDA_ARCH_LIST='{text}': {exc.one_line()}",
                             action=Manual("export TORCH_CUDA_ARCH_LIST='8.6' (one of: " + archmod.ACCEPTED_FORMS + ")"))
    norm = archmod.to_torch_list(archs)
    unknown = [str(a) for a in archs if a.cc not in supported_arches(tv)]
    if unknown:
        return build_problem(ctx.env,
            f"TORCH_CUDA_ARCH_LIST='{text}' names {', '.join(unknown)}, unknown to torch {tv}",
            f"torch {tv} accepts {', '.join(supported_arches(tv))}",
            action=rebuild(ctx.env, arch=archmod.to_torch_list(a for a in archs if a.cc in supported_arches(tv)) or "8.6"),
            arch_list=norm,
        )
    if archmod.has_separator_problem(text):
        return build_problem(ctx.env,
            f"TORCH_CUDA_ARCH_LIST='{text}' uses ',' or an empty entry; torch splits on ';' and spaces only",
            action=rebuild(ctx.env, arch=norm),
            arch_list=norm,
        )
    return ok(f"TORCH_CUDA_ARCH_LIST='{text}' (= {norm})", arch_list=norm)


def archmod_version_ge(version: str | None, floor: str) -> bool:
    """``version`` >= ``floor`` (unknown version: True, the newer behaviour)."""
    from packaging.version import InvalidVersion, Version

    if not version:
        return True
    try:
        return Version(Version(version.split("+")[0]).base_version) >= Version(floor)
    except InvalidVersion:
        return True


@check(CHECKS, "nvcc-arch-unsupported", "B", "the installed nvcc can target the requested GPU archs",
       "the installed nvcc cannot target a requested GPU arch")
def nvcc_arch_unsupported(ctx: CheckContext) -> Outcome:
    env = ctx.env
    nvcc = env.host.nvcc
    if nvcc is None or not nvcc.version:
        return skip("no nvcc found")
    try:
        archs, source = _requested(env)
    except MmfixError:
        return skip("TORCH_CUDA_ARCH_LIST is malformed (see arch-list-invalid)")
    if not archs:
        return skip("no arch requested (TORCH_CUDA_ARCH_LIST unset) and no GPU visible")
    sms = archmod.sms_from_gpu_archs(nvcc.gpu_archs) or kcuda.nvcc_archs(nvcc.version)
    if not sms:
        return skip(f"nvcc {nvcc.version}: its arch range is not known")
    bad = [a for a in archs if a.sm not in sms]
    if not bad:
        return ok(f"nvcc {nvcc.version} targets sm_{min(sms)}-sm_{max(sms)}; requested ({source}): "
                  f"{archmod.to_torch_list(archs)}")
    evidence = [f"nvcc {nvcc.version} targets sm_{min(sms)}-sm_{max(sms)}; requested ({source}): {archmod.to_torch_list(archs)}"]
    for a in bad:
        kits = kcuda.toolkits_for_sm(a.sm)
        evidence.append(f"sm_{a.sm}: " + (f"CUDA {kits[0]}-{kits[-1]} can target it" if kits else "no known CUDA release targets it"))
    in_range = [a for a in archs if a.sm in sms]
    keep = archmod.to_torch_list(in_range) if in_range else f"{max(sms) // 10}.{max(sms) % 10}+PTX"
    return build_problem(ctx.env, *evidence,
                         action=rebuild(ctx.env, "or install a toolkit that supports the others", arch=keep),
                         bad=[f"sm_{a.sm}" for a in bad])


@check(CHECKS, "cuda-args-override-arch", "B", "MMCV_CUDA_ARGS leaves the arch list to TORCH_CUDA_ARCH_LIST",
       "MMCV_CUDA_ARGS overrides TORCH_CUDA_ARCH_LIST with its own arch flags")
def cuda_args_override_arch(ctx: CheckContext) -> Outcome:
    args = ctx.env.host.env.get("MMCV_CUDA_ARGS")
    if not args:
        return ok("MMCV_CUDA_ARGS is unset")
    rest, removed = archmod.strip_arch_flags(args)
    if not removed:
        return ok(f"MMCV_CUDA_ARGS='{args}' has no arch flags")
    return warn(
        f"MMCV_CUDA_ARGS='{args}' contains {' '.join(removed)}: torch then ignores TORCH_CUDA_ARCH_LIST "
        "and builds kernels only for those archs",
        action=rebuild(ctx.env, "drops the arch flags from MMCV_CUDA_ARGS for its build; by hand: "
                       + (f"export MMCV_CUDA_ARGS='{rest}'" if rest else "unset MMCV_CUDA_ARGS")),
        removed=removed,
    )


@check(CHECKS, "threads-per-block", "B", "CUDA launch configuration (THREADS_PER_BLOCK)",
       "CUDA launch configuration (THREADS_PER_BLOCK) too large for this GPU")
def threads_per_block(ctx: CheckContext) -> Outcome:
    return skip("seen only at run time: use mmfix explain on the traceback")
