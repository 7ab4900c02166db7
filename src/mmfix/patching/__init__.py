"""Versioned, exact, reversible patches (catalog family D, ``threads-per-block``, mmcv build fixes).

Public API:
- ``patch_build_source(...)``: the mmcv source patches a build needs (used by ``mmfix rebuild``);
- ``patch_torch_headers(...)``, ``patch_threads(...)``: the ``mmfix patch-*`` commands' work;
- ``engine.apply`` / ``engine.revert``: the one engine; ``journal.Journal`` / ``install_journal``.
"""

from __future__ import annotations

from pathlib import Path

from packaging.version import InvalidVersion, Version

from mmfix.errors import RefusedError, UsageError
from mmfix.patching import catalog
from mmfix.patching.engine import (
    ALREADY,
    APPLIED,
    NOT_NEEDED,
    REPAIRED,
    AppliedChange,
    Request,
    RevertedChange,
    apply,
    revert,
)
from mmfix.patching.journal import Journal, install_journal

__all__ = [
    "ALREADY",
    "APPLIED",
    "NOT_NEEDED",
    "REPAIRED",
    "AppliedChange",
    "Journal",
    "Request",
    "RevertedChange",
    "apply",
    "cxx_standard_for_torch",
    "find_threads_header",
    "install_journal",
    "patch_build_source",
    "patch_threads",
    "patch_torch_headers",
    "revert",
    "validate_threads",
]

# The C++ standard torch's headers require, newest first: (first torch release, standard).
# Source: CATALOG.md `cxx-standard` (torch >= 2.1 needs C++17; torch 2.14.1 headers stop with
# "#error C++20 or later compatible compiler is required to use ATen.").
CXX_STANDARD_BY_TORCH: tuple[tuple[str, str], ...] = (("2.14", "20"), ("2.1", "17"))

THREADS_VALUES = tuple(1 << k for k in range(5, 11))  # 32 ... 1024: the CUDA block-size limit
THREADS_HEADERS = (
    "mmcv/ops/csrc/common/cuda/common_cuda_helper.hpp",  # mmcv(-full) 1.3.11 and later
    "mmcv/ops/csrc/common_cuda_helper.hpp",  # mmcv-full <= 1.3.10
)


def _base(version: str, what: str) -> Version:
    try:
        return Version(Version(version).base_version)
    except InvalidVersion as exc:
        raise UsageError(f"{what} version {version!r} is not a version", None, None) from exc


def cxx_standard_for_torch(torch_version: str) -> str | None:
    """The C++ standard ("17", "20") the headers of ``torch_version`` need, None when C++14 does."""
    v = _base(torch_version, "torch")
    return next((std for first, std in CXX_STANDARD_BY_TORCH if v >= Version(first)), None)


def validate_threads(value: int) -> str:
    """``value`` as the patch parameter; UsageError (exit 2) unless a power of two in 32..1024."""
    if value not in THREADS_VALUES:
        raise UsageError(
            f"THREADS_PER_BLOCK {value} is not allowed",
            "it must be a power of two from 32 to 1024 (CUDA allows at most 1024 per block)",
            "use e.g. --value 256",
        )
    return str(value)


def find_threads_header(source_dir: Path) -> str:
    """The THREADS_PER_BLOCK header of an mmcv source tree, relative to it (either layout).

    Raises UsageError when ``source_dir`` holds neither (not an mmcv source tree with ops).
    """
    for rel in THREADS_HEADERS:
        if (Path(source_dir) / rel).is_file():
            return rel
    raise UsageError(
        f"{source_dir} is not an mmcv source tree with CUDA ops",
        f"neither {THREADS_HEADERS[0]} nor {THREADS_HEADERS[1]} exists there",
        "pass --source with the folder holding mmcv's setup.py",
    )


def _threads_request(source_dir: Path, threads_per_block: int) -> Request:
    value = validate_threads(threads_per_block)
    rel = find_threads_header(source_dir)
    patch = next(
        p for p in catalog.load_all("mmcv") if p.id == "threads-per-block" and p.path == rel
    )
    return Request(patch, value)


