"""Pasted environment reports: parsed into an Environment, direct findings, doctor checks on them."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmfix.checks.base import Check, fail, ok, warn
from mmfix.explain import explain_file, explain_lines
from mmfix.explain.report import EXT_FROM_REPORT, parse_report, to_environment
from mmfix.model import Status

REPORTS = Path(__file__).resolve().parents[1] / "data" / "explain" / "reports"


def numbered(path: Path) -> list[tuple[int, str]]:
    return list(enumerate(path.read_text(encoding="utf-8").splitlines(), 1))


def test_mmcv_format_to_environment() -> None:
    facts = parse_report(numbered(REPORTS / "mmcv-a5000-cu115-mmcv-cu113.txt"))
    env = to_environment(facts)
    assert env.torch is not None and (env.torch.version, env.torch.cuda) == ("1.11.0+cu115", "11.5")
    assert [(g.index, g.name, g.compute_capability) for g in env.host.gpus] == [
        (0, "NVIDIA RTX A5000", "8.6"),
        (1, "NVIDIA RTX A5000", "8.6"),
    ]
    assert env.host.nvcc is not None and env.host.nvcc.version == "11.5"
    assert env.host.gcc is not None and env.host.gcc.version == "9.4.0"
    assert [(d.name, d.version, d.ext_files) for d in env.mmcv] == [("mmcv-full", "1.5.3", (EXT_FROM_REPORT,))]
    assert env.ext_import is not None and env.ext_import.compiling_cuda_version == "11.3"
    assert [(d.name, d.version) for d in env.downstream] == [("mmdet", "2.25.1")]
    assert facts.torch_archs == [37, 50, 60, 70, 75, 80, 86]
    assert env.target.version == "3.8.13"


def test_a5000_cu115_with_mmcv_from_cu113_gets_cuda_and_arch_advice() -> None:
    result = explain_file(REPORTS / "mmcv-a5000-cu115-mmcv-cu113.txt")
    assert result.ids == ["cuda-version-mismatch", "cuda-arch-not-compiled"]
    mismatch, arch = result.matches
    assert mismatch.source == "report"
    assert (mismatch.facts["torch_cuda"], mismatch.facts["mmcv_cuda"], mismatch.facts["cc"]) == ("11.5", "11.3", "8.6")
    assert "cu115/torch1.11.0" in mismatch.fix and "--arch 8.6" in mismatch.fix
    # the log line's fix is completed with the report's compute capability
    assert arch.source == "log" and arch.line == 33
    assert arch.fix == "`mmfix rebuild --arch 8.6`"


def test_torch_collect_env_format() -> None:
    result = explain_file(REPORTS / "torch-collect-env-4090-cu111.txt")
    env = result.environment
    assert env is not None and env.torch is not None
    assert (env.torch.version, env.torch.cuda) == ("1.10.2+cu111", "11.1")
    assert env.host.gpus[0].compute_capability == "8.9"
    assert env.host.driver_version == "535.129.03"
    assert env.host.nvcc is not None and env.host.nvcc.version == "12.1"
    assert env.target.packages["numpy"] == "2.0.1"
    assert {d.name for d in env.mmcv} == {"mmcv", "mmcv-full"}
    # torch 1.10.2+cu111 has sm_86 SASS, which runs on the 4090's 8.9 (same major): no arch finding
    assert set(result.ids) == {"numpy-abi-mismatch", "mmcv-lite-and-full", "cuda-version-mismatch"}


@pytest.mark.parametrize(
    ("gpu", "torch", "named"),
    [("NVIDIA GeForce RTX 5090", "2.1.0+cu121", True), ("NVIDIA GeForce RTX 5090", "2.7.0+cu128", False),
     ("NVIDIA GeForce RTX 3090", "1.6.0+cu101", True), ("NVIDIA GeForce RTX 4090", "1.10.2+cu111", False)],
)  # fmt: skip
def test_a_gpu_torch_has_no_kernels_for_is_torch_gpu_unsupported(gpu: str, torch: str, named: bool) -> None:
    text = ["sys.platform: linux", f"GPU 0: {gpu}", f"PyTorch: {torch}", "MMCV: 2.1.0"]
    result = explain_lines(text)
    assert ("torch-gpu-unsupported" in result.ids) is named
    assert "cuda-arch-not-compiled" not in result.ids
    if named:
        m = result.matches[result.ids.index("torch-gpu-unsupported")]
        assert m.line == 3 and m.text == f"PyTorch: {torch}" and "then `mmfix rebuild" in m.fix


def test_mmengine_ordereddict_windows_report() -> None:
    result = explain_file(REPORTS / "mmengine-orderdict-win-ops-missing.txt")
    env = result.environment
    assert env is not None
    assert env.target.platform == "win32" and env.host.os == "Windows"
    assert env.torch is not None and env.torch.cuda == "11.8"
    assert env.host.gpus[0].name == "NVIDIA GeForce RTX 3060"
    assert result.ids[0] == "mmcv-ops-missing"
    assert result.matches[0].line == 3


def test_sm86_sass_runs_on_an_sm89_gpu_so_no_arch_finding() -> None:
    text = """sys.platform: linux
