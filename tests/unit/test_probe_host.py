from __future__ import annotations

from pathlib import Path

from mmfix.probe import host

NVCC_13 = """nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2025 NVIDIA Corporation
Built on Wed_Aug_20_01:58:59_PM_PDT_2025
Cuda compilation tools, release 13.0, V13.0.88
Build cuda_13.0.r13.0/compiler.36424714_0
"""
NVCC_102_WIN = """nvcc: NVIDIA (R) Cuda compiler driver\r
Copyright (c) 2005-2019 NVIDIA Corporation\r
Built on Wed_Oct_23_19:32:27_Pacific_Daylight_Time_2019\r
Cuda compilation tools, release 10.2, V10.2.89\r
"""


def test_parse_nvcc_version_linux_and_windows():
    assert host.parse_nvcc_version(NVCC_13) == ("13.0", "cuda_13.0.r13.0/compiler.36424714_0")
    assert host.parse_nvcc_version(NVCC_102_WIN) == ("10.2", None)


def test_parse_list_gpu_arch():
    assert host.parse_list_gpu_arch("compute_75\ncompute_80\ncompute_90a\n") == ("compute_75", "compute_80", "compute_90a")


def test_parse_nvidia_smi_with_and_without_compute_cap():
    new = "0, NVIDIA GeForce RTX 3090, 8.6, 535.104.05, 24576\n1, NVIDIA A100-SXM4-80GB, 8.0, 535.104.05, 81920\n"
    gpus = host.parse_nvidia_smi(new)
    assert [(g.name, g.compute_capability, g.memory_mib) for g in gpus] == [
        ("NVIDIA GeForce RTX 3090", "8.6", 24576), ("NVIDIA A100-SXM4-80GB", "8.0", 81920)]
    old = "0, Tesla K80, 470.82.01, 11441\n"
    (k80,) = host.parse_nvidia_smi(old)
    assert k80.compute_capability == "3.7" and k80.driver_version == "470.82.01"


def test_wrapper_script_is_resolved_to_the_real_toolkit(tmp_path):
    kit = tmp_path / "cuda-12.4"
    (kit / "bin").mkdir(parents=True)
    (kit / "include").mkdir()
    (kit / "include" / "cuda_runtime.h").write_text("")
    real = kit / "bin" / "nvcc"
    real.write_text("\x7fELF")
    wrap = tmp_path / "wrap" / "nvcc"
    wrap.parent.mkdir()
    wrap.write_text(f'#!/bin/sh\nexec {real} "$@"\n')
    wrap.chmod(0o755)
    nvcc = host.find_nvcc({"PATH": str(wrap.parent)})
    assert nvcc is not None and nvcc.path == str(wrap)
    assert nvcc.real_path == str(real) and nvcc.toolkit_root == str(kit) and nvcc.is_wrapper
    direct = host.find_nvcc({"CUDA_HOME": str(kit), "PATH": ""})
    assert direct is not None and direct.toolkit_root == str(kit) and not direct.is_wrapper


def test_toolkit_version_and_math_headers(tmp_path: Path):
    kit = tmp_path / "cuda"
    (kit / "targets" / "x86_64-linux" / "include").mkdir(parents=True)
    (kit / "targets" / "x86_64-linux" / "include" / "cublas_v2.h").write_text("")
    (kit / "version.json").write_text('{"cuda": {"name": "CUDA SDK", "version": "12.4.1"}}')
    assert host.toolkit_version(str(kit)) == "12.4"
    assert host.toolkit_math_headers(str(kit)) == ("cublas_v2.h",)


def test_gcc_version_parsing():
    assert host.parse_gcc_version("12.2.0\n") == "12.2.0"
    assert host.parse_gcc_version("gcc (Ubuntu 9.4.0-1ubuntu1~20.04.2) 9.4.0\nCopyright") == "9.4.0"


def test_build_variables_keep_only_relevant_ones():
    env = {"HOME": "/root", "CUDA_HOME": "/c", "CUDA_PATH_V12_4": "C:/x", "TORCH_CUDA_ARCH_LIST": "8.6"}
    assert host.build_variables(env) == {"CUDA_HOME": "/c", "TORCH_CUDA_ARCH_LIST": "8.6", "CUDA_PATH_V12_4": "C:/x"}
