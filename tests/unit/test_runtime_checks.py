"""Family B/E checks on Environment values built here (error texts from the catalog/FAQ)."""

from __future__ import annotations

import pytest

from mmfix.checks import runtime
from mmfix.checks.base import CheckContext
from mmfix.knowledge import runtime as kr
from mmfix.model import (
    Compiler,
    Downstream,
    Environment,
    ExtBinary,
    ExtImport,
    Finding,
    Gpu,
    Host,
    MmcvDist,
    Status,
    TargetPython,
    TorchInfo,
)
from mmfix.plan.actions import EnvChange, Manual, Rebuild


def env(*, torch: str | None = "2.1.0", cuda: str | None = "12.1", imp: ExtImport | None = None,
        ext: ExtBinary | None = None, ccs: tuple[str, ...] = (), driver: str | None = None,
        numpy: str | None = None, mmcv: str | None = None, gcc: str | None = None,
        libs: tuple[str, ...] = (), platform: str = "linux",
        downstream: tuple[Downstream, ...] = ()) -> Environment:
    tinfo = TorchInfo(torch, "/sp/torch", cuda, cxx11_abi=False, libraries=libs) if torch else None
    dists = ()
    if mmcv:
        name = "mmcv-full" if mmcv.startswith("1.") else "mmcv"
        dists = (MmcvDist(name, mmcv, "/sp", "/sp/mmcv", "cp38-cp38-linux_x86_64",
                          ext_files=("/sp/mmcv/_ext.so",)),)
    return Environment(
        TargetPython("/usr/bin/python3", "3.8.18", platform=platform,
                     packages={"numpy": numpy} if numpy else {}),
        Host("Windows" if platform == "win32" else "Linux",
             gpus=tuple(Gpu(i, "NVIDIA GeForce RTX 3090", c) for i, c in enumerate(ccs)),
             driver_version=driver, gcc=Compiler("/usr/bin/gcc", "gcc", gcc) if gcc else None),
        torch=tinfo, mmcv=dists, ext_import=imp, ext_binary=ext, downstream=downstream,
    )


def run(check_id: str, e: Environment) -> Finding:
    [c] = [c for c in runtime.CHECKS if c.id == check_id]
    return c.run(CheckContext(e))


def test_every_check_is_registered_with_its_family() -> None:
    fam = {c.id: c.family for c in runtime.CHECKS}
    assert fam == {
        "cuda-arch-not-compiled": "B", "ops-cpu-only": "B", "ext-undefined-symbol": "E",
        "libtorch-cuda-cu-missing": "E", "import-segfault": "E", "cuda-driver-too-old": "E",
        "numpy-abi-mismatch": "E", "mmddp-torch-internals": "E",
    }


def test_empty_environment_never_errors() -> None:
    bare = Environment(TargetPython("/usr/bin/python3", "3.11.0"), Host("Linux"))
    for c in runtime.CHECKS:
        assert c.run(CheckContext(bare)).status is Status.SKIP, c.id


@pytest.mark.parametrize(
    "sass, ptx, cc, how",
    [
        (("sm_80",), (), "8.6", "sass"),   # same major, higher minor
        (("sm_86",), (), "8.0", "none"),   # lower minor cannot run higher-minor SASS
        (("sm_75",), (), "8.0", "none"),   # SASS never crosses a major
        (("sm_90a",), (), "9.0", "sass"),
        (("sm_90a",), ("compute_90a",), "10.0", "none"),  # arch-specific code is not portable
        ((), ("compute_80",), "9.0", "ptx"),
        ((), ("compute_86",), "8.0", "none"),
        (("sm_70",), ("compute_70",), "12.0", "ptx"),
    ],
)
def test_coverage_rules(sass: tuple[str, ...], ptx: tuple[str, ...], cc: str, how: str) -> None:
    assert kr.coverage(cc, sass, ptx)[0] == how


def test_arch_check_skips_without_gpu_or_readable_binary() -> None:
    ext = ExtBinary("/sp/mmcv/_ext.so", ("sm_75",), (), "cuobjdump")
    assert run("cuda-arch-not-compiled", env(ext=ext)).status is Status.SKIP
    unread = ExtBinary("/sp/mmcv/_ext.so")
    assert run("cuda-arch-not-compiled", env(ext=unread, ccs=("8.6",))).status is Status.SKIP


