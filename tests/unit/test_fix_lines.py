"""Every fix line doctor prints comes from an action value: all checks run on a corpus of
environments that makes each of them warn or fail, and what is rendered is compared with
``Finding.action.command(python)``. Also: no check builds a fix string by hand (read with ast), and
every failing or warning finding has a headline that says what was found."""

from __future__ import annotations

import ast
import dataclasses
import io
from pathlib import Path

import pytest
from envfactory import make_env, mmcv, nvcc, torch, with_host, with_target
from test_config_lint import SITE1, site_env
from test_windows_checks import VS2017, VS2022, env_of, shell_env, shell_facts

from mmfix import checks, render
from mmfix.checks import CheckContext, run_checks
from mmfix.model import (
    Compiler,
    CudaToolkit,
    Downstream,
    Environment,
    ExtBinary,
    ExtImport,
    Finding,
    Gpu,
    Status,
)
from mmfix.plan import actions

CHECKS_DIR = Path(checks.__file__).parent
CONFIGS = Path(__file__).resolve().parents[1] / "data" / "compat" / "configs"
ACTION_TYPES = (actions.Uninstall, actions.EnvChange, actions.PatchHeaders, actions.Rebuild,
                actions.PurgePipCache, actions.Manual)
MMDET_3 = Downstream("mmdet", "3.3.0", mmcv_min="2.0.0rc4", mmcv_max="2.2.0", max_inclusive=False)
MMDET_2 = Downstream("mmdet", "2.28.2", mmcv_min="1.3.17", mmcv_max="1.8.0", max_inclusive=True)
NO_RANGE = Downstream("mmpose", "1.3.2")
# Only at run time (explain reads it from a traceback): doctor always skips it.
RUN_TIME_ONLY = {"threads-per-block"}


def _cuda(**host: object) -> Environment:
    env = make_env(torch=torch("2.14.1+cu130", cuda="13.0"), mmcv=(mmcv(),))
    return with_host(env, **host)


