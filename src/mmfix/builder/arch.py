"""GPU architecture lists: parse what users type, normalise to what torch accepts, validate, default.

Users type ``8.6``, ``8.6+PTX``, ``sm_86``, ``86``, ``compute_86``, ``9.0a``, torch's names
(``Ampere``), separated by ``;``, spaces or commas. torch's ``_get_cuda_arch_flags`` accepts only
``;``/space separated ``X.Y[a][+PTX]`` entries and names (knowledge.torch_arch), so mmfix normalises
to ``;``. Validation uses nvcc's range (knowledge.cuda.NVCC_ARCHS or ``nvcc --list-gpu-arch``) and the
target torch's table; a request that cannot work is refused before compiling.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mmfix.errors import RefusedError, UsageError
from mmfix.knowledge import cuda as kcuda
from mmfix.knowledge import torch_arch

ACCEPTED_FORMS = "8.6, 8.6+PTX, sm_86, 86, compute_86, 9.0a, or a name such as Ampere; separated by ';', space or ','"

# ASCII digits only: Python's \d and int() also take '٣' or '８', which no tool downstream does.
_DOTTED = re.compile(r"^([0-9]{1,2})\.([0-9])([af]?)$", re.ASCII)
_SM = re.compile(r"^(sm|compute)_?([0-9]{2,3})([af]?)$", re.IGNORECASE | re.ASCII)
_BARE = re.compile(r"^([0-9]{2,3})([af]?)$", re.ASCII)


def known_compute_capabilities() -> frozenset[str]:
    """Every compute capability ("3.0" ... "12.1") and arch-specific variant ("9.0a") that some
    CUDA release's nvcc (knowledge.cuda.NVCC_ARCHS) or some torch's cpp_extension
    (knowledge.torch_arch.TORCH_ARCH_TABLE) targets: the ones that exist as far as mmfix knows."""
    known = {f"{sm // 10}.{sm % 10}" for archs in kcuda.NVCC_ARCHS.values() for sm in archs}
    for row in torch_arch.TORCH_ARCH_TABLE:
        known.update(row[2])
    return frozenset(known)


def _check_exists(token: str, arch: Arch, known_only: bool) -> Arch:
    """``arch`` when it is a compute capability that exists; UsageError (exit 2) naming it."""
    known = known_compute_capabilities()
    if arch.cc in known or not known_only:
        return arch
    ccs = sorted((k for k in known if k[-1].isdigit()), key=lambda k: tuple(map(int, k.split("."))))
    base = f"{arch.major}.{arch.minor}"
    what = f"{base} has no '{arch.variant}' variant" if arch.variant and base in known else f"{arch.cc} is no compute capability"
    raise UsageError(
        f"arch entry '{token}' names no GPU: {what}",
        f"known compute capabilities: {', '.join(ccs)}",
        f"accepted: {ACCEPTED_FORMS}",
    )


@dataclass(frozen=True, order=True)
class Arch:
    """One compute capability: ``major.minor`` plus an arch-specific variant (``a``/``f``) and PTX."""

    major: int
    minor: int
    variant: str = ""  # "" | "a" | "f" (sm_90a: arch-specific features)
    ptx: bool = False

    @property
    def sm(self) -> int:
        """The sm number: 8.6 -> 86, 12.0 -> 120."""
        return self.major * 10 + self.minor

    @property
    def cc(self) -> str:
        """The compute capability as torch writes it: "8.6", "9.0a"."""
        return f"{self.major}.{self.minor}{self.variant}"

    def __str__(self) -> str:
        return self.cc + ("+PTX" if self.ptx else "")


def _from_sm(digits: str, variant: str, ptx: bool) -> Arch:
    n = int(digits)
    return Arch(n // 10, n % 10, variant.lower(), ptx)


def _parse_token(token: str, names: dict[str, str], known_only: bool = True) -> list[Arch]:
    """One entry -> its arches; raises UsageError naming the entry when it is malformed."""
    lowered = token.lower()
    body, plus, suffix = lowered.partition("+")
    if plus and suffix.upper() != "PTX":
        # "Kepler+Tesla" style names contain '+': try the whole token as a name first
        if lowered in names:
            return list(parse_arch_list(names[lowered], None, _expand_names=False))
        raise UsageError(f"malformed arch entry '{token}'", f"only '+PTX' may follow an arch; accepted: {ACCEPTED_FORMS}")
    ptx = bool(plus)
    if lowered in names and not plus:
        return list(parse_arch_list(names[lowered], None, _expand_names=False))
    if body in names:
        archs = parse_arch_list(names[body], None, _expand_names=False)
        return [Arch(a.major, a.minor, a.variant, a.ptx or ptx) for a in archs]
    m = _DOTTED.match(body)
    if m:
        return [_check_exists(token, Arch(int(m.group(1)), int(m.group(2)), m.group(3), ptx), known_only)]
    m = _SM.match(body)
    if m:
        is_ptx = ptx or m.group(1).lower() == "compute"
        return [_check_exists(token, _from_sm(m.group(2), m.group(3), is_ptx), known_only)]
    m = _BARE.match(body)
    if m:
        return [_check_exists(token, _from_sm(m.group(1), m.group(2), ptx), known_only)]
    raise UsageError(f"malformed arch entry '{token}'", f"accepted: {ACCEPTED_FORMS}")


def parse_arch_list(
    text: str, torch_version: str | None = None, *, known_only: bool = True, _expand_names: bool = True
) -> tuple[Arch, ...]:
    """Parse an arch list as users type it; return the arches in order, duplicates merged.

    ``torch_version`` selects the named-arch table (knowledge.torch_arch; newest when None).
    Raises UsageError (exit 2) for an empty list, an empty entry ("8.6;;"), a character that is
    not printable ASCII (``٣.٦``, ``８.６``), an entry that is no arch form and no name of that
    torch, or a compute capability no CUDA release or torch knows (``395``, ``0.0``:
    ``known_compute_capabilities``; ``known_only=False`` skips that last check, for what a GPU
    itself reports).
    """
    names = {k.lower(): v for k, v in torch_arch.named_arches(torch_version).items()} if _expand_names else {}
    stripped = text.strip()
    if not stripped:
        raise UsageError("empty arch list", f"accepted: {ACCEPTED_FORMS}")
    odd = next((c for c in stripped if not (c.isascii() and (c.isprintable() or c in " \t"))), None)
    if odd is not None:
        raise UsageError(
            f"malformed arch list {text!r}",
            f"it has the character {odd!r} (U+{ord(odd):04X}); arch lists are ASCII (digits 0-9)",
            f"accepted: {ACCEPTED_FORMS}",
        )
    # spaces around separators are fine; an empty entry between ';'/',' is not (torch fails on it)
    parts = [p.strip() for p in re.split(r"[;,]", stripped)]
    if any(not p for p in parts):
        raise UsageError(
            f"malformed arch list '{text}'",
            "it has an empty entry (a doubled or trailing ';' or ','), which torch rejects",
            f"write it as '{';'.join(p for p in parts if p)}'",
        )
    tokens = [t for p in parts for t in p.split()]
    found: list[Arch] = []
    for token in tokens:
        for arch in _parse_token(token, names, known_only):
            _merge(found, arch)
    return tuple(found)


def _merge(found: list[Arch], arch: Arch) -> None:
    for i, have in enumerate(found):
        if (have.major, have.minor, have.variant) == (arch.major, arch.minor, arch.variant):
            found[i] = Arch(have.major, have.minor, have.variant, have.ptx or arch.ptx)
            return
    found.append(arch)


def to_torch_list(archs: Iterable[Arch]) -> str:
    """The ``TORCH_CUDA_ARCH_LIST`` value torch accepts: "7.5;8.6+PTX" (sorted, ';'-separated)."""
    return ";".join(str(a) for a in sorted(archs))


def has_separator_problem(text: str) -> bool:
    """True when torch itself would choke on ``text``'s separators (commas, empty entries)."""
    return "," in text or any(not p.strip() for p in text.strip().split(";"))


