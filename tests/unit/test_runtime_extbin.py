"""inspect_ext on real binaries built here: nvcc sm_75 objects (SASS/PTX), a module whose linked
library is removed, undefined torch-namespace symbols; then the B/E checks on those facts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from mmfix.checks import runtime
from mmfix.checks.base import CheckContext
from mmfix.model import (
    Environment,
    ExtImport,
    Gpu,
    Host,
    Status,
    TargetPython,
    TorchInfo,
)
from mmfix.plan.actions import Rebuild
from mmfix.probe import extbin

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="ELF binaries: Linux only")

KERNEL = """
__global__ void addone(float* x) { x[threadIdx.x] += 1.0f; }
extern "C" void launch(float* x) { addone<<<1, 32>>>(x); }
"""
CUOBJDUMP_CACHE = Path.home() / ".cache" / "mmfix-tests" / "venv-compat"


def _nvcc() -> str:
    nvcc = shutil.which("nvcc")
    if not nvcc:
        pytest.skip("no nvcc on PATH")
    return nvcc


def _cuobjdump() -> str | None:
    found = extbin.find_cuobjdump(site_packages=CUOBJDUMP_CACHE.glob("lib/python3*/site-packages"))
    return found


@pytest.fixture(scope="module")
def cuda_objs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """sm75: -gencode code=sm_75 only (as TORCH_CUDA_ARCH_LIST=7.5 builds);
    sm75ptx: -arch=sm_75 (SASS sm_75 + PTX compute_75)."""
    nvcc = _nvcc()
    d = tmp_path_factory.mktemp("cuda")
    (d / "k.cu").write_text(KERNEL)
    flags = {
        "sm75": ["-gencode", "arch=compute_75,code=sm_75"],
        "sm75ptx": ["-arch=sm_75"],
    }
    out = {}
    for name, f in flags.items():
        so = d / f"{name}.so"
        subprocess.run([nvcc, *f, "-shared", "-Xcompiler", "-fPIC", str(d / "k.cu"), "-o", str(so)],
                       check=True, capture_output=True, timeout=300)
        out[name] = str(so)
    return out


def env_for(ext: object = None, imp: ExtImport | None = None, ccs: tuple[str, ...] = (),
            torch_cuda: str | None = "12.1", driver: str | None = None,
            torch_version: str = "2.1.0", numpy: str | None = None,
            cxx11: bool | None = True, libs: tuple[str, ...] = ()) -> Environment:
    gpus = tuple(Gpu(i, f"GPU{i}", cc, driver) for i, cc in enumerate(ccs))
    pk = {"numpy": numpy} if numpy else {}
    return Environment(
        TargetPython("/usr/bin/python3", "3.11.7", packages=pk),
        Host("Linux", gpus=gpus, driver_version=driver),
        torch=TorchInfo(torch_version, "/sp/torch", torch_cuda, cxx11_abi=cxx11,
                        lib_dir="/sp/torch/lib", libraries=libs),
        ext_import=imp, ext_binary=ext,  # type: ignore[arg-type]
    )


def run(check_id: str, env: Environment):
    [c] = [c for c in runtime.CHECKS if c.id == check_id]
    return c.run(CheckContext(env))


# --- SASS / PTX ----------------------------------------------------------------------------------


@pytest.mark.parametrize("tool", ["builtin", "cuobjdump"])
def test_archs_of_real_nvcc_objects(cuda_objs: dict[str, str], tool: str) -> None:
    cuobjdump = None
    if tool == "cuobjdump":
        cuobjdump = _cuobjdump()
        if cuobjdump is None:
            pytest.skip("no cuobjdump (pip install nvidia-cuda-cuobjdump into the test venv)")
    only = extbin.inspect_ext(cuda_objs["sm75"], cuobjdump, None)
    both = extbin.inspect_ext(cuda_objs["sm75ptx"], cuobjdump, None)
    assert (only.sass_archs, only.ptx_archs) == (("sm_75",), ())
    assert (both.sass_archs, both.ptx_archs) == (("sm_75",), ("compute_75",))
    assert only.cuobjdump == (cuobjdump or extbin.FATBIN_READER)
    assert "libc.so.6" in only.needed_libs and only.missing_libs == ()


def test_sm75_sass_covers_7_5_not_8_6(cuda_objs: dict[str, str]) -> None:
    ext = extbin.inspect_ext(cuda_objs["sm75"], None, None)
    assert run("cuda-arch-not-compiled", env_for(ext, ccs=("7.5",))).status is Status.OK
    f = run("cuda-arch-not-compiled", env_for(ext, ccs=("7.5", "8.6")))
    assert f.status is Status.FAIL
    assert f.facts["uncovered"] == ["8.6"]
    assert f.action == Rebuild(arch="8.6") and f.auto_fix == "rebuild"


def test_sm75_with_ptx_jits_on_8_6_but_not_on_7_0(cuda_objs: dict[str, str]) -> None:
    ext = extbin.inspect_ext(cuda_objs["sm75ptx"], None, None)
    f = run("cuda-arch-not-compiled", env_for(ext, ccs=("8.6",)))
    assert f.status is Status.WARN and f.facts["ptx_jit"] == ["8.6"]
    assert run("cuda-arch-not-compiled", env_for(ext, ccs=("7.0",))).status is Status.FAIL


# --- libraries and symbols ------------------------------------------------------------------------


def _gcc(*args: str) -> None:
    if not shutil.which("gcc"):
        pytest.skip("no gcc")
    subprocess.run(["gcc", *args], check=True, capture_output=True, timeout=120)


PYMOD = """
#include <Python.h>
extern int helper_value(void);
static PyObject* value(PyObject* s, PyObject* a) { return PyLong_FromLong(helper_value()); }
static PyMethodDef M[] = {{"value", value, METH_NOARGS, ""}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef D = {PyModuleDef_HEAD_INIT, "_ext", NULL, -1, M};
PyMODINIT_FUNC PyInit__ext(void) { return PyModule_Create(&D); }
"""


def test_module_whose_library_was_removed(tmp_path: Path) -> None:
    if not Path(sysconfig.get_paths()["include"], "Python.h").is_file():
        pytest.skip("no Python.h for this interpreter")
    (tmp_path / "helper.c").write_text("int helper_value(void) { return 42; }\n")
    (tmp_path / "mod.c").write_text(PYMOD)
    libdir = tmp_path / "lib"
    libdir.mkdir()
    _gcc("-shared", "-fPIC", str(tmp_path / "helper.c"), "-o", str(libdir / "libhelper.so"))
    pkg = tmp_path / "pkg" / "mmcv"
    pkg.mkdir(parents=True)
    ext = pkg / ("_ext" + sysconfig.get_config_var("EXT_SUFFIX"))
    _gcc("-shared", "-fPIC", f"-I{sysconfig.get_paths()['include']}", str(tmp_path / "mod.c"),
         f"-L{libdir}", "-lhelper", f"-Wl,-rpath,{libdir}", "-o", str(ext))
    code = "import mmcv._ext as e; print(e.value())"
    env = {**os.environ, "PYTHONPATH": str(pkg.parent)}
    works = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert works.stdout.strip() == "42"
    assert extbin.inspect_ext(str(ext), None, None).missing_libs == ()

    (libdir / "libhelper.so").unlink()
    broken = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert "libhelper.so: cannot open shared object file" in broken.stderr
    facts = extbin.inspect_ext(str(ext), None, None)
    assert "libhelper.so" in facts.needed_libs and facts.missing_libs == ("libhelper.so",)

    error = broken.stderr.strip().splitlines()[-1]
    imp = ExtImport(True, ok=False, returncode=1, error_type="ImportError", error=error)
    f = run("ext-undefined-symbol", env_for(facts, imp))
    assert f.status is Status.FAIL
    assert "libhelper.so: cannot open shared object file" in f.evidence
    assert run("libtorch-cuda-cu-missing", env_for(facts, imp)).status is Status.OK


FAKE_TORCH = """
void defined(void) __asm__("_ZN3c1013known_symbolEv");
void defined(void) {}
"""
FAKE_EXT = """
void known(void) __asm__("_ZN3c1013known_symbolEv");
void gone(void) __asm__("_ZN2at6detail10empty_cudaENSt7__cxx1112basic_stringIcEE");
void other(void) __asm__("puts_like_libc_symbol");
void use(void) { known(); gone(); other(); }
"""


def test_undefined_torch_symbols_against_a_torch_lib_dir(tmp_path: Path) -> None:
    torch_lib = tmp_path / "torch" / "lib"
    torch_lib.mkdir(parents=True)
    (tmp_path / "t.c").write_text(FAKE_TORCH)
    (tmp_path / "e.c").write_text(FAKE_EXT)
    _gcc("-shared", "-fPIC", str(tmp_path / "t.c"), "-o", str(torch_lib / "libc10.so"))
    _gcc("-shared", "-fPIC", str(tmp_path / "e.c"), "-o", str(tmp_path / "_ext.so"))
    facts = extbin.inspect_ext(str(tmp_path / "_ext.so"), None, str(torch_lib))
    assert facts.undefined_symbols == ("_ZN2at6detail10empty_cudaENSt7__cxx1112basic_stringIcEE",)
    f = run("ext-undefined-symbol", env_for(facts, cxx11=False))
    assert f.status is Status.FAIL and f.facts["cxx11"] is True
    assert any("_GLIBCXX_USE_CXX11_ABI=0" in e for e in f.evidence)
    # without torch's lib dir nothing can be compared
    assert extbin.inspect_ext(str(tmp_path / "_ext.so"), None, None).undefined_symbols == ()


def test_not_elf_and_missing_files(tmp_path: Path) -> None:
    pyd = tmp_path / "_ext.cp311-win_amd64.pyd"
    pyd.write_bytes(b"MZ\x90\x00" + b"\x00" * 200)
    assert extbin.inspect_ext(str(pyd), None, None).needed_libs == ()
    assert extbin.inspect_ext(str(tmp_path / "nope.so"), None, None).sass_archs == ()


def test_cuobjdump_failure_falls_back_to_builtin_reader(cuda_objs: dict[str, str]) -> None:
    facts = extbin.inspect_ext(cuda_objs["sm75"], "/nonexistent/cuobjdump", None)
    assert facts.cuobjdump == extbin.FATBIN_READER and facts.sass_archs == ("sm_75",)


def test_find_cuobjdump_under_cuda_home(tmp_path: Path) -> None:
    tool = tmp_path / "cuda" / "bin" / "cuobjdump"
    tool.parent.mkdir(parents=True)
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    found = extbin.find_cuobjdump(
        {"PATH": str(tmp_path / "empty"), "CUDA_HOME": str(tmp_path / "cuda")}
    )
    assert found == str(tool)
