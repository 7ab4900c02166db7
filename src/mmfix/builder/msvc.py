"""The MSVC side of a Windows build: choose the toolset, capture its environment, build variables.

``plan_msvc`` picks the newest installed toolset whose ``_MSC_VER`` lies inside the range the CUDA
in use accepts (``knowledge.cuda.MSVC_RANGE_BY_CUDA``) and whose STL accepts that CUDA (STL1002), or
keeps the active developer shell when it already fits. ``capture_vcvars_env`` runs
``vcvarsall.bat x64 -vcvars_ver=<toolset>`` once in a child ``cmd`` and reads the variables back
with ``set``; they go to the build subprocess only (``build_env``), never into the user's shell.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import PureWindowsPath

from packaging.version import InvalidVersion, Version

from mmfix import proc
from mmfix.errors import OperationFailed, RefusedError
from mmfix.knowledge import msvc as kb
from mmfix.knowledge.cuda import ALLOW_UNSUPPORTED_COMPILER_SINCE, msvc_range
from mmfix.model import Environment, VsInstance, WindowsFacts
from mmfix.probe.windows import RunFunc, getenv_ci

MARKER = "MMFIX-VCVARS-ENV"
ALLOW_UNSUPPORTED_FLAG = "-allow-unsupported-compiler"
# CUDA 13's headers need MSVC's conforming preprocessor (catalog msvc-conforming-preprocessor).
CONFORMING_PREPROCESSOR_SINCE_CUDA = "13.0"
# The switch by _MSC_VER: /Zc:preprocessor from VS 2019 16.5 (1925), before that the experimental
# one (VS 2017 15.8, 1915).
PREPROCESSOR_FLAG_BY_MSC: tuple[tuple[int, str], ...] = (
    (1915, "/experimental:preprocessor"),
    (1925, "/Zc:preprocessor"),
)
# Variables the VS developer environment sets; dropped from a shell's env before capturing another
# toolset so two activations never stack (the shell keeps its pre-activation PATH in
# __VSCMD_PREINIT_PATH).
VS_ENV_NAMES: frozenset[str] = frozenset(n.lower() for n in (
    "INCLUDE", "LIB", "LIBPATH", "EXTERNAL_INCLUDE", "VCToolsInstallDir", "VCToolsVersion",
    "VCToolsRedistDir", "VCINSTALLDIR", "VCIDEInstallDir", "VSINSTALLDIR", "VisualStudioVersion",
    "WindowsSdkDir", "WindowsSDKVersion", "WindowsSdkBinPath", "WindowsSdkVerBinPath",
    "WindowsLibPath", "WindowsSDKLibVersion", "UniversalCRTSdkDir", "UCRTVersion",
    "ExtensionSdkDir",
    "DevEnvDir", "Platform", "CommandPromptType", "FrameworkDir", "FrameworkDir64",
    "FrameworkVersion", "FrameworkVersion64", "Framework40Version", "FSHARPINSTALLDIR",
    "HTMLHelpDir", "IFCPATH", "VCPKG_ROOT", "VS170COMNTOOLS", "VS160COMNTOOLS", "VS150COMNTOOLS",
))
VS_ENV_PREFIXES: tuple[str, ...] = ("vscmd_", "__vscmd_", "__dotnet_")
_CMD_METACHARS = set("&|<>^()")


@dataclass(frozen=True)
class ToolsetChoice:
    """One installed toolset: its instance, folder version ("14.29.30133") and ``_MSC_VER``."""

    instance: VsInstance
    toolset: str
    msc_ver: int


@dataclass(frozen=True)
class MsvcPlan:
    """How the build gets its host compiler.

    ``toolset``: "14.29"; ``toolset_full``: the folder version; ``msc_ver``: its ``_MSC_VER``;
    ``vs_instance``: where it lives (None when the shell's instance is unknown);
    ``vcvars_argv``: the command whose ``set`` output is captured (empty when the active developer
    shell is used as is);
    ``env_additions``: variables to add to the build's environment (captured ones and
    ``DISTUTILS_USE_SDK=1``); ``nvcc_flags``: flags for nvcc; ``warnings``: lines to show the user.
    """

    toolset: str
    msc_ver: int
    vs_instance: VsInstance | None
    vcvars_argv: tuple[str, ...]
    env_additions: dict[str, str] = field(default_factory=dict)
    nvcc_flags: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    toolset_full: str | None = None
    cuda_version: str | None = None
    source: str = "vcvarsall"  # or "dev-shell"
    code_page: str | None = None
    captured: bool = False

    @property
    def uses_dev_shell(self) -> bool:
        return self.source == "dev-shell"

    def with_captured(self, variables: Mapping[str, str]) -> MsvcPlan:
        """This plan with the captured vcvarsall variables merged into ``env_additions``."""
        merged = {**variables, **self.env_additions}
        return replace(self, env_additions=merged, captured=True)

    def describe(self) -> list[str]:
        """The plan as lines for ``--dry-run`` and logs (toolset, command, variables, flags)."""
        where = ""
        if self.vs_instance is not None:
            inst = self.vs_instance
            where = f" from {inst.display_name or 'Visual Studio'} ({inst.path})"
        lines = [f"MSVC toolset {self.toolset} (_MSC_VER {self.msc_ver}){where}"]
        if self.vcvars_argv:
            lines.append(f"environment of: {subprocess.list2cmdline(self.vcvars_argv)}")
        else:
            lines.append("environment: the active developer shell, as is")
        for name in sorted(self.env_additions, key=str.lower):
            value = self.env_additions[name]
            shown = value if len(value) <= 120 else value[:117] + "..."
            lines.append(f"  set {name}={shown}")
        if self.nvcc_flags:
            lines.append(f"nvcc flags: {' '.join(self.nvcc_flags)}")
        lines += [f"warning: {w}" for w in self.warnings]
        return lines


# --- choosing --------------------------------------------------------------------------------


def installed_toolsets(instances: Sequence[VsInstance]) -> list[ToolsetChoice]:
    """Every toolset of every instance with a known ``_MSC_VER``, newest first."""
    out = []
    for inst in instances:
        for ts in inst.toolsets:
            msc = kb.msc_ver_for_toolset(ts)
            if msc is not None:
                out.append(ToolsetChoice(inst, ts, msc))
    return sorted(out, key=lambda c: (c.msc_ver, _vkey(c.toolset), _vkey(c.instance.version)),
                  reverse=True)


def compiler_fits(msc_ver: int, toolset: str | None, cuda: str | None) -> bool:
    """True when CUDA ``cuda`` accepts ``_MSC_VER`` ``msc_ver`` and the toolset's STL accepts it."""
    if cuda is None:
        return True
    rng = msvc_range(cuda)
    in_range = rng is None or rng[0] <= msc_ver <= rng[1]
    return in_range and not (toolset and kb.stl_blocks(toolset, cuda))


