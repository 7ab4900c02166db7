"""The planner on Environment values: the real checks run on each environment, then the plan is
made from their findings: versions solved, step order, refusals (mmfix.plan.planner/version)."""

from __future__ import annotations

import dataclasses

import pytest
from envfactory import make_env, mmcv, torch, with_host, with_target

from mmfix.checks import CheckContext, run_checks
from mmfix.errors import EXIT_REFUSED
from mmfix.model import Downstream, Environment, Finding, Gpu, Status
from mmfix.plan import version as vmod
from mmfix.plan.actions import APPLY_ORDER, EnvChange, Manual, PurgePipCache, Rebuild, Uninstall
from mmfix.plan.planner import Request, choose_for_rebuild, make_plan
from mmfix.plan.version import ConflictError

MMDET_3 = Downstream("mmdet", "3.3.0", mmcv_min="2.0.0rc4", mmcv_max="2.2.0", max_inclusive=False)
MMDET_2 = Downstream("mmdet", "2.28.2", mmcv_min="1.3.17", mmcv_max="1.8.0", max_inclusive=True)
MMSEG_1 = Downstream("mmseg", "1.2.2", mmcv_min="2.0.0rc4", mmcv_max="2.2.0", max_inclusive=False)
CACHED = "/root/.cache/pip/wheels/ab/cd/mmcv-2.2.0-py2.py3-none-any.whl"


def opsless(**fields: object) -> Environment:
    """torch 2.13.0 CPU, ninja, the ops-less mmcv 2.2.0 wheel pip builds in isolation."""
    env = dataclasses.replace(make_env(torch=torch(), mmcv=(mmcv(),)), **fields)
    return with_host(env, ninja="/usr/bin/ninja")


def findings(env: Environment) -> list[Finding]:
    return run_checks(CheckContext(env))


def plan_for(env: Environment, request: Request = Request()):
    return make_plan(env, findings(env), request)


def test_opsless_mmcv_alone_rebuilds_the_installed_version_with_cpu_ops() -> None:
    plan = plan_for(opsless())
    (step,) = plan.steps
    assert step.action == Rebuild(mmcv_version="2.2.0", cpu=True, note=step.action.note)
    assert {"mmcv-ops-missing", "build-isolation-no-torch"} <= set(step.answers)
    assert plan.mmcv is not None and plan.mmcv.why == ("mmcv 2.2.0: the installed version",)


def test_mmdet_3_3_moves_the_rebuild_to_2_1_0_and_says_why() -> None:
    plan = plan_for(opsless(downstream=(MMDET_3,)))
    step = plan.rebuild
    assert step is not None and step.action.mmcv_version == "2.1.0"
    assert "downstream-version-mismatch" in step.answers and "mmcv-ops-missing" in step.answers
    assert plan.mmcv.why[0].startswith("mmcv 2.1.0: the newest release allowed by mmdet 3.3.0 needs mmcv>=2.0.0rc4,<2.2.0")
    assert plan.mmcv.why[1].startswith("the installed 2.2.0 is excluded by mmdet 3.3.0 needs")


def test_lite_over_mmcv_and_a_cached_wheel_give_ordered_steps() -> None:
    env = opsless(pip_cached_mmcv_wheels=(CACHED,))
    env = dataclasses.replace(env, mmcv=(mmcv(), mmcv(name="mmcv-lite")))
    plan = plan_for(env)
    kinds = [s.action.kind for s in plan.steps]
    assert kinds == ["uninstall", "rebuild", "purge-pip-cache"]
    assert kinds == sorted(kinds, key=APPLY_ORDER.index)
    assert plan.steps[0].action.dists == ("mmcv-lite",)
    assert plan.steps[2].action == PurgePipCache("mmcv", plan.steps[2].action.note)
    assert plan.steps[2].answers == ("pip-cache-stale-wheel",)


