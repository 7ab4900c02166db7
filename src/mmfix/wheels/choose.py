"""Choosing by tags: read the wheel links of an index page, keep those that install in the target
interpreter (``packaging.tags``) and satisfy every mmcv version constraint, and pick the newest
release with the most preferred tag. The official index and the wheelhouses share this; a
wheelhouse then also matches each wheel's build record (``mmfix.wheels.records``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from packaging.specifiers import SpecifierSet
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from mmfix.knowledge import wheel_index as K
from mmfix.wheels.tags import WheelTarget


@dataclass(frozen=True)
class WheelLink:
    """One wheel listed on an index page.

    ``url`` is absolute and without fragment; ``sha256`` is the hash the index gives in the link's
    fragment (``#sha256=...``), None when it gives none (the official index gives none).
    """

    filename: str
    url: str
    project: str  # canonical distribution name: "mmcv" or "mmcv-full"
    version: str
    tags: tuple[str, ...]
    sha256: str | None = None
    page: str = ""  # the index page that listed it


@dataclass(frozen=True)
class Rejected:
    """A link on an index page that is not the choice, and why."""

    filename: str  # the file name, or the raw href when it has none
    reason: str
    url: str | None = None


@dataclass(frozen=True)
class Candidate:
    """A wheel that installs in the target, with the rank of its best tag."""

    link: WheelLink
    rank: int  # position of its best tag in the target's tag list (0 = most preferred)

    @property
    def key(self) -> tuple[Version, int]:
        return Version(self.link.version), -self.rank


def link_from_href(page: str, href: str | None) -> WheelLink | Rejected:
    """Resolve one href against its page: a WheelLink for a well-formed wheel, else Rejected."""
    raw = (href or "").strip()
    if not raw:
        return Rejected(href or "<a> without href", "malformed href: empty")
    try:
        absolute = urljoin(page, raw)
        url, fragment = urldefrag(absolute)
        parts = urlsplit(url)
    except ValueError as exc:
        return Rejected(raw, f"malformed href: {exc}")
    if parts.scheme not in ("http", "https", "file"):
        return Rejected(raw, f"malformed href: scheme {parts.scheme!r} is not http(s)")
    filename = unquote(parts.path.rsplit("/", 1)[-1])
    if not filename.endswith(".whl"):
        return Rejected(filename or raw, "not a wheel file", url)
    try:
        name, version, _build, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename as exc:
        return Rejected(filename, f"malformed wheel file name: {exc}", url)
    sha256 = None
    m = re.fullmatch(r"sha256=([0-9a-fA-F]{64})", fragment or "")
    if m:
        sha256 = m.group(1).lower()
    return WheelLink(
        filename=filename,
        url=url,
        project=str(canonicalize_name(name)),
        version=str(version),
        tags=tuple(sorted(str(t) for t in tags)),
        sha256=sha256,
        page=page,
    )


def classify_links(
    page: str, hrefs: list[str | None], target: WheelTarget
) -> tuple[list[Candidate], list[Candidate], list[Rejected]]:
    """Sort a page's links into wheels that install in the target and satisfy every version
    constraint, wheels that install but miss ``--mmcv-version`` while inside the downstream ranges
    (alternatives), and the rest with a reason each."""
    rank = {t: i for i, t in enumerate(target.tags)}
    requested, allowed = SpecifierSet(target.requested), SpecifierSet(target.allowed)
    fitting: list[Candidate] = []
    other_versions: list[Candidate] = []
    rejected: list[Rejected] = []
    for href in hrefs:
        item = link_from_href(page, href)
        if isinstance(item, Rejected):
            rejected.append(item)
            continue
        reason = reject_reason(item, rank, target)
        if reason:
            rejected.append(Rejected(item.filename, reason, item.url))
            continue
        cand = Candidate(item, min(rank[t] for t in item.tags if t in rank))
        version = Version(item.version)
        if not allowed.contains(version, prereleases=True):
            rejected.append(
                Rejected(item.filename, f"mmcv {version} is outside {_ranges(target)}", item.url)
            )
        elif not requested.contains(version, prereleases=True):
            other_versions.append(cand)
            rejected.append(
                Rejected(item.filename, f"not the requested mmcv {requested}", item.url)
            )
        else:
            fitting.append(cand)
    return fitting, other_versions, rejected


def _ranges(target: WheelTarget) -> str:
    return "the installed packages' ranges (" + "; ".join(target.allowed_by) + ")"


def reject_reason(link: WheelLink, rank: dict[str, int], target: WheelTarget) -> str | None:
    ops_range = K.OPS_PACKAGES.get(link.project)
    if ops_range is None:
        return f"not mmcv (distribution {link.project})"
    if not SpecifierSet(ops_range).contains(Version(link.version), prereleases=True):
        return f"{link.project} {link.version} has no compiled ops (only {link.project}{ops_range})"
    if all(t.endswith("-any") for t in link.tags):
        return "a pure-Python wheel: no compiled ops"
    if not any(t in rank for t in link.tags):
        return (
            f"its tags ({', '.join(link.tags)}) do not install in the target ({target.describe()})"
        )
    return None


def choose(fitting: list[Candidate]) -> tuple[Candidate | None, list[Rejected]]:
    """Newest final version first (pre-releases only when no final one fits, as pip does), then the
    most preferred tag."""
    if not fitting:
        return None, []
    versions = [c.link.version for c in fitting]
    eligible = set(SpecifierSet().filter(versions))
    ordered = sorted(fitting, key=lambda c: c.key, reverse=True)
    best = next(c for c in ordered if c.link.version in eligible)
    rejected = []
    for c in ordered:
        if c is best:
            continue
        if c.link.version not in eligible:
            why = "a pre-release (a final release fits)"
        elif c.link.filename == best.link.filename:
            why = "another build of the same wheel, listed after the chosen one"
        elif c.link.version == best.link.version:
            why = f"a less preferred tag than {best.link.filename}"
        else:
            why = f"older than mmcv {best.link.version}"
        rejected.append(Rejected(c.link.filename, why, c.link.url))
    return best, rejected


def best_per_version(cands: list[Candidate]) -> list[Candidate]:
    """The most preferred candidate of each mmcv version, newest version first."""
    best: dict[str, Candidate] = {}
    for c in cands:
        if c.link.version not in best or c.rank < best[c.link.version].rank:
            best[c.link.version] = c
    return sorted(best.values(), key=lambda c: c.key, reverse=True)