def test_arch_check_fix_lists_uncovered_and_jit_gpus_sorted() -> None:
    ext = ExtBinary("/sp/mmcv/_ext.so", ("sm_61",), ("compute_61",), "cuobjdump")
    f = run("cuda-arch-not-compiled", env(ext=ext, ccs=("8.9", "6.0")))
    assert f.status is Status.FAIL
    assert f.action == Rebuild(arch="6.0;8.9")


def test_ops_cpu_only_from_compiling_cuda_version() -> None:
    imp = ExtImport(True, ok=True, compiling_cuda_version="not available",
                    compiler_version="GCC 9.4")
    f = run("ops-cpu-only", env(imp=imp, ccs=("8.6",)))
    assert f.status is Status.FAIL and f.action == Rebuild(arch="8.6", note="builds with FORCE_CUDA=1")
    no_gpu = run("ops-cpu-only", env(imp=imp, cuda="11.8"))
    assert no_gpu.action.arch == "3.5;5.0;6.0;6.1;7.0;7.5;8.0;8.6;8.9+PTX"
    assert "--arch '3.5;5.0;6.0;6.1;7.0;7.5;8.0;8.6;8.9+PTX'" in no_gpu.fix
    assert run("ops-cpu-only", env(imp=imp, cuda=None)).status is Status.SKIP


def test_ops_cpu_only_from_binary_and_mismatch() -> None:
    cpu_ext = ExtBinary("/sp/mmcv/_ext.so", (), (), "cuobjdump")
    assert run("ops-cpu-only", env(ext=cpu_ext)).status is Status.FAIL
    imp = ExtImport(True, ok=True, compiling_cuda_version="11.3")
    assert run("ops-cpu-only", env(imp=imp, cuda="12.1")).status is Status.WARN
    imp = ExtImport(True, ok=True, compiling_cuda_version="12.1")
    assert run("ops-cpu-only", env(imp=imp, cuda="12.4")).status is Status.OK


def test_undefined_symbol_from_import_error() -> None:
    err = ("/sp/mmcv/_ext.cpython-38-x86_64-linux-gnu.so: undefined symbol: "
           "_ZN3c104cuda20CUDACachingAllocator9allocatorE")
    imp = ExtImport(True, ok=False, error_type="ImportError", error=err)
    f = run("ext-undefined-symbol", env(imp=imp))
    assert f.status is Status.FAIL
    assert f.facts["symbols"] == ["_ZN3c104cuda20CUDACachingAllocator9allocatorE"]
    assert run("ext-undefined-symbol", env(imp=ExtImport(True, ok=True))).status is Status.OK


def test_libtorch_cuda_cu_from_error_and_from_binary() -> None:
    err = "libtorch_cuda_cu.so: cannot open shared object file: No such file or directory"
    imp = ExtImport(True, ok=False, error_type="ImportError", error=err)
    f = run("libtorch-cuda-cu-missing", env(imp=imp, torch="2.1.0"))
    assert f.status is Status.FAIL and f.facts["libraries"] == ["libtorch_cuda_cu.so"]
    # ...and it is not double-reported as a generic missing library
    assert run("ext-undefined-symbol", env(imp=imp)).status is Status.SKIP
    ext = ExtBinary("/sp/mmcv/_ext.so", needed_libs=("libc10.so", "libtorch_cuda_cu.so"),
                    cuobjdump="cuobjdump")
    split_torch = ("libc10.so", "libtorch_cuda_cu.so", "libtorch_cuda_cpp.so")
    assert run("libtorch-cuda-cu-missing", env(ext=ext, libs=split_torch)).status is Status.OK
    new_torch = ("libc10.so", "libtorch_cuda.so")
    assert run("libtorch-cuda-cu-missing", env(ext=ext, libs=new_torch)).status is Status.FAIL


