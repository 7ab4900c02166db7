"""CUDA facts as data tables (shared/CATALOG.md "Fact tables").

Versions are "major.minor" strings; compute capabilities are "8.6"; sm numbers are ints (86).
Rows from 11.7 on are read from NVIDIA's PyPI wheels of every release (nvidia-cuda-nvcc-cu11/-cu12,
nvidia-cuda-nvcc and nvidia-cuda-crt 11.7.99 ... 13.5.37: ``ptxas --help``, ``crt/host_config.h``,
``crt/math_functions.h``); tests/e2e/test_knowledge_artifacts_cuda.py compares them. Older rows come
from the CUDA release notes (no wheel exists for them).
"""

from __future__ import annotations

from packaging.version import Version

# nvcc's accepted real architectures (sm numbers) by CUDA release; a release without a row uses the
# newest row below it. Arch-specific forms (sm_90a from 12.0, sm_100f from 12.9 ...) are left out.
# Source: ``ptxas --help`` (--gpu-name) of each wheel from 11.7 on, the
# CUDA release notes before.
NVCC_ARCHS: dict[str, tuple[int, ...]] = {
    "9.0": (30, 32, 35, 37, 50, 52, 53, 60, 61, 62, 70),
    "9.1": (30, 32, 35, 37, 50, 52, 53, 60, 61, 62, 70, 72),
    "9.2": (30, 32, 35, 37, 50, 52, 53, 60, 61, 62, 70, 72),
    "10.0": (30, 32, 35, 37, 50, 52, 53, 60, 61, 62, 70, 72, 75),
    "10.1": (30, 32, 35, 37, 50, 52, 53, 60, 61, 62, 70, 72, 75),
    "10.2": (30, 32, 35, 37, 50, 52, 53, 60, 61, 62, 70, 72, 75),
    "11.0": (35, 37, 50, 52, 53, 60, 61, 62, 70, 72, 75, 80),
    "11.1": (35, 37, 50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86),
    "11.2": (35, 37, 50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86),
    "11.3": (35, 37, 50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86),
    "11.4": (35, 37, 50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87),
    "11.5": (35, 37, 50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87),
    "11.6": (35, 37, 50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87),
    "11.7": (35, 37, 50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87),
    "11.8": (35, 37, 50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90),
    "12.0": (50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90),
    "12.1": (50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90),
    "12.2": (50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90),
    "12.3": (50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90),
    "12.4": (50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90),
    "12.5": (50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90),
    "12.6": (50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90),
    "12.8": (50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90, 100, 101, 120),
    "12.9": (50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90, 100, 101, 103, 120, 121),
    "13.0": (75, 80, 86, 87, 88, 89, 90, 100, 103, 110, 120, 121),
    "13.4": (75, 80, 86, 87, 88, 89, 90, 100, 103, 107, 110, 120, 121),
}

# Newest GCC major each CUDA release's crt/host_config.h accepts (``#if __GNUC__ > N``).
GCC_MAX_BY_CUDA: dict[str, int] = {
    "9.0": 6, "9.1": 6, "9.2": 7, "10.0": 7, "10.1": 8, "10.2": 8, "11.0": 9,
    "11.1": 10, "11.2": 10, "11.3": 10, "11.4": 10,
    "11.5": 11, "11.6": 11, "11.7": 11, "11.8": 11,
    "12.0": 12, "12.1": 12, "12.2": 12, "12.3": 12,
    "12.4": 13, "12.5": 13, "12.6": 13, "12.8": 14, "12.9": 14, "13.0": 15,
    "13.1": 15, "13.2": 15, "13.3": 15, "13.4": 16, "13.5": 16,
}

# _MSC_VER range each CUDA release accepts (inclusive), from crt/host_config.h
# (``#if _MSC_VER < MIN || _MSC_VER >= MAX + 1``).
MSVC_RANGE_BY_CUDA: dict[str, tuple[int, int]] = {
    "9.2": (1600, 1913),
    "10.0": (1700, 1916), "10.1": (1700, 1929), "10.2": (1700, 1929), "11.0": (1700, 1929),
    "11.1": (1910, 1929), "11.2": (1910, 1929), "11.3": (1910, 1929), "11.4": (1910, 1929),
    "11.5": (1910, 1929),
    "11.6": (1910, 1939), "11.7": (1910, 1939), "11.8": (1910, 1939),
    "12.0": (1910, 1939), "12.1": (1910, 1939), "12.2": (1910, 1939), "12.3": (1910, 1939),
    "12.4": (1910, 1949), "12.5": (1910, 1949), "12.6": (1910, 1949), "12.8": (1910, 1949),
    "12.9": (1910, 1949), "13.0": (1920, 1949), "13.1": (1920, 1949),
    "13.2": (1920, 1959), "13.3": (1920, 1959), "13.4": (1920, 1959), "13.5": (1920, 1959),
}

