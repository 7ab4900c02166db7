from __future__ import annotations

from envfactory import make_env, mmcv, nvcc, torch, with_host

from mmfix.checks import CheckContext, run_checks
from mmfix.model import Compiler, CudaToolkit, Status
from mmfix.plan.actions import EnvChange, Rebuild


def finding(env, cid):
    (f,) = run_checks(CheckContext(env), [cid])
    return f


def cuda_env(**host):
    env = make_env(torch=torch("2.14.1+cu130", cuda="13.0", nvidia_include_dirs=("/sp/nvidia/cu13/include",)),
                   mmcv=(mmcv(),))
    return with_host(env, **host)


def test_wrapper_nvcc_without_cuda_home_names_the_guess_and_the_real_root():
    env = cuda_env(nvcc=nvcc(wrapper=True))
    f = finding(env, "cuda-home-missing")
    assert f.status is Status.FAIL
    assert "CUDA_HOME=/usr/local" in " ".join(f.evidence)
    # the rebuild sets CUDA_HOME for its build: the fix line says so, from the action's note
    assert isinstance(f.action, Rebuild) and "CUDA_HOME=/usr/local/cuda-13.0" in f.action.note
    assert f.fix == f.action.command("/envs/mm/bin/python")


def test_cuda_home_set_is_ok_and_cpu_torch_skips():
    assert finding(cuda_env(nvcc=nvcc(), env={"CUDA_HOME": "/usr/local/cuda-13.0"}), "cuda-home-missing").status is Status.OK
    assert finding(make_env(torch=torch()), "cuda-home-missing").status is Status.SKIP


def test_missing_math_headers_point_at_torch_wheels():
    kit = CudaToolkit("/usr/local/cuda-13.0", "13.0", "standard", True, ())
    f = finding(cuda_env(nvcc=nvcc(), toolkits=(kit,)), "cuda-headers-missing")
    assert f.status is Status.FAIL
    assert "cusparse.h" in f.evidence[0]
    assert "CPATH=/sp/nvidia/cu13/include" in f.fix


def test_cuda_major_mismatch_fails_minor_warns():
    env = make_env(torch=torch("2.0.1+cu118", cuda="11.8"), mmcv=(mmcv(),))
    assert finding(with_host(env, nvcc=nvcc("12.1")), "cuda-version-mismatch").status is Status.FAIL
    assert finding(with_host(env, nvcc=nvcc("11.7")), "cuda-version-mismatch").status is Status.WARN
    assert finding(with_host(env, nvcc=nvcc("11.8")), "cuda-version-mismatch").status is Status.OK


def test_gcc_too_new_for_cuda_suggests_an_installed_older_gcc():
    env = make_env(torch=torch("2.0.1+cu118", cuda="11.8"), mmcv=(mmcv(),))
    env = with_host(env, nvcc=nvcc("11.8"), gxx=Compiler("/usr/bin/g++", "g++", "12.2.0"),
                    other_gccs=(Compiler("/usr/bin/g++-11", "g++", "11.4.0"),))
    f = finding(env, "gcc-unsupported")
    assert f.status is Status.FAIL
    assert "later than 11" in f.evidence[0]
    assert f.fix.startswith("mmfix rebuild --python /envs/mm/bin/python")
    assert "CC=/usr/bin/gcc-11 CXX=/usr/bin/g++-11" in f.action.note


def test_gcc_within_limit_ok():
    env = with_host(cuda_env(), nvcc=nvcc("13.0"), gxx=Compiler("/usr/bin/g++", "g++", "12.2.0"))
    assert finding(env, "gcc-unsupported").status is Status.OK


def test_cxx_standard_mmcv22_with_torch214_needs_cxx20():
    f = finding(cuda_env(), "cxx-standard")
    assert f.status is Status.FAIL
    assert f.facts == {"asks": 17, "needs": 20}
    env = make_env(torch=torch("2.13.0+cpu"), mmcv=(mmcv(),))
    assert finding(env, "cxx-standard").status is Status.OK
    old = make_env(torch=torch("2.1.0"), mmcv=(mmcv(name="mmcv-full", version="1.7.1"),))
    assert finding(old, "cxx-standard").facts == {"asks": 14, "needs": 17}


def test_glibc_clash():
    env = with_host(cuda_env(nvcc=nvcc("12.8")), glibc="2.41")
    assert finding(env, "glibc-cuda-math-clash").status is Status.FAIL
    assert finding(with_host(env, glibc="2.36"), "glibc-cuda-math-clash").status is Status.OK


def test_jobs_beyond_memory_warn_with_safe_value():
    env = cuda_env(cpu_count=32, memory_available_bytes=8 << 30)
    f = finding(env, "build-out-of-memory")
    assert f.status is Status.WARN and f.action.note == "runs MAX_JOBS=4"  # ~2 GiB per nvcc job


def test_cpu_builds_count_1_gib_per_job_like_the_build_plan():
    from mmfix.builder.plan import max_jobs

    env = with_host(make_env(mmcv=(mmcv(),)), cpu_count=32, memory_available_bytes=8 << 30)  # no CUDA torch
    f = finding(env, "build-out-of-memory")
    assert f.status is Status.WARN and f.action == Rebuild(cpu=True, note="runs MAX_JOBS=8")
    assert f.facts["safe_jobs"] == max_jobs(32, 8 << 30, "cpu") == 8
    fits = with_host(env, cpu_count=8)
    assert finding(fits, "build-out-of-memory").status is Status.OK  # 8 jobs x 1 GiB fit in 8 GiB


def test_ninja_missing_gives_pip_command_of_the_target():
    f = finding(make_env(mmcv=(mmcv(),)), "ninja-missing")
    assert f.status is Status.FAIL and f.action == EnvChange(("ninja",))
    assert f.fix == "/envs/mm/bin/python -m pip install ninja"


def test_crashing_check_becomes_error_and_others_still_run(monkeypatch):
    from mmfix import checks

    env = make_env()
    bad = checks.ALL_CHECKS[0]

    def boom(ctx):
        raise RuntimeError("kaput")

    import dataclasses

    broken = dataclasses.replace(bad, func=boom)
    monkeypatch.setattr(checks, "ALL_CHECKS", (broken, *checks.ALL_CHECKS[1:]))
    findings = checks.run_checks(CheckContext(env))
    assert findings[0].status is Status.ERROR and "kaput" in findings[0].evidence[0]
    assert len(findings) == len(checks.ALL_CHECKS) and findings[1].status is not Status.ERROR