def refuse_unsupported(
    archs: Sequence[Arch],
    *,
    nvcc_version: str | None,
    nvcc_sms: Sequence[int] | None = None,
    torch_version: str | None = None,
) -> None:
    """Refuse (RefusedError, exit 3) arches that nvcc or the target torch cannot build.

    ``nvcc_sms``: sm numbers from ``nvcc --list-gpu-arch`` when known, else knowledge.cuda's table for
    ``nvcc_version``. The message names the CUDA releases that can still target the arch
    (knowledge.cuda.toolkits_for_sm) and whether any torch table accepts it.
    """
    torch_ok = set(torch_arch.supported_arches(torch_version))
    sms = tuple(nvcc_sms) if nvcc_sms else (kcuda.nvcc_archs(nvcc_version) if nvcc_version else None)
    for arch in archs:
        toolkits = kcuda.toolkits_for_sm(arch.sm)
        if not toolkits and not any(
            arch.cc in row[2] or f"{arch.major}.{arch.minor}" in row[2] for row in torch_arch.TORCH_ARCH_TABLE
        ):
            raise RefusedError(
                f"GPU arch {arch.cc} (sm_{arch.sm}) cannot be built",
                "no CUDA release mmfix knows and no torch since 1.3 targets it",
                "check the compute capability of your GPU (nvidia-smi --query-gpu=compute_cap --format=csv)",
            )
        if sms is not None and arch.sm not in sms:
            span = f"CUDA {toolkits[0]}-{toolkits[-1]}" if toolkits else "no CUDA release mmfix knows"
            raise RefusedError(
                f"nvcc {nvcc_version or '?'} cannot target sm_{arch.sm} (--arch {arch.cc})",
                f"its range is sm_{min(sms)}-sm_{max(sms)}; {span} can target it"
                + _torch_note(arch),
                "install one of those toolkits and a torch built for it, or pick an arch in range",
            )
        if torch_version and arch.cc not in torch_ok:
            raise RefusedError(
                f"torch {torch_version} does not accept arch {arch.cc} in TORCH_CUDA_ARCH_LIST",
                f"its cpp_extension knows {', '.join(torch_arch.supported_arches(torch_version))}",
                "pick one of those, or a newer torch",
            )


