"""Checks of what mmcv's neighbours changed under it: torch builds without kernels for the GPU,
torch >= 2.6's ``weights_only`` loads, mmcv 2.0's removed 1.x modules, yapf 0.40.2's ``verify``.

They read ``env.torch`` (its own arch list, probed by importing torch in a subprocess),
``env.host.gpus``, ``env.mmcv``, ``env.downstream`` (mmengine, and each package's first import
of an mmcv 1.x module) and ``env.target.packages`` (yapf). Facts: ``knowledge.ecosystem``,
``knowledge.runtime`` (which SASS/PTX runs on which GPU).
"""

from __future__ import annotations

from mmfix.checks.base import Check, CheckContext, Outcome, check, fail, ok, skip, warn
from mmfix.knowledge import ecosystem as ke
from mmfix.knowledge import runtime as kr
from mmfix.knowledge.versions import parse_version as _v
from mmfix.model import Environment
from mmfix.plan.actions import EnvChange, Manual

CHECKS: list[Check] = []


def _at_least(version: str | None, floor: str) -> bool:
    v, f = _v(version), _v(floor)
    return v is not None and f is not None and v >= f


def _mmcv1(env: Environment) -> list[str]:
    """The installed mmcv distributions of the 1.x line ("mmcv-full 1.7.2")."""
    return [f"{d.name} {d.version}" for d in env.mmcv if not _at_least(d.version, ke.MMCV_CONFIG_REMOVED)]


def _mmengine(env: Environment) -> str | None:
    return next((d.version for d in env.downstream if d.name == "mmengine"), None)


@check(CHECKS, "torch-gpu-unsupported", "B", "the installed torch has kernels for every visible GPU")
def torch_gpu_unsupported(ctx: CheckContext) -> Outcome:
    """Each GPU's compute capability against torch's own arch list (SASS of the same major, or a
    PTX to JIT from): when torch lacks it, no mmcv build can help."""
    env = ctx.env
    gpus = [g for g in env.host.gpus if g.compute_capability]
    if env.torch is None or not env.torch.cuda:
        return skip("no CUDA build of torch installed")
    if not gpus:
        return skip("no GPU with a known compute capability visible (nvidia-smi)")
    archs = env.torch.arch_list
    if not archs:
        return skip(f"torch {env.torch.version} did not say which archs it was built for")
    sass = tuple(a for a in archs if a.startswith("sm_"))
    ptx = tuple(a for a in archs if a.startswith("compute_"))
    missing = [g for g in gpus if kr.coverage(g.compute_capability or "", sass, ptx)[0] == "none"]
    have = f"torch {env.torch.version} was built for {' '.join(archs)}"
    if not missing:
        return ok(have, torch_archs=list(archs))
    lines = [have] + [f"GPU {g.index} {g.name} is compute capability {g.compute_capability}: no torch kernel runs on it"
                      for g in missing]
    cc = missing[0].compute_capability or ""
    sm = "sm_" + cc.replace(".", "")
    return fail(
        *lines,
        action=Manual(f"install a torch build whose torch.cuda.get_arch_list() has {sm} (RTX 50-series sm_120 needs "
                      "a cu128 or newer build), then `mmfix rebuild`; rebuilding mmcv alone cannot help"),
        torch_archs=list(archs),
        gpus_without_kernels=[g.compute_capability for g in missing],
    )


