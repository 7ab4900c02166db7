"""Catalog family C: the toolchain a build of mmcv's ops needs (shared/CATALOG.md section C).

A toolchain problem matters when mmcv must be built: then it is a failure; when mmcv already has
its ops it is reported as a warning (the next rebuild would hit it).
"""

from __future__ import annotations

import os
import shlex

from mmfix.builder.plan import MEM_PER_JOB, max_jobs
from mmfix.checks.base import Check, CheckContext, Outcome, check, ok, skip, warn
from mmfix.checks.facts import build_problem, cuda_in_use, pip_command, rebuild_command, torch_is_cuda
from mmfix.knowledge import buildtools, cxx
from mmfix.knowledge import cuda as cudak
from mmfix.knowledge.versions import parse_version as version
from mmfix.model import Environment

CHECKS: list[Check] = []
GIB = 1024**3


def _needs_cuda_toolchain(env: Environment) -> str | None:
    """None when a CUDA toolchain is relevant, else the reason to skip."""
    if env.torch is None:
        return "torch is not installed in the target environment"
    if not torch_is_cuda(env):
        return f"torch {env.torch.version} is a CPU build: mmcv's ops compile without CUDA"
    return None


@check(CHECKS, "cuda-home-missing", "C", "the CUDA toolkit torch will compile with is found")
def cuda_home(ctx: CheckContext) -> Outcome:
    env = ctx.env
    reason = _needs_cuda_toolchain(env)
    if reason:
        return skip(reason)
    nvcc = env.host.nvcc
    home = env.host.env.get("CUDA_HOME") or env.host.env.get("CUDA_PATH")
    if nvcc is None:
        kits = [k for k in env.host.toolkits if k.has_nvcc]
        fix = (f"export CUDA_HOME={shlex.quote(kits[0].root)}" if kits else
               f"install the CUDA {env.torch.cuda if env.torch else ''} toolkit (nvcc), or use a prebuilt wheel: mmfix wheels --install")
        return build_problem(env, "no nvcc under $CUDA_HOME/$CUDA_PATH or on PATH (a CUDA runtime image has none)",
                        fix=fix, auto_fix=None)
    if home:
        return ok(f"CUDA_HOME={home}; nvcc {nvcc.version} at {nvcc.path}")
    if nvcc.is_wrapper or not nvcc.toolkit_root or os.path.dirname(os.path.dirname(nvcc.path)) != nvcc.toolkit_root:
        guessed = os.path.dirname(os.path.dirname(nvcc.path))
        real = nvcc.toolkit_root or "the real toolkit folder"
        return build_problem(
            env,
            f"CUDA_HOME is unset and the nvcc on PATH ({nvcc.path}) is a wrapper or link outside the toolkit",
            f"torch then guesses CUDA_HOME={guessed}, where cuda.h and the CUDA libraries are not",
            fix=f"export CUDA_HOME={shlex.quote(real)}  (mmfix rebuild sets it for its build)",
            guessed=guessed,
            toolkit=nvcc.toolkit_root,
        )
    return ok(f"torch will use {nvcc.toolkit_root} (from nvcc on PATH)")


@check(CHECKS, "cuda-headers-missing", "C", "the CUDA math-library headers torch includes are found")
def cuda_headers(ctx: CheckContext) -> Outcome:
    env = ctx.env
    reason = _needs_cuda_toolchain(env)
    if reason:
        return skip(reason)
    root = env.host.nvcc.toolkit_root if env.host.nvcc else None
    kit = next((k for k in env.host.toolkits if root and os.path.realpath(k.root) == os.path.realpath(root)), None)
    if kit is None:
        return skip("no CUDA toolkit found (see cuda-home-missing)")
    missing = [h for h in cudak.CUDA_MATH_HEADERS if h not in kit.math_headers]
    if not missing:
        return ok(f"{kit.root} has {', '.join(kit.math_headers)}")
    wheel_dirs = list(env.torch.nvidia_include_dirs) if env.torch else []
    evidence = [f"{root}/include lacks {', '.join(missing)} (torch's ATen/cuda headers include them)"]
    if wheel_dirs:
        evidence.append(f"torch's nvidia-* wheels bring them in: {', '.join(wheel_dirs[:3])}")
        cpath = os.pathsep.join(wheel_dirs)
        fix = f"export CPATH={shlex.quote(cpath)}  (mmfix rebuild adds them to its build's CPATH)"
    else:
        fix = "install the toolkit's math-library dev packages (libcusparse-dev, libcublas-dev, ...)"
    return build_problem(env, *evidence, fix=fix, missing=missing)


