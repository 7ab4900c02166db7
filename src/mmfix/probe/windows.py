"""Windows build facts: the developer shell, ``cl.exe``, Visual Studio instances, CUDA toolkits.

Facts only, no judgement (the checks in ``mmfix.checks.windows`` judge). Everything that touches
the machine is injected (``run``, ``which``, ``read_registry``, ``list_dir``, ``is_file``), so this
module imports and is tested on Linux with recorded outputs; ``winreg`` and ``ctypes.windll`` are
imported lazily, only when running on Windows. Paths are handled as ``PureWindowsPath``.

Sources of each fact:
- developer shell: the variables ``VsDevCmd.bat`` / ``vcvarsall.bat`` set (``VSCMD_VER``,
  ``VSCMD_ARG_TGT_ARCH``, ``VCToolsInstallDir``, ``VCToolsVersion``) and ``cl.exe`` on PATH;
- ``cl`` version: its banner
  ("Microsoft (R) C/C++ Optimizing Compiler Version 19.29.30133 for x64", localized, e.g.
  "用于 x64 的 Microsoft (R) C/C++ 优化编译器 19.29.30133 版"), in the console code page;
- instances: ``vswhere.exe -all -products * -requires
  Microsoft.VisualStudio.Component.VC.Tools.x86.x64 -format json -utf8`` from its standard folder,
  toolsets from ``<installationPath>\\VC\\Tools\\MSVC``;
- long paths: ``HKLM\\SYSTEM\\CurrentControlSet\\Control\\FileSystem\\LongPathsEnabled``;
- CUDA toolkits: ``CUDA_PATH``, ``CUDA_PATH_V12_4``-style variables, and the standard install folder
  ``%ProgramFiles%\\NVIDIA GPU Computing Toolkit\\CUDA\\vX.Y``.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import PureWindowsPath
from typing import Any, Callable, Optional

from mmfix import proc
from mmfix.knowledge.cuda import CUDA_MATH_HEADERS
from mmfix.knowledge.msvc import msc_ver_from_cl_version
from mmfix.model import Compiler, CudaToolkit, VsInstance, WindowsFacts

RunFunc = Callable[..., proc.ProcResult]
WhichFunc = Callable[..., Optional[str]]
# (key under HKEY_LOCAL_MACHINE, value name) -> the value, or None when absent / unreadable
RegistryReader = Callable[[str, str], Any]
ListDir = Callable[[str], Iterable[str]]
IsFile = Callable[[str], bool]

VC_TOOLS_COMPONENT = "Microsoft.VisualStudio.Component.VC.Tools.x86.x64"
VSWHERE_ARGS: tuple[str, ...] = (
    "-all", "-products", "*", "-requires", VC_TOOLS_COMPONENT, "-format", "json", "-utf8",
)
# vswhere's standard location (installed with every VS 2017+ installer).
VSWHERE_REL = r"Microsoft Visual Studio\Installer\vswhere.exe"
LONG_PATHS_KEY = r"SYSTEM\CurrentControlSet\Control\FileSystem"
LONG_PATHS_VALUE = "LongPathsEnabled"
CUDA_STANDARD_REL = r"NVIDIA GPU Computing Toolkit\CUDA"

# Variables the host probe should keep in ``Host.env`` on Windows (checks read them from there).
WINDOWS_ENV_VARS: tuple[str, ...] = (
    "VSCMD_VER", "VSCMD_ARG_TGT_ARCH", "VSCMD_ARG_HOST_ARCH", "VCToolsInstallDir", "VCToolsVersion",
    "VCINSTALLDIR", "VSINSTALLDIR", "VisualStudioVersion", "DISTUTILS_USE_SDK", "MSSdk",
    "CUDA_PATH", "TEMP", "TMP", "MMCV_CUDA_ARGS", "__VSCMD_PREINIT_PATH",
)

_CL_VERSION_RE = re.compile(r"(?<![\d.])(\d{2}\.\d{1,2}\.\d{4,5}(?:\.\d+)?)(?![\d.])")
_CL_ARCH_RE = re.compile(
    r"(?<![A-Za-z0-9_])(x64|x86|ARM64EC|ARM64|ARM|AMD64)(?![A-Za-z0-9_])", re.I
)
_NVCC_RELEASE_RE = re.compile(r"release (\d+\.\d+), V(\d+\.\d+\.\d+)")
_CUDA_PATH_VAR_RE = re.compile(r"^CUDA_PATH_V(\d+)_(\d+)$", re.I)
_CUDA_DIR_RE = re.compile(r"^v(\d+\.\d+)$", re.I)


def getenv_ci(env: Mapping[str, str], name: str) -> str | None:
    """``env[name]`` ignoring case (Windows names are case-insensitive; Python upper-cases them)."""
    if name in env:
        return env[name]
    low = name.lower()
    return next((v for k, v in env.items() if k.lower() == low), None)


# --- parsers of recorded tool output (pure) --------------------------------------------------


def parse_cl_banner(text: str) -> tuple[str | None, str | None]:
    """``cl.exe``'s banner -> (product version "19.29.30133", target arch "x64").

    Works on any language of the banner: English ("... Version 19.29.30133 for x64"), Chinese
    ("用于 x64 的 Microsoft (R) C/C++ 优化编译器 19.29.30133 版"), German, Japanese ...; only the
    first line naming the compiler is read. Returns (None, None) when no banner is found.
    """
    for line in text.splitlines():
        if "Microsoft" not in line or "C/C++" not in line:
            continue
        version = _CL_VERSION_RE.search(line)
        rest = line.replace("C/C++", " ")
        arch = _CL_ARCH_RE.search(rest)
        return (version.group(1) if version else None, arch.group(1).lower() if arch else None)
    return None, None


def parse_vswhere(text: str) -> list[dict[str, Any]]:
    """vswhere's ``-format json`` output -> its list of instance objects ([] for "[]" or junk).

    Fields used: installationPath, installationVersion, displayName, catalog.productLineVersion,
    isComplete, isLaunchable (vswhere's JSON schema).
    """
    try:
        data = json.loads(text.lstrip("\ufeff") or "[]")
    except ValueError:
        return []
    return [d for d in data if isinstance(d, dict) and d.get("installationPath")] if isinstance(
        data, list
    ) else []


def parse_nvcc_version(text: str) -> tuple[str | None, str | None]:
    """``nvcc --version`` (any OS, CRLF too) -> (release "12.4", full "12.4.131"), or Nones."""
    m = _NVCC_RELEASE_RE.search(text)
    return (m.group(1), m.group(2)) if m else (None, None)


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text))


# --- the machine, through injected callables ------------------------------------------------


def _default_list_dir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def windows_registry_reader(key: str, value: str) -> Any:
    """Read ``HKEY_LOCAL_MACHINE\\<key>\\<value>``; None when absent or not on Windows.

    ``winreg`` is imported here, never at module import, so this module loads on any OS.
    """
    if sys.platform != "win32":
        return None
    import winreg  # noqa: PLC0415 - Windows only

    try:
        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, key) as handle:  # type: ignore[attr-defined]
            return winreg.QueryValueEx(handle, value)[0]  # type: ignore[attr-defined]
    except OSError:
        return None


def console_code_page() -> str | None:
    """The console's output code page as a Python codec name ("cp936"); None off Windows.

    Console programs (cl, cmd's ``set``) write in it; it comes from ``GetConsoleOutputCP`` (the
    ``chcp`` value), else the OEM code page when no console is attached.
    """
    if sys.platform != "win32":
        return None
    import ctypes  # noqa: PLC0415 - Windows only

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    cp = kernel32.GetConsoleOutputCP() or kernel32.GetOEMCP()
    return "utf-8" if cp == 65001 else f"cp{cp}"


def vswhere_path(env_vars: Mapping[str, str], which: WhichFunc) -> str | None:
    """vswhere.exe: its standard folder under ``%ProgramFiles(x86)%``, else on PATH."""
    base = getenv_ci(env_vars, "ProgramFiles(x86)") or r"C:\Program Files (x86)"
    standard = str(PureWindowsPath(base) / VSWHERE_REL)
    found = which(standard)
    return found or which("vswhere")


def list_toolsets(installation_path: str, list_dir: ListDir) -> tuple[str, ...]:
    """The MSVC toolsets of an instance: folder names under ``VC\\Tools\\MSVC``, newest first."""
    root = str(PureWindowsPath(installation_path) / "VC" / "Tools" / "MSVC")
    names = [n for n in list_dir(root) if re.fullmatch(r"\d+\.\d+\.\d+", n)]
    return tuple(sorted(names, key=_version_key, reverse=True))


def vs_instances_from_vswhere(text: str, list_dir: ListDir) -> tuple[VsInstance, ...]:
    """Instances from vswhere JSON, each with its toolsets; newest VS first."""
    out = []
    for d in parse_vswhere(text):
        path = str(d["installationPath"])
        name = d.get("displayName")
        year = (d.get("catalog") or {}).get("productLineVersion")
        if name and year and str(year) not in name:
            name = f"{name} {year}"
        out.append(VsInstance(path, str(d.get("installationVersion", "")), name,
                              list_toolsets(path, list_dir)))
    return tuple(sorted(out, key=lambda i: _version_key(i.version), reverse=True))


def probe_cl(cl_path: str, run: RunFunc, encoding: str | None) -> Compiler:
    """Run ``cl.exe`` (no arguments: it prints its banner and usage) and read the banner."""
    res = run([cl_path], timeout=30, encoding=encoding)
    version, _arch = parse_cl_banner(res.output)
    first = next((ln.strip() for ln in res.output.splitlines() if "C/C++" in ln), None)
    return Compiler(cl_path, "cl", version, first)


def probe_windows(
    env_vars: Mapping[str, str],
    run: RunFunc = proc.run,
    which: WhichFunc = proc.which,
    read_registry: RegistryReader | None = None,
    *,
    list_dir: ListDir | None = None,
    code_page: str | None = None,
) -> WindowsFacts:
    """Gather the Windows build facts (``WindowsFacts``) of this machine and shell.

    ``env_vars``: the current environment (any key case). ``run``/``which``: ``mmfix.proc`` or
    fakes.
    ``read_registry``: HKLM reader (default: ``winreg`` on Windows, nothing elsewhere).
    ``list_dir``: folder lister (default ``os.listdir``). ``code_page``: codec of console output
    (default: the console's, see ``console_code_page``). Never raises for a missing tool.
    """
    list_dir = list_dir or _default_list_dir
    reader = read_registry or windows_registry_reader
    encoding = code_page or console_code_page()

    vscmd_ver = getenv_ci(env_vars, "VSCMD_VER")
    tools_dir = getenv_ci(env_vars, "VCToolsInstallDir")
    cl_path = which("cl")
    dev_shell = bool((vscmd_ver or tools_dir) and cl_path)

    cl = probe_cl(cl_path, run, encoding) if cl_path else None
    msc_ver = msc_ver_from_cl_version(cl.version) if cl and cl.version else None
    arch = getenv_ci(env_vars, "VSCMD_ARG_TGT_ARCH")
    if arch is None and cl is not None and cl.banner:
        arch = parse_cl_banner(cl.banner)[1]

    instances: tuple[VsInstance, ...] = ()
    vswhere = vswhere_path(env_vars, which)
    if vswhere:
        res = run([vswhere, *VSWHERE_ARGS], timeout=60, encoding="utf-8")
        if res.ok:
            instances = vs_instances_from_vswhere(res.stdout, list_dir)

    long_paths = reader(LONG_PATHS_KEY, LONG_PATHS_VALUE)
    return WindowsFacts(
        dev_shell=dev_shell,
        vscmd_ver=vscmd_ver,
        vc_tools_version=getenv_ci(env_vars, "VCToolsVersion"),
        target_arch=arch.lower() if arch else None,
        cl=cl,
        msc_ver=msc_ver,
        vs_instances=instances,
        long_paths_enabled=None if long_paths is None else bool(long_paths),
        code_page=encoding,
    )


def windows_cuda_toolkits(
    env_vars: Mapping[str, str],
    list_dir: ListDir | None = None,
    is_file: IsFile | None = None,
) -> tuple[CudaToolkit, ...]:
    """CUDA toolkits named by ``CUDA_PATH``, ``CUDA_PATH_V<major>_<minor>`` and the standard folder.

    The version comes from the variable name (``CUDA_PATH_V12_4``) or the folder name (``v12.4``);
    ``has_nvcc`` from ``bin\\nvcc.exe``; math headers from ``include``. One entry per folder (case-
    insensitive), first source wins: CUDA_PATH, then the versioned variables, then the standard
    folder.
    """
    list_dir = list_dir or _default_list_dir
    is_file = is_file or os.path.isfile
    found: list[tuple[str, str | None, str]] = []
    cuda_path = getenv_ci(env_vars, "CUDA_PATH")
    if cuda_path:
        found.append((cuda_path, _cuda_version_from_dir(cuda_path), "CUDA_PATH"))
    versioned = []
    for key, value in env_vars.items():
        m = _CUDA_PATH_VAR_RE.match(key)
        if m and value:
            versioned.append((value, f"{m.group(1)}.{m.group(2)}", key.upper()))
    found += sorted(versioned, key=lambda t: _version_key(t[1] or ""), reverse=True)
    program_files = getenv_ci(env_vars, "ProgramFiles") or r"C:\Program Files"
    standard = PureWindowsPath(program_files) / CUDA_STANDARD_REL
    dirs = [n for n in list_dir(str(standard)) if _CUDA_DIR_RE.match(n)]
    for name in sorted(dirs, key=_version_key, reverse=True):
        found.append((str(standard / name), name[1:], "standard"))

    seen: set[str] = set()
    out = []
    for root, version, source in found:
        norm = str(PureWindowsPath(root)).rstrip("\\").lower()
        if norm in seen:
            continue
        seen.add(norm)
        if version is None:  # CUDA_PATH pointing at an odd folder: borrow a versioned var's version
            version = next((v for r, v, s in found if s != "CUDA_PATH" and
                            str(PureWindowsPath(r)).rstrip("\\").lower() == norm), None)
        p = PureWindowsPath(root)
        headers = tuple(h for h in CUDA_MATH_HEADERS if is_file(str(p / "include" / h)))
        has_nvcc = is_file(str(p / "bin" / "nvcc.exe"))
        out.append(CudaToolkit(str(p), version, source, has_nvcc, headers))
    return tuple(out)


def _cuda_version_from_dir(path: str) -> str | None:
    m = _CUDA_DIR_RE.match(PureWindowsPath(path).name)
    return m.group(1) if m else None