def test_uninstalling_a_lite_beside_mmcv_with_ops_reinstalls_the_one_that_stays() -> None:
    env = dataclasses.replace(opsless(), mmcv=(mmcv(ext=True), mmcv(name="mmcv-lite")))
    plan = plan_for(env)
    assert [s.action.kind for s in plan.steps] == ["uninstall", "rebuild"]
    assert plan.rebuild.answers == ("mmcv-lite-and-full",)
    assert any("reinstalled" in n for n in plan.notes)


def test_warnings_alone_never_start_a_build() -> None:
    """mmcv with ops, but setuptools >= 82, too little memory: advice for the next build only."""
    env = with_target(opsless(mmcv=(mmcv(ext=True),)), packages={"setuptools": "84.0.0"})
    env = with_host(env, cpu_count=32, memory_available_bytes=4 << 30)
    fs = findings(env)
    assert any(f.status is Status.WARN and isinstance(f.action, Rebuild) for f in fs)
    plan = make_plan(env, fs)
    assert plan.steps == () and plan.rebuild is None


def test_a_warning_s_build_prerequisite_rides_along_with_a_rebuild() -> None:
    """ninja missing while mmcv has ops is a warning; when a GPU arch forces a rebuild, the plan
    installs ninja first."""
    env = make_env(torch=torch("2.14.1+cu130", cuda="13.0"), mmcv=(mmcv(ext=True),))
    fake = [Finding("cuda-arch-not-compiled", Status.FAIL, "t", action=Rebuild(arch="8.6")),
            Finding("ninja-missing", Status.WARN, "t", action=EnvChange(("ninja",)))]
    plan = make_plan(env, fake)
    assert [s.action.kind for s in plan.steps] == ["env-change", "rebuild"]
    assert plan.rebuild.action.arch == "8.6" and not plan.rebuild.action.cpu


def test_arch_lists_are_merged_and_cpu_beside_arch_is_refused() -> None:
    env = make_env(torch=torch("2.14.1+cu130", cuda="13.0"), mmcv=(mmcv(ext=True),),
                   host=with_host(make_env(), gpus=(Gpu(0, "L4", "8.9"),)).host)
    two = [Finding("cuda-arch-not-compiled", Status.FAIL, "t", action=Rebuild(arch="8.9")),
           Finding("ops-cpu-only", Status.FAIL, "t", action=Rebuild(arch="8.6;8.9+PTX"))]
    assert make_plan(env, two).rebuild.action.arch == "8.6;8.9;8.9+PTX"
    clash = [two[0], Finding("x", Status.FAIL, "t", action=Rebuild(cpu=True))]
    with pytest.raises(ConflictError, match="x asks for CPU ops") as err:
        make_plan(env, clash)
    assert "cuda-arch-not-compiled asks for --arch 8.9" in str(err.value.one_line())


def test_downstream_packages_of_two_generations_are_refused_naming_both() -> None:
    env = opsless(downstream=(MMDET_2, MMSEG_1))
    with pytest.raises(ConflictError) as err:
        plan_for(env)
    line = err.value.one_line()
    assert err.value.exit_code == EXIT_REFUSED
    assert "mmdet 2.28.2 needs mmcv>=1.3.17,<=1.8.0" in line and "mmseg 1.2.2 needs mmcv>=2.0.0rc4,<2.2.0" in line
    assert "install downstream packages of one generation" in line


def test_python_3_6_with_mmdet_3_is_refused_naming_python_and_mmdet() -> None:
    env = with_target(opsless(downstream=(MMDET_3,)), version="3.6.15")
    with pytest.raises(ConflictError) as err:
        plan_for(env)
    assert "Python 3.6.15: mmcv 2.0.0rc4 and later need Python >= 3.7" in err.value.what
    assert "mmdet 3.3.0 needs mmcv>=2.0.0rc4,<2.2.0" in err.value.what