GPU 0: NVIDIA GeForce RTX 4090
PyTorch: 1.13.0+cu116
PyTorch compiling details: PyTorch built with:
  - CUDA Runtime 11.6
  - NVCC architecture flags: -gencode;arch=compute_75,code=sm_75;-gencode;arch=compute_86,code=sm_86
MMCV: 1.7.1
MMCV Compiler: GCC 9.3
MMCV CUDA Compiler: 11.6
"""
    assert explain_lines(text.splitlines()).ids == []


@pytest.mark.parametrize(
    ("gcc", "nvcc", "named"),
    [("GCC: gcc (GCC) 12.2.0", "NVCC: Cuda compilation tools, release 11.8, V11.8.89", True),
     ("GCC: gcc (Ubuntu 5.5.0-12ubuntu1) 5.5.0 20171010", "NVCC: Cuda compilation tools, release 10.2, V10.2.89", True),
     ("GCC: gcc (Ubuntu 9.4.0-1ubuntu1~20.04.1) 9.4.0", "NVCC: Cuda compilation tools, release 11.3, V11.3.109", False)],
)  # fmt: skip
def test_gcc_rules_from_a_report(gcc: str, nvcc: str, named: bool) -> None:
    text = ["sys.platform: linux", nvcc, gcc, "PyTorch: 1.12.1+cu113", "MMCV: 1.6.0"]
    ids = explain_lines(text).ids
    assert ("gcc-unsupported" in ids) is named


def test_only_failing_doctor_checks_whose_facts_the_report_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    import mmfix.checks as checks

    seen: list[str] = []

    def failing(ctx):  # type: ignore[no-untyped-def]
        seen.append("cuda-version-mismatch")
        return fail("nvcc differs", fix="x")

    def passing(ctx):  # type: ignore[no-untyped-def]
        seen.append("gcc-unsupported")
        return ok("fine")

    def crashing(ctx):  # type: ignore[no-untyped-def]
        raise RuntimeError("needs a live environment")

    def warning(ctx):  # type: ignore[no-untyped-def]
        seen.append("mmcv-lite-and-full")
        return warn("hm")

    fake = (
        Check("cuda-version-mismatch", "C", "t", failing),
        Check("gcc-unsupported", "C", "t", passing),
        Check("mmcv-ops-missing", "A", "t", crashing),
        Check("mmcv-lite-and-full", "A", "t", warning),
        Check("cuda-driver-too-old", "E", "t", failing),  # no driver in this report: not run
    )
    monkeypatch.setattr(checks, "ALL_CHECKS", fake)
    result = explain_file(REPORTS / "mmcv-a5000-cu115-mmcv-cu113.txt")
    assert [(f.id, f.status) for f in result.findings] == [
        ("cuda-version-mismatch", Status.FAIL),
        ("mmcv-lite-and-full", Status.WARN),
    ]
    assert "cuda-driver-too-old" not in seen


def test_real_doctor_checks_do_not_judge_facts_a_pip_list_lacks() -> None:
    # mmcv seen only as "[pip3] mmcv==2.0.0": whether it has _ext is unknown, so the
    # mmcv-ops-missing check must not run on it
    result = explain_file(REPORTS / "torch-collect-env-4090-cu111.txt")
    assert "mmcv-ops-missing" not in {f.id for f in result.findings}


def test_a_log_without_report_has_no_environment() -> None:
    result = explain_lines(["nvcc fatal   : Unsupported gpu architecture 'compute_86'"])
    assert result.environment is None and result.findings == ()


WIN_REPORT = r"""sys.platform: win32
Python: 3.8.16 (default, Mar  2 2023, 03:18:16) [MSC v.1916 64 bit (AMD64)]
CUDA available: True
GPU 0: NVIDIA GeForce RTX 3080 Laptop GPU
CUDA_HOME: C:\Program Files\NVIDIA GPU Computing Toolkit\CUDA\v{cuda}
NVCC: Cuda compilation tools, release {cuda}, V{cuda}.119
MSVC: Microsoft (R) C/C++ Optimizing Compiler Version 19.38.33134 for x64
GCC: n/a
PyTorch: 1.11.0+cu115
MMCV: 1.7.1
MMCV Compiler: MSVC 192930140
MMCV CUDA Compiler: 11.5
"""


@pytest.mark.parametrize(("cuda", "named"), [("11.5", True), ("11.7", False)])
def test_msvc_from_a_windows_report(cuda: str, named: bool) -> None:
    result = explain_lines(WIN_REPORT.format(cuda=cuda).splitlines())
    env = result.environment
    assert env is not None and env.host.windows is not None
    assert env.host.windows.msc_ver == 1938
    assert ("msvc-unsupported" in result.ids) is named
    if named:
        m = result.matches[result.ids.index("msvc-unsupported")]
        assert (m.facts["msc_min"], m.facts["msc_max"], m.facts["msc_ver"]) == (1910, 1929, 1938)
    # whatever the doctor checks say, only failing / warning findings are kept
    assert all(f.status.value in ("fail", "warn") for f in result.findings)
