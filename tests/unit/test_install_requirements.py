"""A first mmcv install into an env that never had one gets mmcv's own requirements (a real venv,
real wheels made here, a local find-links folder instead of an index)."""

from __future__ import annotations

import subprocess
import venv
import zipfile
from pathlib import Path

import pytest

from mmfix.builder.install import install_wheel
from mmfix.model import Environment, Host, TargetPython


def make_wheel(folder: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> Path:
    """A minimal pure-Python wheel ``name`` with one module and ``Requires-Dist`` lines."""
    folder.mkdir(parents=True, exist_ok=True)
    mod = name.replace("-", "_")
    path = folder / f"{mod}-{version}-py3-none-any.whl"
    info = f"{mod}-{version}.dist-info"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(f"Requires-Dist: {r}\n" for r in requires)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{mod}/__init__.py", f"__version__ = '{version}'\n")
        z.writestr(f"{info}/METADATA", meta)
        z.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{info}/RECORD", f"{mod}/__init__.py,,\n{info}/METADATA,,\n{info}/WHEEL,,\n{info}/RECORD,,\n")
    return path


def test_first_install_brings_the_missing_requirements(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = tmp_path / "v"
    venv.create(d, with_pip=True)
    py = d / "bin" / "python"
    links = tmp_path / "links"
    make_wheel(links, "mmfix-demo-dep", "1.0")
    mmcv = make_wheel(tmp_path / "built", "mmcv", "2.2.0", ("mmfix-demo-dep>=1.0",))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    monkeypatch.setenv("MMFIX_CACHE_DIR", str(tmp_path / "cache"))
    env = Environment(TargetPython(str(py), "3.11", prefix=str(d)), Host("Linux"))
    install_wheel(str(py), mmcv, yes=True, env=env)
    r = subprocess.run([str(py), "-c", "import mmcv, mmfix_demo_dep; print(mmfix_demo_dep.__version__)"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "1.0", r.stderr
