"""The target probe on real interpreters (every pyenv version present) and a fake site-packages."""

from __future__ import annotations

import glob
import os
import textwrap
from pathlib import Path

import pytest

from mmfix.errors import UsageError
from mmfix.probe import target as tp

PYENV = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
INTERPRETERS = sorted(glob.glob(str(PYENV / "3.*" / "bin" / "python")))


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def fake_site(root: Path) -> Path:
    """A site-packages with torch (CUDA 12.1, new ABI), an ops-less mmcv 2.2.0 wheel, mmdet 3.3.0."""
    sp = root / "site"
    write(sp / "torch" / "__init__.py", "raise SystemExit('the probe must never import torch')\n")
    write(sp / "torch" / "version.py",
          "from typing import Optional\n__version__ = '2.1.2+cu121'\ncuda: Optional[str] = '12.1'\nhip: Optional[str] = None\n")
    write(sp / "torch" / "share" / "cmake" / "Torch" / "TorchConfig.cmake",
          'set(TORCH_CXX_FLAGS "-D_GLIBCXX_USE_CXX11_ABI=1")\n')
    (sp / "torch" / "include").mkdir()
    (sp / "torch" / "lib").mkdir()
    (sp / "torch" / "lib" / "libtorch_cuda.so").write_bytes(b"")
    write(sp / "nvidia" / "cusparse" / "include" / "cusparse.h", "\n")
    write(sp / "torch-2.1.2.dist-info" / "METADATA", "Metadata-Version: 2.1\nName: torch\nVersion: 2.1.2+cu121\n")
    write(sp / "mmcv" / "__init__.py", "raise SystemExit('the probe must never import mmcv')\n")
    di = sp / "mmcv-2.2.0.dist-info"
    write(di / "METADATA", "Metadata-Version: 2.1\nName: mmcv\nVersion: 2.2.0\n")
    write(di / "WHEEL", "Wheel-Version: 1.0\nGenerator: setuptools\nRoot-Is-Purelib: true\nTag: py2-none-any\nTag: py3-none-any\n")
    write(di / "RECORD", "mmcv/__init__.py,,\nmmcv-2.2.0.dist-info/METADATA,,\n")
    write(di / "INSTALLER", "pip\n")
    write(sp / "mmdet" / "__init__.py", """\
        import mmcv
        from mmengine.utils import digit_version
        from .version import __version__, version_info

        mmcv_minimum_version = '2.0.0rc4'
        mmcv_maximum_version = '2.2.0'
        mmcv_version = digit_version(mmcv.__version__)

        assert (mmcv_version >= digit_version(mmcv_minimum_version)
                and mmcv_version < digit_version(mmcv_maximum_version)), \\
            f'MMCV=={mmcv.__version__} is used but incompatible. ' \\
            f'Please install mmcv>={mmcv_minimum_version}, <{mmcv_maximum_version}.'
        """)
    write(sp / "mmdet-3.3.0.dist-info" / "METADATA", "Metadata-Version: 2.1\nName: mmdet\nVersion: 3.3.0\n")
    write(sp / "setuptools-82.0.0.dist-info" / "METADATA", "Metadata-Version: 2.1\nName: setuptools\nVersion: 82.0.0\n")
    return sp


@pytest.mark.parametrize("python", INTERPRETERS, ids=lambda p: p.split("/")[-3])
def test_target_script_runs_on_every_interpreter(python, tmp_path, monkeypatch):
    sp = fake_site(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(sp))
    doc = tp.run_target_probe(python)
    target, torch, mmcv, downstream = tp.parse_target(doc)
    assert target.version.startswith(python.split("/")[-3][:4].rstrip("."))
    assert torch is not None and torch.version == "2.1.2+cu121" and torch.cuda == "12.1"
    assert torch.cxx11_abi is True and torch.libraries == ("libtorch_cuda.so",)
    assert torch.nvidia_include_dirs == (str(sp / "nvidia" / "cusparse" / "include"),)
    (m,) = mmcv
    assert (m.name, m.version, m.wheel_tag, m.has_ext) == ("mmcv", "2.2.0", "py2.py3-none-any", False)
    assert target.packages["setuptools"] == "82.0.0"
    mmdet = next(d for d in downstream if d.name == "mmdet")
    assert mmdet.version == "3.3.0" and mmdet.init_file.endswith("mmdet/__init__.py")


