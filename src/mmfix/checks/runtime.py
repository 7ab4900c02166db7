"""Checks of catalog families B (kernels for this GPU) and E (run time and loading).

They read what the probe found about the built extension: ``env.ext_binary`` (SASS/PTX archs,
linked libraries, undefined torch symbols; ``mmfix.probe.extbin``), ``env.ext_import`` (importing
``mmcv._ext`` in its own subprocess: error text, crash, ``get_compiling_cuda_version()``),
``env.torch``, ``env.host`` (GPUs, driver) and ``env.target.packages`` (numpy).
"""

from __future__ import annotations

import re
from typing import Any

from packaging.version import Version

from mmfix.checks.base import Check, CheckContext, Outcome, check, fail, ok, skip, warn
from mmfix.checks.facts import rebuild
from mmfix.knowledge import buildtools
from mmfix.knowledge import cuda as kc
from mmfix.knowledge import downstream as kd
from mmfix.knowledge import runtime as kr
from mmfix.knowledge.versions import parse_version as _v
from mmfix.model import Environment
from mmfix.plan.actions import EnvChange, Manual, Rebuild

CHECKS: list[Check] = []

_NO_CUDA = "not available"  # what mmcv's get_compiling_cuda_version() returns for a CPU-only build




def _error(env: Environment) -> str:
    return (env.ext_import.error or "") if env.ext_import else ""


def _arch_arg(ccs: list[str]) -> str:
    return ";".join(sorted(set(ccs), key=lambda c: kc.cc_to_sm(c)))


# --- B: kernels ----------------------------------------------------------------------------------


@check(CHECKS, "cuda-arch-not-compiled", "B", "mmcv's CUDA kernels run on every visible GPU",
       "mmcv has no kernels compiled for a visible GPU")
def cuda_arch_not_compiled(ctx: CheckContext) -> Outcome:
    """Each GPU's compute capability against the SASS/PTX in ``_ext`` (PTX JIT considered)."""
    env = ctx.env
    gpus = [g for g in env.host.gpus if g.compute_capability]
    ext = env.ext_binary
    if not gpus:
        return skip("no GPU with a known compute capability visible (nvidia-smi)")
    if ext is None:
        return skip("no mmcv _ext binary to inspect")
    if ext.cuobjdump is None:
        return skip(f"could not read the GPU code of {ext.path}")
    if not ext.sass_archs and not ext.ptx_archs:
        return skip(f"{ext.path} holds no CUDA code (see ops-cpu-only)")
    have = (f"_ext has SASS {', '.join(ext.sass_archs) or 'none'}; "
            f"PTX {', '.join(ext.ptx_archs) or 'none'}")
    missing, jit, lines = [], [], [have]
    for g in gpus:
        cc = g.compute_capability or ""
        how, arch = kr.coverage(cc, ext.sass_archs, ext.ptx_archs)
        label = f"GPU {g.index} {g.name}: compute capability {cc}"
        if how == "sass":
            lines.append(f"{label}: runs {arch}")
        elif how == "ptx":
            jit.append(cc)
            lines.append(f"{label}: no SASS, the driver JIT-compiles {arch} PTX at first launch")
        else:
            missing.append(cc)
            lines.append(f"{label}: no SASS for it and no lower PTX to JIT from")
    facts: dict[str, Any] = {"sass": list(ext.sass_archs), "ptx": list(ext.ptx_archs),
             "uncovered": missing, "ptx_jit": jit}
    if missing:
        return fail(*lines, "symptom: CUDA error: no kernel image is available for execution "
                    "on the device / invalid device function",
                    action=Rebuild(arch=_arch_arg(missing + jit)), **facts)
    if jit:
        return warn(*lines, "PTX JIT works but slows the first launch and needs a driver that "
                    "knows that PTX version", action=Rebuild(arch=_arch_arg(jit)),
                    headline="a visible GPU runs mmcv's kernels only through PTX JIT", **facts)
    return ok(*lines, **facts)


@check(CHECKS, "ops-cpu-only", "B", "mmcv ops built with CUDA when torch has CUDA",
       "mmcv ops were built without CUDA although torch has CUDA")
