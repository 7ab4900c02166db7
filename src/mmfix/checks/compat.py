"""Checks of catalog family A that compare installed packages: ``downstream-version-mismatch``.

Reads ``env.downstream`` (each package's mmcv range, read by ast from its ``__init__.py`` by
``mmfix.probe.downstream_bounds``) and ``env.active_mmcv``; also looks at the current folder for a
project tree (``./mmdet``, ``./mmcv``) that shadows an installed copy, since ``python -m`` / ``-c``
import the tree while ``python tools/train.py`` imports the installed one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mmfix.checks.base import Check, CheckContext, Outcome, check, fail, ok, skip, warn
from mmfix.checks.facts import rebuild
from mmfix.knowledge import downstream as kd
from mmfix.model import Downstream, Environment, MmcvDist
from mmfix.plan.actions import Manual, Rebuild
from mmfix.probe.downstream_bounds import read_mmcv_bounds_file

CHECKS: list[Check] = []

# Seconds the wheel index may take to answer before the recommendation falls back to a build.
WHEEL_TIMEOUT_S = 5.0
_SHADOW_FIX = Manual("pip install -e . in the project tree, so the tree and the installed copy are one")


def _package_dir(ds: Downstream) -> str | None:
    if ds.init_file:
        return str(Path(ds.init_file).parent)
    if ds.location:
        loc = Path(ds.location)
        return str(loc if loc.name == ds.name else loc / ds.name)
    return None


def _same_dir(a: str | None, b: str | os.PathLike[str]) -> bool:
    if not a:
        return False
    try:
        return os.path.realpath(a) == os.path.realpath(b)
    except OSError:
        return False


def find_shadowing(
    cwd: str, downstream: Sequence[Downstream], mmcv: MmcvDist | None
) -> list[str]:
    """Evidence lines for package folders in ``cwd`` that differ from the installed package.

    In: the working folder, the installed downstream packages, the active mmcv dist. Out: one line
    per ``<cwd>/<name>/__init__.py`` that is not the installed copy (with its own version and mmcv
    range when readable). Reads only ``__init__.py``/``version.py`` text; imports nothing.
    """
    lines = []
    root = Path(cwd)
    for ds in downstream:
        tree = root / ds.name
        if not (tree / "__init__.py").is_file() or _same_dir(_package_dir(ds), tree):
            continue
        bounds = read_mmcv_bounds_file(str(tree / "__init__.py"))
        local = Downstream(ds.name, _tree_version(tree) or "?", str(root),
                           str(tree / "__init__.py"), bounds["min"], bounds["max"],
                           bounds["max_inclusive"])
        needs = kd.range_text(local).split(" needs ")[1]
        lines.append(
            f"./{ds.name} in {cwd} (version {local.version}, {needs}) "
            f"is not the installed {ds.name} {ds.version} at {_package_dir(ds)}: `python -m`/`-c` "
            f"import the tree, scripts under tools/ import the installed copy"
        )
    if mmcv and mmcv.package_dir and (root / "mmcv" / "__init__.py").is_file() and not _same_dir(
        mmcv.package_dir, root / "mmcv"
    ):
        lines.append(
            f"./mmcv in {cwd} shadows the installed {mmcv.name} {mmcv.version} "
            f"at {mmcv.package_dir} "
            f"(a source tree without a built _ext gives `No module named 'mmcv._ext'`)"
        )
    return lines


def _tree_version(tree: Path) -> str | None:
    """``__version__ = '3.3.0'`` from ``<tree>/version.py``, read as text."""
    vf = tree / "version.py"
    if not vf.is_file():
        return None
    m = re.search(r"""__version__\s*=\s*['"]([^'"]+)['"]""", vf.read_text("utf-8", "replace"))
    return m.group(1) if m else None


def default_wheel_finder(env: Environment) -> kd.WheelFinder | None:
    """A ``version -> find-links URL`` lookup backed by ``mmfix.wheels.find_wheel``.

    One index search (the newest wheel inside every downstream range for this torch/CUDA/Python,
    no neighbouring pages, no retries, ``WHEEL_TIMEOUT_S``); the finder answers the index page for
    the version it found and None for the others. ``mmfix.wheels`` is imported lazily: when it is
    missing or the index cannot be read, the finder raises and ``recommend`` falls back to a build.
    Set ``MMFIX_OFFLINE=1`` to skip the lookup.
    """
    if env.torch is None or os.environ.get("MMFIX_OFFLINE"):
        return None
    try:
        import mmfix.wheels as wheels
    except Exception:  # noqa: BLE001 - wheels module not there
        return None
    found: dict[str, str | None] = {}

    def finder(version: str) -> str | None:
        if not found:
            search = wheels.find_wheel(env, session=wheels.make_session(retries=0),
                                       timeout=WHEEL_TIMEOUT_S, neighbours=False)
            chosen = search.chosen
            found["version"] = chosen.version if chosen else None
            found["page"] = (chosen.page or None) if chosen else None
        return found["page"] if found["version"] == version else None

    return finder


_SHADOW_HEADLINE = "a project tree shadows an installed OpenMMLab package"


def _action(env: Environment, bounded: list[Downstream], rec: kd.Recommendation) -> Rebuild:
    """Rebuild (or install a prebuilt wheel of) an mmcv inside every downstream range: the range is
    the action's constraint; the planner picks the release (the newest inside it and every other
    constraint) and rebuild takes a fitting prebuilt wheel of it before compiling."""
    spec = kd.allowed(bounded)
    text = ",".join(sorted({str(s) for s in spec}, key=lambda t: (not t.startswith(">"), t)))  # min first
    return rebuild(env, f"newest inside: {rec.candidates[0]}", mmcv_version=text)


def evaluate_downstream(
    env: Environment, wheel_finder: kd.WheelFinder | None = None, cwd: str | None = None
) -> Outcome:
    """The ``downstream-version-mismatch`` verdict for ``env`` (pure apart from reading ``cwd``)."""
    shadow = find_shadowing(cwd, env.downstream, env.active_mmcv) if cwd else []
    downstream = [d for d in env.downstream if d.name not in kd.NO_MMCV_BOUND]
    bounded = [d for d in downstream if d.mmcv_min or d.mmcv_max]
    if not downstream:
        if shadow:
            return warn(*shadow, action=_SHADOW_FIX, headline=_SHADOW_HEADLINE)
        return skip("no OpenMMLab downstream package (mmdet, mmseg, ...) installed")
    ranges = [kd.range_text(d) for d in downstream]
    unknown = [f"{d.name} {d.version}: no mmcv bound found in its __init__.py"
               for d in downstream if not (d.mmcv_min or d.mmcv_max)]
    rec = kd.recommend(bounded, wheel_finder)
    facts: dict[str, Any] = {
        "ranges": {d.name: str(kd.spec_for(d)) for d in bounded},
        "recommended": rec.version,
        "candidates": list(rec.candidates),
    }
    mmcv = env.active_mmcv
    if rec.version is None:
        return fail(
            *ranges,
            "no mmcv release satisfies all of them",
            *shadow,
            action=Manual("install downstream versions of one generation (all mmcv 1.x: mmdet 2.x, "
                          "mmseg 0.x; or all mmcv 2.x: mmdet 3.x, mmseg 1.x)"),
            headline="the installed downstream packages need mmcv versions that do not overlap",
            **facts,
        )
    rejecting = []
    if mmcv is not None:
        rejecting = [d for d in bounded if kd.accepts(d, mmcv.version) is False]
    if mmcv is None:
        return fail(*ranges, "no mmcv installed", *shadow, action=_action(env, bounded, rec),
                    headline="no mmcv is installed for the downstream packages", **facts)
    if rejecting:
        return fail(
            f"installed {mmcv.name} {mmcv.version}",
            *(f"{kd.range_text(d)}: rejects {mmcv.version}" for d in rejecting),
            *(r for r in ranges if not any(r.startswith(d.name + " ") for d in rejecting)),
            f"newest mmcv inside every range: {rec.candidates[0]} ({kd.dist_for(rec.candidates[0])})",
            *([f"a prebuilt wheel of mmcv {rec.version} is on {rec.wheel_index}"] if rec.wheel_index else []),
            *shadow,
            action=_action(env, bounded, rec),
            **facts,
        )
    if shadow or unknown:
        return warn(f"installed {mmcv.name} {mmcv.version} is inside every range", *ranges,
                    *unknown, *shadow,
                    action=_SHADOW_FIX if shadow else None,
                    headline=_SHADOW_HEADLINE if shadow else "a downstream package's mmcv range is unknown",
                    **facts)
    return ok(f"installed {mmcv.name} {mmcv.version} is inside every range", *ranges, **facts)


@check(CHECKS, "downstream-version-mismatch", "A", "mmcv version inside every downstream range",
       "the installed mmcv is outside a downstream package's range")
def downstream_version_mismatch(ctx: CheckContext) -> Outcome:
    """Compare the active mmcv with each installed downstream package's own assertion."""
    return evaluate_downstream(ctx.env, default_wheel_finder(ctx.env), os.getcwd())