def choose_toolset(
    instances: Sequence[VsInstance], cuda: str | None, allow_unsupported: bool = False
) -> tuple[ToolsetChoice, tuple[str, ...]]:
    """The newest installed toolset that fits CUDA ``cuda`` (any toolset when ``cuda`` is None).

    With ``allow_unsupported`` (CUDA >= 11.0 only) an out-of-range toolset is taken when none fits,
    with a warning; a toolset whose STL refuses the CUDA (STL1002) is never taken.
    Raises ``RefusedError`` naming what to install when nothing fits.
    """
    all_ts = installed_toolsets(instances)
    if not all_ts:
        raise RefusedError(
            "no Visual Studio C++ toolset found",
            "vswhere lists no instance with the MSVC x64/x86 build tools",
            f"install {kb.install_hint(_msc_max(cuda))}",
        )
    fitting = [c for c in all_ts if compiler_fits(c.msc_ver, c.toolset, cuda)]
    if fitting:
        return fitting[0], ()
    assert cuda is not None  # every toolset fits when no CUDA is in use
    rng = msvc_range(cuda) or (0, 0)
    have = ", ".join(
        f"{c.toolset} (_MSC_VER {c.msc_ver}, {c.instance.display_name or c.instance.path})"
        for c in all_ts
    )
    if allow_unsupported:
        if _version(cuda) < _version(ALLOW_UNSUPPORTED_COMPILER_SINCE):
            raise RefusedError(
                f"no installed MSVC toolset fits CUDA {cuda} and its nvcc has no "
                f"{ALLOW_UNSUPPORTED_FLAG}",
                f"CUDA {cuda} accepts _MSC_VER {rng[0]}-{rng[1]}; installed: {have}",
                f"install {kb.install_hint(rng[1])}",
            )
        unblocked = [c for c in all_ts if not kb.stl_blocks(c.toolset, cuda)]
        if unblocked:
            c = unblocked[0]
            return c, (
                f"toolset {c.toolset} (_MSC_VER {c.msc_ver}) is outside CUDA {cuda}'s range "
                f"{rng[0]}-{rng[1]}; building with {ALLOW_UNSUPPORTED_FLAG} as asked: nvcc may "
                "miscompile or fail on this host compiler",
            )
    stl_note = ""
    if any(kb.stl_blocks(c.toolset, cuda) for c in all_ts):
        stl_note = (f"; toolsets {kb.STL_MIN_CUDA[0][0]}+ refuse CUDA < {kb.STL_MIN_CUDA[0][1]} "
                    "(STL1002) whatever nvcc allows")
    raise RefusedError(
        f"no installed MSVC toolset fits CUDA {cuda}",
        f"CUDA {cuda} accepts _MSC_VER {rng[0]}-{rng[1]} (toolsets "
        f"{kb.toolset_range(*rng)}); installed: {have}{stl_note}",
        f"install {kb.install_hint(rng[1])}, or use a CUDA release that accepts the installed "
        "toolset",
    )


