"""MSVC facts as data tables: toolsets, ``_MSC_VER``, Visual Studio releases, STL gates on CUDA.

Sources: Microsoft's "Microsoft C/C++ compiler versions" table (``_MSC_VER`` by toolset / VS
release), the ``cl.exe`` banner (``19.29.30133`` -> ``_MSC_VER`` 1929), the MSVC STL's
``yvals_core.h`` (``STL1002``), and the Visual Studio installer's component ids.
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.version import InvalidVersion, Version


@dataclass(frozen=True)
class ToolsetSeries:
    """One MSVC toolset series: ``14.2`` covers 14.20 ... 14.29 (``_MSC_VER`` 1920 ... 1929)."""

    series: str  # "14.2"
    msc_min: int
    msc_max: int
    platform_toolset: str  # the MSBuild name: v142
    vs: str  # the Visual Studio release that ships it: "2019"


# _MSC_VER by toolset series (Microsoft's compiler version table). 14.0 is VS 2015's only one.
TOOLSET_SERIES: tuple[ToolsetSeries, ...] = (
    ToolsetSeries("14.0", 1900, 1900, "v140", "2015"),
    ToolsetSeries("14.1", 1910, 1916, "v141", "2017"),
    ToolsetSeries("14.2", 1920, 1929, "v142", "2019"),
    ToolsetSeries("14.3", 1930, 1939, "v143", "2022"),
    ToolsetSeries("14.4", 1940, 1949, "v143", "2022"),
    ToolsetSeries("14.5", 1950, 1959, "v145", "2026"),
)

# Newest _MSC_VER of each Visual Studio release ("only the versions between 2017 and 2022 are
# supported" in nvcc's C1189 message -> 1949): VS 2010-2013 predate the 14.x toolsets (Microsoft's
# table: 1600, 1700, 1800); from 2015 on, the newest series each release ships.
VS_MSC_MAX: dict[int, int] = {
    2010: 1600, 2012: 1700, 2013: 1800,
    **{int(s.vs): s.msc_max for s in TOOLSET_SERIES},  # in series order: the newest series wins
}

# Visual Studio product year by installationVersion major (vswhere's catalog.productLineVersion).
VS_YEAR_BY_MAJOR: dict[int, str] = {14: "2015", 15: "2017", 16: "2019", 17: "2022", 18: "2026"}

# The MSVC STL refuses CUDA older than this (``STL1002: Unexpected compiler version, expected CUDA
# 12.4 or newer``, yvals_core.h of VS 2022 17.10 / toolset 14.40 and later). No nvcc flag lifts it:
# -allow-unsupported-compiler silences nvcc's check, not the STL's.
# (first toolset with the gate, oldest CUDA it accepts)
STL_MIN_CUDA: tuple[tuple[str, str], ...] = (("14.40", "12.4"),)

# What to install for the newest toolset below a CUDA release's _MSC_VER ceiling: (ceiling, hint).
# Component ids are the Visual Studio installer's (Individual components > Compilers).
INSTALL_HINT_BY_MSC_MAX: tuple[tuple[int, str], ...] = (
    (1913, "Visual Studio 2017 15.6 or older (toolset 14.13): the 'VC++ 2017 version 15.6 "
     "v14.13 toolset'"),
    (1916, "the 'MSVC v141 - VS 2017 C++ x64/x86 build tools (v14.16)' component "
     "(Microsoft.VisualStudio.Component.VC.v141.x86.x64)"),
    (1929, "the 'MSVC v142 - VS 2019 C++ x64/x86 build tools (v14.29-16.11)' component "
     "(Microsoft.VisualStudio.Component.VC.14.29.16.11.x86.x64), or Build Tools for Visual Studio "
     "2019"),
    (1939, "the 'MSVC v143 - VS 2022 C++ x64/x86 build tools (v14.39-17.9)' component "
     "(Microsoft.VisualStudio.Component.VC.14.39.17.9.x86.x64)"),
    (1949, "Build Tools for Visual Studio 2022 with the 'Desktop development with C++' workload "
     "(Microsoft.VisualStudio.Component.VC.Tools.x86.x64)"),
)


def toolset_series(toolset: str) -> ToolsetSeries | None:
    """The series row for a toolset ("14.29", "14.29.30133"); None when unknown or malformed."""
    parts = toolset.split(".")
    if len(parts) < 2 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    minor = parts[1]
    key = f"{parts[0]}.{minor[0]}" if len(minor) == 2 else f"{parts[0]}.{minor}"
    return next((s for s in TOOLSET_SERIES if s.series == key), None)


def msc_ver_for_toolset(toolset: str) -> int | None:
    """``_MSC_VER`` of a toolset: "14.29.30133" -> 1929, "14.0" -> 1900; None when unknown.

    Toolset 14.NN ships ``cl`` 19.NN, whose ``_MSC_VER`` is 19NN; the series table bounds it.
    """
    series = toolset_series(toolset)
    if series is None:
        return None
    minor = int(toolset.split(".")[1])
    msc = 1900 + minor
    return msc if series.msc_min <= msc <= series.msc_max else None


def msc_ver_from_cl_version(version: str) -> int | None:
    """``_MSC_VER`` from a ``cl`` product version: "19.29.30133" -> 1929; None when malformed."""
    parts = version.split(".")
    if len(parts) < 2 or not (parts[0].isdigit() and parts[1].isdigit()):
        return None
    return int(parts[0]) * 100 + int(parts[1])


def toolset_short(toolset: str) -> str:
    """"14.29.30133" -> "14.29" (the form ``-vcvars_ver`` and the catalog use)."""
    return ".".join(toolset.split(".")[:2])


def stl_min_cuda(toolset: str) -> str | None:
    """The oldest CUDA the toolset's STL accepts (STL1002), or None when it sets no floor."""
    try:
        have = Version(toolset_short(toolset))
    except InvalidVersion:
        return None
    floor = None
    for first_toolset, cuda in STL_MIN_CUDA:
        if have >= Version(first_toolset):
            floor = cuda
    return floor


def stl_blocks(toolset: str, cuda: str) -> bool:
    """True when the toolset's STL refuses CUDA ``cuda`` with STL1002."""
    floor = stl_min_cuda(toolset)
    if floor is None:
        return False
    try:
        return Version(cuda) < Version(floor)
    except InvalidVersion:
        return False


def toolset_range(msc_min: int, msc_max: int) -> str:
    """A ``_MSC_VER`` range as toolsets: (1910, 1939) -> "14.10-14.39"."""
    return f"14.{msc_min - 1900:02d}-14.{msc_max - 1900:02d}" if msc_min >= 1910 else (
        f"14.0-14.{msc_max - 1900:02d}"
    )


def install_hint(msc_max: int) -> str:
    """What to install to get the newest toolset at or below ``_MSC_VER`` ``msc_max``."""
    fitting = [hint for ceiling, hint in INSTALL_HINT_BY_MSC_MAX if ceiling <= msc_max]
    return fitting[-1] if fitting else INSTALL_HINT_BY_MSC_MAX[0][1]


def vs_year(installation_version: str) -> str | None:
    """"16.11.31729.503" -> "2019"; None when unknown."""
    head = installation_version.split(".", 1)[0]
    return VS_YEAR_BY_MAJOR.get(int(head)) if head.isdigit() else None