def _torch_note(arch: Arch) -> str:
    builds = torch_arch.OLD_ARCH_TORCH_BUILDS.get(arch.sm)
    return f"; torch builds for sm_{arch.sm}: {builds}" if builds else ""


def clamp_to(archs: Sequence[Arch], nvcc_sms: Sequence[int], torch_version: str | None) -> tuple[Arch, ...]:
    """Keep the arches both nvcc (sm numbers) and torch accept; PTX on the highest one kept."""
    ok = set(torch_arch.supported_arches(torch_version))
    kept = sorted(Arch(a.major, a.minor, a.variant) for a in archs if a.sm in nvcc_sms and a.cc in ok)
    if not kept:
        return ()
    top = kept[-1]
    return (*kept[:-1], Arch(top.major, top.minor, top.variant, True))


def default_archs(
    gpu_ccs: Sequence[str],
    cuda_version: str | None,
    nvcc_sms: Sequence[int] | None,
    torch_version: str | None,
) -> tuple[tuple[Arch, ...], str]:
    """The arch list to build when the user gave none, and where it came from.

    Visible GPUs' compute capabilities (PTX on the highest), else the portable list for the CUDA
    release (knowledge.cuda.PORTABLE_ARCHS, conda-forge's), clamped to nvcc and torch.
    """
    if gpu_ccs:
        archs = parse_arch_list(";".join(sorted(set(gpu_ccs))), torch_version, known_only=False)
        top = archs[-1]
        return (*archs[:-1], Arch(top.major, top.minor, top.variant, True)), "the visible GPUs"
    portable = kcuda.portable_archs(cuda_version) if cuda_version else None
    if not portable:
        raise UsageError(
            "no GPU is visible and no portable arch list is known for this CUDA",
            f"CUDA {cuda_version or 'unknown'}",
            "pass --arch (for example --arch 8.6) or --cpu",
        )
    archs = parse_arch_list(portable, torch_version)
    sms = nvcc_sms or (kcuda.nvcc_archs(cuda_version) if cuda_version else None) or [a.sm for a in archs]
    clamped = clamp_to(archs, sms, torch_version)
    return clamped, f"the portable list for CUDA {cuda_version} ({portable}), clamped to nvcc and torch"


def sms_from_gpu_archs(gpu_archs: Iterable[str]) -> tuple[int, ...]:
    """``nvcc --list-gpu-arch`` entries ("compute_75", "sm_90a") -> sorted sm numbers (75, 90)."""
    out = set()
    for item in gpu_archs:
        m = re.search(r"_(\d{2,3})", item)
        if m:
            out.add(int(m.group(1)))
    return tuple(sorted(out))


def strip_arch_flags(cuda_args: str) -> tuple[str, list[str]]:
    """Remove arch flags (``-arch``, ``-gencode``, ``--generate-code``, ``-code``) from MMCV_CUDA_ARGS.

    Returns (the remaining args, the removed ones). torch ignores TORCH_CUDA_ARCH_LIST when any
    flag in the extension's nvcc args contains 'arch' (cpp_extension._get_cuda_arch_flags).
    """
    words = cuda_args.split()
    kept: list[str] = []
    removed: list[str] = []
    skip_next = False
    for i, w in enumerate(words):
        if skip_next:
            removed.append(w)
            skip_next = False
            continue
        bare = w.split("=", 1)[0]
        if bare in ("-arch", "--gpu-architecture", "-gencode", "--generate-code", "-code", "--gpu-code"):
            removed.append(w)
            skip_next = "=" not in w and i + 1 < len(words)
            continue
        if "arch" in w:
            removed.append(w)
            continue
        kept.append(w)
    return " ".join(kept), removed