def ops_cpu_only(ctx: CheckContext) -> Outcome:
    """torch with CUDA but mmcv's ``get_compiling_cuda_version()`` says ``not available`` (or no
    GPU code in ``_ext``): built without a visible GPU and without ``FORCE_CUDA=1``."""
    env = ctx.env
    torch, imp, ext = env.torch, env.ext_import, env.ext_binary
    if torch is None:
        return skip("torch not installed")
    if not torch.cuda:
        return skip(f"torch {torch.version} is a CPU build: CPU ops are all it can run")
    compiled = imp.compiling_cuda_version if imp else None
    no_code = ext is not None and ext.cuobjdump is not None and not (
        ext.sass_archs or ext.ptx_archs
    )
    ccs = [g.compute_capability for g in env.host.gpus if g.compute_capability]
    arch = _arch_arg(ccs) if ccs else (kc.portable_archs(torch.cuda) or "")
    action = Rebuild(arch=arch or None, note="builds with FORCE_CUDA=1")
    if compiled == _NO_CUDA or (no_code and compiled is None):
        ev = [f"torch {torch.version} has CUDA {torch.cuda}"]
        if compiled == _NO_CUDA:
            ev.append("mmcv.ops.get_compiling_cuda_version() returns 'not available'")
        if no_code and ext is not None:
            ev.append(f"{ext.path} holds no SASS and no PTX")
        ev.append("symptom: nms is not compiled with GPU support / "
                  "implementation for device cuda:0 not found")
        return fail(*ev, action=action, compiling_cuda_version=compiled)
    if compiled:
        t_major, m_major = torch.cuda.split(".")[0], compiled.split(".")[0]
        if t_major != m_major:
            return warn(f"mmcv was compiled with CUDA {compiled}, torch uses CUDA {torch.cuda}",
                        action=action, compiling_cuda_version=compiled,
                        headline="mmcv was compiled with another CUDA major than torch uses")
        return ok(f"mmcv compiled with CUDA {compiled}; torch CUDA {torch.cuda}",
                  compiling_cuda_version=compiled)
    if ext is not None and ext.cuobjdump is not None:
        return ok(f"{ext.path} holds GPU code ({', '.join(ext.sass_archs + ext.ptx_archs)})")
    return skip("mmcv._ext could not be asked (see ext-undefined-symbol / mmcv-ops-missing)")


# --- E: run time and loading ---------------------------------------------------------------------

_UNDEFINED = re.compile(r"undefined symbol:\s*(\S+)")
_NO_LIB = re.compile(r"(\S+\.so(?:\.[\d.]+)?): cannot open shared object file")


def _split_cuda(name: str) -> bool:
    return any(name.startswith(lib) for lib in kr.SPLIT_CUDA_LIBS)


@check(CHECKS, "ext-undefined-symbol", "E", "mmcv._ext loads against the installed torch",
       "mmcv._ext does not load against the installed torch")
def ext_undefined_symbol(ctx: CheckContext) -> Outcome:
    """Undefined torch symbols or unresolvable libraries of ``_ext`` (from the import error and
    from the binary itself); ``__cxx11`` vs ``torch._C._GLIBCXX_USE_CXX11_ABI``."""
    env = ctx.env
    err, ext, torch = _error(env), env.ext_binary, env.torch
    symbols = list(_UNDEFINED.findall(err))
    libs = [m for m in _NO_LIB.findall(err) if not _split_cuda(m)]
    if ext is not None:
        symbols += [s for s in ext.undefined_symbols if s not in symbols]
        libs += [m for m in ext.missing_libs if not _split_cuda(m) and m not in libs]
    if not symbols and not libs:
        if env.ext_import and env.ext_import.ok:
            return ok("import mmcv._ext works")
        if ext is not None and (ext.needed_libs or ext.cuobjdump):
            return ok(f"{ext.path}: every needed library resolves, no torch symbol missing")
        return skip("no import result and no readable _ext binary")
    ev = []
    if symbols:
        ev.append(f"undefined symbol: {symbols[0]}"
                  + (f" (+{len(symbols) - 1} more)" if len(symbols) > 1 else ""))
    ev += [f"{lib}: cannot open shared object file" for lib in libs]
    # the new ABI shows as std::__cxx11 in parameters and the [abi:cxx11] tag (B5cxx11) on names
    cxx11 = any("__cxx11" in s or "B5cxx11" in s for s in symbols)
    if torch is not None and symbols:
        ev.append(f"mmcv was built for another torch than the installed {torch.version}")
        if torch.cxx11_abi is False and cxx11:
            ev.append("the missing symbols use the new C++ ABI (__cxx11) while torch was built "
                      "with _GLIBCXX_USE_CXX11_ABI=0")
        elif torch.cxx11_abi is True and not cxx11 and any("Ss" in s for s in symbols):
            ev.append("the missing symbols use the old C++ ABI std::string while torch was built "
                      "with _GLIBCXX_USE_CXX11_ABI=1")
    return fail(*ev, action=rebuild(env, "against the installed torch; a fitting prebuilt wheel first"),
                symbols=symbols, missing_libs=libs, cxx11=cxx11)


