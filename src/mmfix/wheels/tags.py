"""The target's side of choosing a wheel: which wheel tags its interpreter installs
(``packaging.tags``), which torch/CUDA combination it has, and which mmcv versions it wants
(``--mmcv-version`` and the installed downstream packages' bounds)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import compatible_tags, cpython_tags, mac_platforms
from packaging.version import InvalidVersion, Version

from mmfix.builder.plan import torch_cuda
from mmfix.errors import OperationFailed, UsageError
from mmfix.knowledge import downstream as kd
from mmfix.model import Downstream, Environment, TargetPython, TorchInfo


@dataclass(frozen=True)
class WheelTarget:
    """What a wheel must fit: index combination, interpreter tags, the mmcv versions wanted."""

    cuda_tag: str  # "cu118", "cpu"
    torch: str  # "2.0"
    python: str  # "3.8"
    platform: str  # sys.platform of the target
    machine: str
    tags: tuple[str, ...]  # supported wheel tags, most preferred first
    requested: str = ""  # SpecifierSet from --mmcv-version ("" = any)
    allowed: str = ""  # SpecifierSet from the installed downstream packages ("" = any)
    allowed_by: tuple[str, ...] = ()  # "mmdet 3.3.0: >=3.0.0rc5,<2.2.0"

    def describe(self) -> str:
        return f"Python {self.python}, {self.platform} {self.machine}"


def cuda_tag(torch: TorchInfo) -> str:
    """The index's CUDA tag for a torch build: its CUDA release (``builder.plan.torch_cuda``: the
    probed ``torch.version.cuda``, else torch/version.py, else a ``+cuXYZ`` label) "11.8" ->
    "cu118"; CPU and ROCm (``torch.version.hip``) builds -> "cpu" (mim's rule)."""
    release = torch_cuda(torch)
    return "cu" + "".join(release.split(".")[:2]) if release else "cpu"


def torch_minor(version: str) -> tuple[int, int]:
    """(major, minor) of a torch version string such as "2.0.1+cu118". Raises OperationFailed."""
    try:
        release = Version(version).release
    except InvalidVersion:
        raise OperationFailed(
            f"cannot read the torch version {version!r}",
            fix="reinstall torch in the target environment",
        ) from None
    return release[0], (release[1] if len(release) > 1 else 0)


def torch_release(version: str) -> str:
    """The public release of a torch version without its local label: "2.14.1+cu130" -> "2.14.1".
    Raises OperationFailed for an unreadable version."""
    try:
        return Version(version).public
    except InvalidVersion:
        raise OperationFailed(
            f"cannot read the torch version {version!r}",
            fix="reinstall torch in the target environment",
        ) from None


def torch_cxx11_abi(torch: TorchInfo) -> bool | None:
    """torch's ``_GLIBCXX_USE_CXX11_ABI``: the probed value (``TorchConfig.cmake``, which torch >= 2.10
    no longer spells out), else read from ``lib/libc10.so``: symbols it defines with
    ``std::__cxx11::`` types mean 1; ``std::string`` as ``Ss`` without any ``__cxx11`` means 0.
    None when neither tells (Windows, macOS, no torch libraries)."""
    if torch.cxx11_abi is not None:
        return torch.cxx11_abi
    from mmfix.probe.extbin import dynamic_symbols

    lib = Path(torch.lib_dir or Path(torch.location) / "lib") / "libc10.so"
    names = [n for n, defined in dynamic_symbols(str(lib)) if defined and n.startswith("_ZN3c10")]
    if any("__cxx11" in n for n in names):
        return True
    if any("Ss" in n for n in names):
        return False
    return None


def torch_build(torch: TorchInfo) -> str:
    """The build of torch that a compiled mmcv depends on: "cu130" (its CUDA release, as
    ``cuda_tag``), "rocm6.2" (``torch.version.hip``, major.minor) or "cpu". Unlike the official
    index, which files ROCm under ``cpu``, a wheelhouse keeps ROCm builds apart."""
    if torch.hip:
        return "rocm" + ".".join(torch.hip.split(".")[:2])
    return cuda_tag(torch)


# --- the target's wheel tags ----------------------------------------------------------------

_LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
_WIN_PLATFORMS = {"amd64": "win_amd64", "x86_64": "win_amd64", "arm64": "win_arm64", "x86": "win32"}


def _linux_platforms(machine: str, glibc: str | None) -> list[str]:
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine.lower(), machine)
    try:
        glibc_minor = int((glibc or "2.17").split(".")[1])
    except (IndexError, ValueError):
        glibc_minor = 17
    out: list[str] = []
    for minor in range(glibc_minor, 4, -1):
        out.append(f"manylinux_2_{minor}_{arch}")
        legacy = _LEGACY_MANYLINUX.get(minor)
        if legacy and (minor == 17 or arch in ("x86_64", "i686")):
            out.append(f"{legacy}_{arch}")
    return [*out, f"linux_{arch}"]


