"""Checks of the Windows host compiler and build shell (catalog family C; extra shell checks "W").

Catalog ids (CATALOG.md, "C. Toolchain"): msvc-missing, msvc-unsupported, msvc-stl-cuda-mismatch,
msvc-env-no-sdk, msvc-conforming-preprocessor. Windows-shell checks: msvc-shell-target-arch,
win-path-characters, win-long-paths. Every check is skipped off Windows. They read
``Environment.host.windows`` (``mmfix.probe.windows``) and the variables in ``Host.env``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mmfix.builder import msvc as msvc_plan
from mmfix.checks.base import Check, CheckContext, Outcome, check, fail, ok, skip, warn
from mmfix.checks.facts import rebuild
from mmfix.errors import RefusedError
from mmfix.knowledge import msvc as kb
from mmfix.knowledge.cuda import msvc_range
from mmfix.model import Environment, WindowsFacts
from mmfix.plan.actions import Manual, Rebuild
from mmfix.probe.windows import getenv_ci

CHECKS: list[Check] = []

MAX_PATH = 260  # Win32 MAX_PATH, the terminating NUL included: 259 usable characters
# How many characters a build appends below each base folder (measured on the mmcv 2.2.0 sdist and
# torch 2.13's headers): (label, Host.env variable or None, extra characters, what is appended).
LONG_PATH_TAILS: tuple[tuple[str, int, str], ...] = (
    ("TEMP", 60 + 98, r"\pip-install-xxxxxxxx\mmcv_<32 hex>\ + build\temp.win-amd64-cpython-311"
     r"\Release\mmcv\ops\csrc\pytorch\cuda\rotated_feature_align_cuda.obj"),
    ("torch", 1 + 117, r"\include\ATen\ops\<longest op header name>.h"),
)
SHELL_VARS = ("VSCMD_VER", "VCToolsInstallDir", "VSCMD_ARG_TGT_ARCH")


@dataclass(frozen=True)
class ActiveCompiler:
    """The cl a plain ``pip install`` would use: the shell's, else the newest installed toolset."""

    msc_ver: int
    toolset: str | None
    label: str
    in_shell: bool


def _windows(env: Environment) -> WindowsFacts | None:
    return env.host.windows


def _is_windows(env: Environment) -> bool:
    return env.target.platform == "win32" or env.host.os == "Windows"


def _guard(ctx: CheckContext) -> WindowsFacts | Outcome:
    if not _is_windows(ctx.env):
        return skip("not a Windows environment")
    wf = _windows(ctx.env)
    if wf is None:
        return skip("the Windows facts were not probed")
    return wf


def _guard_cuda(ctx: CheckContext, no_cuda: str) -> tuple[WindowsFacts, str, str] | Outcome:
    """``_guard``, then the CUDA in use: (Windows facts, CUDA release, where found), or the
    Outcome to return (skip: not Windows, not probed, or ``no_cuda`` when no toolkit is found)."""
    wf = _guard(ctx)
    if isinstance(wf, Outcome):
        return wf
    found = cuda_in_use(ctx.env)
    if found is None:
        return skip(no_cuda)
    return wf, found[0], found[1]


def cuda_in_use(env: Environment) -> tuple[str, str] | None:
    """The CUDA release nvcc will be: (version, where it was found); None for a CPU-only host."""
    if env.host.nvcc and env.host.nvcc.version:
        return env.host.nvcc.version, f"nvcc {env.host.nvcc.path}"
    for tk in env.host.toolkits:
        if tk.has_nvcc and tk.version:
            return tk.version, f"{tk.source} {tk.root}"
    return None


def active_compiler(wf: WindowsFacts) -> ActiveCompiler | None:
    """The developer shell's (or PATH's) cl, else the newest toolset of the newest instance."""
    if wf.msc_ver and wf.cl:
        where = "the developer shell" if wf.dev_shell else "PATH"
        ts = wf.vc_tools_version
        return ActiveCompiler(wf.msc_ver, ts, f"cl {wf.cl.version} from {where}"
                              + (f" (toolset {ts})" if ts else ""), True)
    for inst in wf.vs_instances:  # newest VS first, its newest toolset: what setuptools activates
        for ts in inst.toolsets:
            msc = kb.msc_ver_for_toolset(ts)
            if msc:
                name = inst.display_name or inst.path
                return ActiveCompiler(msc, ts, f"toolset {ts} of {name}", False)
    return None