def test_every_downstream_package_of_the_knowledge_table_is_read(tmp_path, monkeypatch):
    """The probe script reads the packages of ``knowledge.downstream`` (sent to it, not copied into
    it): an mmyolo and an mmagic beside mmdet get their own mmcv ranges."""
    sp = fake_site(tmp_path)
    for pkg, lo, hi in (("mmyolo", "2.0.0rc4", "2.1.0"), ("mmagic", "2.0.0", "2.2.0")):
        write(sp / pkg / "__init__.py", f"mmcv_minimum_version = '{lo}'\nmmcv_maximum_version = '{hi}'\n")
        write(sp / f"{pkg}-1.0.0.dist-info" / "METADATA", f"Metadata-Version: 2.1\nName: {pkg}\nVersion: 1.0.0\n")
    monkeypatch.setenv("PYTHONPATH", str(sp))
    _, _, _, downstream = tp.parse_target(tp.run_target_probe(INTERPRETERS[-1] if INTERPRETERS else "python3"))
    found = {d.name: (d.version, d.mmcv_min, d.mmcv_max) for d in downstream}
    assert found["mmyolo"] == ("1.0.0", "2.0.0rc4", "2.1.0") and found["mmagic"] == ("1.0.0", "2.0.0", "2.2.0")
    assert {dist for dist, _ in tp.downstream_table()} >= {"mmdet", "mmsegmentation", "mmyolo", "mmagic", "mmengine"}


def test_ext_file_owned_by_record_is_found(tmp_path, monkeypatch):
    sp = fake_site(tmp_path)
    so = sp / "mmcv" / "_ext.cpython-311-x86_64-linux-gnu.so"
    so.write_bytes(b"\x7fELF")
    rec = sp / "mmcv-2.2.0.dist-info" / "RECORD"
    rec.write_text(rec.read_text() + "mmcv/_ext.cpython-311-x86_64-linux-gnu.so,,\n")
    monkeypatch.setenv("PYTHONPATH", str(sp))
    _, _, mmcv, _ = tp.parse_target(tp.run_target_probe(INTERPRETERS[-1] if INTERPRETERS else "python3"))
    assert mmcv[0].ext_files == (str(so),)


def fake_ext(tmp_path: Path, body: str) -> Path:
    sp = tmp_path / "site"
    write(sp / "torch" / "__init__.py", "")
    write(sp / "mmcv" / "__init__.py", "")
    write(sp / "mmcv" / "_ext.py", body)
    write(sp / "mmcv" / "ops" / "__init__.py",
          "def get_compiling_cuda_version():\n    return '11.8'\n\ndef get_compiler_version():\n    return 'GCC 9.3'\n")
    return sp


@pytest.mark.parametrize(("body", "expect"), [
    ("", {"ok": True, "compiling_cuda_version": "11.8", "compiler_version": "GCC 9.3"}),
    ("raise ImportError('/x/mmcv/_ext.so: undefined symbol: _ZN3c104cuda9SetDeviceEi')",
     {"ok": False, "error_type": "ImportError", "crashed": False}),
    ("import ctypes\nctypes.string_at(0)\n", {"ok": False, "crashed": True}),
])
def test_ext_import_outcomes_are_facts(tmp_path, monkeypatch, body, expect):
    sp = fake_ext(tmp_path, body)
    monkeypatch.setenv("PYTHONPATH", str(sp))
    res = tp.import_ext(INTERPRETERS[-1] if INTERPRETERS else "python3", timeout=60)
    for k, v in expect.items():
        assert getattr(res, k) == v, (k, res)
    assert res.torch_import_ok is True
    if expect.get("error_type") == "ImportError":
        assert "undefined symbol: _ZN3c104cuda9SetDeviceEi" in res.error


def test_ext_import_hang_times_out(tmp_path, monkeypatch):
    sp = fake_ext(tmp_path, "import time\ntime.sleep(30)\n")
    monkeypatch.setenv("PYTHONPATH", str(sp))
    res = tp.import_ext(INTERPRETERS[-1] if INTERPRETERS else "python3", timeout=2)
    assert res.timed_out and not res.ok and res.error_type == "Timeout"


def test_missing_and_non_python_interpreters_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        tp.resolve_interpreter(str(tmp_path / "nope"))
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho not python >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(UsageError, match="not a working Python interpreter"):
        tp.run_target_probe(str(fake))


@pytest.mark.skipif(not (PYENV / "2.7.18").exists(), reason="no Python 2.7 here")
def test_python27_is_refused_with_its_version():
    with pytest.raises(UsageError, match="Python 2.7.18"):
        tp.run_target_probe(str(PYENV / "2.7.18" / "bin" / "python"))


def test_default_interpreter_order(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    conda = tmp_path / "conda"
    (conda / "bin").mkdir(parents=True)
    (conda / "bin" / "python").write_text("")
    env = {"VIRTUAL_ENV": str(venv), "CONDA_PREFIX": str(conda), "PATH": ""}
    assert tp.default_interpreter(env, windows=False) == str(venv / "bin" / "python")
    env.pop("VIRTUAL_ENV")
    assert tp.default_interpreter(env, windows=False) == str(conda / "bin" / "python")


def test_windows_layouts():
    assert tp.interpreter_in_prefix(r"C:\envs\mm", windows=True) == [r"C:\envs\mm\Scripts\python.exe", r"C:\envs\mm\python.exe"]
