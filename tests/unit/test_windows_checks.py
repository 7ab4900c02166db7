"""The Windows checks (msvc-*, win-*) on Environment values built in the test (Linux-safe)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from mmfix.checks import run_checks, windows
from mmfix.checks.base import CheckContext
from mmfix.model import (
    Compiler,
    CudaToolkit,
    Environment,
    Finding,
    Host,
    Nvcc,
    Status,
    TargetPython,
    TorchInfo,
    VsInstance,
    WindowsFacts,
)

VS2017 = VsInstance(r"C:\Program Files (x86)\Microsoft Visual Studio\2017\BuildTools",
                    "15.9.28307.2094", "Visual Studio Build Tools 2017", ("14.16.27023",))
VS2019 = VsInstance(r"C:\Program Files (x86)\Microsoft Visual Studio\2019\Community",
                    "16.11.34729.46", "Visual Studio Community 2019", ("14.29.30133",))
VS2022 = VsInstance(r"C:\Program Files (x86)\Microsoft Visual Studio\2022\BuildTools",
                    "17.14.36203.30", "Visual Studio Build Tools 2022", ("14.44.35207",))
VS2022_1710 = VsInstance(r"C:\Program Files\Microsoft Visual Studio\2022\Community",
                         "17.10.34928.147", "Visual Studio Community 2022", ("14.40.33807",))
ALL = (VS2022, VS2019, VS2017)
SHELLS = {  # the developer shell of each VS: (VSCMD_VER, toolset, cl version)
    "2017": ("15.9.61", "14.16.27023", "19.16.27051"),
    "2019": ("16.11.35", "14.29.30133", "19.29.30133"),
    "2022": ("17.14.7", "14.44.35207", "19.44.35207.1"),
    "2022-17.10": ("17.10.3", "14.40.33807", "19.40.33811"),
}
PREFIX = r"C:\Users\ci\miniconda3\envs\openmmlab"


def shell_facts(vs: str, arch: str = "x64", instances: tuple[VsInstance, ...] = ALL,
                long_paths: bool | None = False) -> WindowsFacts:
    ver, toolset, cl_ver = SHELLS[vs]
    cl = Compiler(rf"C:\VS\VC\Tools\MSVC\{toolset}\bin\Hostx64\{arch}\cl.exe", "cl", cl_ver,
                  f"Microsoft (R) C/C++ Optimizing Compiler Version {cl_ver} for {arch}")
    msc = int(cl_ver.split(".")[0]) * 100 + int(cl_ver.split(".")[1])
    return WindowsFacts(dev_shell=True, vscmd_ver=ver, vc_tools_version=toolset, target_arch=arch,
                        cl=cl, msc_ver=msc, vs_instances=instances, long_paths_enabled=long_paths)


def shell_env(vs: str, arch: str = "x64", **extra: str) -> dict[str, str]:
    ver, toolset, _ = SHELLS[vs]
    return {"VSCMD_VER": ver, "VSCMD_ARG_TGT_ARCH": arch, "VCTOOLSVERSION": toolset,
            "VCTOOLSINSTALLDIR": rf"C:\VS\VC\Tools\MSVC\{toolset}" + "\\", **extra}


def env_of(facts: WindowsFacts | None, cuda: str | None = None,
           host_env: Mapping[str, str] | None = None, prefix: str = PREFIX,
           os_name: str = "Windows", toolkit_only: bool = False) -> Environment:
    nvcc = toolkits = None
    root = rf"C:\Program Files\NVIDIA GPU Computing Toolkit\CUDA\v{cuda}"
    if cuda and not toolkit_only:
        nvcc = Nvcc(root + r"\bin\nvcc.exe", None, cuda)
    if cuda and toolkit_only:
        toolkits = (CudaToolkit(root, cuda, "CUDA_PATH"),)
    return Environment(
        target=TargetPython(prefix + r"\python.exe", "3.11.9",
                            platform="win32" if os_name == "Windows" else "linux", prefix=prefix),
        host=Host(os=os_name, env=dict(host_env or {}), nvcc=nvcc, toolkits=toolkits or (),
                  windows=facts),
        torch=TorchInfo("2.4.1+cu118", prefix + r"\Lib\site-packages\torch", cuda="11.8"),
    )


def run(env: Environment, check_id: str) -> Finding:
    (finding,) = run_checks(CheckContext(env), [check_id])
    return finding


IDS = [c.id for c in windows.CHECKS]


def test_ids_and_families() -> None:
    assert {c.id: c.family for c in windows.CHECKS} == {
        "msvc-missing": "C", "msvc-unsupported": "C", "msvc-stl-cuda-mismatch": "C",
        "msvc-env-no-sdk": "C", "msvc-conforming-preprocessor": "C",
        "msvc-shell-target-arch": "W", "win-path-characters": "W", "win-long-paths": "W",
    }


@pytest.mark.parametrize("check_id", IDS)
def test_everything_skips_off_windows(check_id: str) -> None:
    assert run(env_of(None, "12.4", os_name="Linux"), check_id).status is Status.SKIP


# msvc-unsupported in each developer shell, all three VS installed; by hand from table E.
UNSUPPORTED = {
    "2017": {"9.2": "fail", "10.2": "ok", "11.0": "ok", "11.8": "ok", "12.1": "ok", "12.4": "ok",
             "13.0": "fail"},
    "2019": {"9.2": "fail", "10.2": "ok", "11.0": "ok", "11.8": "ok", "12.1": "ok", "12.4": "ok",
             "13.0": "ok"},
    "2022": {"9.2": "fail", "10.2": "fail", "11.0": "fail", "11.8": "fail", "12.1": "fail",
             "12.4": "ok", "13.0": "ok"},
}
STL = {"2017": set(), "2019": set(), "2022": {"9.2", "10.2", "11.0", "11.8", "12.1"}}


@pytest.mark.parametrize("vs", sorted(UNSUPPORTED))
@pytest.mark.parametrize("cuda", ["9.2", "10.2", "11.0", "11.8", "12.1", "12.4", "13.0"])
def test_msvc_unsupported_and_stl_in_each_shell(vs: str, cuda: str) -> None:
    env = env_of(shell_facts(vs), cuda, shell_env(vs))
    f = run(env, "msvc-unsupported")
    assert f.status.value == UNSUPPORTED[vs][cuda]
    if f.status is Status.FAIL and cuda != "9.2":
        assert f.auto_fix == "rebuild" and (f.fix or "").startswith("mmfix rebuild --python ")
        assert "uses toolset" in f.action.note
    if cuda == "9.2":  # nothing installed fits: name what to install
        assert "14.13" in (f.fix or "") and f.auto_fix is None
    stl = run(env, "msvc-stl-cuda-mismatch")
    assert stl.status is (Status.FAIL if cuda in STL[vs] else Status.OK)


def test_stl1002_in_a_vs2022_17_10_shell() -> None:
    facts = shell_facts("2022-17.10", instances=(VS2022_1710,))
    f = run(env_of(facts, "12.1", shell_env("2022-17.10")), "msvc-stl-cuda-mismatch")
    assert f.status is Status.FAIL and "STL1002" in f.evidence[0]
    assert "CUDA 12.4 or newer" in (f.fix or "")
    assert run(env_of(facts, "12.4"), "msvc-stl-cuda-mismatch").status is Status.OK


def test_outside_a_shell_warns_about_what_pip_would_use() -> None:
    facts = WindowsFacts(vs_instances=ALL)
    f = run(env_of(facts, "11.8"), "msvc-unsupported")
    assert f.status is Status.WARN and "14.44.35207" in f.evidence[0]
    assert "14.29.30133" in (f.fix or "")
    assert run(env_of(facts, "11.8"), "msvc-stl-cuda-mismatch").status is Status.WARN
    assert run(env_of(facts, "12.4"), "msvc-unsupported").status is Status.OK


def test_only_vs2022_and_cuda_118_is_a_fail_naming_the_component() -> None:
    f = run(env_of(WindowsFacts(vs_instances=(VS2022,)), "11.8"), "msvc-unsupported")
    assert f.status is Status.FAIL
    assert "Microsoft.VisualStudio.Component.VC.14.39.17.9.x86.x64" in (f.fix or "")


def test_cuda_found_from_toolkit_when_nvcc_not_on_path() -> None:
    env = env_of(WindowsFacts(vs_instances=(VS2022,)), "11.8", toolkit_only=True)
    assert windows.cuda_in_use(env) == ("11.8", r"CUDA_PATH C:\Program Files\NVIDIA GPU "
                                        r"Computing Toolkit\CUDA\v11.8")
    assert run(env, "msvc-unsupported").status is Status.FAIL


def test_cpu_only_host_skips_cuda_checks() -> None:
    env = env_of(WindowsFacts(vs_instances=ALL), None)
    for cid in ("msvc-unsupported", "msvc-stl-cuda-mismatch", "msvc-conforming-preprocessor"):
        assert run(env, cid).status is Status.SKIP


def test_msvc_missing() -> None:
    f = run(env_of(WindowsFacts(), "10.2"), "msvc-missing")
    assert f.status is Status.FAIL and "1700-1929" in f.evidence[0]
    assert "VC.14.29.16.11" in (f.fix or "")
    for facts in (WindowsFacts(vs_instances=(VS2019,)), shell_facts("2019", instances=())):
        assert run(env_of(facts, "10.2"), "msvc-missing").status is Status.OK


def test_msvc_env_no_sdk() -> None:
    f = run(env_of(shell_facts("2022"), "12.4", shell_env("2022")), "msvc-env-no-sdk")
    assert f.status is Status.FAIL and "DISTUTILS_USE_SDK=1" in (f.fix or "")
    done = shell_env("2022", DISTUTILS_USE_SDK="1")
    assert run(env_of(shell_facts("2022"), "12.4", done), "msvc-env-no-sdk").status is Status.OK
    outside = env_of(WindowsFacts(vs_instances=ALL), "12.4", {"TEMP": r"C:\t"})
    assert run(outside, "msvc-env-no-sdk").status is Status.OK


def test_conforming_preprocessor() -> None:
    facts = shell_facts("2022")
    f = run(env_of(facts, "13.0", shell_env("2022")), "msvc-conforming-preprocessor")
    assert f.status is Status.WARN and "/Zc:preprocessor" in (f.fix or "")
    with_flag = shell_env("2022", MMCV_CUDA_ARGS="-Xcompiler /Zc:preprocessor")
    assert run(env_of(facts, "13.0", with_flag), "msvc-conforming-preprocessor").status is Status.OK
    assert run(env_of(facts, "12.4"), "msvc-conforming-preprocessor").status is Status.OK


def test_shell_target_arch() -> None:
    f = run(env_of(shell_facts("2022", arch="x86"), "12.4"), "msvc-shell-target-arch")
    assert f.status is Status.FAIL and "x64 Native Tools Command Prompt" in (f.fix or "")
    assert run(env_of(shell_facts("2022"), "12.4"), "msvc-shell-target-arch").status is Status.OK
    outside = env_of(WindowsFacts(vs_instances=ALL), "12.4")
    assert run(outside, "msvc-shell-target-arch").status is Status.SKIP


def test_path_characters() -> None:
    facts = WindowsFacts(vs_instances=ALL)
    zh = env_of(facts, "12.4", {"TEMP": r"C:\Users\张伟\AppData\Local\Temp"}, prefix=r"C:\envs\mm")
    f = run(zh, "win-path-characters")
    assert f.status is Status.FAIL and "non-ASCII" in f.evidence[0] and "TEMP" in (f.fix or "")
    spaces = env_of(facts, "12.4", {"TEMP": r"C:\t"}, prefix=r"C:\My Envs\mm")
    f = run(spaces, "win-path-characters")
    assert f.status is Status.WARN and f.evidence[0].startswith("target environment")
    plain = env_of(facts, "12.4", {"TEMP": r"C:\t"}, prefix=r"C:\envs\mm")
    assert run(plain, "win-path-characters").status is Status.OK


def test_long_paths() -> None:
    deep_temp = "C:\\" + "\\".join(["build-area"] * 11)  # 3 + 11 * 10 + 10 separators = 123
    off = env_of(WindowsFacts(long_paths_enabled=False), None, {"TEMP": deep_temp})
    f = run(off, "win-long-paths")
    assert f.status is Status.FAIL
    assert "(123 chars)" in f.evidence[0] and "about 281 chars" in f.evidence[0]
    on = env_of(WindowsFacts(long_paths_enabled=True), None, {"TEMP": deep_temp})
    assert run(on, "win-long-paths").status is Status.OK
    short = env_of(WindowsFacts(long_paths_enabled=False), None, {"TEMP": r"C:\t"})
    assert run(short, "win-long-paths").status is Status.OK


def test_no_check_crashes_on_sparse_facts() -> None:
    for facts in (WindowsFacts(), shell_facts("2019", instances=()), None):
        for f in run_checks(CheckContext(env_of(facts, "12.4")), IDS):
            assert f.status is not Status.ERROR, f