def _replacement(env: Environment, wf: WindowsFacts, cuda: str) -> tuple[Rebuild | None, str]:
    """(the rebuild that captures the fitting toolset, its note naming it, or None; refusal fix)."""
    try:
        choice, _ = msvc_plan.choose_toolset(wf.vs_instances, cuda)
    except RefusedError as exc:
        return None, exc.fix or exc.what
    cmd = f'"{msvc_plan.vcvarsall_path(choice.instance)}" x64 -vcvars_ver={choice.toolset}'
    return rebuild(env, f"uses toolset {choice.toolset} (_MSC_VER {choice.msc_ver}) from "
                   f"{choice.instance.display_name or choice.instance.path}; by hand: {cmd}"), ""



# --- catalog family C --------------------------------------------------------------------------


@check(CHECKS, "msvc-missing", "C", "a Visual C++ compiler is available", "no Visual C++ compiler is available")
def _msvc_missing(ctx: CheckContext) -> Outcome:
    wf = _guard(ctx)
    if isinstance(wf, Outcome):
        return wf
    toolsets = [(i, t) for i in wf.vs_instances for t in i.toolsets]
    if wf.cl is not None:
        return ok(f"cl.exe: {wf.cl.path} ({wf.cl.banner or wf.cl.version})")
    if toolsets:
        inst, ts = toolsets[0]
        return ok(f"no cl.exe on PATH; vswhere found {len(wf.vs_instances)} instance(s), "
                  f"newest toolset {ts} in {inst.display_name or inst.path}")
    found = cuda_in_use(ctx.env)
    rng = msvc_range(found[0]) if found else None
    need = f" (CUDA {found[0]} accepts _MSC_VER {rng[0]}-{rng[1]})" if found and rng else ""
    return fail(
        "no cl.exe on PATH and vswhere lists no Visual Studio instance with the C++ x64/x86 "
        f"build tools{need}",
        action=Manual(f"install {kb.install_hint(rng[1] if rng else kb.INSTALL_HINT_BY_MSC_MAX[-1][0])}"),
    )


@check(CHECKS, "msvc-unsupported", "C", "the host compiler's _MSC_VER is inside the CUDA range",
       "the host compiler's _MSC_VER is outside the CUDA range")
def _msvc_unsupported(ctx: CheckContext) -> Outcome:
    guarded = _guard_cuda(ctx, "no CUDA toolkit found: a CPU-only build has no _MSC_VER range")
    if isinstance(guarded, Outcome):
        return guarded
    wf, cuda, where = guarded
    rng = msvc_range(cuda)
    if rng is None:
        return skip(f"CUDA {cuda} ({where}) is not in the _MSC_VER table")
    active = active_compiler(wf)
    if active is None:
        return skip("no compiler found (see msvc-missing)")
    facts: dict[str, Any] = {"cuda": cuda, "msc_ver": active.msc_ver, "msc_range": list(rng)}
    line = (f"{active.label}: _MSC_VER {active.msc_ver}; CUDA {cuda} ({where}) accepts "
            f"{rng[0]}-{rng[1]}")
    if rng[0] <= active.msc_ver <= rng[1]:
        return ok(line, **facts)
    fix, refusal = _replacement(ctx.env, wf, cuda)
    if fix is None:
        return fail(line, "no installed toolset is inside the range", action=Manual(refusal),
                    **facts)
    if active.in_shell:
        return fail(line, action=fix, **facts)
    return warn(line + " (what pip uses outside a developer shell)", action=fix, **facts)


@check(CHECKS, "msvc-stl-cuda-mismatch", "C", "the MSVC STL accepts the CUDA in use (STL1002)",
       "the MSVC STL rejects the CUDA in use (STL1002)")
