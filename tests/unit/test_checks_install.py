from __future__ import annotations

import pytest
from envfactory import make_env, mmcv, torch, with_target

from mmfix.checks import CheckContext, run_checks
from mmfix.model import Status
from mmfix.plan.actions import PurgePipCache, Rebuild, Uninstall


def status(env, cid):
    (f,) = run_checks(CheckContext(env), [cid])
    return f


def test_opsless_mmcv_fails_with_evidence_and_rebuild_fix():
    env = make_env(torch=torch(), mmcv=(mmcv(ext=False),))
    f = status(env, "mmcv-ops-missing")
    assert f.status is Status.FAIL
    assert any("no mmcv/_ext" in e for e in f.evidence)
    assert any("py2.py3-none-any" in e for e in f.evidence)
    # no version: the planner keeps the installed 2.2.0 unless a constraint excludes it
    assert f.action == Rebuild(cpu=True)
    assert f.fix == "mmfix rebuild --python /envs/mm/bin/python --cpu"
    assert f.auto_fix == "rebuild" and f.title == "mmcv has no compiled ops (no mmcv._ext)"


def test_mmcv_with_ext_is_ok():
    env = make_env(torch=torch(), mmcv=(mmcv(ext=True),))
    assert status(env, "mmcv-ops-missing").status is Status.OK


def test_lite_distribution_says_it_never_has_ops():
    env = make_env(mmcv=(mmcv(name="mmcv", version="1.7.2"),))
    f = status(env, "mmcv-ops-missing")
    assert f.status is Status.FAIL
    assert any("without ops by design" in e for e in f.evidence)


def test_two_distributions_fail_and_name_the_one_without_ops():
    env = make_env(mmcv=(mmcv(name="mmcv-full", version="1.7.2", ext=True), mmcv(name="mmcv", version="1.7.2")))
    f = status(env, "mmcv-lite-and-full")
    assert f.status is Status.FAIL
    assert isinstance(f.action, Uninstall) and f.action.dists == ("mmcv",)
    assert f.fix.startswith("/envs/mm/bin/python -m pip uninstall -y mmcv ")


def test_two_opsless_distributions_keep_the_one_meant_for_ops():
    env = make_env(mmcv=(mmcv(name="mmcv", version="2.2.0"), mmcv(name="mmcv-lite", version="2.2.0")))
    f = status(env, "mmcv-lite-and-full")
    assert f.action.dists == ("mmcv-lite",)


@pytest.mark.parametrize(("setuptools", "ext", "expected"), [
    ("81.0.0", False, Status.OK),
    ("82.0.0", False, Status.WARN),
    ("82.0.0", True, Status.SKIP),
])
def test_setuptools_82_matters_only_when_a_build_is_needed(setuptools, ext, expected):
    env = with_target(make_env(mmcv=(mmcv(ext=ext),)), packages={"setuptools": setuptools})
    f = status(env, "setuptools-no-pkg-resources")
    assert f.status is expected
    if expected is not Status.OK:  # the headline never claims pkg_resources is there
        assert "has no pkg_resources" in f.title


def test_none_any_wheel_is_build_isolation():
    env = make_env(mmcv=(mmcv(tag="py2.py3-none-any"),))
    f = status(env, "build-isolation-no-torch")
    assert f.status is Status.FAIL and "isolated" in f.evidence[0]
    env2 = make_env(mmcv=(mmcv(tag="cp311-cp311-linux_x86_64"),))
    assert status(env2, "build-isolation-no-torch").status is Status.OK


def test_python313_warns_only_before_a_build():
    env = with_target(make_env(mmcv=(mmcv(),)), version="3.13.0")
    assert status(env, "setup-py-python313").status is Status.WARN
    env_ok = with_target(make_env(mmcv=(mmcv(),)), version="3.12.1")
    assert status(env_ok, "setup-py-python313").status is Status.OK


def test_stale_pip_cache_wheel_is_named():
    env = make_env(pip_cached_mmcv_wheels=("/root/.cache/pip/wheels/ab/cd/mmcv-2.2.0-py2.py3-none-any.whl",))
    f = status(env, "pip-cache-stale-wheel")
    assert f.status is Status.WARN and f.action == PurgePipCache("mmcv", f.action.note)
    assert f.fix.startswith("/envs/mm/bin/python -m pip cache remove mmcv")
    assert f.title == "pip's wheel cache holds an ops-less mmcv wheel"


def test_editable_1x_checkout_without_ops():
    env = make_env(mmcv=(mmcv(name="mmcv-full", version="1.7.2", tag="", editable=True),))
    f = status(env, "git-checkout-ops-off")
    assert f.status is Status.FAIL and "MMCV_WITH_OPS=1" in f.fix
    assert f.action.source == "/envs/mm/lib/python3.11/site-packages"


def test_git_checkout_check_claims_nothing_about_a_2x_wheel():
    """mmcv 2.2.0 from a wheel is no 1.x source install: not applicable, never a ✓ that says it was
    built with MMCV_WITH_OPS=1."""
    assert status(make_env(mmcv=(mmcv(version="2.2.0"),)), "git-checkout-ops-off").status is Status.SKIP
    built = make_env(mmcv=(mmcv(name="mmcv-full", version="1.7.2", ext=True, editable=True),))
    assert status(built, "git-checkout-ops-off").status is Status.OK
