"""Derived facts: what a matched line's groups mean (arch -> compute capability, gcc limit -> CUDA
releases, a toolkit path -> the _MSC_VER range, a mangled symbol -> C++11 ABI, the frame a CUDA
error came from). A deriver takes the named groups, the line and the lines before it; the tables
are ``mmfix.knowledge``'s (CUDA release notes, ``crt/host_config.h``, mmcv's history).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from mmfix.explain.signatures import Signature
from mmfix.knowledge import cuda, runtime
from mmfix.knowledge.msvc import VS_MSC_MAX

Deriver = Callable[[dict[str, Any], str, "tuple[str, ...]"], dict[str, Any]]

_CUDA_IN_PATH = re.compile(r"(?i)cuda[-_/\\]v?(\d{1,2}\.\d)")
# A traceback frame: 'File "/x/torch/nn/functional.py", line 2450, in f' or IPython's 'File ~/x.py:33'
_FRAME = re.compile(r"File \"?(?P<path>[^\",]+?)\"?(?:, line |:)\d+")
_TORCH_PATH = re.compile(r"[/\\]torch[/\\]")


def cuda_in_path(text: str) -> str | None:
    """The CUDA release in a toolkit path on the line, or None ("/usr/local/cuda-11.8/..." -> "11.8")."""
    m = _CUDA_IN_PATH.search(text)
    return m.group(1) if m else None


def _cc(sm: int) -> str:
    return f"{sm // 10}.{sm % 10}"


def _arch(groups: dict[str, Any], text: str, before: tuple[str, ...]) -> dict[str, Any]:
    digits = "".join(ch for ch in (groups.get("arch") or "").split("_")[-1] if ch.isdigit())
    if not digits:
        return {}
    sm = int(digits)
    toolkits = cuda.toolkits_for_sm(sm)
    out: dict[str, Any] = {"sm": sm, "cc": _cc(sm), "toolkits": toolkits}
    if toolkits:
        out["min_cuda"] = toolkits[0]
    # the nvcc that failed: its toolkit path on the compile command just above
    release = groups.get("cuda") or next((r for r in map(cuda_in_path, reversed(before)) if r), None)
    archs = cuda.nvcc_archs(release) if release else None
    if release and archs:
        out["cuda"] = release
        usable = [a for a in archs if a < sm]
        if usable:
            out["fallback_arch"] = f"{_cc(usable[-1])}+PTX"
    return out


def _kernel_image(groups: dict[str, Any], text: str, before: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if groups.get("major") and groups.get("minor"):
        out["cc"] = f"{groups['major']}.{groups['minor']}"
    if groups.get("available"):  # mmcv's list of the prebuilt wheel's archs: "(6, 1), (7, 0)"
        pairs = re.findall(r"\((\d+),\s*(\d+)\)", groups["available"])
        out["available"] = [f"{a}.{b}" for a, b in sorted((int(a), int(b)) for a, b in pairs)]
    # the innermost traceback frame above the error: torch's own kernel failed, not mmcv's
    frame = next((m for m in map(_FRAME.search, reversed(before)) if m), None)
    if frame and _TORCH_PATH.search(frame.group("path")) and "mmcv" not in frame.group("path"):
        out["torch_frame"] = frame.group(0)
    return out


def _torch_gpu(groups: dict[str, Any], text: str, before: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    sm = int(groups["sm"]) if groups.get("sm") else None
    if sm is None and groups.get("major") and groups.get("minor"):
        sm = int(groups["major"]) * 10 + int(groups["minor"])
    if sm is not None:
        out.update(sm=sm, cc=_cc(sm))
        toolkits = cuda.toolkits_for_sm(sm)
        if toolkits:
            out["cuda_hint"] = f"a torch built with CUDA {toolkits[0]}" + (f" to {toolkits[-1]}" if len(toolkits) > 1 else "")
    if groups.get("torch_archs"):
        out["torch_archs"] = groups["torch_archs"].split()
    return out


def _gcc(groups: dict[str, Any], text: str, before: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if groups.get("gcc_max"):
        out["gcc_max"] = int(groups["gcc_max"])
        out["cuda_releases"] = [v for v, m in cuda.GCC_MAX_BY_CUDA.items() if m == out["gcc_max"]]
    if groups.get("gcc_min"):
        out["gcc_min"] = int(groups["gcc_min"])
    if groups.get("cuda") and cuda.gcc_max(groups["cuda"]):
        out["gcc_max"] = cuda.gcc_max(groups["cuda"])
    return out


def _msvc(groups: dict[str, Any], text: str, before: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    years = [int(y) for y in re.findall(r"\d{4}", groups.get("supported") or "")]
    if years:
        out["vs_supported"] = years
        out["msc_max"] = VS_MSC_MAX.get(max(years))
    release = cuda_in_path(text)
    rng = cuda.msvc_range(release) if release else None
    if rng:
        out["msc_min"], out["msc_max"] = rng
    return out


def _mismatch(groups: dict[str, Any], text: str, before: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if groups.get("nvcc_cuda") == "%s":  # torch 2.x: RuntimeError(MESSAGE, nvcc's CUDA, torch's CUDA)
        m = re.search(r"'(\d+\.\d+)',\s*'(\d+\.\d+)'\)", text)
        out = {"nvcc_cuda": m.group(1), "torch_cuda": m.group(2)} if m else {"nvcc_cuda": None}
    torch_cuda = out.get("torch_cuda") or groups.get("torch_cuda") or ""
    if torch_cuda:
        out["torch_cuda_major"] = torch_cuda.split(".")[0]
    return out


def _symbol(groups: dict[str, Any], text: str, before: tuple[str, ...]) -> dict[str, Any]:
    symbol = groups.get("symbol")
    if not symbol:
        return {}
    return {
        "cxx11_abi_symbol": "__cxx11" in symbol,
        "torch_symbol": symbol.startswith(("_ZN2at", "_ZN3c10", "_ZNK2at", "_ZNK3c10", "_ZN5torch", "_ZNK5torch")),
    }


def _mmddp(groups: dict[str, Any], text: str, before: tuple[str, ...]) -> dict[str, Any]:
    """The mmcv release that fixed this symptom, from ``knowledge.runtime.MMDDP_RULES``."""
    attribute = groups.get("attribute") or ""
    for rule in runtime.MMDDP_RULES:
        if (attribute and f"'{attribute}'" in rule.symptom) or (not attribute and rule.symptom in text):
            return {"mmcv_fixed": rule.mmcv_fixed, "torch_from": rule.torch_from}
    return {}


DERIVERS: dict[str, Deriver] = {
    "nvcc-arch-unsupported": _arch,
    "cuda-arch-not-compiled": _kernel_image,
    "torch-gpu-unsupported": _torch_gpu,
    "gcc-unsupported": _gcc,
    "msvc-unsupported": _msvc,
    "cuda-version-mismatch": _mismatch,
    "ext-undefined-symbol": _symbol,
    "downstream-version-mismatch": lambda g, t, b: {"max_inclusive": g["max_op"] == "<="} if g.get("max_op") else {},
    "mmddp-torch-internals": _mmddp,
    "torch-load-weights-only": lambda g, t, b: {"pickled_by": g["global"].split(".")[0]} if g.get("global") else {},
}


def derive(sig: Signature, groups: dict[str, Any], text: str, before: tuple[str, ...] = ()) -> dict[str, Any]:
    """The facts of one matched line: its named groups (None dropped; a header line number as
    an int), the CUDA release in a toolkit path on the line, the facts the signature implies,
    and what ``DERIVERS[sig.id]`` adds (it may read the ``before`` lines: the compile command
    above an nvcc error names the toolkit)."""
    facts = {k: v for k, v in groups.items() if v is not None}
    if "header_line" in facts:
        facts["header_line"] = int(facts["header_line"])
    release = cuda_in_path(text)
    if release:
        facts["cuda"] = release
    facts.update(sig.given)
    deriver = DERIVERS.get(sig.id)
    if deriver:
        facts.update(deriver(facts, text, before))
    return {k: v for k, v in facts.items() if v is not None}
