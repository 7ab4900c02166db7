"""Build records of wheelhouse wheels: made from a real wheel, read back strictly, and matched against
targets. A wheel for another torch, CUDA, ABI, glibc, or without kernels for the target's GPU is
never chosen; a record that does not describe its wheel is refused (exit 3)."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from wheelhouse_support import (
    PATCHES,
    SDIST_210,
    env_311,
    prebuilt_210,
    record_of,
    small_wheel,
    with_build,
    with_torch,
)

from mmfix.errors import EXIT_REFUSED, UsageError
from mmfix.wheels.download import file_sha256
from mmfix.wheels.match import mismatch, need_for, why_it_fits
from mmfix.wheels.records import RecordError, check_against_wheel, load_record, source_sha256


def test_record_of_the_prebuilt_wheel_holds_the_facts() -> None:
    wheel = prebuilt_210()
    rec = record_of(wheel)
    assert rec.wheel.filename == wheel.name and rec.wheel.size == wheel.stat().st_size
    assert rec.wheel.sha256 == file_sha256(wheel) and rec.wheel.tags == ("cp311-cp311-linux_x86_64",)
    assert (rec.mmcv.project, rec.mmcv.version, rec.mmcv.patches) == ("mmcv", "2.1.0", PATCHES)
    assert rec.mmcv.sha256 == SDIST_210.rsplit("=", 1)[1]
    assert (rec.torch.version, rec.torch.build, rec.torch.cxx11_abi) == ("2.13.0+cpu", "cpu", True)
    assert (rec.target.python_tag, rec.target.glibc, rec.build.compiler) == ("cp311", "2.36", "g++ 12.2.0")
    # a CPU build: the built-in fatbin reader finds no GPU code in its 83 MB _ext
    assert (rec.build.sass, rec.build.ptx, rec.build.kernels_read_by) == ((), (), "mmfix-fatbin-reader")
    assert rec.combo == "cpu/torch2.13.0"
    again = load_record(rec.to_json(), "test")
    assert again == rec and json.loads(rec.to_json())["schema"] == "mmfix.wheel-record/1"


def test_load_record_refuses_what_it_does_not_know(tmp_path: Path) -> None:
    rec = json.loads(record_of(small_wheel(tmp_path)).to_json())
    bad = [
        ("not json {", "is not JSON"),
        (json.dumps({**rec, "schema": "mmfix.wheel-record/9"}), "has schema 'mmfix.wheel-record/9'"),
        (json.dumps({k: v for k, v in rec.items() if k != "torch"}), "has no 'torch' section"),
        (json.dumps({**rec, "torch": {**rec["torch"], "cxx11_abi": "yes"}}), "'torch.cxx11_abi' is missing or not bool?"),
        (json.dumps({**rec, "build": {**rec["build"], "sass": "sm_86"}}), "'build.sass' is missing or not strs"),
        (json.dumps({**rec, "wheel": {**rec["wheel"], "size": True}}), "'wheel.size' is missing or not int"),
    ]
    for text, why in bad:
        with pytest.raises(RecordError) as err:
            load_record(text, "x.whl.json")
        assert why in err.value.what and err.value.exit_code == EXIT_REFUSED


def test_source_identity() -> None:
    assert source_sha256("git https://github.com/open-mmlab/mmcv@v2.2.0 (1a2b3c4d5e6f)", None) == "1a2b3c4d5e6f"
    assert source_sha256(SDIST_210, None) == SDIST_210.rsplit("=", 1)[1]


def test_source_identity_of_a_tree(tmp_path: Path) -> None:
    (tmp_path / "mmcv").mkdir()
    (tmp_path / "setup.py").write_text("setup()\n")
    first = source_sha256("dir", tmp_path)
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "x.o").write_text("object")  # build output does not count
    assert source_sha256("dir", tmp_path) == first
    (tmp_path / "mmcv" / "version.py").write_text("__version__ = '2.2.0'\n")
    assert source_sha256("dir", tmp_path) != first


# --- matching records to targets -----------------------------------------------------------


def _cuda_record(tmp_path: Path, sass: tuple[str, ...], ptx: tuple[str, ...] = (), torch: str = "2.14.1+cu130"):
    rec = record_of(small_wheel(tmp_path), env_311(torch=torch, cuda="13.0"), ops="cuda", arch="8.6")
    return with_build(rec, sass=sass, ptx=ptx)


def test_the_same_combination_fits_and_says_why(tmp_path: Path) -> None:
    rec = record_of(small_wheel(tmp_path))
    need = need_for(env_311())
    assert mismatch(rec, need) is None
    assert "torch 2.13.0+cpu (cpu); C++11 ABI 1; cp311 linux x86_64 glibc 2.36; CPU ops" in why_it_fits(rec, need)


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        (dict(torch="2.13.1+cpu"), "built for torch 2.13.0 (cpu), this env has torch 2.13.1 (cpu)"),
        (dict(torch="2.13.0+cu130", cuda="13.0"), "built for torch 2.13.0 (cpu), this env has torch 2.13.0 (cu130)"),
        (dict(abi=False), "built with _GLIBCXX_USE_CXX11_ABI=1, torch here uses 0"),
        (dict(glibc="2.31"), "built on glibc 2.36, newer than this machine's 2.31"),
    ],
)
def test_another_torch_abi_or_glibc_is_never_chosen(tmp_path: Path, target: dict, reason: str) -> None:
    rec = record_of(small_wheel(tmp_path))
    assert mismatch(rec, need_for(env_311(**target))) == reason


def test_an_older_glibc_build_fits_a_newer_machine(tmp_path: Path) -> None:
    rec = record_of(small_wheel(tmp_path), env_311(glibc="2.31"))
    assert mismatch(rec, need_for(env_311(glibc="2.39"))) is None


def test_another_cuda_minor_is_never_chosen(tmp_path: Path) -> None:
    rec = _cuda_record(tmp_path, ("sm_86",))
    rec = with_torch(rec, cuda="12.8", build="cu128")
    assert mismatch(rec, need_for(env_311(torch="2.14.1+cu130", cuda="13.0", gpus=("8.6",)))) == (
        "built for torch 2.14.1 (cu128), this env has torch 2.14.1 (cu130)")
    rec = with_torch(rec, build="cu130")  # a record whose build and CUDA disagree still fails on CUDA
    assert mismatch(
        rec, need_for(env_311(torch="2.14.1+cu130", cuda="13.0", gpus=("8.6",)))) == "built with CUDA 12.8, torch here uses CUDA 13.0"


@pytest.mark.parametrize(
    ("sass", "ptx", "gpu", "fits"),
    [
        (("sm_86",), (), "8.6", True),
        (("sm_80",), (), "8.6", True),  # SASS runs on a higher minor of the same major
        (("sm_86",), (), "8.0", False),
        (("sm_86",), (), "9.0", False),  # SASS does not run on another major
        (("sm_80",), ("compute_80",), "9.0", True),  # PTX at or below it: JIT
        (("sm_90",), ("compute_90",), "8.9", False),  # PTX above it does not help
        (("sm_90a",), (), "9.0", True),
        (("sm_90a",), (), "10.0", False),
    ],
)
def test_kernels_for_every_visible_gpu(tmp_path: Path, sass: tuple, ptx: tuple, gpu: str, fits: bool) -> None:
    rec = _cuda_record(tmp_path, sass, ptx)
    need = need_for(env_311(torch="2.14.1+cu130", cuda="13.0", gpus=(gpu,)))
    why = mismatch(rec, need)
    assert (why is None) is fits, why
    if not fits:
        assert why is not None and why.startswith(f"no kernels for the GPU of compute capability {gpu}")


def test_two_gpus_need_kernels_for_both(tmp_path: Path) -> None:
    rec = _cuda_record(tmp_path, ("sm_86",))
    need = need_for(env_311(torch="2.14.1+cu130", cuda="13.0", gpus=("8.6", "7.5")))
    assert need.gpus == ("7.5", "8.6")
    assert mismatch(rec, need) == "no kernels for the GPU of compute capability 7.5 (SASS sm_86, PTX none)"


def test_without_a_gpu_the_requested_list_decides(tmp_path: Path) -> None:
    env = env_311(torch="2.14.1+cu130", cuda="13.0")
    rec = _cuda_record(tmp_path, ("sm_86", "sm_90"), ("compute_90",))
    assert mismatch(rec, need_for(env, arch="8.6;9.0+PTX")) is None
    assert mismatch(rec, need_for(env, arch="sm_89")) is None  # sm_86 SASS runs on 8.9
    assert mismatch(rec, need_for(env, arch="7.5")) == "no SASS for the requested arch 7.5 (SASS sm_86 sm_90, PTX compute_90)"
    no_ptx = with_build(rec, ptx=())
    assert mismatch(no_ptx, need_for(env, arch="9.0+PTX")) == (
        "no PTX at or below 9.0 for the requested 9.0+PTX (SASS sm_86 sm_90, PTX none)")
    env_list = dataclasses.replace(env, host=dataclasses.replace(env.host, env={"TORCH_CUDA_ARCH_LIST": "12.0"}))
    need = need_for(env_list)
    assert (need.archs, need.arch_source) == (("12.0",), "TORCH_CUDA_ARCH_LIST")
    assert mismatch(rec, need) == "no SASS for the requested arch 12.0 (SASS sm_86 sm_90, PTX compute_90)"  # PTX is not enough


def test_explicit_arch_wins_over_the_build_nodes_gpus(tmp_path: Path) -> None:
    env = env_311(torch="2.14.1+cu130", cuda="13.0", gpus=("7.5",))
    need = need_for(env, arch="9.0")
    assert (need.gpus, need.archs, need.arch_source) == ((), ("9.0",), "--arch")
    assert mismatch(_cuda_record(tmp_path, ("sm_90",)), need) is None


def test_no_gpu_no_list_uses_the_portable_list(tmp_path: Path) -> None:
    need = need_for(env_311(torch="2.14.1+cu130", cuda="13.0"))
    assert need.arch_source == "the portable list for CUDA 13.0" and need.archs
    assert need.archs[-1].endswith("+PTX")
    assert mismatch(_cuda_record(tmp_path, ("sm_86",)), need) is not None


def test_ops_and_sources(tmp_path: Path) -> None:
    cuda_env = env_311(torch="2.14.1+cu130", cuda="13.0", gpus=("8.6",))
    cpu_rec = record_of(small_wheel(tmp_path), cuda_env)  # CPU ops built against a CUDA torch
    assert mismatch(cpu_rec, need_for(cuda_env)) == "holds CPU ops, this env needs CUDA ops"
    assert mismatch(cpu_rec, need_for(cuda_env, cpu=True)) is None
    git = record_of(small_wheel(tmp_path), origin="git https://example/mmcv@main (abc123)")
    assert mismatch(git, need_for(env_311())) == "built from git https://example/mmcv@main (abc123), not the release sdist"
    tpb = record_of(small_wheel(tmp_path), patches=(*PATCHES, "threads-per-block (mmcv/ops/csrc/common/x.h)"))
    assert mismatch(tpb, need_for(env_311())) == "built with a patched THREADS_PER_BLOCK"


def test_malformed_arch_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        need_for(env_311(torch="2.14.1+cu130", cuda="13.0"), arch="8.6;;")


# --- a record against its wheel ------------------------------------------------------------


def test_record_and_wheel_agree(tmp_path: Path) -> None:
    wheel = small_wheel(tmp_path)
    rec = record_of(wheel)
    check_against_wheel(rec, wheel, file_sha256(wheel))  # no exception


def test_a_record_that_lies_about_its_wheel_is_refused(tmp_path: Path) -> None:
    wheel = small_wheel(tmp_path)
    rec = record_of(wheel)
    sha = file_sha256(wheel)
    with pytest.raises(RecordError, match="names sha256"):
        check_against_wheel(rec, wheel, "0" * 64)
    lying = dataclasses.replace(rec, mmcv=dataclasses.replace(rec.mmcv, version="2.2.0"))
    with pytest.raises(RecordError, match="says mmcv 2.2.0, the wheel holds mmcv 2.1.0"):
        check_against_wheel(lying, wheel, sha)
    with pytest.raises(RecordError, match="lists SASS sm_86 / PTX none, its _ext holds SASS none / PTX none"):
        check_against_wheel(with_build(rec, sass=("sm_86",)), wheel, sha)


@pytest.fixture(scope="module")
def cuda_ext(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real shared library with SASS sm_86, sm_90 and PTX compute_90, compiled by nvcc."""
    nvcc = shutil.which("nvcc")
    if not nvcc:
        pytest.skip("no nvcc on PATH")
    d = tmp_path_factory.mktemp("cuda")
    (d / "k.cu").write_text("__global__ void addone(float* x) { x[threadIdx.x] += 1.0f; }\n")
    so = d / "ext.so"
    gencode = ["-gencode", "arch=compute_86,code=sm_86", "-gencode", "arch=compute_90,code=[sm_90,compute_90]"]
    subprocess.run([nvcc, *gencode, "-shared", "-Xcompiler", "-fPIC", str(d / "k.cu"), "-o", str(so)],
                   check=True, capture_output=True, timeout=600)
    return so


def test_kernels_are_read_from_the_wheels_ext(tmp_path: Path, cuda_ext: Path) -> None:
    """The SASS/PTX of a real nvcc-built ``_ext`` are read from inside the wheel (no cuobjdump: the
    built-in reader); a record that lists other archs is refused."""
    ext = cuda_ext
    wheel = small_wheel(tmp_path / "w")
    with zipfile.ZipFile(wheel, "a") as zf:
        zf.write(ext, "mmcv/_ext.cpython-311-x86_64-linux-gnu.so")
    rec = record_of(wheel, env_311(torch="2.14.1+cu130", cuda="13.0"), ops="cuda", arch="8.6;9.0+PTX")
    assert (rec.build.sass, rec.build.ptx) == (("sm_86", "sm_90"), ("compute_90",))
    check_against_wheel(rec, wheel, file_sha256(wheel))
    with pytest.raises(RecordError):
        check_against_wheel(with_build(rec, sass=("sm_86",)), wheel, file_sha256(wheel))
