"""Catalog family A: install state and packaging (shared/CATALOG.md section A)."""

from __future__ import annotations

import os

from mmfix.checks.base import Check, CheckContext, Outcome, check, fail, ok, skip, warn
from mmfix.checks.facts import build_needed, rebuild
from mmfix.knowledge.buildtools import SETUPTOOLS_PIN, SETUPTOOLS_WITHOUT_PKG_RESOURCES
from mmfix.knowledge.versions import parse_version as version
from mmfix.model import MmcvDist
from mmfix.plan.actions import EnvChange, Manual, PurgePipCache, Uninstall

CHECKS: list[Check] = []

LITE_NOTE = "mmcv 1.x ('mmcv' < 2.0) and mmcv-lite are built without ops by design"


def _is_lite(name: str, ver: str) -> bool:
    v = version(ver)
    return name == "mmcv-lite" or (name == "mmcv" and v is not None and v < version("2.0.0rc0"))  # type: ignore[operator]


@check(CHECKS, "mmcv-ops-missing", "A", "mmcv is installed with its compiled ops (mmcv._ext)",
       "mmcv has no compiled ops (no mmcv._ext)")
def ops_missing(ctx: CheckContext) -> Outcome:
    env = ctx.env
    if not env.mmcv:
        return fail(
            "no mmcv, mmcv-full or mmcv-lite distribution is installed in the target environment",
            action=rebuild(env, "installs a prebuilt wheel when one fits, else builds"),
            headline="no mmcv is installed",
        )
    active = env.active_mmcv
    assert active is not None
    if active.has_ext:
        return ok(f"{active.name} {active.version}: {active.ext_files[0]}", ext=list(active.ext_files))
    where = active.package_dir or active.location
    evidence = [f"{active.name} {active.version} is installed at {where} but has no mmcv/_ext*.so / .pyd"]
    if active.wheel_tag:
        evidence.append(f"its wheel tag is {active.wheel_tag}")
    if _is_lite(active.name, active.version):
        evidence.append(LITE_NOTE)
    if env.ext_import and env.ext_import.error:
        evidence.append(f"import mmcv._ext: {env.ext_import.error_type}: {env.ext_import.error}")
    return fail(*evidence, action=rebuild(env), package=active.name, version=active.version)


@check(CHECKS, "mmcv-lite-and-full", "A", "only one mmcv distribution is installed",
       "two mmcv distributions share the mmcv package folder")
def lite_and_full(ctx: CheckContext) -> Outcome:
    dists = ctx.env.mmcv
    if not dists:
        return skip("no mmcv-family distribution is installed")
    if len(dists) < 2:
        return ok(f"{len(dists)} mmcv-family distribution(s) installed")
    names = ", ".join(f"{d.name} {d.version}" for d in dists)
    return fail(
        f"installed together: {names}; they share the 'mmcv' package folder, so one overwrites the other",
        action=Uninstall(extra_dists(dists), "the mmcv that stays is reinstalled after: they share files"),
    )


def extra_dists(dists: tuple[MmcvDist, ...]) -> tuple[str, ...]:
    """The distributions to remove when several mmcv-family ones are installed: those without ops
    when one has them; else all but the one meant to carry ops (``mmcv`` >= 2.0 or ``mmcv-full``)."""
    keep = next((d for d in dists if d.has_ext), None)
    keep = keep or next((d for d in dists if not _is_lite(d.name, d.version)), dists[0])
    return tuple(sorted({d.name for d in dists if d.name != keep.name}))


@check(CHECKS, "setuptools-no-pkg-resources", "A", "setuptools provides pkg_resources for mmcv's setup.py",
       "setuptools has no pkg_resources for mmcv's setup.py")
def setuptools_pkg_resources(ctx: CheckContext) -> Outcome:
    env = ctx.env
    st = env.target.packages.get("setuptools")
    v = version(st)
    if v is None:
        return warn("setuptools is not installed in the target environment; mmcv's setup.py needs it",
                    action=EnvChange(("setuptools",), note="mmfix rebuild patches setup.py for setuptools >= 82"),
                    headline="setuptools is not installed")
    if v < version(SETUPTOOLS_WITHOUT_PKG_RESOURCES):  # type: ignore[operator]
        return ok(f"setuptools {st} still ships pkg_resources (removed in {SETUPTOOLS_WITHOUT_PKG_RESOURCES})")
    evidence = (f"setuptools {st} has no pkg_resources (removed in {SETUPTOOLS_WITHOUT_PKG_RESOURCES}); every mmcv release's "
                "setup.py imports it, so building mmcv in this environment fails")
    if not build_needed(env):
        return skip(evidence.replace("fails", "would fail") + "; mmcv already has its ops, so nothing is built now",
                    headline=f"setuptools {st} has no pkg_resources (matters only to a later mmcv build)")
    return warn(evidence, action=rebuild(env, f"patches setup.py in the build copy; or pin '{SETUPTOOLS_PIN}'"))


