"""The build plan: a pure function of the probed ``Environment`` and the user's options.

It decides CPU or CUDA ops, the arch list, the build variables (``MMCV_WITH_OPS``, ``FORCE_CUDA``,
``TORCH_CUDA_ARCH_LIST``, ``MAX_JOBS``, ``CUDA_HOME``, ``CPATH``, ``MMCV_CUDA_ARGS`` ...), the
versioned source patches the patch engine should apply to the build copy, the unavoidable changes
to the target env (asked for), and blockers: toolchain problems that stop the plan before compiling
(catalog ids ``cuda-home-missing``, ``cuda-version-mismatch``, ``gcc-unsupported`` ...), each with
its fix. ``--dry-run`` prints it; nothing here touches the disk except reading toolkit folders.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from packaging.version import InvalidVersion, Version

from mmfix.builder import arch as archmod
from mmfix.builder.toolkit import missing_math_headers, nvidia_wheel_dirs, resolve_toolkit_root
from mmfix.errors import MmfixError, RefusedError
from mmfix.knowledge import cuda as kcuda
from mmfix.knowledge.buildtools import SETUPTOOLS_WITHOUT_PKG_RESOURCES
from mmfix.knowledge.runtime import TORCH_FIRST_NUMPY2
from mmfix.model import Environment, TorchInfo

GIB = 1024**3
# Memory one parallel compile job needs (catalog build-out-of-memory): nvcc ~2 GiB, g++ ~1 GiB.
MEM_PER_JOB = {"cuda": 2 * GIB, "cpu": 1 * GIB}
# glibc-cuda-math-clash (knowledge.cuda.GLIBC_MATH_CLASHES): hide glibc's C23 math declarations
GLIBC_FIX_HEADER = """\
/* mmfix: glibc's C23 cospi/sinpi/rsqrt declarations clash with this CUDA's math headers. */
#include <features.h>
#undef __GLIBC_USE_IEC_60559_FUNCS_EXT
#define __GLIBC_USE_IEC_60559_FUNCS_EXT 0
#undef __GLIBC_USE_IEC_60559_FUNCS_EXT_C23
#define __GLIBC_USE_IEC_60559_FUNCS_EXT_C23 0
"""


@dataclass(frozen=True)
class Blocker:
    """A problem that stops the build before compiling: catalog id, what, the fix."""

    id: str
    what: str
    fix: str


@dataclass(frozen=True)
class BuildPlan:
    """Everything the runner needs and ``--dry-run`` prints."""

    python: str
    mmcv_version: str
    dist_name: str
    cuda: bool
    arch_list: str | None  # TORCH_CUDA_ARCH_LIST, None for CPU builds
    arch_source: str  # where the arch list came from
    jobs: int
    env: dict[str, str]  # variables set for the build
    unset: tuple[str, ...]  # variables removed for the build
    path_prepend: tuple[str, ...]  # folders put in front of PATH (target scripts, ccache)
    patches: tuple[str, ...]  # patch ids expected to apply to the build copy
    env_changes: tuple[str, ...]  # pip requirements the target env needs (asked for)
    blockers: tuple[Blocker, ...]
    notes: tuple[str, ...]
    files: dict[str, str] = field(default_factory=dict)  # build-only files to write (name -> text)
    toolkit_root: str | None = None
    torch_version: str | None = None
    python_version: str = ""

    def wheel_command(self, source_dir: str, wheel_dir: str) -> list[str]:
        """The exact pip command that builds the wheel (no isolation, no deps, no wheel cache)."""
        return [self.python, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "--no-cache-dir",
                "-v", "-w", wheel_dir, source_dir]


def _v(text: str | None) -> Version | None:
    if not text:
        return None
    try:
        return Version(Version(text.split("+")[0]).base_version)
    except InvalidVersion:
        return None


def torch_cuda(torch: TorchInfo | None) -> str | None:
    """The CUDA release torch was built for: ``torch.version.cuda`` as probed, else read from
    ``torch/version.py`` (``cuda: Optional[str] = '13.0'`` in torch >= 2.x, ``cuda = '11.8'`` before),
    else the local version tag ("2.14.1+cu130" -> "13.0"). None for CPU and ROCm builds."""
    if torch is None or torch.hip:
        return None
    if torch.cuda:
        return torch.cuda
    try:
        text = (Path(torch.location) / "version.py").read_text(errors="replace")
    except OSError:
        text = ""
    m = re.search(r"^cuda\s*(?::[^=]*)?=\s*['\"]([\d.]+)['\"]", text, re.M)
    if m:
        return m.group(1)
    m = re.search(r"\+cu(\d+)(\d)$", torch.version)
    return f"{m.group(1)}.{m.group(2)}" if m else None


def max_jobs(cpu_count: int, mem_available: int | None, kind: str) -> int:
    """Parallel jobs: the cores, capped by free memory / memory per job (at least 1)."""
    jobs = max(1, cpu_count)
    if mem_available:
        jobs = min(jobs, max(1, mem_available // MEM_PER_JOB[kind]))
    return jobs


def _needed_patches(env: Environment, mmcv_version: str, threads_per_block: int | None) -> list[str]:
    out = []
    st = _v(env.target.packages.get("setuptools"))
    if st is None or st >= Version(SETUPTOOLS_WITHOUT_PKG_RESOURCES):
        out.append("setuptools-no-pkg-resources")
    if env.target.version_tuple >= (3, 13):
        out.append("setup-py-python313")
    if env.torch is not None:
        from mmfix.patching import cxx_standard_for_torch  # the patch engine's own rule

        std = cxx_standard_for_torch(env.torch.version.split("+")[0])
        if std:
            out.append(f"cxx-standard (C++{std})")
    if threads_per_block:
        out.append("threads-per-block")
    return out


def make_plan(
    env: Environment,
    *,
    mmcv_version: str,
    arch: str | None = None,
    cpu: bool = False,
    jobs: int | None = None,
    threads_per_block: int | None = None,
    allow_unsupported_compiler: bool = False,
    ccache: str | None = None,
) -> BuildPlan:
    """Plan the build of mmcv ``mmcv_version`` for ``env``.

    Raises UsageError for a malformed ``arch`` (exit 2) and RefusedError (exit 3) for a request that
    cannot work (a CUDA arch on a CPU-only torch without ``--cpu``, an arch outside nvcc's range).
    Toolchain problems are returned as ``blockers`` so the plan can still be printed.
    """
    from mmfix.builder.source import dist_name

    host = env.host
    torch = env.torch
    blockers: list[Blocker] = []
    notes: list[str] = []
    env_changes: list[str] = []
    build_env: dict[str, str] = {"MMCV_WITH_OPS": "1"}
    unset: list[str] = []
    files: dict[str, str] = {}
    path_prepend: list[str] = [str(Path(env.target.executable).parent)]
    toolkit_root: str | None = None

    if torch is None:
        blockers.append(Blocker("build-isolation-no-torch", "torch is not installed in the target env",
                                f"{env.target.executable} -m pip install torch (the build of mmcv ops needs it)"))

    env_arch = host.env.get("TORCH_CUDA_ARCH_LIST")
    requested = arch if arch is not None else None
    torch_v = torch.version if torch else None
    t_cuda = torch_cuda(torch)
    cuda_torch = bool(t_cuda)
    # UsageError on malformed input
    parsed = archmod.parse_arch_list(requested, torch_v) if requested is not None else None

    use_cuda = not cpu and cuda_torch
    if not cpu and not cuda_torch and torch is not None:
        if parsed:
            kind = f"a ROCm (HIP {torch.hip}) torch" if torch.hip else "a CPU-only torch"
            raise RefusedError(
                f"cannot build CUDA ops for --arch {requested}: the target has {kind} ({torch.version})",
                "mmcv's CUDA ops are compiled against torch's CUDA build",
                "install a CUDA build of torch, or pass --cpu to build CPU ops",
            )
        notes.append(f"torch {torch.version} has no CUDA: building CPU ops (pass --cpu to say so)")

    arch_list: str | None = None
    arch_source = "-"
    if use_cuda:
        assert torch is not None and t_cuda
        nvcc = host.nvcc
        if nvcc is None:
            blockers.append(Blocker("cuda-home-missing", "no nvcc found (PATH, CUDA_HOME, CUDA_PATH)",
                                    f"install the CUDA {t_cuda} toolkit (nvcc) or use a prebuilt wheel (mmfix wheels)"))
        else:
            root = Path(nvcc.toolkit_root) if nvcc.toolkit_root else resolve_toolkit_root(nvcc.path)
            # a toolkit with the major torch was built for, when the nvcc on PATH has another
            tmaj = t_cuda.split(".")[0]
            nvcc_ver = nvcc.version
            if nvcc_ver and nvcc_ver.split(".")[0] != tmaj:
                alt = next((t for t in host.toolkits if t.has_nvcc and t.version and t.version.split(".")[0] == tmaj), None)
                if alt:
                    root, nvcc_ver = Path(alt.root), alt.version
                    notes.append(f"using the CUDA {alt.version} toolkit at {alt.root}: torch was built for CUDA {t_cuda}")
                else:
                    blockers.append(Blocker(
                        "cuda-version-mismatch",
                        f"nvcc is CUDA {nvcc.version}, torch {torch.version} was built for CUDA {t_cuda}",
                        f"install a CUDA {tmaj}.x toolkit and set CUDA_HOME to it, or a torch built for CUDA {nvcc.version} "
                        "(or use a prebuilt mmcv wheel: mmfix wheels)"))
            if root is None:
                blockers.append(Blocker("cuda-home-missing", f"cannot find the toolkit behind {nvcc.path}",
                                        "set CUDA_HOME to the CUDA toolkit folder (the one with bin/nvcc and include/)"))
            else:
                toolkit_root = str(root)
                build_env["CUDA_HOME"] = toolkit_root
                if host.env.get("CUDA_HOME") and os.path.realpath(host.env["CUDA_HOME"]) != os.path.realpath(root):
                    notes.append(f"CUDA_HOME={host.env['CUDA_HOME']} replaced by the toolkit of nvcc for the build")
                missing = missing_math_headers(root)
                if missing:
                    inc, lib = (list(torch.nvidia_include_dirs), list(torch.nvidia_lib_dirs))
                    if not inc:
                        inc, lib = nvidia_wheel_dirs(torch.location)
                    if inc:
                        build_env["CPATH"] = os.pathsep.join([*inc, *filter(None, [host.env.get("CPATH")])])
                        if lib:
                            build_env["LIBRARY_PATH"] = os.pathsep.join([*lib, *filter(None, [host.env.get("LIBRARY_PATH")])])
                        notes.append(f"cuda-headers-missing: {', '.join(missing)} not in {root}/include; "
                                     "using the headers of torch's nvidia-* wheels (CPATH)")
                    else:
                        blockers.append(Blocker("cuda-headers-missing", f"{', '.join(missing)} missing from {root}/include",
                                                "install the toolkit's math-library dev packages (libcusparse-dev ...)"))
            sms = archmod.sms_from_gpu_archs(nvcc.gpu_archs) or (kcuda.nvcc_archs(nvcc_ver) if nvcc_ver else None)
            if parsed is None and env_arch:
                parsed = archmod.parse_arch_list(env_arch, torch_v)
                arch_source = "TORCH_CUDA_ARCH_LIST"
            if parsed is not None:
                archmod.refuse_unsupported(parsed, nvcc_version=nvcc_ver, nvcc_sms=sms, torch_version=torch_v)
                if arch_source == "-":
                    arch_source = "--arch"
            else:
                ccs = [g.compute_capability for g in host.gpus if g.compute_capability]
                parsed, arch_source = archmod.default_archs(ccs, nvcc_ver or t_cuda, sms, torch_v)
                archmod.refuse_unsupported(parsed, nvcc_version=nvcc_ver, nvcc_sms=sms, torch_version=torch_v)
            arch_list = archmod.to_torch_list(parsed)
            build_env["TORCH_CUDA_ARCH_LIST"] = arch_list
            build_env["FORCE_CUDA"] = "1"
            _compiler_rules(env, nvcc_ver, allow_unsupported_compiler, build_env, blockers, notes)
            cuda_args, removed = archmod.strip_arch_flags(host.env.get("MMCV_CUDA_ARGS", ""))
            if removed:
                notes.append(f"cuda-args-override-arch: dropped {' '.join(removed)} from MMCV_CUDA_ARGS")
            extra: list[str] = []
            if host.glibc and nvcc_ver and kcuda.glibc_math_clash(host.glibc, nvcc_ver):
                files["mmfix_glibc_cuda_fix.h"] = GLIBC_FIX_HEADER
                extra += ["-include", "{build}/mmfix_glibc_cuda_fix.h"]
                notes.append(f"glibc-cuda-math-clash: glibc {host.glibc} with CUDA {nvcc_ver}: force-including a fix header")
            if allow_unsupported_compiler:
                extra.append("-allow-unsupported-compiler")
            if env.target.platform == "win32":
                extra += _msvc(env, nvcc_ver, allow_unsupported_compiler, build_env, notes, blockers)
            args = " ".join(filter(None, [cuda_args, *extra]))
            if args:
                build_env["MMCV_CUDA_ARGS"] = args
            elif "MMCV_CUDA_ARGS" in host.env:
                unset.append("MMCV_CUDA_ARGS")
    else:
        unset += ["TORCH_CUDA_ARCH_LIST", "FORCE_CUDA", "MMCV_CUDA_ARGS"]
        build_env["CUDA_VISIBLE_DEVICES"] = ""  # mmcv builds CUDA ops whenever a GPU is visible
        if env.target.platform == "win32":
            _msvc(env, None, allow_unsupported_compiler, build_env, notes, blockers)

    kind = "cuda" if use_cuda else "cpu"
    n_jobs = jobs if jobs else max_jobs(host.cpu_count, host.memory_available_bytes, kind)
    build_env["MAX_JOBS"] = str(n_jobs)
    if ccache:
        masq = Path("/usr/lib/ccache")
        if masq.is_dir():
            path_prepend.append(str(masq))
        if use_cuda and toolkit_root:
            build_env["PYTORCH_NVCC"] = f"{ccache} {Path(toolkit_root) / 'bin' / 'nvcc'}"
        notes.append(f"ccache: {ccache}" + (" (C++ via /usr/lib/ccache, nvcc via PYTORCH_NVCC)" if use_cuda else ""))

    pk = env.target.packages
    if "ninja" not in pk and not host.ninja:
        env_changes.append("ninja")
    if torch is not None and "setuptools" not in pk:
        env_changes.append("setuptools")
    tv = _v(torch_v)
    npv = _v(pk.get("numpy"))
    if tv and npv and tv < Version(TORCH_FIRST_NUMPY2) and npv.major >= 2:
        env_changes.append("numpy<2")
    if "wheel" not in pk and (_v(pk.get("pip")) or Version("0")) < Version("23.1"):
        env_changes.append("wheel")

    return BuildPlan(
        python=env.target.executable,
        mmcv_version=mmcv_version,
        dist_name=dist_name(mmcv_version),
        cuda=use_cuda,
        arch_list=arch_list,
        arch_source=arch_source,
        jobs=n_jobs,
        env=build_env,
        unset=tuple(unset),
        path_prepend=tuple(path_prepend),
        patches=tuple(_needed_patches(env, mmcv_version, threads_per_block)),
        env_changes=tuple(env_changes),
        blockers=tuple(blockers),
        notes=tuple(notes),
        files=files,
        toolkit_root=toolkit_root,
        torch_version=torch_v,
        python_version=env.target.version,
    )


def _compiler_rules(env: Environment, cuda: str | None, allow: bool, build_env: dict[str, str],
                    blockers: list[Blocker], notes: list[str]) -> None:
    """gcc-unsupported: pick a supported gcc on PATH for nvcc (CC/CXX), else block unless allowed."""
    host = env.host
    if env.target.platform == "win32" or not cuda or host.gcc is None or not host.gcc.version:
        return
    limit = kcuda.gcc_max(cuda)
    major = int(host.gcc.version.split(".")[0])
    if limit is None or major <= limit:
        return
    fits = sorted((c for c in host.other_gccs if c.version and int(c.version.split(".")[0]) <= limit and c.kind == "gcc"),
                  key=lambda c: c.version or "", reverse=True)
    if fits:
        cc = fits[0]
        build_env["CC"] = cc.path
        gxx = next((c for c in host.other_gccs if c.kind == "g++" and c.version == cc.version), None)
        if gxx:
            build_env["CXX"] = gxx.path
        notes.append(f"gcc-unsupported: gcc {host.gcc.version} is newer than CUDA {cuda} allows (<= {limit}); using {cc.path}")
    elif allow:
        notes.append(f"gcc {host.gcc.version} is newer than CUDA {cuda} allows (<= {limit}): -allow-unsupported-compiler at your risk")
    else:
        blockers.append(Blocker("gcc-unsupported", f"gcc {host.gcc.version} is newer than CUDA {cuda} accepts (gcc <= {limit})",
                                f"install gcc-{limit} (it is then picked up), or pass --allow-unsupported-compiler at your risk"))


def _msvc(env: Environment, cuda: str | None, allow: bool, build_env: dict[str, str], notes: list[str],
          blockers: list[Blocker]) -> list[str]:
    """Windows: the windows helper's MSVC plan (toolset, captured vcvars variables incl.
    DISTUTILS_USE_SDK=1, nvcc flags such as -Xcompiler /Zc:preprocessor for CUDA >= 13)."""
    try:
        from mmfix.builder.msvc import plan_msvc  # type: ignore[attr-defined]
    except ImportError:
        build_env["DISTUTILS_USE_SDK"] = "1"
        notes.append("msvc planning unavailable in this build of mmfix: DISTUTILS_USE_SDK=1 only")
        return []
    try:
        mp = plan_msvc(env, cuda, allow)
    except MmfixError as exc:
        build_env["DISTUTILS_USE_SDK"] = "1"
        blockers.append(Blocker("msvc-missing", exc.what + (f": {exc.why}" if exc.why else ""),
                                exc.fix or "open an x64 Native Tools prompt of a supported Visual Studio"))
        return []
    build_env.update(dict(getattr(mp, "env_additions", {}) or {}))
    build_env.setdefault("DISTUTILS_USE_SDK", "1")
    notes.append(f"MSVC toolset {getattr(mp, 'toolset', '?')} (_MSC_VER {getattr(mp, 'msc_ver', '?')})")
    notes.extend(str(w) for w in (getattr(mp, "warnings", ()) or ()))
    return list(getattr(mp, "nvcc_flags", ()) or ())