def _msvc_stl(ctx: CheckContext) -> Outcome:
    guarded = _guard_cuda(ctx, "no CUDA toolkit found")
    if isinstance(guarded, Outcome):
        return guarded
    wf, cuda, where = guarded
    active = active_compiler(wf)
    if active is None or active.toolset is None:
        return skip("no toolset version known (see msvc-missing)")
    floor = kb.stl_min_cuda(active.toolset)
    if not kb.stl_blocks(active.toolset, cuda):
        return ok(f"{active.label}: its STL accepts CUDA {cuda}"
                  + (f" (needs >= {floor})" if floor else ""))
    line = (f"{active.label}: the STL of toolset {kb.toolset_short(active.toolset)} "
            "(VS 2022 17.10+) "
            f"stops with STL1002 for CUDA < {floor}; CUDA in use: {cuda} ({where})")
    fix, refusal = _replacement(ctx.env, wf, cuda)
    if fix is None:
        return fail(line, action=Manual(f"{refusal}; or CUDA {floor} or newer"), cuda=cuda,
                    toolset=active.toolset)
    if active.in_shell:
        return fail(line, action=fix, cuda=cuda, toolset=active.toolset)
    return warn(line + " (what pip uses outside a developer shell)", action=fix,
                cuda=cuda, toolset=active.toolset)


@check(CHECKS, "msvc-env-no-sdk", "C", "DISTUTILS_USE_SDK is set in an activated VC environment",
       "DISTUTILS_USE_SDK is not set in an activated VC environment")
def _msvc_env_no_sdk(ctx: CheckContext) -> Outcome:
    wf = _guard(ctx)
    if isinstance(wf, Outcome):
        return wf
    env = ctx.env.host.env
    shell_vars = [n for n in SHELL_VARS if getenv_ci(env, n)]
    if not (shell_vars or wf.dev_shell or wf.vscmd_ver):
        return ok("no VC environment is active; mmfix rebuild sets DISTUTILS_USE_SDK=1 with the "
                  "environment it captures")
    sdk = getenv_ci(env, "DISTUTILS_USE_SDK")
    if sdk:
        return ok(f"DISTUTILS_USE_SDK={sdk} in the active VC environment")
    return fail(
        f"VC environment active ({', '.join(shell_vars) or 'VSCMD_VER'} set) but DISTUTILS_USE_SDK "
        "is not: torch's cpp_extension refuses to build",
        action=rebuild(ctx.env, "sets DISTUTILS_USE_SDK=1 for the build; by hand: set DISTUTILS_USE_SDK=1 "
                       "(PowerShell: $env:DISTUTILS_USE_SDK=1)"),
    )


@check(CHECKS, "msvc-conforming-preprocessor", "C", "MSVC's conforming preprocessor for CUDA >= 13",
       "MSVC's conforming preprocessor is not passed for CUDA >= 13")
def _msvc_preprocessor(ctx: CheckContext) -> Outcome:
    guarded = _guard_cuda(ctx, "no CUDA toolkit found")
    if isinstance(guarded, Outcome):
        return guarded
    _, cuda, where = guarded
    if msvc_plan._version(cuda) < msvc_plan._version(msvc_plan.CONFORMING_PREPROCESSOR_SINCE_CUDA):
        return ok(f"CUDA {cuda} ({where}) does not need /Zc:preprocessor")
    args = getenv_ci(ctx.env.host.env, "MMCV_CUDA_ARGS") or ""
    if "preprocessor" in args:
        return ok(f"MMCV_CUDA_ARGS={args}")
    return warn(
        f"CUDA {cuda} ({where}) headers need MSVC's conforming preprocessor; MMCV_CUDA_ARGS "
        f"does not pass it{f' ({args})' if args else ''}",
        action=rebuild(ctx.env, "adds -Xcompiler /Zc:preprocessor; by hand: set "
                       "MMCV_CUDA_ARGS=-Xcompiler /Zc:preprocessor"),
    )