@check(CHECKS, "cuda-version-mismatch", "C", "nvcc's CUDA matches the CUDA torch was built with")
def cuda_version_mismatch(ctx: CheckContext) -> Outcome:
    env = ctx.env
    reason = _needs_cuda_toolchain(env)
    if reason:
        return skip(reason)
    nvcc = env.host.nvcc
    if nvcc is None or not nvcc.version or not env.torch or not env.torch.cuda:
        return skip("no nvcc found (see cuda-home-missing)")
    tv, nv = version(env.torch.cuda), version(nvcc.version)
    if tv is None or nv is None:
        return skip(f"unreadable versions: torch CUDA {env.torch.cuda}, nvcc {nvcc.version}")
    if tv.major != nv.major:
        others = [k for k in env.host.toolkits if k.version and version(k.version) and version(k.version).major == tv.major]  # type: ignore[union-attr]
        fix = (f"export CUDA_HOME={shlex.quote(others[0].root)}" if others else
               f"install CUDA {env.torch.cuda} (or a torch built for CUDA {nvcc.version}), or mmfix wheels --install")
        return build_problem(env, f"nvcc is CUDA {nvcc.version}, torch {env.torch.version} was built with CUDA {env.torch.cuda}: "
                        "torch refuses a different major version", fix=fix, auto_fix=None)
    if tv.minor != nv.minor:
        return warn(f"nvcc is CUDA {nvcc.version}, torch was built with CUDA {env.torch.cuda}: a minor mismatch, torch "
                    "only warns", fix=None)
    return ok(f"CUDA {nvcc.version} on both sides")


def _gcc_major(v: str | None) -> int | None:
    ver = version(v)
    return ver.major if ver else None


@check(CHECKS, "gcc-unsupported", "C", "the host compiler is one the CUDA toolkit and torch accept")
def gcc_unsupported(ctx: CheckContext) -> Outcome:
    env = ctx.env
    if env.target.platform == "win32":
        return skip("Windows builds use MSVC (see msvc-unsupported)")
    gxx = env.host.gxx or env.host.gcc
    if gxx is None:
        return build_problem(env, "no g++ on PATH: mmcv's ops are C++", fix="install g++ (e.g. apt-get install g++)", auto_fix=None)
    if gxx.kind == "clang":
        return ok(f"host compiler is clang: {gxx.banner}")
    ver = version(gxx.version)
    if ver is None:
        return skip(f"could not read the version of {gxx.path}")
    if ver.major < buildtools.GCC_TORCH_MIN_MAJOR:
        return build_problem(env, f"{gxx.path} is GCC {gxx.version}: torch needs GCC {buildtools.GCC_TORCH_MIN_MAJOR} or later", fix="install a newer gcc", auto_fix=None)
    faq = buildtools.gcc_faq_problem(ver.major, ver.minor)
    if faq:
        return warn(f"{gxx.path} is GCC {gxx.version}: {faq} (mmcv's FAQ: {buildtools.GCC_FAQ_RULE})",
                    fix="use another GCC (CC/CXX), e.g. 7.x-9.x")
    if not torch_is_cuda(env):
        return ok(f"GCC {gxx.version}; no CUDA host-compiler limit for a CPU build")
    cuda = cuda_in_use(env)
    limit = cudak.gcc_max(cuda) if cuda else None
    if limit is None:
        return skip(f"no host-compiler table entry for CUDA {cuda}")
    if ver.major <= limit:
        return ok(f"GCC {gxx.version} <= {limit}, the newest CUDA {cuda} accepts")
    alternatives = [c for c in env.host.other_gccs if c.kind == "g++" and (_gcc_major(c.version) or 99) <= limit]
    if alternatives:
        alt = alternatives[0]
        cc = alt.path.replace("g++", "gcc")
        fix = f"CC={shlex.quote(cc)} CXX={shlex.quote(alt.path)} {rebuild_command(env)}"
    else:
        fix = f"install gcc-{limit} g++-{limit} and build with CC=gcc-{limit} CXX=g++-{limit}"
    return build_problem(env, f"host compiler GCC {gxx.version} is newer than {limit}, the newest CUDA {cuda} accepts "
                    f"(host_config.h: 'unsupported GNU version! gcc versions later than {limit} are not supported!')",
                    fix=fix, limit=limit)