@check(CHECKS, "build-isolation-no-torch", "A", "mmcv was not built in an isolated env without torch",
       "mmcv was built in an isolated env without torch (no ops)")
def build_isolation(ctx: CheckContext) -> Outcome:
    active = ctx.env.active_mmcv
    if active is None:
        return skip("mmcv is not installed")
    if active.has_ext:
        return ok(f"{active.name} {active.version} has its ops")
    if _is_lite(active.name, active.version):
        return skip(f"{active.name} {active.version} never has ops ({LITE_NOTE})")
    if active.wheel_tag and "none-any" in active.wheel_tag:
        return fail(
            f"{active.name} {active.version} came from a wheel tagged {active.wheel_tag}: pip built it in an "
            "isolated environment without torch ('Skip building ext ops due to the absence of torch.')",
            action=rebuild(ctx.env, "builds without isolation, in the target env"),
        )
    return ok(f"wheel tag {active.wheel_tag or 'unknown'} is not a pure-Python build")


@check(CHECKS, "setup-py-python313", "A", "mmcv's setup.py can read its version on this Python",
       "mmcv's setup.py cannot read its version on this Python")
def setup_py_python313(ctx: CheckContext) -> Outcome:
    env = ctx.env
    if env.target.version_tuple < (3, 13):
        return ok(f"Python {env.target.version}: exec() still writes into locals() (changed in 3.13, PEP 667)")
    text = (f"Python {env.target.version}: every mmcv release's setup.py get_version() raises "
            "KeyError: '__version__' (exec no longer writes into locals(), PEP 667)")
    if not build_needed(env):
        return skip(text + "; mmcv already has its ops, so nothing is built now",
                    headline=f"mmcv's setup.py cannot read its version on Python {env.target.version} "
                             "(matters only to a later mmcv build)")
    return warn(text, action=rebuild(env, "patches get_version() in the build copy"))


@check(CHECKS, "pip-cache-stale-wheel", "A", "pip's wheel cache holds no ops-less mmcv wheel",
       "pip's wheel cache holds an ops-less mmcv wheel")
def pip_cache(ctx: CheckContext) -> Outcome:
    stale = [w for w in ctx.env.pip_cached_mmcv_wheels if w.endswith("-none-any.whl")]
    if not stale:
        return ok(f"{len(ctx.env.pip_cached_mmcv_wheels)} mmcv wheel(s) in pip's cache, none tagged none-any")
    evidence = [f"cached: {w}" for w in stale[:5]]
    evidence.append("pip reuses this wheel (no ops) for every later install of that version")
    return warn(*evidence, action=PurgePipCache("mmcv", "mmfix rebuild builds with --no-cache-dir"))


@check(CHECKS, "git-checkout-ops-off", "A", "an mmcv 1.x source install was built with MMCV_WITH_OPS=1",
       "an mmcv 1.x source install was built without ops (MMCV_WITH_OPS=0)")
def git_checkout(ctx: CheckContext) -> Outcome:
    env = ctx.env
    flag = env.host.env.get("MMCV_WITH_OPS")
    if flag == "0":
        return warn("MMCV_WITH_OPS=0 is set: any mmcv build from here has no ops",
                    action=Manual("unset MMCV_WITH_OPS (mmfix rebuild sets MMCV_WITH_OPS=1 for its build)"),
                    headline="MMCV_WITH_OPS=0 is set: mmcv builds from this shell have no ops")
    active = env.active_mmcv
    if active is None:
        return skip("mmcv is not installed")
    v = version(active.version)
    one_x = v is not None and v < version("2.0.0rc0")  # type: ignore[operator]
    if active.editable and one_x and not active.has_ext and not _is_lite(active.name, active.version):
        src = os.path.dirname(active.package_dir) if active.package_dir else "."
        return fail(
            f"{active.name} {active.version} is installed from a source tree ({active.package_dir}) without ops: "
            "1.x setup.py defaults MMCV_WITH_OPS to 0 in git checkouts",
            action=rebuild(env, "builds the tree with MMCV_WITH_OPS=1", source=src),
        )
    if not (active.editable and one_x):
        return skip(f"{active.name} {active.version} is not an mmcv 1.x source install")
    return ok(f"{active.name} {active.version}: a 1.x source install with its ops")
