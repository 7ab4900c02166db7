"""The C++ standard torch requires and the one each mmcv release's setup.py asks for (catalog
``cxx-standard``). TORCH_REQUIRES: ``ATen/ATen.h``'s "#error C++NN or later compatible compiler is
required to use ATen." of every torch release that states it (1.7.0 on; compared by
tests/e2e/test_knowledge_artifacts_torch.py). MMCV_ASKS: mmcv's setup.py of every release."""

from __future__ import annotations

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from mmfix.knowledge.versions import parse_version as _v

# (torch specifier, standard it requires from extension builds on gcc/clang)
TORCH_REQUIRES: tuple[tuple[str, int], ...] = (
    (">=2.14.0.dev0", 20),
    (">=2.1.0.dev0", 17),
    (">=1.5.0.dev0", 14),
)

# (package, version specifier, standard its setup.py hard-codes for a torch newer than 1.12.1).
# mmcv-full <= 1.7.1 and mmcv <= 2.0.1 ask -std=c++14; later releases up to 2.2.0 ask -std=c++17
# when torch > 1.12.1 (c++14 otherwise).
MMCV_ASKS: tuple[tuple[str, str, int], ...] = (
    ("mmcv-full", "<=1.7.1", 14),
    ("mmcv-full", ">1.7.1", 17),
    ("mmcv", "<1.0.0", 14),
    ("mmcv", ">=1.0.0,<2.0.0rc0", 14),  # 1.x "mmcv" is the lite package (no ops)
    ("mmcv", ">=2.0.0rc0,<=2.0.1", 14),
    ("mmcv", ">2.0.1", 17),
)


def torch_requires(torch_version: str) -> int | None:
    """The C++ standard (14, 17, 20) extensions must use with ``torch_version``; None if unknown."""
    v = _v(torch_version)
    if v is None:
        return None
    base = Version(v.base_version)
    for spec, std in TORCH_REQUIRES:
        if base in SpecifierSet(spec, prereleases=True):
            return std
    return None


def mmcv_asks(package: str, mmcv_version: str, torch_version: str | None = None) -> int | None:
    """The ``-std=c++NN`` mmcv's setup.py passes for ``package`` ``mmcv_version``; None if unknown.

    Releases after mmcv-full 1.7.1 / mmcv 2.0.1 ask C++14 only for torch <= 1.12.1.
    """
    v = _v(mmcv_version)
    if v is None:
        return None
    for name, spec, std in MMCV_ASKS:
        if name == package and v in SpecifierSet(spec, prereleases=True):
            if std == 17 and torch_version and (tv := _v(torch_version)) and Version(tv.base_version) <= Version("1.12.1"):
                return 14
            return std
    return None