def test_torch_1_5_with_mmdet_2_builds_mmcv_full_1_x() -> None:
    env = opsless(torch=torch("1.5.1"), downstream=(MMDET_2,), mmcv=())
    plan = plan_for(env)
    assert plan.rebuild.action.mmcv_version == "1.7.2" and plan.mmcv.dist == "mmcv-full"
    with pytest.raises(ConflictError, match="torch 1.5.1: mmcv 2.x runs on mmengine"):
        plan_for(dataclasses.replace(env, downstream=(MMDET_3,)))


def test_the_user_s_version_against_a_downstream_range_is_refused() -> None:
    env = opsless(downstream=(MMDET_3,))
    with pytest.raises(ConflictError, match="mmdet 3.3.0 needs mmcv>=2.0.0rc4,<2.2.0.*--mmcv-version 2.2.0"):
        plan_for(env, Request(mmcv_version="2.2.0"))
    assert plan_for(env, Request(mmcv_version=">=2.0,<2.1")).rebuild.action.mmcv_version == "2.0.1"


def test_rebuild_chooses_with_the_same_solver() -> None:
    env = opsless(downstream=(MMDET_3,))
    assert choose_for_rebuild(env, Request()).version == plan_for(env).rebuild.action.mmcv_version == "2.1.0"
    assert choose_for_rebuild(opsless(mmcv=()), Request()).version == "2.2.0"  # nothing installed: newest
    lite_1x = opsless(mmcv=(mmcv(name="mmcv", version="1.7.0"),))
    choice = choose_for_rebuild(lite_1x, Request())
    assert (choice.version, choice.dist) == ("1.7.0", "mmcv-full")  # the same API, with ops


def test_prereleases_only_when_no_final_fits() -> None:
    rc_only = Downstream("mmx", "1.0", mmcv_min="2.0.0rc1", mmcv_max="2.0.0rc4", max_inclusive=True)
    assert choose_for_rebuild(opsless(mmcv=(), downstream=(rc_only,)), Request()).version == "2.0.0rc4"


def test_a_version_mmfix_does_not_know_is_built_when_asked_for() -> None:
    assert choose_for_rebuild(opsless(), Request(mmcv_version="2.3.0")).version == "2.3.0"
    with pytest.raises(ConflictError, match="no mmcv release with ops fits --mmcv-version >=9"):
        choose_for_rebuild(opsless(), Request(mmcv_version=">=9"))


def test_manual_steps_are_listed_never_planned() -> None:
    env = opsless()
    fake = [Finding("cuda-driver-too-old", Status.FAIL, "t", action=Manual("update the driver"))]
    plan = make_plan(env, fake)
    assert plan.steps == () and plan.manual[0].action == Manual("update the driver")


def test_env_changes_merge_per_pip_options() -> None:
    env = opsless()
    fake = [Finding("ninja-missing", Status.FAIL, "t", action=EnvChange(("ninja",))),
            Finding("numpy-abi-mismatch", Status.FAIL, "t", action=EnvChange(("numpy<2",))),
            Finding("import-segfault", Status.FAIL, "t",
                    action=EnvChange(("torch==1.7.1",), pip_options=("--force-reinstall", "--no-deps")))]
    steps = make_plan(env, fake).steps
    assert [s.action.requirements for s in steps] == [("ninja", "numpy<2"), ("torch==1.7.1",)]
    assert steps[0].answers == ("ninja-missing", "numpy-abi-mismatch")


def test_uninstall_of_extra_dists_are_merged() -> None:
    env = opsless()
    fake = [Finding("a", Status.FAIL, "t", action=Uninstall(("mmcv-lite",))),
            Finding("b", Status.WARN, "t", action=Uninstall(("mmcv",)))]
    plan = make_plan(env, fake)
    assert plan.steps[0].action.dists == ("mmcv", "mmcv-lite") and plan.steps[0].answers == ("a", "b")


def test_constraint_reading_of_parse_request() -> None:
    assert str(vmod.parse_request("2.1.0")) == "==2.1.0"
    assert vmod.parse_request(None) is None
    with pytest.raises(Exception, match="neither a version nor a version range"):
        vmod.parse_request("two")