# --- Windows shell (W) -------------------------------------------------------------------------


@check(CHECKS, "msvc-shell-target-arch", "W", "the developer shell targets x64",
       "the developer shell does not target x64")
def _shell_arch(ctx: CheckContext) -> Outcome:
    wf = _guard(ctx)
    if isinstance(wf, Outcome):
        return wf
    if not wf.dev_shell:
        return skip("no developer shell active")
    if wf.target_arch == "x64":
        return ok(f"VSCMD_ARG_TGT_ARCH=x64 (VS {wf.vscmd_ver or '?'})")
    return fail(
        f"the developer shell targets {wf.target_arch or 'an unknown arch'}; CUDA and torch "
        "extensions need x64",
        action=rebuild(ctx.env, 'captures an x64 environment itself; by hand: open the "x64 Native Tools '
                       'Command Prompt" (or run vcvarsall.bat x64)'),
    )


def _paths(env: Environment) -> list[tuple[str, str]]:
    out = []
    temp = getenv_ci(env.host.env, "TEMP") or getenv_ci(env.host.env, "TMP")
    if temp:
        out.append(("TEMP", temp))
    if env.target.prefix:
        out.append(("target environment", env.target.prefix))
    if env.torch is not None:
        out.append(("torch", env.torch.location))
    return out


def path_problems(path: str) -> list[str]:
    """What in ``path`` breaks nvcc/cl builds: "non-ASCII characters" (nvcc cannot open such files
    on a non-UTF-8 code page), "spaces" (unquoted in some build commands)."""
    found = []
    if any(ord(ch) > 127 for ch in path):
        found.append("non-ASCII characters")
    if " " in path:
        found.append("spaces")
    return found


@check(CHECKS, "win-path-characters", "W", "build paths have no spaces or non-ASCII characters",
       "build paths have spaces or non-ASCII characters")
def _path_chars(ctx: CheckContext) -> Outcome:
    wf = _guard(ctx)
    if isinstance(wf, Outcome):
        return wf
    bad = [(label, p, path_problems(p)) for label, p in _paths(ctx.env)]
    bad = [b for b in bad if b[2]]
    if not bad:
        return ok("TEMP, the target environment and torch are under plain ASCII paths without "
                  "spaces")
    lines = [f"{label}: {p} has {' and '.join(why)}" for label, p, why in bad]
    fix = Manual("for the build, point TEMP and TMP at a plain folder (set TEMP=C:\\tmp & "
                 "set TMP=C:\\tmp); move the environment or source to a path without spaces or "
                 "non-ASCII characters")
    if any("non-ASCII characters" in why for _, _, why in bad):
        return fail(*lines, action=fix)
    return warn(*lines, action=fix)


@check(CHECKS, "win-long-paths", "W", "build paths fit in 260 characters or long paths are on",
       "build paths exceed 260 characters and long paths are off")
def _long_paths(ctx: CheckContext) -> Outcome:
    wf = _guard(ctx)
    if isinstance(wf, Outcome):
        return wf
    if wf.long_paths_enabled:
        return ok("LongPathsEnabled=1")
    tails = {label: (extra, what) for label, extra, what in LONG_PATH_TAILS}
    too_long = []
    for label, p in _paths(ctx.env):
        extra, what = tails.get(label, (0, ""))
        if extra and len(p) + extra >= MAX_PATH:
            too_long.append(
                f"{label}: {p} ({len(p)} chars) + {what} = about {len(p) + extra} chars"
            )
    state = "unknown" if wf.long_paths_enabled is None else "0"
    if not too_long:
        return ok(f"LongPathsEnabled={state}; the deepest build paths stay under {MAX_PATH} chars")
    return fail(
        *too_long,
        f"LongPathsEnabled={state}: paths of {MAX_PATH} characters or more fail",
        action=Manual("set HKLM\\SYSTEM\\CurrentControlSet\\Control\\FileSystem LongPathsEnabled=1 "
                      "(admin), or use a shorter TEMP (set TEMP=C:\\t) and a shorter environment path"),
    )