def test_import_segfault() -> None:
    crash = ExtImport(True, returncode=-11, crashed=True, torch_import_ok=True)
    f = run("import-segfault", env(imp=crash, gcc="5.5.0"))
    assert f.status is Status.FAIL
    assert any("gcc < 5.4 and 5.5" in e for e in f.evidence)
    built = ExtImport(True, returncode=-11, crashed=True, torch_import_ok=True,
                      compiler_version="GCC 5.5")
    f = run("import-segfault", env(imp=built, gcc="11.4.0"))
    assert "mmcv's compiler 5.5: mmcv's FAQ names gcc < 5.4 and 5.5 as causes" in f.evidence
    assert not any(e.startswith("host gcc") for e in f.evidence)
    f = run("import-segfault", env(imp=crash, gcc="14.1.0", cuda="12.1"))
    assert "host gcc 14.1.0 is newer than CUDA 12.1 accepts (<= 12)" in f.evidence
    torch_too = ExtImport(True, returncode=-11, crashed=True, torch_import_ok=False)
    f = run("import-segfault", env(imp=torch_too, torch="1.7.1"))
    assert f.action == EnvChange(("torch==1.7.1",), pip_options=("--force-reinstall", "--no-deps"))
    assert f.fix.endswith("-m pip install --force-reinstall --no-deps torch==1.7.1")
    assert run("import-segfault", env(imp=ExtImport(True, timed_out=True))).status is Status.WARN
    fine = ExtImport(True, ok=True, returncode=0)
    assert run("import-segfault", env(imp=fine)).status is Status.OK


def test_driver_too_old() -> None:
    f = run("cuda-driver-too-old", env(cuda="12.1", driver="470.82.01"))
    assert f.status is Status.FAIL
    assert f.action == Manual("update the NVIDIA driver to >= 525.60.13, or a torch built for CUDA 11.x")
    assert f.fix == f.action.text and f.auto_fix is None
    assert run("cuda-driver-too-old", env(cuda="12.1", driver="535.104.05")).status is Status.OK
    assert run("cuda-driver-too-old", env(cuda="13.0", driver="575.57.08")).status is Status.FAIL
    assert run("cuda-driver-too-old", env(cuda="10.2", driver="440.33.01")).status is Status.OK
    win = run("cuda-driver-too-old", env(cuda="12.1", driver="527.41", platform="win32"))
    assert win.status is Status.FAIL and win.facts["needed"] == "528.33"
    said = ExtImport(True, error="CUDA driver version is insufficient for CUDA runtime version")
    assert run("cuda-driver-too-old", env(imp=said)).status is Status.FAIL
    assert run("cuda-driver-too-old", env(cuda=None, driver="470.82.01")).status is Status.SKIP


def test_numpy_abi() -> None:
    assert run("numpy-abi-mismatch", env(torch="2.1.2", numpy="2.0.1")).status is Status.FAIL
    assert run("numpy-abi-mismatch", env(torch="2.4.0", numpy="2.1.0")).status is Status.OK
    assert run("numpy-abi-mismatch", env(torch="2.1.2", numpy="1.26.4")).status is Status.OK
    assert run("numpy-abi-mismatch", env(torch="2.1.2")).status is Status.SKIP


def test_mmddp_rules_and_fix_inside_downstream_range() -> None:
    mmdet = Downstream("mmdet", "2.28.2", mmcv_min="1.3.17", mmcv_max="1.8.0", max_inclusive=True)
    f = run("mmddp-torch-internals", env(torch="1.11.0", mmcv="1.4.0", downstream=(mmdet,)))
    assert f.status is Status.FAIL
    assert any("_sync_params" in e for e in f.evidence)
    assert isinstance(f.action, Rebuild) and f.action.mmcv_version == ">=1.4.8,<2.0.0rc1"
    assert f.action.note == "newest inside: 1.7.2"
    f = run("mmddp-torch-internals", env(torch="1.7.1", mmcv="1.2.4"))
    assert any("rebuilt parameter indices" in e for e in f.evidence)
    assert run("mmddp-torch-internals", env(torch="1.7.1", mmcv="1.2.5")).status is Status.OK
    f = run("mmddp-torch-internals", env(torch="1.12.1", mmcv="1.5.3"))
    assert any("_run_ddp_forward" in e for e in f.evidence)
    assert run("mmddp-torch-internals", env(torch="1.11.0", mmcv="1.7.2")).status is Status.OK
    assert run("mmddp-torch-internals", env(torch="2.1.0", mmcv="2.1.0")).status is Status.SKIP  # mmengine's DDP