def corpus() -> list[tuple[str, Environment, str | None]]:
    """(label, environment, --config) cases; together they make every check warn or fail."""
    cases: list[tuple[str, Environment, str | None]] = []
    add = lambda label, env, cfg=None: cases.append((label, env, cfg))  # noqa: E731
    base = make_env(torch=torch(), mmcv=(mmcv(),))
    add("opsless mmcv 2.2.0", with_target(base, packages={"setuptools": "84.0.0"}))
    add("no mmcv, mmdet 2", dataclasses.replace(base, mmcv=(), downstream=(MMDET_2,)))
    add("lite beside mmcv", dataclasses.replace(base, mmcv=(mmcv(), mmcv(name="mmcv-lite")),
                                                downstream=(MMDET_3, NO_RANGE),
                                                pip_cached_mmcv_wheels=("/c/mmcv-2.2.0-py2.py3-none-any.whl",)))
    add("python 3.13, no setuptools", with_target(base, version="3.13.0", packages={}))
    add("editable 1.x without ops", with_host(
        dataclasses.replace(base, mmcv=(mmcv(name="mmcv-full", version="1.7.2", tag="", editable=True),)),
        env={"MMCV_WITH_OPS": "1"}))
    add("MMCV_WITH_OPS=0", with_host(base, env={"MMCV_WITH_OPS": "0"}))
    add("mmdet 3 beside 2.2.0", dataclasses.replace(base, downstream=(MMDET_3,)))
    add("mmdet 2 and 3", dataclasses.replace(base, downstream=(MMDET_2, MMDET_3)))
    add("cuda, wrapper nvcc, no gpu", _cuda(nvcc=nvcc(wrapper=True), gcc=Compiler("/usr/bin/gcc", "gcc", "14.2.0"),
                                           gxx=Compiler("/usr/bin/g++", "g++", "14.2.0"), glibc="2.42",
                                           toolkits=(CudaToolkit("/usr/local/cuda-13.0", "13.0", "standard"),),
                                           env={"MMCV_CUDA_ARGS": "-gencode=arch=compute_80,code=sm_80"}))
    add("cuda, no nvcc", _cuda(toolkits=(CudaToolkit("/opt/cuda-13.0", "13.0", "standard"),)))
    add("cuda, no nvcc, no kit", _cuda())
    add("cuda 12 nvcc", _cuda(nvcc=nvcc("12.8", root="/usr/local/cuda-12.8"),
                              gxx=Compiler("/usr/bin/g++", "g++", "15.1.0"),
                              other_gccs=(Compiler("/usr/bin/g++-13", "g++", "13.3.0"),)))
    add("cuda 13.1 nvcc", _cuda(nvcc=nvcc("13.1", root="/usr/local/cuda-13.1"),
                                env={"TORCH_CUDA_ARCH_LIST": "3.7;8.6", "MAX_JOBS": "64"},
                                memory_available_bytes=4 << 30, gxx=Compiler("/usr/bin/g++", "g++", "5.5.0")))
    add("arch list with commas", _cuda(nvcc=nvcc(), env={"TORCH_CUDA_ARCH_LIST": "8.6, 9.0"}))
    add("arch list unknown name", _cuda(nvcc=nvcc(), env={"TORCH_CUDA_ARCH_LIST": "foo"}))
    add("arch unknown to torch", _cuda(nvcc=nvcc(), env={"TORCH_CUDA_ARCH_LIST": "8.6;12.7"}))
    add("gcc 4", with_host(base, gxx=Compiler("/usr/bin/g++", "g++", "4.8.5")))
    add("no g++", with_host(base, gxx=None, gcc=None))
    add("no ninja, old mmcv", with_host(
        make_env(torch=torch("2.1.0"), mmcv=(mmcv(name="mmcv-full", version="1.7.1"),)), ninja=None))
    with_ext = dataclasses.replace(
        _cuda(nvcc=nvcc(), gpus=(Gpu(0, "RTX 4090", "8.9", "535.104.05"), Gpu(1, "P100", "6.0"))),
        mmcv=(mmcv(ext=True),),
        ext_binary=ExtBinary("/sp/mmcv/_ext.so", ("sm_61",), ("compute_61",), "cuobjdump",
                             needed_libs=("libtorch_cuda_cu.so",), missing_libs=("libtorch_cuda_cu.so",),
                             undefined_symbols=("_ZN3c106detail14torchCheckFailEPKcS2_jRKNSt7__cxx1112basic_stringB5cxx11",)),
        ext_import=ExtImport(True, returncode=-11, crashed=True, torch_import_ok=True,
                             compiling_cuda_version="not available"))
    add("ext built for another torch", with_ext)
    add("ext jit only", dataclasses.replace(with_ext, ext_binary=ExtBinary("/sp/_ext.so", (), ("compute_80",), "cuobjdump"),
                                            ext_import=ExtImport(True, ok=True, compiling_cuda_version="12.1")))
    add("ext hangs", dataclasses.replace(with_ext, ext_import=ExtImport(True, timed_out=True)))
    add("torch itself crashes", dataclasses.replace(with_ext, ext_import=ExtImport(True, returncode=-11, crashed=True,
                                                                                  torch_import_ok=False)))
    old = make_env(torch=torch("1.11.0"), mmcv=(mmcv(name="mmcv-full", version="1.4.0", ext=True),),
                   downstream=(MMDET_2,), target=with_target(make_env(), packages={"numpy": "2.0.1"}).target)
    add("mmcv-full 1.4 on torch 1.11, numpy 2", old)
    add("mmcv-full 1.2 on torch 1.7, no fix", dataclasses.replace(
        old, torch=torch("1.7.1"), mmcv=(mmcv(name="mmcv-full", version="1.2.4", ext=True),),
        downstream=(Downstream("mmdet", "2.8.0", mmcv_min="1.2.4", mmcv_max="1.3.0", max_inclusive=False),)))
    add("old driver", _cuda(nvcc=nvcc(), gpus=(Gpu(0, "L4", "8.9", "470.82.01"),)))
    add("driver refused at import", dataclasses.replace(
        _cuda(nvcc=nvcc()), ext_import=ExtImport(True, error="CUDA driver version is insufficient for CUDA runtime version")))
    # the ecosystem checks (issue 13): torch without the GPU's arch, yapf 0.40.2, mmdet 2 on mmcv 2
    rtx5090 = _cuda(nvcc=nvcc(), gpus=(Gpu(0, "NVIDIA GeForce RTX 5090", "12.0", "570.86.10"),))
    add("torch without sm_120", dataclasses.replace(
        rtx5090, torch=dataclasses.replace(rtx5090.torch, arch_list=("sm_50", "sm_80", "sm_86", "sm_90"))))
    add("yapf 0.40.2 beside mmengine 0.8.4", with_target(
        dataclasses.replace(base, downstream=(Downstream("mmengine", "0.8.4"),)), packages={"yapf": "0.40.2"}))
    add("mmdet 2 importing mmcv.runner on mmcv 2", dataclasses.replace(base, downstream=(dataclasses.replace(
        MMDET_2, mmcv1x_import="mmdet/apis/train.py:7: from mmcv.runner import build_runner"),)))
    # Windows developer shells (tests/unit/test_windows_checks.py builds them)
    add("vs2022 shell, cuda 11.8", env_of(shell_facts("2022"), "11.8", shell_env("2022")))
    add("vs2022 shell, cuda 9.2", env_of(shell_facts("2022"), "9.2", shell_env("2022")))
    add("vs2022 17.10 no shell, cuda 12.1", env_of(dataclasses.replace(
        shell_facts("2022-17.10"), dev_shell=False, cl=None, msc_ver=None, vs_instances=(VS2022,)), "12.1"))
    add("vs2022 17.10 only, cuda 12.1", env_of(shell_facts("2022-17.10", instances=(VS2022,)), "12.1",
                                               shell_env("2022-17.10")))
    add("no compiler, cuda 13", env_of(dataclasses.replace(shell_facts("2017"), dev_shell=False, cl=None, msc_ver=None,
                                                           vs_instances=()), "13.0"))
    add("x86 shell without sdk, long spaced paths", env_of(
        shell_facts("2017", arch="x86", instances=(VS2017,)), "13.0",
        shell_env("2017", arch="x86", TEMP="C:\\Users\\Zoë Name\\" + "x" * 120), prefix="C:\\my envs\\" + "y" * 150))
    patched = env_of(shell_facts("2019"), "11.0", shell_env("2019", DISTUTILS_USE_SDK="1"))
    for tv in ("1.5.0+cu101", "1.6.0+cu101", "1.7.0+cu110", "2.9.0+cu126"):  # headers not found: a warning
        add(f"torch {tv} headers", dataclasses.replace(
            patched, torch=dataclasses.replace(patched.torch, version=tv, location="/nonexistent/torch")))
    # training configs (parsed, never run)
    for cfg in ("mmdet2/configs/faster_rcnn/faster_rcnn_r50_fpn_accum_custom.py",
                "mmdet3/configs/retinanet/retinanet_r50_fpn_user.py",
                "mmdet2/configs/faster_rcnn/faster_rcnn_r50_fpn_1x_coco.py"):
        add(f"config {cfg}", base, str(CONFIGS / cfg))
    add("config with an unregistered head", site_env(SITE1),
        str(CONFIGS / "mmdet2/configs/faster_rcnn/faster_rcnn_r50_fpn_accum_custom.py"))
    return cases