def nvcc_flags_for(cuda: str | None, msc_ver: int, allow_unsupported: bool) -> tuple[str, ...]:
    """nvcc flags the host compiler needs: the conforming preprocessor for CUDA >= 13 (as
    ``-Xcompiler /Zc:preprocessor``), and ``-allow-unsupported-compiler`` when asked."""
    flags: list[str] = []
    if cuda is not None and _version(cuda) >= _version(CONFORMING_PREPROCESSOR_SINCE_CUDA):
        switch = next((f for m, f in reversed(PREPROCESSOR_FLAG_BY_MSC) if msc_ver >= m), None)
        if switch:
            flags += ["-Xcompiler", switch]
    if allow_unsupported:
        flags.append(ALLOW_UNSUPPORTED_FLAG)
    return tuple(flags)


# --- the plan --------------------------------------------------------------------------------


def vcvarsall_path(instance: VsInstance) -> str:
    """``<installationPath>\\VC\\Auxiliary\\Build\\vcvarsall.bat`` (VS 2017 and later)."""
    return str(PureWindowsPath(instance.path) / "VC" / "Auxiliary" / "Build" / "vcvarsall.bat")


def vcvars_argv(vcvarsall: str, toolset: str, arch: str = "x64") -> tuple[str, ...]:
    """The argv that activates ``toolset`` in a child cmd and prints the result with ``set``.

    As separate arguments, Python's Windows quoting (``subprocess.list2cmdline``) gives
    ``cmd /d /s /c call "C:\\Program Files (x86)\\...\\vcvarsall.bat" x64 -vcvars_ver=14.29.30133
    && echo MMFIX-VCVARS-ENV && set``: the path is quoted only when it has spaces, and since the
    line after ``/c`` does not start with a quote, ``/s`` leaves it unchanged. ``/d`` skips
    cmd AutoRun.
    Raises ``RefusedError`` for a path cmd cannot be given safely (quotes, ``%``, or metacharacters
    without spaces that would make it quoted).
    """
    if '"' in vcvarsall or "%" in vcvarsall or (
        not any(ch.isspace() for ch in vcvarsall) and _CMD_METACHARS & set(vcvarsall)
    ):
        raise RefusedError(
            f"cannot pass {vcvarsall} to cmd safely",
            "the path holds characters cmd interprets",
            "install Visual Studio under a plain path",
        )
    return ("cmd", "/d", "/s", "/c", "call", vcvarsall, arch, f"-vcvars_ver={toolset}",
            "&&", "echo", MARKER, "&&", "set")