def patch_threads(source_dir: Path, value: int, dry_run: bool = False) -> list[AppliedChange]:
    """Set ``THREADS_PER_BLOCK`` to ``value`` in an mmcv source tree (journal in ``source/.mmfix``).

    Raises UsageError (bad value / not a source tree), RefusedError (unknown header content).
    """
    source_dir = Path(source_dir)
    return apply(source_dir, [_threads_request(source_dir, value)], dry_run=dry_run)


def patch_build_source(
    source_dir: Path,
    mmcv_version: str,
    torch_version: str,
    python_version: str,
    threads_per_block: int | None = None,
    dry_run: bool = False,
) -> list[AppliedChange]:
    """Apply to a build copy of an mmcv source tree (sdist or git checkout) what a build needs.

    - ``setuptools-no-pkg-resources``: setup.py imports from importlib.metadata/packaging
      (pkg_resources is gone in setuptools 82), always;
    - ``setup-py-python313``: get_version() execs into a dict, when ``python_version`` >= 3.13;
    - ``cxx-standard``: hard-coded ``-std=c++NN``//``/std:c++NN`` raised to what
      ``torch_version`` requires (``CXX_STANDARD_BY_TORCH``), when it requires more than C++14;
    - ``threads-per-block``: when ``threads_per_block`` is given (power of two, 32..1024).

    Returns one AppliedChange per patch considered (state ``applied``/``already``/
    ``skipped-not-needed``; ``dry_run`` marks changes not written). Changes are journaled in
    ``source_dir/.mmfix``. Raises RefusedError (exit 3) naming file and patch when a file is not a
    released one mmfix knows, UsageError for a bad version or THREADS_PER_BLOCK value.
    """
    source_dir = Path(source_dir)
    _base(mmcv_version, "mmcv")
    py = _base(python_version, "Python")
    std = cxx_standard_for_torch(torch_version)
    wanted: list[tuple[str, str | None, bool]] = [("setuptools-no-pkg-resources", None, True)]
    wanted.append(("setup-py-python313", None, py >= Version("3.13")))
    wanted.append(("cxx-standard", std, std is not None))
    requests: list[Request] = []
    skipped: list[AppliedChange] = []
    for pid, value, needed in wanted:
        patch = catalog.by_id(pid)
        if patch is None:  # pragma: no cover - shipped data
            raise RefusedError(f"patch data for {pid} is missing", None, "reinstall mmfix")
        if needed:
            requests.append(Request(patch, value))
        else:
            skipped.append(
                AppliedChange(pid, patch.path, NOT_NEEDED, note="not needed here", dry_run=dry_run)
            )
    if threads_per_block is not None:
        requests.append(_threads_request(source_dir, threads_per_block))
    return apply(source_dir, requests, dry_run=dry_run) + skipped


def torch_version_of(torch_dir: Path) -> str:
    """``__version__`` from ``<torch_dir>/version.py``, read as text (never imported).

    Raises UsageError when the folder has no readable version.py.
    """
    import re

    vfile = Path(torch_dir) / "version.py"
    try:
        text = vfile.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise UsageError(
            f"{torch_dir} is not a torch package folder",
            f"cannot read {vfile}",
            "pass --torch-dir with the folder holding torch's version.py and include/",
        ) from exc
    m = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", text, re.M)
    if not m:
        raise UsageError(f"no __version__ in {vfile}", None, "pass the torch package folder")
    return m.group(1)


def torch_header_patches(torch_version: str) -> list[catalog.Patch]:
    """The header patches for ``torch_version`` (family D), by the patches' version specifiers."""
    return catalog.select("torch", torch_version)


def patch_torch_headers(torch_dir: Path, dry_run: bool = False) -> tuple[str, list[AppliedChange]]:
    """Apply the family-D header patches for the torch in ``torch_dir``: (torch version, changes).

    Changes are journaled in ``torch_dir/.mmfix``. Raises RefusedError for unknown header content.
    """
    version = torch_version_of(torch_dir)
    patches = torch_header_patches(version)
    if not patches:
        return version, []
    return version, apply(Path(torch_dir), [Request(p) for p in patches], dry_run=dry_run)