# Portable default arch lists when no GPU is visible (conda-forge's mmcv recipe; catalog).
PORTABLE_ARCHS: dict[str, str] = {
    "10.2": "3.5;5.0;6.0;6.1;7.0;7.5+PTX",
    "11.0": "3.5;5.0;6.0;6.1;7.0;7.5;8.0+PTX",
    "11.1": "3.5;5.0;6.0;6.1;7.0;7.5;8.0;8.6+PTX",
    "11.8": "3.5;5.0;6.0;6.1;7.0;7.5;8.0;8.6;8.9+PTX",
    "12.0": "5.0;6.0;6.1;7.0;7.5;8.0;8.6;8.9;9.0+PTX",
    "12.8": "5.0;6.0;7.0;7.5;8.0;8.6;9.0;10.0;12.0+PTX",
    "13.0": "7.5;8.0;8.6;8.9;9.0;10.0;12.0+PTX",
}

# The first CUDA release able to target an sm; used to name the toolkits for a refused arch.
# -allow-unsupported-compiler exists from CUDA 11.0.
ALLOW_UNSUPPORTED_COMPILER_SINCE = "11.0"

# glibc's C23 math functions that CUDA's crt/math_functions.h declares again without glibc's
# exception specification: "exception specification is incompatible with that of previous function
# "cospi"" (catalog glibc-cuda-math-clash). (functions, first glibc declaring them, first CUDA whose
# header matches glibc's). Sources: glibc git tags glibc-2.41 / glibc-2.42 math/bits/mathcalls.h
# (``__MATHCALL`` under ``__GLIBC_USE (IEC_60559_FUNCS_EXT_C23)``, i.e. ``__THROW``); CUDA
# 13.0.48's math_functions.h adds ``__NV_IEC_60559_FUNCS_EXCEPTION_SPECIFIER`` to cospi/sinpi,
# 13.2.51's adds ``_NV_RSQRT_SPECIFIER`` (noexcept from glibc 2.42) to rsqrt; 12.x has neither.
GLIBC_MATH_CLASHES: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("cospi", "sinpi", "cospif", "sinpif"), "2.41", "13.0"),
    (("rsqrt", "rsqrtf"), "2.42", "13.2"),
)

# CUDA math-library headers torch's ATen/cuda headers include (catalog cuda-headers-missing).
CUDA_MATH_HEADERS: tuple[str, ...] = ("cusparse.h", "cublas_v2.h", "cusolverDn.h", "curand.h", "cufft.h")


def _key_for(cuda: str, table: dict[str, object]) -> str | None:
    """The table key for ``cuda``: exact "major.minor", else the newest key not above it."""
    try:
        want = Version(cuda)
    except Exception:  # noqa: BLE001 - unparseable version: no entry
        return None
    mm = f"{want.major}.{want.minor}"
    if mm in table:
        return mm
    below = [k for k in table if Version(k) <= want]
    return max(below, key=Version) if below else None


def nvcc_archs(cuda: str) -> tuple[int, ...] | None:
    """Real sm numbers nvcc of CUDA ``cuda`` ("12.4") can target; None when the release is unknown."""
    key = _key_for(cuda, NVCC_ARCHS)  # type: ignore[arg-type]
    return NVCC_ARCHS[key] if key else None


def gcc_max(cuda: str) -> int | None:
    """Newest GCC major that CUDA ``cuda`` accepts as host compiler; None when unknown."""
    key = _key_for(cuda, GCC_MAX_BY_CUDA)  # type: ignore[arg-type]
    return GCC_MAX_BY_CUDA[key] if key else None


def msvc_range(cuda: str) -> tuple[int, int] | None:
    """Inclusive ``_MSC_VER`` range CUDA ``cuda`` accepts; None when unknown."""
    key = _key_for(cuda, MSVC_RANGE_BY_CUDA)  # type: ignore[arg-type]
    return MSVC_RANGE_BY_CUDA[key] if key else None


def portable_archs(cuda: str) -> str | None:
    """The portable TORCH_CUDA_ARCH_LIST real builders use for CUDA ``cuda``; None when unknown."""
    key = _key_for(cuda, PORTABLE_ARCHS)  # type: ignore[arg-type]
    return PORTABLE_ARCHS[key] if key else None


def toolkits_for_sm(sm: int) -> list[str]:
    """CUDA releases (known to this table) whose nvcc can target ``sm`` (e.g. 37 -> 9.0 ... 11.8)."""
    return [v for v, archs in NVCC_ARCHS.items() if sm in archs]


def glibc_math_clash(glibc: str, cuda: str) -> tuple[str, ...]:
    """The math functions whose glibc ``glibc`` ("2.41") declaration CUDA ``cuda`` ("12.8")'s
    headers contradict (GLIBC_MATH_CLASHES); empty when none, or when a version is unreadable."""
    try:
        g, c = Version(glibc), Version(cuda)
    except Exception:  # noqa: BLE001 - unreadable version: nothing known
        return ()
    return tuple(
        f for funcs, glibc_from, cuda_fixed in GLIBC_MATH_CLASHES
        if g >= Version(glibc_from) and c < Version(cuda_fixed) for f in funcs
    )


def cc_to_sm(cc: str) -> int:
    """Compute capability "8.6" -> 86; "9.0a" -> 90. Raises ValueError on malformed input."""
    major, _, minor = cc.partition(".")
    minor_digits = "".join(ch for ch in minor if ch.isdigit())
    return int(major) * 10 + int(minor_digits or "0")