@check(CHECKS, "libtorch-cuda-cu-missing", "E", "mmcv._ext does not need torch 1.x split CUDA libs",
       "mmcv._ext needs torch 1.x split CUDA libs the installed torch lacks")
def libtorch_cuda_cu_missing(ctx: CheckContext) -> Outcome:
    """``_ext`` linked to ``libtorch_cuda_cu.so``/``libtorch_cuda_cpp.so`` (torch 1.x builds with
    split CUDA libraries) while the installed torch has only ``libtorch_cuda.so``."""
    env = ctx.env
    err, ext, torch = _error(env), env.ext_binary, env.torch
    named = [m for m in _NO_LIB.findall(err) if _split_cuda(m)]
    needed = [n for n in (ext.needed_libs if ext else ()) if _split_cuda(n)]
    torch_has = set(torch.libraries) if torch else set()
    gone = [n for n in needed
            if (ext and n in ext.missing_libs) or (torch_has and n not in torch_has)]
    bad = sorted(set(named + gone))
    if bad:
        tv = torch.version if torch else "?"
        return fail(*(f"{n}: cannot open shared object file" for n in bad),
                    f"mmcv was built against a torch 1.x with split CUDA libraries; "
                    f"the installed torch {tv} has only libtorch_cuda.so",
                    action=rebuild(env, "against the installed torch; a fitting prebuilt wheel first"),
                    libraries=bad)
    if ext is None and not (env.ext_import and env.ext_import.attempted):
        return skip("no import result and no _ext binary")
    if needed:
        return ok(f"{', '.join(needed)} needed and present in the installed torch")
    return ok("the _ext does not link torch's split CUDA libraries")


@check(CHECKS, "import-segfault", "E", "import mmcv._ext does not crash the interpreter",
       "import mmcv._ext crashes the interpreter")
def import_segfault(ctx: CheckContext) -> Outcome:
    """The import subprocess died from a signal (-11 SIGSEGV; 0xC0000005 on Windows)."""
    env = ctx.env
    imp = env.ext_import
    if imp is None or not imp.attempted:
        return skip("mmcv._ext was not imported (no mmcv with ops installed)")
    if imp.timed_out:
        return warn("import mmcv._ext did not finish within the probe's timeout",
                    action=Manual("run: python -X faulthandler -c 'import mmcv._ext' to see where it hangs"),
                    headline="import mmcv._ext hangs")
    if not imp.crashed:
        return ok(f"import ended normally (return code {imp.returncode})")
    ev = [f"import mmcv._ext died with return code {imp.returncode} (segmentation fault)"]
    if imp.torch_import_ok is False:
        ev.append("import torch alone crashes too: the torch install is broken, not mmcv")
        tv = env.torch.version if env.torch else "<version>"
        return fail(*ev, action=EnvChange((f"torch=={tv}",), pip_options=("--force-reinstall", "--no-deps")),
                    headline="import torch crashes the interpreter")
    if imp.torch_import_ok:
        ev.append("import torch alone works: mmcv's _ext is the problem")
    gcc = env.host.gcc
    built = re.search(r"GCC\s+(\d+(?:\.\d+)*)", imp.compiler_version or "")
    if imp.compiler_version:
        ev.append(f"mmcv was compiled with {imp.compiler_version}")
    for who, ver in (("mmcv's compiler", built.group(1) if built else None),
                     ("host gcc", gcc.version if gcc else None)):
        v = _v(ver)
        if v and buildtools.gcc_faq_problem(v.major, v.minor):
            ev.append(f"{who} {ver}: mmcv's FAQ names {buildtools.GCC_FAQ_CAUSES} as causes")
    tcuda = env.torch.cuda if env.torch else None
    if gcc and gcc.version and tcuda:
        v, cuda_max = _v(gcc.version), kc.gcc_max(tcuda)
        if v and cuda_max and v.major > cuda_max:
            ev.append(f"host gcc {gcc.version} is newer than CUDA {tcuda} accepts "
                      f"(<= {cuda_max})")
    return fail(*ev, action=rebuild(env, "with a supported host compiler"), returncode=imp.returncode)


