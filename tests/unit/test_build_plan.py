"""The build plan as a pure function of Environment values built here."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from mmfix.builder.plan import make_plan, max_jobs, torch_cuda
from mmfix.errors import RefusedError, UsageError
from mmfix.model import Compiler, Environment, Gpu, Host, MmcvDist, Nvcc, TargetPython, TorchInfo

GIB = 1024**3


def _toolkit(tmp: Path, headers: bool) -> Path:
    root = tmp / "cuda-13.0"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "nvcc").write_text("")
    (root / "include").mkdir()
    (root / "include" / "cuda_runtime.h").write_text("")
    if headers:
        for h in ("cusparse.h", "cublas_v2.h", "cusolverDn.h", "curand.h", "cufft.h"):
            (root / "include" / h).write_text("")
    return root


def _env(tmp: Path, *, torch_version="2.14.1+cu130", cuda="13.0", nvcc="13.0", headers=False, gpus=(),
         setuptools="84.2.1", python="3.11.7", gcc="12.2.0", glibc="2.36", numpy="2.4.6", host_env=None) -> Environment:
    root = _toolkit(tmp, headers)
    wrapper = tmp / "bin" / "nvcc"
    wrapper.parent.mkdir(exist_ok=True)
    wrapper.write_text(f'#!/bin/sh\nexec {root}/bin/nvcc "$@"\n')
    sp = tmp / "site-packages"
    (sp / "nvidia" / "cu13" / "include").mkdir(parents=True)
    (sp / "nvidia" / "cu13" / "lib").mkdir(parents=True)
    torch = TorchInfo(torch_version, str(sp / "torch"), cuda=cuda) if torch_version else None
    return Environment(
        target=TargetPython(str(tmp / "venv" / "bin" / "python"), python,
                            packages={"setuptools": setuptools, "pip": "26.0", "ninja": "1.13", "numpy": numpy}),
        host=Host("Linux", cpu_count=16, memory_available_bytes=6 * GIB, glibc=glibc, env=host_env or {},
                  nvcc=Nvcc(str(wrapper), None, nvcc, gpu_archs=()) if nvcc else None,
                  gpus=tuple(gpus), gcc=Compiler("/usr/bin/gcc", "gcc", gcc)),
        torch=torch,
        mmcv=(MmcvDist("mmcv", "2.2.0", str(sp), str(sp / "mmcv"), "py2.py3-none-any"),),
    )


def test_cuda_plan_resolves_wrapper_headers_and_patches(tmp_path):
    env = _env(tmp_path)
    p = make_plan(env, mmcv_version="2.2.0", arch="9.0")
    assert p.cuda and p.arch_list == "9.0"
    assert p.env["CUDA_HOME"] == str(tmp_path / "cuda-13.0")
    assert p.env["FORCE_CUDA"] == "1" and p.env["MMCV_WITH_OPS"] == "1"
    assert str(tmp_path / "site-packages" / "nvidia" / "cu13" / "include") in p.env["CPATH"]
    assert p.env["MAX_JOBS"] == "3"  # 6 GiB free / 2 GiB per nvcc job, though 16 cores
    assert set(p.patches) == {"setuptools-no-pkg-resources", "cxx-standard (C++20)"}
    assert not p.blockers


def test_headers_present_no_cpath(tmp_path):
    p = make_plan(_env(tmp_path, headers=True), mmcv_version="2.2.0", arch="9.0")
    assert "CPATH" not in p.env


def test_cpu_plan_hides_gpus_and_unsets_cuda_vars(tmp_path):
    env = _env(tmp_path, host_env={"TORCH_CUDA_ARCH_LIST": "8.6", "MMCV_CUDA_ARGS": "-arch=sm_86"})
    p = make_plan(env, mmcv_version="2.2.0", cpu=True)
    assert not p.cuda and p.arch_list is None
    assert p.env["CUDA_VISIBLE_DEVICES"] == "" and "FORCE_CUDA" not in p.env
    assert {"TORCH_CUDA_ARCH_LIST", "MMCV_CUDA_ARGS", "FORCE_CUDA"} <= set(p.unset)
    assert p.env["MAX_JOBS"] == "6"  # 1 GiB per g++ job


def test_cuda_arch_on_cpu_torch_is_refused(tmp_path):
    env = _env(tmp_path, torch_version="2.13.0+cpu", cuda=None)
    with pytest.raises(RefusedError, match="CPU-only torch") as exc:
        make_plan(env, mmcv_version="2.2.0", arch="8.6")
    assert exc.value.exit_code == 3
    assert not make_plan(env, mmcv_version="2.2.0", arch="8.6", cpu=True).cuda


def test_torch_cuda_from_local_version_tag():
    assert torch_cuda(TorchInfo("2.14.1+cu130", "/x")) == "13.0"
    assert torch_cuda(TorchInfo("2.0.1+cu118", "/x")) == "11.8"
    assert torch_cuda(TorchInfo("2.13.0+cpu", "/x")) is None
    assert torch_cuda(TorchInfo("2.3.0+rocm6.0", "/x", hip="6.0")) is None


@pytest.mark.parametrize(("arch", "exc"), [("3.7", RefusedError), ("3.0", RefusedError), ("8.6;;", UsageError),
                                           ("foo", UsageError)])
def test_refusals(tmp_path, arch, exc):
    with pytest.raises(exc):
        make_plan(_env(tmp_path), mmcv_version="2.2.0", arch=arch)


def test_default_arch_from_gpus_else_portable(tmp_path):
    env = _env(tmp_path, gpus=[Gpu(0, "NVIDIA H200", "9.0"), Gpu(1, "RTX 4090", "8.9")])
    assert make_plan(env, mmcv_version="2.2.0").arch_list == "8.9;9.0+PTX"
    p = make_plan(_env(tmp_path / "b"), mmcv_version="2.2.0")
    assert p.arch_list == "7.5;8.0;8.6;8.9;9.0;10.0;12.0+PTX" and "portable" in p.arch_source


def test_env_arch_list_with_commas_is_normalised(tmp_path):
    env = _env(tmp_path, host_env={"TORCH_CUDA_ARCH_LIST": "8.6, 9.0"})
    p = make_plan(env, mmcv_version="2.2.0")
    assert p.env["TORCH_CUDA_ARCH_LIST"] == "8.6;9.0" and p.arch_source == "TORCH_CUDA_ARCH_LIST"


def test_arch_flags_dropped_from_mmcv_cuda_args(tmp_path):
    env = _env(tmp_path, host_env={"MMCV_CUDA_ARGS": "-O3 -gencode arch=compute_70,code=sm_70"})
    p = make_plan(env, mmcv_version="2.2.0", arch="9.0")
    assert p.env["MMCV_CUDA_ARGS"] == "-O3"
    assert any("cuda-args-override-arch" in n for n in p.notes)


def test_nvcc_major_mismatch_blocks(tmp_path):
    p = make_plan(_env(tmp_path, nvcc="12.4", cuda="13.0"), mmcv_version="2.2.0", arch="9.0")
    assert [b.id for b in p.blockers] == ["cuda-version-mismatch"]


def test_gcc_too_new_blocks_unless_allowed(tmp_path):
    env = _env(tmp_path, gcc="16.1.0")
    assert [b.id for b in make_plan(env, mmcv_version="2.2.0", arch="9.0").blockers] == ["gcc-unsupported"]
    p = make_plan(env, mmcv_version="2.2.0", arch="9.0", allow_unsupported_compiler=True)
    assert not p.blockers and "-allow-unsupported-compiler" in p.env["MMCV_CUDA_ARGS"]
    env2 = replace(env, host=replace(env.host, other_gccs=(Compiler("/usr/bin/gcc-14", "gcc", "14.2.0"),
                                                           Compiler("/usr/bin/g++-14", "g++", "14.2.0"))))
    p2 = make_plan(env2, mmcv_version="2.2.0", arch="9.0")
    assert p2.env["CC"] == "/usr/bin/gcc-14" and p2.env["CXX"] == "/usr/bin/g++-14" and not p2.blockers


def test_glibc_clash_force_include(tmp_path):
    p = make_plan(_env(tmp_path, glibc="2.41", nvcc="12.8", cuda="12.8", torch_version="2.7.0+cu128"),
                  mmcv_version="2.2.0", arch="9.0")
    assert "-include {build}/mmfix_glibc_cuda_fix.h" in p.env["MMCV_CUDA_ARGS"]
    assert "__GLIBC_USE_IEC_60559_FUNCS_EXT" in p.files["mmfix_glibc_cuda_fix.h"]


def test_patch_selection_by_versions(tmp_path):
    p = make_plan(_env(tmp_path, python="3.13.0", setuptools="80.0", torch_version="2.0.1+cpu", cuda=None),
                  mmcv_version="2.2.0", cpu=True)
    assert p.patches == ("setup-py-python313",)
    p = make_plan(_env(tmp_path / "b", torch_version="2.1.0+cpu", cuda=None, setuptools="69.0", numpy="1.26.4"),
                  mmcv_version="1.7.1", cpu=True, threads_per_block=256)
    assert p.patches == ("cxx-standard (C++17)", "threads-per-block") and p.dist_name == "mmcv-full"


def test_numpy2_with_old_torch_is_an_asked_env_change(tmp_path):
    p = make_plan(_env(tmp_path, torch_version="2.2.0+cpu", cuda=None), mmcv_version="2.1.0", cpu=True)
    assert "numpy<2" in p.env_changes


def test_no_torch_blocks(tmp_path):
    p = make_plan(_env(tmp_path, torch_version=None), mmcv_version="2.2.0", cpu=True)
    assert [b.id for b in p.blockers] == ["build-isolation-no-torch"]


def test_max_jobs():
    assert max_jobs(2, 24 * GIB, "cuda") == 2
    assert max_jobs(64, 8 * GIB, "cuda") == 4
    assert max_jobs(4, 1 * GIB, "cuda") == 1
    assert max_jobs(4, None, "cpu") == 4


def test_windows_cpu_plan_sets_distutils_use_sdk(tmp_path):
    env = _env(tmp_path, torch_version="2.13.0+cpu", cuda=None)
    env = replace(env, target=replace(env.target, platform="win32"))
    p = make_plan(env, mmcv_version="2.2.0", cpu=True)
    # without Windows facts (no VS found) the MSVC plan cannot be made: a blocker, never a crash
    assert p.env.get("DISTUTILS_USE_SDK") == "1"
    assert [b.id for b in p.blockers] in ([], ["msvc-missing"])


def test_glibc_fix_header_with_real_nvcc(tmp_path):
    """The force-include spelling and effect, checked with the real nvcc's preprocessor."""
    import shutil
    import subprocess

    from mmfix.builder.plan import GLIBC_FIX_HEADER
    from mmfix.builder.toolkit import resolve_toolkit_root

    nvcc = shutil.which("nvcc")
    root = resolve_toolkit_root(nvcc) if nvcc else None
    if root is None:
        pytest.skip("no nvcc here")
    (tmp_path / "mmfix_glibc_cuda_fix.h").write_text(GLIBC_FIX_HEADER)
    (tmp_path / "x.cu").write_text("#include <math.h>\nint v = __GLIBC_USE_IEC_60559_FUNCS_EXT;\n")
    p = make_plan(_env(tmp_path / "e", glibc="2.41", nvcc="12.8", cuda="12.8", torch_version="2.7.0+cu128"),
                  mmcv_version="2.2.0", arch="9.0")
    flags = p.env["MMCV_CUDA_ARGS"].replace("{build}", str(tmp_path)).split()
    cp = subprocess.run([str(root / "bin" / "nvcc"), "-E", *flags, str(tmp_path / "x.cu")],
                        capture_output=True, text=True, timeout=120)
    assert cp.returncode == 0, cp.stderr
    assert "int v = 0;" in cp.stdout


@pytest.mark.parametrize(("text", "want"), [
    ("__version__ = '2.14.1+cu130'\ncuda: Optional[str] = '13.0'\nhip: Optional[str] = None\n", "13.0"),
    ("__version__ = '1.13.1'\ncuda = '11.7'\n", "11.7"),
    ("__version__ = '2.13.0+cpu'\ncuda: Optional[str] = None\n", None),
])
def test_torch_cuda_from_version_py(tmp_path, text, want):
    (tmp_path / "version.py").write_text(text)
    assert torch_cuda(TorchInfo("2.5.1", str(tmp_path))) == want
