"""Choosing by record: does a wheelhouse wheel's build record fit the target env?

A wheel fits only when it was built against the same torch release and build (CPU, CUDA
major.minor, ROCm), with the same C++11 ABI, on a glibc no newer than the target's, with the ops the
target needs, and with kernels for every visible GPU (SASS that runs on its compute capability, or PTX
at or below it, knowledge.runtime) or, with no GPU visible, SASS for every arch of the requested list
(and PTX at or below each ``+PTX`` entry).
Tags (Python, platform) are matched on the file name by ``choose.classify_links``, as for the
official index.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from packaging.version import InvalidVersion, Version

from mmfix.builder import arch as archmod
from mmfix.builder.plan import torch_cuda
from mmfix.errors import OperationFailed, UsageError
from mmfix.knowledge.runtime import coverage, ptx_jits_on, sass_runs_on
from mmfix.model import Environment
from mmfix.wheels.records import WheelRecord
from mmfix.wheels.tags import torch_build, torch_cxx11_abi, torch_release


@dataclass(frozen=True)
class Need:
    """What a wheelhouse wheel must have been built for, from the probed env and the request."""

    torch_version: str  # "2.13.0+cpu"
    torch_build: str  # "cpu", "cu130", "rocm6.2"
    cuda: str | None  # "13.0"
    cxx11_abi: bool | None
    glibc: str | None
    ops: str  # "cpu" or "cuda"
    gpus: tuple[str, ...] = ()  # compute capabilities to cover ("8.6"); empty: use ``archs``
    archs: tuple[str, ...] = ()  # requested entries ("8.6", "9.0+PTX") when no GPU decides
    arch_source: str = ""  # where gpus/archs came from
    release_source: bool = True  # only wheels built from the release sdist, no THREADS_PER_BLOCK patch

    @property
    def combo(self) -> str:
        return f"{self.torch_build}/torch{torch_release(self.torch_version)}"

    def describe(self) -> str:
        """"torch 2.13.0+cpu (cpu), CPU ops" / "... CUDA ops for the visible GPUs (8.6)"."""
        text = f"torch {self.torch_version} ({self.torch_build}), {self.ops.upper()} ops"
        if self.gpus:
            text += f" for {self.arch_source} ({', '.join(self.gpus)})"
        elif self.archs:
            text += f" for {';'.join(self.archs)} ({self.arch_source})"
        return text


def need_for(env: Environment, arch: str | None = None, cpu: bool = False, release_source: bool = True) -> Need:
    """The ``Need`` of ``env`` for ``mmfix rebuild [--arch LIST] [--cpu]``: CUDA ops when torch was
    built with CUDA and ``--cpu`` is not given. Kernels: ``--arch`` when given (building for other
    machines), else the visible GPUs, else ``TORCH_CUDA_ARCH_LIST``, else the portable list for torch's
    CUDA release (``builder.arch.default_archs``, as the build would use).

    Raises OperationFailed when ``env`` has no torch, UsageError for a malformed ``arch``.
    """
    torch = env.torch
    if torch is None:
        raise OperationFailed("no torch in the target environment", "a wheelhouse wheel is chosen by its torch",
                              f"install torch into {env.target.executable} first")
    t_cuda = torch_cuda(torch)
    base = Need(torch.version, torch_build(torch), t_cuda, torch_cxx11_abi(torch), env.host.glibc,
                "cuda" if t_cuda and not cpu else "cpu", release_source=release_source)
    if base.ops == "cpu":
        return base
    gpus = tuple(sorted({g.compute_capability for g in env.host.gpus if g.compute_capability}))
    env_list = env.host.env.get("TORCH_CUDA_ARCH_LIST")
    if arch is not None:
        archs, source = archmod.parse_arch_list(arch, torch.version), "--arch"
    elif gpus:
        return replace(base, gpus=gpus, arch_source="the visible GPUs")
    elif env_list:
        archs, source = archmod.parse_arch_list(env_list, torch.version), "TORCH_CUDA_ARCH_LIST"
    else:
        nvcc = env.host.nvcc
        sms = archmod.sms_from_gpu_archs(nvcc.gpu_archs) if nvcc else ()
        try:
            archs, _how = archmod.default_archs([], t_cuda, sms or None, torch.version)
        except UsageError:
            return replace(base, arch_source=f"no GPU and no portable list for CUDA {t_cuda}")
        source = f"the portable list for CUDA {t_cuda}"
    return replace(base, archs=tuple(str(a) for a in archs), arch_source=source)


def _newer(a: str | None, b: str | None) -> bool:
    try:
        return bool(a and b and Version(a) > Version(b))
    except InvalidVersion:
        return False


def _kernels(record: WheelRecord) -> str:
    return f"SASS {' '.join(record.build.sass) or 'none'}, PTX {' '.join(record.build.ptx) or 'none'}"


def mismatch(record: WheelRecord, need: Need) -> str | None:
    """Why ``record`` does not fit ``need``, in one phrase; None when it fits."""
    t, b = record.torch, record.build
    mine = f"torch {torch_release(t.version)} ({t.build})"
    here = f"torch {torch_release(need.torch_version)} ({need.torch_build})"
    if mine != here:
        return f"built for {mine}, this env has {here}"
    if (t.cuda or "").split(".")[:2] != (need.cuda or "").split(".")[:2]:
        return f"built with CUDA {t.cuda or 'none'}, torch here uses CUDA {need.cuda or 'none'}"
    if t.cxx11_abi != need.cxx11_abi:
        return f"built with _GLIBCXX_USE_CXX11_ABI={_abi(t.cxx11_abi)}, torch here uses {_abi(need.cxx11_abi)}"
    if _newer(record.target.glibc, need.glibc):
        return f"built on glibc {record.target.glibc}, newer than this machine's {need.glibc}"
    if b.ops != need.ops:
        return f"holds {b.ops.upper()} ops, this env needs {need.ops.upper()} ops"
    if need.release_source:
        if not record.mmcv.origin.startswith("sdist "):
            return f"built from {record.mmcv.origin}, not the release sdist"
        if any(p.startswith("threads-per-block") for p in record.mmcv.patches):
            return "built with a patched THREADS_PER_BLOCK"
    if need.ops == "cuda":
        return _kernel_gap(record, need)
    return None


def _abi(flag: bool | None) -> str:
    return {True: "1", False: "0", None: "unknown"}[flag]


def _kernel_gap(record: WheelRecord, need: Need) -> str | None:
    sass, ptx = record.build.sass, record.build.ptx
    for cc in need.gpus:
        if coverage(cc, sass, ptx)[0] == "none":
            return f"no kernels for the GPU of compute capability {cc} ({_kernels(record)})"
    for entry in need.archs:
        cc = entry.split("+")[0]
        if not any(sass_runs_on(s, cc) for s in sass):  # asked for by name: SASS, not only a JIT
            return f"no SASS for the requested arch {cc} ({_kernels(record)})"
        if entry.endswith("+PTX") and not any(ptx_jits_on(p, cc) for p in ptx):
            return f"no PTX at or below {cc} for the requested {entry} ({_kernels(record)})"
    return None


def why_it_fits(record: WheelRecord, need: Need) -> str:
    """The facts that made ``record`` fit, in one line (what ``rebuild`` and ``wheels`` print)."""
    t, b, v = record.torch, record.build, record.verified
    parts = [f"torch {t.version} ({t.build})", f"C++11 ABI {_abi(t.cxx11_abi)}",
             f"{record.target.python_tag} {record.target.system} {record.target.machine}"
             + (f" glibc {record.target.glibc}" if record.target.glibc else "")]
    if b.ops == "cuda":
        covered = [f"{cc}: {coverage(cc, b.sass, b.ptx)[0].upper()}" for cc in need.gpus]
        parts.append(f"{_kernels(record)}" + (f" (GPU {', '.join(covered)})" if covered else ""))
    else:
        parts.append("CPU ops")
    checked = "verified: nms ok on the CPU" if v.cpu_nms else "nms NOT run"
    if v.gpu_nms:
        checked += " and the GPU (" + ", ".join(v.gpus) + ")"
    parts.append(f"built {b.built_at} by mmfix {b.mmfix_version}; {checked}, {v.how}")
    return "; ".join(parts)