@check(CHECKS, "cuda-driver-too-old", "E", "NVIDIA driver new enough for torch's CUDA",
       "the NVIDIA driver is too old for torch's CUDA")
def cuda_driver_too_old(ctx: CheckContext) -> Outcome:
    """``nvidia-smi``'s driver version against the minimum for ``torch.version.cuda``."""
    env = ctx.env
    torch = env.torch
    said = "CUDA driver version is insufficient" in _error(env)
    if torch is None or not torch.cuda:
        return skip("torch is not a CUDA build")
    driver = env.host.driver_version or next(
        (g.driver_version for g in env.host.gpus if g.driver_version), None
    )
    windows = env.target.platform == "win32"
    need = kr.driver_min(torch.cuda, windows)
    if driver is None:
        if said:
            return fail("CUDA driver version is insufficient for CUDA runtime version",
                        action=Manual(f"update the NVIDIA driver to >= {need}") if need else None)
        return skip("no NVIDIA driver found (nvidia-smi)")
    if need is None:
        return skip(f"no driver minimum known for CUDA {torch.cuda}")
    dv, nv = _v(driver), _v(need)
    if said or (dv and nv and dv < nv):
        newest = kr.newest_cuda_major_for_driver(driver, windows)
        alt = f", or a torch built for CUDA {newest}.x" if newest else ""
        return fail(f"driver {driver}; torch {torch.version} uses CUDA {torch.cuda}, "
                    f"which needs >= {need}", action=Manual(f"update the NVIDIA driver to >= {need}{alt}"),
                    driver=driver, needed=need)
    return ok(f"driver {driver} >= {need} (CUDA {torch.cuda})", driver=driver, needed=need)


@check(CHECKS, "numpy-abi-mismatch", "E", "numpy major matches the one torch was built against",
       "numpy 2 is installed beside a torch built against NumPy 1")
def numpy_abi_mismatch(ctx: CheckContext) -> Outcome:
    """torch < 2.3 was built against NumPy 1.x and cannot load NumPy 2."""
    env = ctx.env
    said = "compiled using NumPy 1.x cannot be run in" in _error(env)
    numpy = env.target.packages.get("numpy")
    if env.torch is None:
        return skip("torch not installed")
    tv, nv = _v(env.torch.version), _v(numpy)
    if said or (tv and nv and tv < Version(kr.TORCH_FIRST_NUMPY2) and nv.major >= 2):
        return fail(f"torch {env.torch.version} was built against NumPy 1.x; numpy {numpy} "
                    "is installed", action=EnvChange(("numpy<2",)), numpy=numpy)
    if numpy is None:
        return skip("numpy not installed")
    return ok(f"numpy {numpy} with torch {env.torch.version}")


@check(CHECKS, "mmddp-torch-internals", "E", "mmcv's MMDistributedDataParallel fits this torch",
       "mmcv's MMDistributedDataParallel predates this torch's DDP")
def mmddp_torch_internals(ctx: CheckContext) -> Outcome:
    """mmcv(-full) 1.x releases whose MMDistributedDataParallel predates a torch DDP change."""
    env = ctx.env
    mmcv, torch = env.active_mmcv, env.torch
    if mmcv is None or torch is None:
        return skip("mmcv or torch not installed")
    mv, tv = _v(mmcv.version), _v(torch.version)
    if mv is None or tv is None:
        return skip(f"unreadable versions: mmcv {mmcv.version}, torch {torch.version}")
    if mv >= kd.MMCV_2_FIRST:
        return skip(f"mmcv {mmcv.version} has no MMDistributedDataParallel (mmengine's is used)")
    broken = [
        r for r in kr.MMDDP_RULES if tv >= Version(r.torch_from) and mv < Version(r.mmcv_fixed)
    ]
    if not broken:
        return ok(f"{mmcv.name} {mmcv.version} with torch {torch.version}")
    need = max(Version(r.mmcv_fixed) for r in broken)
    fits = [v for v in kd.compatible_releases(env.downstream) if Version(v) >= need
            and Version(v) < kd.MMCV_2_FIRST]
    action = (rebuild(env, f"newest inside: {fits[0]}", mmcv_version=f">={need},<{kd.MMCV_2_FIRST}") if fits
              else Manual(f'pip install "mmcv-full>={need}" (and a downstream release that accepts it)'))
    return fail(f"{mmcv.name} {mmcv.version} with torch {torch.version}",
                *(f"torch >= {r.torch_from} needs mmcv-full >= {r.mmcv_fixed}: {r.symptom}"
                  for r in broken), action=action)
