"""Downstream OpenMMLab packages and the mmcv they accept (catalog downstream-version-mismatch).

Each installed package (mmdet, mmseg, ...) asserts an mmcv range in its ``__init__.py``; the probe
reads it with ``mmfix.probe.downstream_bounds.read_mmcv_bounds`` into ``Downstream.mmcv_min/max``.
Here: the ranges as ``packaging`` specifier sets, the newest mmcv release inside all of them, and
the one install command for it. The minimum is inclusive in every known layout; the maximum is
inclusive in mmdet 2.x (``<= '1.8.0'``) and exclusive in mmdet 3.x / mmseg 1.x (``< '2.2.0'``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from mmfix.knowledge.versions import parse_version as _version
from mmfix.model import Downstream

# mmcv releases with ops, newest first: every sdist of `mmcv-full` and of `mmcv` >= 2.0.0rc1 on PyPI
# (tests/e2e/test_knowledge_artifacts_tools.py compares the two lists). 1.x with ops is the
# `mmcv-full` dist; 2.x is `mmcv`.
MMCV_RELEASES: tuple[str, ...] = (
    "2.2.0", "2.1.0", "2.0.1", "2.0.0", "2.0.0rc4", "2.0.0rc3", "2.0.0rc2", "2.0.0rc1",
    "1.7.2", "1.7.1", "1.7.0", "1.6.2", "1.6.1", "1.6.0", "1.5.3", "1.5.2", "1.5.1", "1.5.0",
    "1.4.8", "1.4.7", "1.4.6", "1.4.5", "1.4.4", "1.4.3", "1.4.2", "1.4.1", "1.4.0",
    "1.3.18", "1.3.17", "1.3.16", "1.3.15", "1.3.14", "1.3.13", "1.3.12", "1.3.11", "1.3.10",
    "1.3.9", "1.3.8", "1.3.7", "1.3.6", "1.3.5", "1.3.4", "1.3.3", "1.3.1", "1.3.0",
    "1.2.7", "1.2.6", "1.2.5", "1.2.4", "1.2.2", "1.2.1", "1.2.0",
    "1.1.6", "1.1.5", "1.1.4", "1.1.3", "1.1.2", "1.1.1", "1.1.0",
    "1.0.5", "1.0.4", "1.0.3", "1.0.2", "1.0.1", "1.0.0", "1.0rc2", "1.0rc0",
)

# Python package -> distribution name of every package whose mmcv range the probe reads (the probe
# script gets this table: probe.target.downstream_table); the import name differs for some.
DOWNSTREAM_DISTS: dict[str, str] = {
    "mmdet": "mmdet", "mmseg": "mmsegmentation", "mmpretrain": "mmpretrain", "mmcls": "mmcls",
    "mmdet3d": "mmdet3d", "mmpose": "mmpose", "mmocr": "mmocr", "mmaction": "mmaction2",
    "mmrotate": "mmrotate", "mmtrack": "mmtrack", "mmedit": "mmedit",
    "mmagic": "mmagic", "mmyolo": "mmyolo",
}

# Packages the probe lists next to the downstream ones that assert no mmcv range themselves.
NO_MMCV_BOUND: frozenset[str] = frozenset({"mmengine"})

# mmcv 2.x no longer ships as mmcv-full: the first release of the `mmcv` name with ops.
MMCV_2_FIRST = Version("2.0.0rc1")




def bound_specs(ds: Downstream) -> list[str]:
    """``ds``'s own mmcv bounds as specifiers, minimum first: ``[">=2.0.0rc4", "<2.2.0"]``.

    The maximum is ``<=`` only where the package's assertion says so (``max_inclusive``); an unknown
    inclusivity is taken as exclusive, the safe side. A bound that is missing or not a PEP 440
    version is left out. Every range mmfix shows or uses is built here.
    """
    parts = []
    if _version(ds.mmcv_min):
        parts.append(f">={ds.mmcv_min}")
    if _version(ds.mmcv_max):
        parts.append(f"{'<=' if ds.max_inclusive else '<'}{ds.mmcv_max}")
    return parts


def spec_for(ds: Downstream) -> SpecifierSet:
    """The mmcv versions ``ds`` accepts, as a SpecifierSet (see ``bound_specs``)."""
    return SpecifierSet(",".join(bound_specs(ds)))


def allowed(downstream: Iterable[Downstream]) -> SpecifierSet:
    """The mmcv versions every package of ``downstream`` accepts (the intersection of their ranges)."""
    spec = SpecifierSet()
    for ds in downstream:
        spec &= spec_for(ds)
    return spec


def accepts(ds: Downstream, mmcv_version: str) -> bool | None:
    """Whether ``ds`` accepts ``mmcv_version`` (pre-releases allowed); None when it is unparseable.

    Local labels (``2.1.0+cu118``) are ignored, as ``digit_version`` does.
    """
    v = _version(mmcv_version)
    if v is None:
        return None
    return spec_for(ds).contains(Version(v.public), prereleases=True)


def dist_for(mmcv_version: str) -> str:
    """The dist to install for an mmcv version with ops: ``mmcv-full`` (1.x) or ``mmcv`` (2.x)."""
    v = _version(mmcv_version)
    return "mmcv" if v is None or v >= MMCV_2_FIRST else "mmcv-full"


def compatible_releases(
    downstream: Sequence[Downstream], releases: Iterable[str] = MMCV_RELEASES
) -> list[str]:
    """mmcv releases inside every range of ``downstream``, newest first, finals before pre-releases.

    In: the installed downstream packages; ``releases`` defaults to ``MMCV_RELEASES``.
    Out: an empty list when the ranges do not overlap.
    """
    specs = [spec_for(d) for d in downstream if d.mmcv_min or d.mmcv_max]
    fits = [
        r for r in releases if all(s.contains(Version(r), prereleases=True) for s in specs)
    ]
    fits.sort(key=lambda r: (not Version(r).is_prerelease, Version(r)), reverse=True)
    return fits


WheelFinder = Callable[[str], "str | None"]


@dataclass(frozen=True)
class Recommendation:
    """The mmcv release to install for all downstream packages (the check's remedy is a typed
    ``Rebuild`` action built from the ranges; see checks.compat)."""

    version: str | None  # None: the ranges do not overlap
    dist: str | None
    wheel_index: str | None = None  # a find-links URL holding a prebuilt wheel, when one was found
    candidates: tuple[str, ...] = ()


def recommend(
    downstream: Sequence[Downstream],
    wheel_finder: WheelFinder | None = None,
    releases: Iterable[str] = MMCV_RELEASES,
) -> Recommendation:
    """The newest mmcv inside every range, preferring one with a prebuilt wheel.

    ``wheel_finder(version)`` returns a pip ``-f`` URL that holds a wheel of that mmcv for the
    target torch/CUDA/Python, or None; when it is absent or raises, the newest version wins.
    """
    cands = compatible_releases(downstream, releases)
    if not cands:
        return Recommendation(None, None)
    if wheel_finder is not None:
        for v in cands:
            try:
                url = wheel_finder(v)
            except Exception:  # noqa: BLE001 - no index reachable: fall back to building
                break
            if url:
                d = dist_for(v)
                return Recommendation(v, d, url, tuple(cands))
    v = cands[0]
    return Recommendation(v, dist_for(v), None, tuple(cands))


def range_text(ds: Downstream) -> str:
    """``mmdet 3.3.0 needs mmcv>=2.0.0rc4,<2.2.0`` (its own assertion, min first)."""
    return f"{ds.name} {ds.version} needs mmcv{','.join(bound_specs(ds)) or ' (no bound found)'}"
