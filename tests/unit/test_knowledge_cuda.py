"""knowledge.cuda: the glibc/CUDA math clash judgement and the tables every part reads (the tables
themselves are compared with NVIDIA's wheels in tests/e2e/test_knowledge_artifacts_cuda.py)."""

from __future__ import annotations

import pytest
from envfactory import make_env, mmcv, nvcc, torch, with_host
from test_build_plan import _env as plan_env

from mmfix.builder.plan import make_plan
from mmfix.checks import CheckContext, run_checks
from mmfix.knowledge import cuda
from mmfix.model import Status


@pytest.mark.parametrize(("glibc", "release", "want"), [
    ("2.36", "12.8", ()),
    ("2.41", "12.8", ("cospi", "sinpi", "cospif", "sinpif")),
    ("2.41", "13.0", ()),  # 13.0.48 declares cospi/sinpi with glibc's exception specification
    ("2.42", "13.0", ("rsqrt", "rsqrtf")),  # rsqrt follows glibc only from 13.2.51
    ("2.42", "13.1.115", ("rsqrt", "rsqrtf")),
    ("2.42", "12.9", ("cospi", "sinpi", "cospif", "sinpif", "rsqrt", "rsqrtf")),
    ("2.42", "13.2", ()),
    ("unknown", "13.0", ()),
])
def test_glibc_math_clash(glibc, release, want):
    assert cuda.glibc_math_clash(glibc, release) == want


def _check(glibc: str, release: str):
    env = make_env(torch=torch("2.14.1+cu130", cuda="13.0"), mmcv=(mmcv(),))
    (f,) = run_checks(CheckContext(with_host(env, nvcc=nvcc(release), glibc=glibc)), ["glibc-cuda-math-clash"])
    return f


def test_doctor_and_plan_share_the_judgement(tmp_path):
    assert _check("2.41", "13.0").status is Status.OK  # the former false alarm
    f = _check("2.42", "13.0")
    assert f.status is Status.FAIL and "rsqrt/rsqrtf" in f.evidence[0]
    for (glibc, release), forced in {("2.41", "13.0"): False, ("2.42", "13.0"): True, ("2.41", "12.8"): True}.items():
        p = make_plan(plan_env(tmp_path / f"{glibc}-{release}", glibc=glibc, nvcc=release, cuda=release,
                               torch_version="2.9.0+cu130"), mmcv_version="2.2.0", arch="9.0")
        assert ("mmfix_glibc_cuda_fix.h" in p.files) is forced, (glibc, release)


def test_new_rows_13_1_to_13_5():
    assert cuda.gcc_max("13.3") == 15 and cuda.gcc_max("13.4") == 16
    assert cuda.msvc_range("13.1") == (1920, 1949) and cuda.msvc_range("13.2") == (1920, 1959)
    assert 107 not in cuda.nvcc_archs("13.3") and 107 in cuda.nvcc_archs("13.5")
    assert cuda.toolkits_for_sm(107) == ["13.4"]


def test_portable_arch_lists_only_name_arches_their_nvcc_accepts():
    for release, archs in cuda.PORTABLE_ARCHS.items():
        sms = [cuda.cc_to_sm(a.removesuffix("+PTX")) for a in archs.split(";")]
        assert set(sms) <= set(cuda.nvcc_archs(release) or ()), release


def test_every_table_row_is_a_release_nvcc_knows():
    for table in (cuda.GCC_MAX_BY_CUDA, cuda.MSVC_RANGE_BY_CUDA, cuda.PORTABLE_ARCHS):
        assert all(cuda.nvcc_archs(release) for release in table)