def _mac_version(os_release: str, machine: str) -> tuple[int, int]:
    """macOS version from the Darwin kernel release (20 -> 11, 23 -> 14; 19 -> 10.15)."""
    m = re.match(r"(\d+)", os_release or "")
    if not m:
        return (11, 0) if machine == "arm64" else (10, 15)
    darwin = int(m.group(1))
    return (darwin - 9, 0) if darwin >= 20 else (10, max(darwin - 4, 9))


def target_tags(
    target: TargetPython, glibc: str | None = None, os_release: str = ""
) -> tuple[str, ...]:
    """Wheel tags the target interpreter installs, most preferred first.

    The probe's ``target.wheel_tags`` (``packaging.tags.sys_tags`` run in the target) when present;
    else computed with ``packaging.tags`` for the target's Python version and platform: manylinux
    down from ``glibc`` (default 2.17) on Linux, ``win_amd64``/``win_arm64``/``win32`` on Windows,
    ``macosx_*`` from the Darwin release on macOS.
    """
    if target.wheel_tags:
        return tuple(target.wheel_tags)
    major, minor = (list(target.version_tuple) + [0, 0])[:2]
    if target.platform.startswith("linux"):
        platforms = _linux_platforms(target.machine, glibc)
    elif target.platform == "win32":
        platforms = [_WIN_PLATFORMS.get(target.machine.lower(), "win_amd64")]
    elif target.platform == "darwin":
        arch = "arm64" if target.machine.lower() in ("arm64", "aarch64") else "x86_64"
        platforms = list(mac_platforms(_mac_version(os_release, arch), arch))
    else:
        platforms = [f"{target.platform}_{target.machine}".replace("-", "_").replace(".", "_")]
    abi = f"cp{major}{minor}" + ("m" if (major, minor) < (3, 8) else "")
    tags = list(cpython_tags(python_version=(major, minor), abis=[abi], platforms=platforms))
    tags += compatible_tags(
        python_version=(major, minor), interpreter=f"cp{major}{minor}", platforms=platforms
    )
    return tuple(str(t) for t in tags)


# --- the mmcv versions wanted ---------------------------------------------------------------


def requested_spec(mmcv_version: str | None) -> SpecifierSet:
    """``--mmcv-version``: "2.1.0" means ==2.1.0; a specifier (">=2.0,<2.2") is taken as is.

    Raises UsageError for text that is neither.
    """
    if not mmcv_version:
        return SpecifierSet()
    text = mmcv_version.strip()
    try:
        Version(text)
        return SpecifierSet(f"=={text}")
    except InvalidVersion:
        pass
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        raise UsageError(
            f"bad --mmcv-version {mmcv_version!r}",
            why="neither a version nor a version specifier",
            fix="for example --mmcv-version 2.1.0 or --mmcv-version '>=2.0,<2.2'",
        ) from None


def downstream_spec(downstream: tuple[Downstream, ...]) -> tuple[SpecifierSet, tuple[str, ...]]:
    """The mmcv range every installed downstream package allows (their ``__init__.py`` bounds), and
    one "name version: range" line per package that has bounds. An unknown ``max_inclusive`` is
    taken as exclusive (``<``), the form of every 2.x package's assertion."""
    bounded = [d for d in downstream if kd.bound_specs(d)]  # knowledge.downstream builds every range
    return kd.allowed(bounded), tuple(f"{d.name} {d.version}: {kd.spec_for(d)}" for d in bounded)


def make_target(env: Environment, mmcv_version: str | None = None) -> WheelTarget:
    """The ``WheelTarget`` of an environment. Raises OperationFailed when it has no torch."""
    if env.torch is None:
        raise OperationFailed(
            "no torch in the target environment",
            why="mmcv wheels are built per torch version and CUDA tag",
            fix=f"install torch into {env.target.executable} first",
        )
    allowed, allowed_by = downstream_spec(env.downstream)
    major, minor = torch_minor(env.torch.version)
    py = env.target.version_tuple
    return WheelTarget(
        cuda_tag=cuda_tag(env.torch),
        torch=f"{major}.{minor}",
        python=f"{py[0]}.{py[1]}" if len(py) > 1 else env.target.version,
        platform=env.target.platform,
        machine=env.target.machine,
        tags=target_tags(env.target, env.host.glibc, env.host.os_release),
        requested=str(requested_spec(mmcv_version)),
        allowed=str(allowed),
        allowed_by=allowed_by,
    )