@check(CHECKS, "torch-load-weights-only", "E", "checkpoints load under this torch's weights_only default")
def torch_load_weights_only(ctx: CheckContext) -> Outcome:
    """torch >= 2.6 with an mmengine / mmcv 1.x checkpoint loader that does not pass
    ``weights_only=False``: checkpoints that pickle other objects (a training checkpoint's
    mmengine HistoryBuffer) do not load."""
    env = ctx.env
    if env.torch is None:
        return skip("torch is not installed")
    if not _at_least(env.torch.version, ke.TORCH_WEIGHTS_ONLY_DEFAULT):
        return ok(f"torch {env.torch.version} loads with weights_only=False by default")
    mmengine = _mmengine(env)
    loaders = _mmcv1(env)
    checked = _v(mmengine) is not None and _v(mmengine) <= _v(ke.MMENGINE_LOADER_CHECKED)  # type: ignore[operator]
    if mmengine and checked:
        loaders.append(f"mmengine {mmengine}")
    if not loaders:
        return skip(f"no mmengine <= {ke.MMENGINE_LOADER_CHECKED} or mmcv 1.x checkpoint loader installed")
    return warn(
        f"torch {env.torch.version} loads checkpoints with weights_only=True by default",
        f"{', '.join(loaders)} {'calls' if len(loaders) == 1 else 'call'} torch.load without weights_only=False: a checkpoint that pickles "
        "objects (an mmengine training checkpoint's HistoryBuffer) fails with 'Weights only load failed'",
        action=Manual("for a checkpoint you trust, load it under torch.serialization.safe_globals([...]) or with "
                      f"weights_only=False; or use torch < {ke.TORCH_WEIGHTS_ONLY_DEFAULT}; never for untrusted files"),
    )


@check(CHECKS, "mmcv2-removed-1x-api", "A", "no installed package imports what mmcv 2.0 moved to mmengine")
def mmcv2_removed_1x_api(ctx: CheckContext) -> Outcome:
    """With mmcv >= 2.0 installed: an installed OpenMMLab package whose source imports
    ``mmcv.runner``, ``mmcv.parallel``, ``mmcv.Config`` ... (read by the probe, never imported)."""
    env = ctx.env
    mmcv2 = [d for d in env.mmcv if d.name == "mmcv" and _at_least(d.version, ke.MMCV_CONFIG_REMOVED)]
    if not mmcv2:
        return skip("no mmcv >= 2.0 installed")
    users = [d for d in env.downstream if d.mmcv1x_import]
    if not users:
        return ok(f"mmcv {mmcv2[0].version}; no installed package imports an mmcv 1.x module")
    return fail(
        f"mmcv {mmcv2[0].version} is installed (mmcv.runner, mmcv.parallel, mmcv.Config ... moved to mmengine in 2.0)",
        *[f"{d.name} {d.version} imports one: {d.mmcv1x_import}" for d in users],
        action=Manual(f"{users[0].name} {users[0].version} was written for mmcv 1.x: install the mmcv-full 1.x its "
                      "release asks for (`mmfix doctor --check downstream-version-mismatch`), or a release of it "
                      "built on mmengine"),
        packages=[d.name for d in users],
    )


@check(CHECKS, "yapf-formatcode-verify", "A", "yapf accepts what mmcv / mmengine's Config passes")
def yapf_formatcode_verify(ctx: CheckContext) -> Outcome:
    """yapf >= 0.40.2 (no ``verify`` argument) beside mmcv 1.x or mmengine < 0.8.5, which pass it."""
    env = ctx.env
    yapf = env.target.packages.get("yapf")
    if not yapf:
        return skip("yapf is not installed")
    if not _at_least(yapf, ke.YAPF_WITHOUT_VERIFY):
        return ok(f"yapf {yapf} still accepts FormatCode(verify=...)")
    callers = _mmcv1(env)
    mmengine = _mmengine(env)
    if mmengine and not _at_least(mmengine, ke.MMENGINE_YAPF_GUARD):
        callers.append(f"mmengine {mmengine}")
    if not callers:
        return ok(f"yapf {yapf}; no installed mmcv 1.x or mmengine < {ke.MMENGINE_YAPF_GUARD} passes verify")
    return fail(
        f"yapf {yapf} has no FormatCode(verify=...); {', '.join(callers)} pass it (Config.pretty_text, cfg.dump)",
        action=EnvChange((f"yapf=={ke.YAPF_WITH_VERIFY}",)),
        yapf=yapf,
    )
