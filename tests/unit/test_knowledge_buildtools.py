"""knowledge.buildtools: the gcc rule of mmcv's FAQ and the setuptools facts, read alike by doctor's
checks, the build plan and explain."""

from __future__ import annotations

import dataclasses

import pytest
from envfactory import make_env, mmcv, torch, with_host, with_target
from test_build_plan import _env as plan_env

from mmfix.builder.plan import make_plan
from mmfix.checks import CheckContext, run_checks
from mmfix.explain import explain_lines
from mmfix.explain.signatures import BY_ID
from mmfix.knowledge.buildtools import SETUPTOOLS_FIX, SETUPTOOLS_PIN, gcc_faq_problem
from mmfix.model import Compiler, ExtImport, Status


@pytest.mark.parametrize(("version", "problem"), [
    ((4, 9), True), ((5, 3), True), ((5, 4), False), ((5, 5), True), ((6, 0), False), ((12, 2), False),
])
def test_gcc_faq_rule(version, problem):
    assert bool(gcc_faq_problem(*version)) is problem


@pytest.mark.parametrize(("gcc", "status"), [("4.8.5", Status.FAIL), ("5.3.1", Status.WARN), ("5.4.0", Status.OK),
                                             ("5.5.0", Status.WARN), ("9.4.0", Status.OK)])
def test_doctor_explain_and_segfault_evidence_share_the_gcc_rule(gcc, status):
    env = with_host(make_env(torch=torch(), mmcv=(mmcv(),)), gxx=Compiler("/usr/bin/g++", "g++", gcc),
                    gcc=Compiler("/usr/bin/gcc", "gcc", gcc))
    (f,) = run_checks(CheckContext(env), ["gcc-unsupported"])
    assert f.status is status
    report = ["sys.platform: linux", f"GCC: gcc (GCC) {gcc}", "PyTorch: 1.12.1", "MMCV: 1.6.0"]
    assert ("gcc-unsupported" in explain_lines(report).ids) is (status is not Status.OK)
    crashed = ExtImport(attempted=True, crashed=True, returncode=-11, torch_import_ok=True)
    (seg,) = run_checks(CheckContext(dataclasses.replace(env, ext_import=crashed)), ["import-segfault"])
    assert any("mmcv's FAQ" in e for e in seg.evidence) is (status is not Status.OK)


def test_setuptools_remedy_is_one_text(tmp_path):
    assert BY_ID["setuptools-no-pkg-resources"].fix == SETUPTOOLS_FIX
    env = with_target(make_env(torch=torch(), mmcv=(mmcv(),)), packages={"setuptools": "82.0.0"})
    (f,) = run_checks(CheckContext(env), ["setuptools-no-pkg-resources"])
    assert f.status is Status.WARN and "mmfix rebuild" in f.fix and SETUPTOOLS_PIN in f.fix
    assert "mmfix rebuild" in SETUPTOOLS_FIX and SETUPTOOLS_PIN in SETUPTOOLS_FIX
    old = with_target(env, packages={"setuptools": "81.0.0"})
    assert run_checks(CheckContext(old), ["setuptools-no-pkg-resources"])[0].status is Status.OK
    assert "setuptools-no-pkg-resources" in make_plan(plan_env(tmp_path / "a", setuptools="82.0.0"), mmcv_version="2.2.0", cpu=True).patches
    assert "setuptools-no-pkg-resources" not in make_plan(plan_env(tmp_path / "b", setuptools="81.0.0"), mmcv_version="2.2.0", cpu=True).patches


@pytest.mark.parametrize(("torch_version", "pinned"), [("2.2.2+cpu", True), ("2.3.0+cpu", False)])
def test_plan_pins_numpy_below_2_only_for_torch_built_against_numpy_1(tmp_path, torch_version, pinned):
    p = make_plan(plan_env(tmp_path, torch_version=torch_version, cuda=None, numpy="2.1.0"), mmcv_version="2.2.0", cpu=True)
    assert ("numpy<2" in p.env_changes) is pinned