@check(CHECKS, "glibc-cuda-math-clash", "C", "glibc's math headers agree with the CUDA toolkit's")
def glibc_clash(ctx: CheckContext) -> Outcome:
    env = ctx.env
    reason = _needs_cuda_toolchain(env)
    if reason:
        return skip(reason)
    g, cuda = version(env.host.glibc), version(cuda_in_use(env))
    if g is None or cuda is None:
        return skip("glibc or CUDA version unknown")
    clash = cudak.glibc_math_clash(str(g), str(cuda))
    if not clash:
        return ok(f"glibc {env.host.glibc} with CUDA {cuda}")
    return build_problem(env, f"glibc {env.host.glibc} declares {'/'.join(clash)} with exception specifications CUDA {cuda}'s "
                    "math headers contradict", fix="mmfix rebuild (force-includes a header that hides the glibc C23 "
                    "declarations for the build only), or a newer CUDA")


@check(CHECKS, "cxx-standard", "C", "mmcv's setup.py asks for the C++ standard torch requires")
def cxx_standard(ctx: CheckContext) -> Outcome:
    env = ctx.env
    if env.torch is None:
        return skip("torch is not installed")
    need = cxx.torch_requires(env.torch.version)
    active = env.active_mmcv
    if active is None:
        return skip(f"torch {env.torch.version} needs C++{need}; no mmcv installed to compare")
    asks = cxx.mmcv_asks(active.name, active.version, env.torch.version)
    if need is None or asks is None:
        return skip(f"no table entry for torch {env.torch.version} / {active.name} {active.version}")
    if asks >= need:
        return ok(f"{active.name} {active.version} builds with -std=c++{asks}; torch {env.torch.version} needs C++{need}")
    return build_problem(
        env,
        f"{active.name} {active.version}'s setup.py compiles with -std=c++{asks}; torch {env.torch.version}'s headers "
        f"need C++{need}",
        fix=f"{rebuild_command(env)}  (patches the standard in the build copy)",
        asks=asks,
        needs=need,
    )


@check(CHECKS, "ninja-missing", "C", "ninja is available for torch's BuildExtension")
def ninja_missing(ctx: CheckContext) -> Outcome:
    env = ctx.env
    if env.host.ninja:
        return ok(f"ninja at {env.host.ninja}")
    return build_problem(env, "no ninja in the target environment or on PATH: torch falls back to a slow serial build "
                    "or fails ('could not find ninja')", fix=pip_command(env, "install ninja"), auto_fix=None)


@check(CHECKS, "build-out-of-memory", "C", "parallel compile jobs fit in memory")
def out_of_memory(ctx: CheckContext) -> Outcome:
    env = ctx.env
    avail = env.host.memory_available_bytes
    if not avail:
        return skip("available memory unknown")
    kind = "cuda" if torch_is_cuda(env) else "cpu"  # the plan's memory per job, so both agree
    safe = max_jobs(env.host.cpu_count, avail, kind)
    per_job = f"~{MEM_PER_JOB[kind] // GIB} GiB per {'nvcc' if kind == 'cuda' else 'c++'} job"
    raw = env.host.env.get("MAX_JOBS")
    jobs = int(raw) if raw and raw.isdigit() else env.host.cpu_count
    gib = avail / GIB
    if jobs <= safe:
        return ok(f"{jobs} job(s), {gib:.1f} GiB available ({per_job}): at most {safe} fit")
    where = f"MAX_JOBS={raw}" if raw else f"{jobs} cores (torch's default job count)"
    return warn(f"{where} but only {gib:.1f} GiB available: compilers get killed ('Killed signal terminated program "
                "cc1plus')", fix=f"export MAX_JOBS={safe}  (mmfix rebuild picks it)", safe_jobs=safe)
