"""Which mmcv release to build or install: every constraint at once, the newest release inside all.

Constraints come from the environment (each installed downstream package's own mmcv range, read
from its ``__init__.py``; what the target's Python and torch allow, ``knowledge.mmcv_needs``),
from the user (``--mmcv-version``, a ``--source`` tree's version) and from findings whose
``Rebuild`` action names a version. Pure: no probing, no network. ``mmfix rebuild`` and
``mmfix doctor --fix`` both choose through ``choose``, so they never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from mmfix.errors import RefusedError, UsageError
from mmfix.knowledge import downstream as kd
from mmfix.knowledge.mmcv_needs import NEEDS
from mmfix.model import Environment


@dataclass(frozen=True)
class Constraint:
    """One limit on the mmcv version: ``spec`` (PEP 440), ``source`` in words ("mmdet 3.3.0 needs
    mmcv>=2.0.0rc4,<2.2.0"), and ``finding``: the catalog id that stands for it, when one does."""

    spec: str
    source: str
    finding: str | None = None

    def allows(self, version: str) -> bool:
        """True when ``version`` is inside ``spec`` (pre-releases count; local labels ignored)."""
        return SpecifierSet(self.spec).contains(Version(Version(version).public), prereleases=True)

    def label(self) -> str:
        return f"{self.source} ({self.finding})" if self.finding else self.source


@dataclass(frozen=True)
class VersionChoice:
    """The mmcv release chosen, its distribution (``mmcv`` or ``mmcv-full``), why, and the
    constraints it satisfies."""

    version: str
    dist: str
    why: tuple[str, ...]
    constraints: tuple[Constraint, ...] = ()


class ConflictError(RefusedError):
    """Two constraints no mmcv release satisfies together (exit 3, before anything changes)."""

    def __init__(self, first: Constraint, second: Constraint) -> None:
        self.first, self.second = first, second
        hint = _HINTS.get(first.finding or "", "") if first.finding == second.finding else ""
        if first is second:
            super().__init__(f"no mmcv release with ops fits {first.label()}", "nothing was changed",
                             "ask for a release that exists (mmcv 2.x, or mmcv-full 1.x)")
            return
        super().__init__(
            f"conflicting requirements: {first.label()} and {second.label()}",
            "no mmcv build satisfies both; nothing was changed",
            hint or "drop or change one of them (another --mmcv-version, Python, torch or downstream release)",
        )


_HINTS = {
    "downstream-version-mismatch": "install downstream packages of one generation (all mmcv 1.x: mmdet 2.x, "
    "mmseg 0.x; or all mmcv 2.x: mmdet 3.x, mmseg 1.x)",
}


def parse_request(text: str | None) -> SpecifierSet | None:
    """``--mmcv-version``: "2.1.0" means ==2.1.0; a specifier (">=2.0,<2.2") is taken as is.

    Raises UsageError for text that is neither.
    """
    if not text:
        return None
    text = text.strip()
    try:
        return SpecifierSet(f"=={Version(text)}")
    except InvalidVersion:
        pass
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        raise UsageError(f"--mmcv-version {text!r} is neither a version nor a version range",
                         fix="for example --mmcv-version 2.1.0 or --mmcv-version '>=2.0,<2.2'") from None


def env_constraints(env: Environment) -> list[Constraint]:
    """The limits the environment itself sets: each downstream package's range (its own
    assertion), and the Python and torch rows of ``knowledge.mmcv_needs``."""
    out = [Constraint(str(kd.spec_for(d)), kd.range_text(d), "downstream-version-mismatch")
           for d in env.downstream if d.name not in kd.NO_MMCV_BOUND and (d.mmcv_min or d.mmcv_max)]
    facts = {"python": env.target.version, "torch": env.torch.version if env.torch else None}
    for need in NEEDS:
        have = _version(facts.get(need.fact))
        if have is not None and Version(have.base_version) in SpecifierSet(need.when):
            label = "Python" if need.fact == "python" else "torch"
            out.append(Constraint(need.allows, f"{label} {facts[need.fact]}: {need.why}"))
    return out


def requested(text: str | None, source: str = "--mmcv-version") -> list[Constraint]:
    """The user's ``--mmcv-version`` as a constraint (none when not given)."""
    spec = parse_request(text)
    return [Constraint(str(spec), f"{source} {text}")] if spec is not None else []


def implied(c: Constraint, by: Sequence[Constraint], releases: Iterable[str] = kd.MMCV_RELEASES) -> bool:
    """True when the constraints ``by`` (all together) already allow no release ``c`` excludes:
    a finding restating what the environment's own facts say adds nothing to solve or to show."""
    return bool(by) and all(c.allows(v) for v in releases if all(b.allows(v) for b in by))


def installed_version(env: Environment) -> str | None:
    """The version of the installed mmcv-family distribution (the active one), when it is a
    release that exists with ops (``mmcv`` >= 2.0.0rc1 or any ``mmcv-full``; the lite 1.x
    ``mmcv`` and ``mmcv-lite`` name the same release of the API)."""
    active = env.active_mmcv
    v = _version(active.version) if active else None
    return v.public if v is not None else None


def choose(
    env: Environment,
    constraints: Sequence[Constraint],
    releases: Iterable[str] = kd.MMCV_RELEASES,
) -> VersionChoice:
    """The mmcv release to build for ``env`` under ``constraints`` (pass ``env_constraints(env)``
    plus the user's and the findings' ones).

    Candidates: ``releases`` (mmcv releases with ops, newest first), every exact version a
    constraint names, and the installed version. The installed version is kept when every
    constraint allows it (a repair changes no more than it must); else the newest final release
    inside all of them wins, a pre-release only when no final fits.

    Raises ConflictError (exit 3) naming the first two constraints that no candidate satisfies
    together (or one constraint twice when it alone excludes every candidate).
    """
    have = installed_version(env)
    exact = [s.version for c in constraints for s in SpecifierSet(c.spec) if s.operator in ("==", "===")]
    cands = _unique([*exact, *([have] if have else []), *releases])
    fits = [v for v in cands if all(c.allows(v) for c in constraints)]
    if not fits:
        raise ConflictError(*_conflicting_pair(constraints, cands))
    binding = tuple(c for c in constraints if any(not c.allows(v) for v in cands))
    if have in fits:
        why = [f"mmcv {have}: the installed version"
               + (f", allowed by every constraint: {'; '.join(c.label() for c in constraints)}" if constraints else "")]
        return VersionChoice(have, kd.dist_for(have), tuple(why), tuple(constraints))
    finals = [v for v in fits if not Version(v).is_prerelease]
    best = max(finals or fits, key=Version)
    why = [f"mmcv {best}: the newest release "
           + (f"allowed by {'; '.join(c.label() for c in binding)}" if binding else "mmfix knows with ops")]
    if have:
        against = [c.label() for c in constraints if not c.allows(have)]
        why.append(f"the installed {have} is excluded by {'; '.join(against)}")
    return VersionChoice(best, kd.dist_for(best), tuple(why), tuple(constraints))


def _conflicting_pair(constraints: Sequence[Constraint], cands: Sequence[str]) -> tuple[Constraint, Constraint]:
    for c in constraints:
        if not any(c.allows(v) for v in cands):
            return c, c
    for i, a in enumerate(constraints):
        for b in constraints[i + 1:]:
            if not any(a.allows(v) and b.allows(v) for v in cands):
                return a, b
    return constraints[0], constraints[-1]  # three or more together: name the outer two


def _version(text: str | None) -> Version | None:
    from mmfix.knowledge.versions import parse_version

    return parse_version(text)


def _unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for v in items:
        if _version(v) is not None:
            seen.setdefault(str(Version(v).public), None)
    return list(seen)
