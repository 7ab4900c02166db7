"""A real CPU-only torch extension (torch.utils.cpp_extension, torch 2.13.0 CPU in a cached venv):
what inspect_ext reads from it, and the checks that read those facts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mmfix.checks import runtime
from mmfix.checks.base import CheckContext
from mmfix.model import Environment, ExtImport, Gpu, Host, Status, TargetPython, TorchInfo
from mmfix.probe import extbin

pytestmark = pytest.mark.e2e

CACHE = Path.home() / ".cache" / "mmfix-tests"
VENV = CACHE / "venv-compat"
PY = VENV / "bin" / "python"
SOURCE = r"""
#include <torch/extension.h>
at::Tensor add_one(const at::Tensor& x) { return x + 1; }
std::string name_of(const at::Tensor& x) { return x.toString(); }
PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("add_one", &add_one);
  m.def("name_of", &name_of);
}
"""
BUILD = r"""
import sys, torch
from torch.utils.cpp_extension import load
mod = load(name="_ext", sources=[sys.argv[1]], build_directory=sys.argv[2], verbose=False)
print(mod.__file__)
print(torch.__path__[0] + "/lib")
print(mod.add_one(torch.zeros(2)).tolist())
"""


@pytest.fixture(scope="module")
def venv() -> Path:
    if not PY.exists():
        base = shutil.which("python3.11") or sys.executable
        subprocess.run([base, "-m", "venv", str(VENV)], check=True, timeout=300)
    have = subprocess.run([str(PY), "-c", "import torch, ninja"], capture_output=True)
    if have.returncode != 0:
        subprocess.run([str(PY), "-m", "pip", "install", "-q", "torch==2.13.0", "ninja", "numpy"],
                       check=True, timeout=1800)
    subprocess.run([str(PY), "-m", "pip", "install", "-q", "nvidia-cuda-cuobjdump"],
                   capture_output=True, timeout=600)  # optional: else the built-in reader
    return VENV


@pytest.fixture(scope="module")
def built(venv: Path) -> tuple[str, str]:
    src_dir = CACHE / "ext-cpu"
    src_dir.mkdir(parents=True, exist_ok=True)
    src = src_dir / "ext.cpp"
    if not src.exists() or src.read_text() != SOURCE:
        src.write_text(SOURCE)
    out = subprocess.run([str(PY), "-c", BUILD, str(src), str(src_dir)], capture_output=True,
                         text=True, timeout=1200)
    assert out.returncode == 0, out.stderr[-3000:]
    so, lib, result = out.stdout.strip().splitlines()[-3:]
    assert result == "[1.0, 1.0]"
    return so, lib


def _env(ext: object, cuda: str | None, imp: ExtImport | None = None) -> Environment:
    return Environment(
        TargetPython(str(PY), "3.11.7"),
        Host("Linux", gpus=(Gpu(0, "NVIDIA GeForce RTX 3090", "8.6"),)),
        torch=TorchInfo("2.13.0+cpu", "/t", cuda, cxx11_abi=True),
        ext_binary=ext, ext_import=imp,  # type: ignore[arg-type]
    )


def _check(cid: str, env: Environment):
    [c] = [c for c in runtime.CHECKS if c.id == cid]
    return c.run(CheckContext(env))


def test_cpu_extension_facts(built: tuple[str, str], venv: Path) -> None:
    so, torch_lib = built
    tool = extbin.find_cuobjdump(site_packages=venv.glob("lib/python3*/site-packages"))
    facts = extbin.inspect_ext(so, tool, torch_lib)
    assert facts.sass_archs == () and facts.ptx_archs == ()
    assert facts.cuobjdump is not None
    assert {"libc10.so", "libtorch_cpu.so"} <= set(facts.needed_libs)
    assert facts.missing_libs == () and facts.undefined_symbols == ()
    # torch CPU build: CPU ops are right; a CUDA torch with this _ext: ops-cpu-only
    assert _check("ops-cpu-only", _env(facts, None)).status is Status.SKIP
    f = _check("ops-cpu-only", _env(facts, "13.0"))
    assert f.status is Status.FAIL and f.action.arch == "8.6" and not f.action.cpu
    assert f.fix == f.action.command(str(PY)) and " --arch 8.6" in f.fix
    assert _check("cuda-arch-not-compiled", _env(facts, "13.0")).status is Status.SKIP
    assert _check("ext-undefined-symbol", _env(facts, None)).status is Status.OK


def test_against_another_torch_lib_dir(built: tuple[str, str], tmp_path: Path) -> None:
    """A torch lib folder with only libc10.so: at:: symbols and libtorch_cpu.so are missing,
    as when mmcv was built for another torch."""
    so, torch_lib = built
    other = tmp_path / "lib"
    other.mkdir()
    shutil.copy(Path(torch_lib) / "libc10.so", other / "libc10.so")
    facts = extbin.inspect_ext(so, None, str(other))
    assert "libtorch_cpu.so" in facts.missing_libs
    assert facts.undefined_symbols and all(s.startswith("_Z") for s in facts.undefined_symbols)
    assert any("2at" in s for s in facts.undefined_symbols)
    assert "_ZNK2at10TensorBase8toStringB5cxx11Ev" in facts.undefined_symbols  # [abi:cxx11]
    old_abi_torch = _env(facts, None)
    old_abi_torch = Environment(old_abi_torch.target, old_abi_torch.host,
                                TorchInfo("1.13.1", "/t", None, cxx11_abi=False),
                                ext_binary=facts)
    f = _check("ext-undefined-symbol", old_abi_torch)
    assert f.status is Status.FAIL and "libtorch_cpu.so" in f.facts["missing_libs"]
    assert f.facts["cxx11"] is True
    assert any("_GLIBCXX_USE_CXX11_ABI=0" in e for e in f.evidence)
