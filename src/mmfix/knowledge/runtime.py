"""Run-time facts as data: which GPU code runs on which GPU, driver minimums, torch internals mmcv
depends on (catalog families B and E).

Compute capabilities are "8.6"; SASS archs "sm_86"; PTX archs "compute_86".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

# Minimum NVIDIA driver for a CUDA runtime: (Linux x86_64, Windows x86_64). No artifact carries these;
# sources, recorded in tests/data/knowledge/cuda_driver_minimums.json and compared by
# tests/unit/test_knowledge_runtime.py: NVIDIA's CUDA Toolkit release notes, table "CUDA Toolkit and
# Corresponding Driver Versions" (before 11.0, each minor needs its own driver: the row of the minor's
# first release, e.g. 9.2.88; 9.2.148 Update 1 needs 396.37 / 398.26), and NVIDIA's CUDA
# Compatibility guide, "Minor Version Compatibility" (from 11.0, one minimum per major: keys "11",
# "12", "13"; 13's values are CUDA 13.0 GA's drivers).
DRIVER_MIN: dict[str, tuple[str, str]] = {
    "13": ("580.65.06", "580.88"),
    "12": ("525.60.13", "528.33"),
    "11": ("450.80.02", "452.39"),
    "10.2": ("440.33", "441.22"),  # 10.2.89
    "10.1": ("418.39", "418.96"),  # 10.1.105 and its updates
    "10.0": ("410.48", "411.31"),  # 10.0.130
    "9.2": ("396.26", "397.44"),  # 9.2.88
    "9.1": ("390.46", "391.29"),  # 9.1.85
    "9.0": ("384.81", "385.54"),  # 9.0.76
}


def driver_min(cuda: str, windows: bool = False) -> str | None:
    """Lowest driver that runs CUDA ``cuda`` ("12.1") code; None for an unknown release."""
    major, _, minor = cuda.partition(".")
    row = DRIVER_MIN.get(major) if major.isdigit() and int(major) >= 11 else None
    row = row or DRIVER_MIN.get(f"{major}.{minor.split('.')[0]}")
    return None if row is None else row[1 if windows else 0]


def newest_cuda_major_for_driver(driver: str, windows: bool = False) -> str | None:
    """The newest CUDA major (11+) whose minimum driver ``driver`` meets, e.g. "535.104" -> "12"."""
    ok = [
        k for k, row in DRIVER_MIN.items()
        if "." not in k and _ver(driver) >= _ver(row[1 if windows else 0])
    ]
    return max(ok, key=int) if ok else None


def _ver(text: str) -> Version:
    try:
        return Version(text)
    except InvalidVersion:
        return Version("0")


# MMDistributedDataParallel (mmcv(-full) 1.x, mmcv/parallel/distributed.py) calls DDP internals
# that torch changed. (torch first affected, first mmcv-full release with the fix, the symptom.)
# Checked in the mmcv-full sdists' mmcv/parallel/distributed.py: `reducer._rebuild_buckets()` for
# torch >= 1.7 first in 1.2.5 (pytorch#47050); the torch >= 1.11 `_sync_params` branch first in
# 1.4.8 (mmcv#1754, PR #1816); `_run_ddp_forward` for torch 1.12 first in 1.6.0 (PR #2107).
@dataclass(frozen=True)
class DdpRule:
    torch_from: str
    mmcv_fixed: str
    symptom: str


MMDDP_RULES: tuple[DdpRule, ...] = (
    DdpRule("1.7.0", "1.2.5",
            "rebuilt parameter indices size is not same as original model parameters size"),
    DdpRule("1.11.0", "1.4.8",
            "'MMDistributedDataParallel' object has no attribute '_sync_params'"),
    DdpRule("1.12.0", "1.6.0",
            "MMDistributedDataParallel.train_step misses torch 1.12's _run_ddp_forward"),
)

# torch releases built against NumPy 1.x: they cannot load NumPy 2 ("A module that was compiled
# using NumPy 1.x cannot be run in NumPy 2.x"). torch 2.3 is the first built against NumPy 2.
TORCH_FIRST_NUMPY2 = "2.3.0"

# Libraries only torch 1.x CUDA builds with split CUDA libraries had (BUILD_SPLIT_CUDA); an _ext
# linked to them cannot load with a torch that has only libtorch_cuda.so.
SPLIT_CUDA_LIBS: tuple[str, ...] = ("libtorch_cuda_cu.so", "libtorch_cuda_cpp.so")


# --- which GPU code runs on which GPU ------------------------------------------------------------

_ARCH = re.compile(r"^(?:sm|compute)_(\d+)([a-z]?)$")


def _split(arch: str) -> tuple[int, int, str] | None:
    m = _ARCH.match(arch)
    if not m:
        return None
    n = int(m.group(1))
    return n // 10, n % 10, m.group(2)


def _cc(cc: str) -> tuple[int, int] | None:
    major, _, minor = cc.partition(".")
    if not major.isdigit():
        return None
    digits = "".join(ch for ch in minor if ch.isdigit())
    return int(major), int(digits or 0)


def sass_runs_on(sass: str, cc: str) -> bool:
    """SASS ``sm_XY`` runs on compute capability X.Z when Z >= Y (same major; binary compatibility
    within a major, CUDA C Programming Guide "Binary Compatibility"); ``sm_90a`` only on 9.0."""
    a, g = _split(sass), _cc(cc)
    if a is None or g is None:
        return False
    major, minor, suffix = a
    if suffix == "a":
        return (major, minor) == g
    return major == g[0] and g[1] >= minor


def ptx_jits_on(ptx: str, cc: str) -> bool:
    """PTX ``compute_XY`` is JIT-compiled by the driver for any compute capability >= X.Y
    ("PTX Compatibility"); arch-specific ``compute_90a`` PTX is not portable."""
    a, g = _split(ptx), _cc(cc)
    if a is None or g is None:
        return False
    major, minor, suffix = a
    if suffix == "a":
        return (major, minor) == g
    return g >= (major, minor)


def coverage(cc: str, sass: tuple[str, ...], ptx: tuple[str, ...]) -> tuple[str, str | None]:
    """How a GPU of compute capability ``cc`` runs the kernels: ("sass", arch), ("ptx", arch: JIT
    at first launch) or ("none", None)."""
    for s in sass:
        if sass_runs_on(s, cc):
            return "sass", s
    fitting = [p for p in ptx if ptx_jits_on(p, cc)]
    if fitting:
        return "ptx", max(fitting, key=lambda p: _split(p) or (0, 0, ""))
    return "none", None