def plan_msvc(
    env: Environment,
    cuda_version: str | None,
    allow_unsupported: bool = False,
    *,
    capture: bool = True,
    run: RunFunc = proc.run,
    base_env: Mapping[str, str] | None = None,
) -> MsvcPlan:
    """Plan the host compiler of a Windows build for CUDA ``cuda_version`` (None: a CPU build).

    Keeps the active developer shell when it targets x64 and its ``cl`` fits; else chooses the
    newest fitting toolset of any instance (``choose_toolset``) and the vcvarsall command to
    capture.
    By default (``capture=True``) it also runs that command once (``capture_vcvars_env`` with
    ``run``/``base_env``; read-only, a few seconds) and merges the variables into ``env_additions``;
    with ``capture=False`` call ``plan.with_captured(capture_vcvars_env(plan))`` later.
    Source of the ranges: CUDA's host_config.h (``knowledge.cuda``), MSVC's STL (``STL1002``).
    Raises ``RefusedError`` when the environment is not Windows or no toolset fits.
    """
    wf = env.host.windows
    if wf is None:
        raise RefusedError(
            "no Windows build facts in this environment",
            "the MSVC plan is for Windows targets",
            "run mmfix from a Windows shell",
        )
    shell = _dev_shell_plan(wf, env, cuda_version, allow_unsupported)
    if shell is not None:
        return shell

    choice, warnings = choose_toolset(wf.vs_instances, cuda_version, allow_unsupported)
    used_allow = any(ALLOW_UNSUPPORTED_FLAG in w for w in warnings)
    shell_notes = _shell_notes(wf, cuda_version)
    plan = MsvcPlan(
        toolset=kb.toolset_short(choice.toolset),
        msc_ver=choice.msc_ver,
        vs_instance=choice.instance,
        vcvars_argv=vcvars_argv(vcvarsall_path(choice.instance), choice.toolset),
        env_additions={"DISTUTILS_USE_SDK": "1"},
        nvcc_flags=nvcc_flags_for(cuda_version, choice.msc_ver, used_allow),
        warnings=shell_notes + warnings,
        toolset_full=choice.toolset,
        cuda_version=cuda_version,
        source="vcvarsall",
        code_page=wf.code_page,
    )
    if capture:
        plan = plan.with_captured(capture_vcvars_env(plan, run=run, base_env=base_env))
    return plan


def _dev_shell_plan(
    wf: WindowsFacts, env: Environment, cuda: str | None, allow_unsupported: bool
) -> MsvcPlan | None:
    if not (wf.dev_shell and wf.msc_ver and wf.target_arch == "x64"):
        return None
    toolset = wf.vc_tools_version or f"14.{wf.msc_ver - 1900}"
    fits = compiler_fits(wf.msc_ver, toolset, cuda)
    warnings: tuple[str, ...] = ()
    if not fits:
        others = [c for c in installed_toolsets(wf.vs_instances)
                  if compiler_fits(c.msc_ver, c.toolset, cuda)]
        blocked = cuda is not None and kb.stl_blocks(toolset, cuda)
        can_allow = (allow_unsupported and cuda is not None and not blocked
                     and _version(cuda) >= _version(ALLOW_UNSUPPORTED_COMPILER_SINCE))
        if others or not can_allow:
            return None  # capture a fitting toolset (or refuse, naming what to install)
        rng = msvc_range(cuda) if cuda else None
        warnings = (f"the shell's cl (_MSC_VER {wf.msc_ver}) is outside CUDA {cuda}'s range "
                    f"{rng[0] if rng else '?'}-{rng[1] if rng else '?'}; building with "
                    f"{ALLOW_UNSUPPORTED_FLAG} as asked",)
    instance = next((i for i in wf.vs_instances if toolset in i.toolsets), None)
    return MsvcPlan(
        toolset=kb.toolset_short(toolset),
        msc_ver=wf.msc_ver,
        vs_instance=instance,
        vcvars_argv=(),
        env_additions={"DISTUTILS_USE_SDK": "1"},
        nvcc_flags=nvcc_flags_for(cuda, wf.msc_ver, bool(warnings)),
        warnings=warnings,
        toolset_full=wf.vc_tools_version,
        cuda_version=cuda,
        source="dev-shell",
        code_page=wf.code_page,
        captured=True,
    )


def _shell_notes(wf: WindowsFacts, cuda: str | None) -> tuple[str, ...]:
    if not wf.dev_shell:
        return ()
    if wf.target_arch and wf.target_arch != "x64":
        return (f"this developer shell targets {wf.target_arch}; the build uses a captured x64 "
                "environment instead (your shell is not changed)",)
    if wf.msc_ver:
        return (f"this developer shell's cl (_MSC_VER {wf.msc_ver}) does not fit CUDA {cuda}; "
                "the build uses a captured environment of another toolset (your shell is not "
                "changed)",)
    return ()


# --- capturing -------------------------------------------------------------------------------


def clean_base_env(current: Mapping[str, str]) -> dict[str, str]:
    """The environment to run vcvarsall in: the current one without a developer shell's variables.

    Inside a developer shell, PATH goes back to ``__VSCMD_PREINIT_PATH`` (the shell's PATH before
    activation) and the VS variables are dropped, so two activations never stack.
    """
    out = {k: v for k, v in current.items() if not _is_vs_name(k)}
    preinit = getenv_ci(current, "__VSCMD_PREINIT_PATH")
    if preinit:
        path_key = next((k for k in out if k.lower() == "path"), "PATH")
        out[path_key] = preinit
    return out


