"""Derived facts: what a matched line's raw groups mean (arch -> compute capability, gcc limit ->
CUDA releases, C1189's VS list -> ``_MSC_VER`` era, a mangled symbol -> C++11 ABI ...).

Each deriver takes the regex's named groups (strings) plus the whole line and returns the facts
to record. Sources: ``mmfix.knowledge.cuda`` tables (CUDA release notes, host_config.h).
"""

from __future__ import annotations

import re

TYPE_CHECKING = False  # not typing's: `mmfix explain` starts faster without it
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Deriver = Callable[[dict[str, Any], str, "tuple[str, ...]"], dict[str, Any]]

# The torch release whose Windows headers produce each D-family error (catalog table D).
TORCH_FOR_HEADER_ERROR: dict[str, str] = {
    "torch-header-all-slots": "1.5",
    "torch-header-constexpr-win-cuda": "1.6",
    "torch-header-profile-kind": "1.7",
    "pybind11-cast-complete-type": "<=1.7.0",
    "torch-header-compiled-autograd": ">=2.8",
}

_CUDA_IN_PATH = re.compile(r"(?i)cuda[-_/\\]v?(\d{1,2}\.\d)")
_VERSION_FROM_TAG = re.compile(r"\+cu(\d+)(\d)\b")



def cuda_in_path(text: str) -> str | None:
    """The CUDA release in a toolkit path on the line, or None.

    "/usr/local/cuda-11.8/include/..." -> "11.8"; "...\\CUDA\\v9.2\\include" -> "9.2".
    """
    m = _CUDA_IN_PATH.search(text)
    return m.group(1) if m else None


def _arch(groups: dict[str, Any], text: str, before: tuple[str, ...]) -> dict[str, Any]:
    from mmfix.knowledge import cuda  # packaging loads only when a deriver needs it

    arch = groups.get("arch") or ""
    digits = "".join(ch for ch in arch.split("_")[-1] if ch.isdigit())
    if not digits:
        return {}
    sm = int(digits)
    toolkits = cuda.toolkits_for_sm(sm)
    out: dict[str, Any] = {"sm": sm, "cc": f"{sm // 10}.{sm % 10}", "toolkits": toolkits}
    if toolkits:
        out["min_cuda"] = toolkits[0]
    # the nvcc that failed: its toolkit path on the compile command just above
    release = groups.get("cuda") or next((r for r in map(cuda_in_path, reversed(before)) if r), None)
    archs = cuda.nvcc_archs(release) if release else None
    if release and archs:
        out["cuda"] = release
        usable = [a for a in archs if a < sm]
        if usable:
            out["fallback_arch"] = f"{usable[-1] // 10}.{usable[-1] % 10}+PTX"
    return out


def _gpu_arch(groups: dict[str, Any], text: str, before: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if groups.get("major") and groups.get("minor"):
        out["cc"] = f"{groups['major']}.{groups['minor']}"
    if groups.get("available"):  # mmcv's list of the prebuilt wheel's archs: "(6, 1), (7, 0)"
        pairs = re.findall(r"\((\d+),\s*(\d+)\)", groups["available"])
        out["available"] = [f"{a}.{b}" for a, b in sorted((int(a), int(b)) for a, b in pairs)]
    return out


def _gcc(groups: dict[str, Any], text: str, before: tuple[str, ...]) -> dict[str, Any]:
    from mmfix.knowledge import cuda  # packaging loads only when a deriver needs it

    out: dict[str, Any] = {}
    if groups.get("gcc_max"):
        limit = int(groups["gcc_max"])
        out["gcc_max"] = limit
        out["cuda_releases"] = [v for v, m in cuda.GCC_MAX_BY_CUDA.items() if m == limit]
    if groups.get("gcc_min"):
        out["gcc_min"] = int(groups["gcc_min"])
    return out


def _msvc(groups: dict[str, Any], text: str, before: tuple[str, ...]) -> dict[str, Any]:
    from mmfix.knowledge import cuda  # packaging loads only when a deriver needs it
    from mmfix.knowledge.msvc import VS_MSC_MAX

    out: dict[str, Any] = {}
    years = [int(y) for y in re.findall(r"\d{4}", groups.get("supported") or "")]
    if years:
        out["vs_supported"] = years
        out["msc_max"] = VS_MSC_MAX.get(max(years))
    release = cuda_in_path(text)
    if release:
        rng = cuda.msvc_range(release)
        if rng:
            out["msc_min"], out["msc_max"] = rng
    return out


def _mismatch(groups: dict[str, Any], text: str, before: tuple[str, ...]) -> dict[str, Any]:
    torch_cuda = groups.get("torch_cuda") or ""
    return {"torch_cuda_major": torch_cuda.split(".")[0]} if torch_cuda else {}


def _symbol(groups: dict[str, Any], text: str, before: tuple[str, ...]) -> dict[str, Any]:
    symbol = groups.get("symbol")
    if not symbol:
        return {}
    return {
        "cxx11_abi_symbol": "__cxx11" in symbol,
        "torch_symbol": symbol.startswith(("_ZN2at", "_ZN3c10", "_ZNK2at", "_ZNK3c10", "_ZN5torch", "_ZNK5torch")),
    }


def _downstream(groups: dict[str, Any], text: str, before: tuple[str, ...]) -> dict[str, Any]:
    if groups.get("max_op"):
        return {"max_inclusive": groups["max_op"] == "<="}
    return {}


def _header_line(groups: dict[str, Any], text: str, before: tuple[str, ...]) -> dict[str, Any]:
    return {"header_line": int(groups["header_line"])} if groups.get("header_line") else {}


DERIVERS: dict[str, Deriver] = {
    "nvcc-arch-unsupported": _arch,
    "cuda-arch-not-compiled": _gpu_arch,
    "gcc-unsupported": _gcc,
    "msvc-unsupported": _msvc,
    "cuda-version-mismatch": _mismatch,
    "ext-undefined-symbol": _symbol,
    "downstream-version-mismatch": _downstream,
    "torch-header-all-slots": _header_line,
    "torch-header-constexpr-win-cuda": _header_line,
    "torch-header-profile-kind": _header_line,
    "pybind11-cast-complete-type": _header_line,
    "torch-header-compiled-autograd": _header_line,
}


def derive(sig_id: str, groups: dict[str, Any], text: str, before: tuple[str, ...] = ()) -> dict[str, Any]:
    """The facts of one matched line: its named groups (None dropped), the CUDA release in a
    toolkit path on the line, and what ``DERIVERS[sig_id]`` adds (it may read the ``before``
    lines: the compile command above an nvcc error names the toolkit)."""
    facts = {k: v for k, v in groups.items() if v is not None}
    release = cuda_in_path(text)
    if release:
        facts["cuda"] = release
    if sig_id in TORCH_FOR_HEADER_ERROR:
        facts["torch"] = TORCH_FOR_HEADER_ERROR[sig_id]
    deriver = DERIVERS.get(sig_id)
    if deriver:
        facts.update(deriver(facts, text, before))
    return facts