def _findings() -> list[tuple[str, Environment, Finding]]:
    out = []
    for label, env, cfg in corpus():
        for f in run_checks(CheckContext(env, cfg)):
            out.append((label, env, f))
    return out


FINDINGS = _findings()
PROBLEMS = [(label, env, f) for label, env, f in FINDINGS if f.status in (Status.WARN, Status.FAIL)]


def test_the_corpus_makes_every_check_warn_or_fail() -> None:
    seen = {f.id for _, _, f in PROBLEMS}
    assert not {f.id for _, _, f in FINDINGS if f.status is Status.ERROR}, "a check crashed"
    assert set(checks.check_ids()) - seen == RUN_TIME_ONLY


@pytest.mark.parametrize(("label", "env", "finding"), PROBLEMS, ids=[f"{f.id}@{lb}" for lb, _, f in PROBLEMS])
def test_fix_line_is_rendered_from_the_action(label: str, env: Environment, finding: Finding) -> None:
    f = finding
    if f.action is None:
        assert f.fix is None and f.auto_fix is None
        return
    assert isinstance(f.action, ACTION_TYPES)
    assert f.fix == f.action.command(env.target.executable)
    assert f.auto_fix == (None if isinstance(f.action, actions.Manual) else f.action.kind)
    printed = _render(f)
    assert f"      fix: {f.fix}" in printed.splitlines()


@pytest.mark.parametrize(("label", "env", "finding"), PROBLEMS, ids=[f"{f.id}@{lb}" for lb, _, f in PROBLEMS])
def test_headline_says_what_was_found(label: str, env: Environment, finding: Finding) -> None:
    check = next(c for c in checks.ALL_CHECKS if c.id == finding.id)
    assert finding.title != check.title  # never the healthy assertion beside ! or ✗
    assert finding.title in _render(finding).splitlines()[1]


def _render(f: Finding) -> str:
    from rich.console import Console

    buf = io.StringIO()
    render._console = Console(file=buf, no_color=True, highlight=False, soft_wrap=True, width=400)
    try:
        render.print_findings([f])
    finally:
        render._console = None
    return buf.getvalue()


def _keywords_of_outcome_calls(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name in ("warn", "fail", "build_problem", "status", "Outcome"):
                found += [(node.lineno, k.arg) for k in node.keywords if k.arg in ("fix", "auto_fix")]
    return found


@pytest.mark.parametrize("module", sorted(p.name for p in CHECKS_DIR.glob("*.py")))
def test_no_check_builds_a_fix_string_by_hand(module: str) -> None:
    tree = ast.parse((CHECKS_DIR / module).read_text())
    assert _keywords_of_outcome_calls(tree) == []
    names = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.Name)) and hasattr(n, "name")}
    assert not names & {"rebuild_command", "pip_command"}


def test_outcomes_have_no_fix_text_field() -> None:
    from mmfix.checks.base import Outcome

    assert {f.name for f in dataclasses.fields(Outcome)} == {"status", "evidence", "action", "facts", "headline"}


def test_every_check_has_a_problem_headline() -> None:
    assert [c.id for c in checks.ALL_CHECKS if not c.problem or c.problem == c.title] == []