def parse_set_output(text: str) -> dict[str, str]:
    """cmd's ``set`` listing (after the marker line when present) -> {name: value}.

    Lines are ``NAME=value`` (the value may hold ``=``); vcvarsall's banner lines and cmd's hidden
    ``=C:`` drive variables are skipped.
    """
    lines = text.splitlines()
    marker_at = next((i for i, ln in enumerate(lines) if ln.strip() == MARKER), None)
    if marker_at is not None:
        lines = lines[marker_at + 1:]
    out: dict[str, str] = {}
    for ln in lines:
        name, sep, value = ln.partition("=")
        if sep and name and not name.startswith("=") and " " not in name.strip():
            out[name] = value
    return out


def capture_vcvars_env(
    plan: MsvcPlan,
    run: RunFunc = proc.run,
    base_env: Mapping[str, str] | None = None,
    timeout: float = 180.0,
) -> dict[str, str]:
    """Run the plan's vcvarsall command once and return the variables it set or changed.

    ``base_env``: the environment the build would otherwise get (default ``os.environ``); vcvarsall
    runs in ``clean_base_env(base_env)`` and the result is compared with that, so
    ``build_env(plan, base_env)`` (clean base + these) is exactly what vcvarsall produced.
    Output is decoded in the console code page recorded by the probe (``plan.code_page``: cp936,
    cp1252 ...). Names keep ``base_env``'s spelling when they exist there (Windows names are
    case-insensitive). Returns {} for a dev-shell plan.
    Raises ``OperationFailed`` when vcvarsall fails or activates another toolset or arch.
    """
    if not plan.vcvars_argv:
        return {}
    base = clean_base_env(os.environ if base_env is None else base_env)
    res = run(list(plan.vcvars_argv), timeout=timeout, env=base, encoding=plan.code_page)
    if not res.ok or MARKER not in res.stdout:
        tail = " | ".join(ln.strip() for ln in res.output.splitlines() if ln.strip())[-400:]
        raise OperationFailed(
            f"vcvarsall.bat for toolset {plan.toolset_full or plan.toolset} failed",
            res.start_error or tail or f"exit code {res.returncode}",
            "run the same command in a cmd window to see why; repair the VS install if needed",
        )
    captured = parse_set_output(res.stdout)
    got_ts = getenv_ci(captured, "VCToolsVersion") or ""
    got_arch = (getenv_ci(captured, "VSCMD_ARG_TGT_ARCH") or "").lower()
    want_ts = plan.toolset_full or plan.toolset
    if not got_ts.startswith(want_ts) or got_arch != "x64":
        raise OperationFailed(
            f"vcvarsall.bat activated toolset {got_ts or '?'} for {got_arch or '?'}",
            f"asked for {want_ts} x64",
            "check the toolset folders under VC\\Tools\\MSVC of that Visual Studio instance",
        )
    spelled = {k.lower(): k for k in base}
    out: dict[str, str] = {}
    for name, value in captured.items():
        key = spelled.get(name.lower(), name)
        if base.get(key) != value:
            out[key] = value
    return out


def build_env(plan: MsvcPlan, current: Mapping[str, str] | None = None) -> dict[str, str]:
    """The full environment for the build subprocess: ``current`` (default ``os.environ``) plus
    the plan's additions; when a toolset was captured, the shell's own VS variables are dropped
    first."""
    base = dict(os.environ if current is None else current)
    if plan.vcvars_argv:
        base = clean_base_env(base)
    spelled = {k.lower(): k for k in base}
    for name, value in plan.env_additions.items():
        base[spelled.get(name.lower(), name)] = value
    return base


def _is_vs_name(name: str) -> bool:
    low = name.lower()
    return low in VS_ENV_NAMES or low.startswith(VS_ENV_PREFIXES)


def _msc_max(cuda: str | None) -> int:
    rng = msvc_range(cuda) if cuda else None
    return rng[1] if rng else kb.INSTALL_HINT_BY_MSC_MAX[-1][0]


def _version(text: str) -> Version:
    try:
        return Version(text)
    except InvalidVersion:
        return Version("0")


def _vkey(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".") if p.isdigit())
