"""Opt-in (nox -s e2e_cuda): a real CUDA build of mmcv 2.2.0 for --arch 9.0 against torch
2.14.1+cu130 with this machine's nvcc 13.0 (a wrapper script on PATH, a toolkit without the
math-library headers). Plain mmcv fails there; through mmfix it builds and _ext has sm_90 SASS.
Long: ~35+ minutes on 2 cores (ccache makes reruns short)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from mmfix.builder.source import from_sdist
from mmfix.builder.verify import find_cuobjdump, list_archs

pytestmark = [pytest.mark.e2e, pytest.mark.cuda]

PLAIN_FAILURES = (
    "C++20 or later compatible compiler is required",  # cxx-standard (torch >= 2.14)
    "cusparse.h: No such file or directory",  # cuda-headers-missing
    "cuda_runtime",  # cuda-home-missing: torch guessed /usr/local from the wrapper
    "No CUDA runtime is found",
    "CUDA_HOME",
)


def _nvcc_present() -> bool:
    return shutil.which("nvcc") is not None


@pytest.mark.skipif(not _nvcc_present(), reason="no nvcc on PATH")
def test_plain_build_fails(cuda_env: Path, tmp_path: Path) -> None:
    """mmcv 2.2.0's own build (only pkg_resources patched away so setup.py starts) fails here."""
    from mmfix.patching import patch_build_source

    tree = from_sdist("2.2.0")
    src = tmp_path / "mmcv-2.2.0"
    shutil.copytree(tree.path, src)
    changes = patch_build_source(src, "2.2.0", "2.0.0", "3.11.7")  # torch 2.0: C++17, no C++20 patch
    assert any(c.patch_id == "setuptools-no-pkg-resources" for c in changes)
    env = dict(os.environ, MMCV_WITH_OPS="1", FORCE_CUDA="1", TORCH_CUDA_ARCH_LIST="9.0", MAX_JOBS="2")
    env.pop("CUDA_HOME", None)
    env["PATH"] = f"{cuda_env.parent}{os.pathsep}{env['PATH']}"
    t0 = time.monotonic()
    cp = subprocess.run(
        [str(cuda_env), "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "--no-cache-dir", "-v",
         "-w", str(tmp_path / "w"), str(src)],
        env=env, capture_output=True, text=True, timeout=3600,
    )
    out = cp.stdout + cp.stderr
    (tmp_path / "plain.log").write_text(out)
    print(f"plain build failed as expected after {time.monotonic() - t0:.0f} s")
    assert cp.returncode != 0
    assert any(s in out for s in PLAIN_FAILURES), out[-3000:]


@pytest.mark.skipif(not _nvcc_present(), reason="no nvcc on PATH")
def test_rebuild_arch_90_has_sm90_sass(cuda_env: Path, mmfix_cmd: list[str], tmp_path: Path) -> None:
    log = tmp_path / "cuda-build.log"
    t0 = time.monotonic()
    cp = subprocess.run(
        [*mmfix_cmd, "--no-color", "rebuild", "--python", str(cuda_env), "--arch", "9.0",
         "--mmcv-version", "2.2.0", "--yes", "--force-build", "--log", str(log)],
        capture_output=True, text=True, timeout=4 * 3600,
    )
    seconds = time.monotonic() - t0
    print(f"mmfix rebuild --arch 9.0 (CUDA 13.0, torch 2.14.1): exit {cp.returncode} in {seconds:.0f} s")
    print(cp.stdout[-3000:], cp.stderr[-3000:])
    keep = Path.home() / ".cache" / "mmfix-tests" / "cuda-build.log"
    if log.exists():
        shutil.copy(log, keep)
    assert cp.returncode == 0
    assert "CUDA_HOME=/usr/local/cuda-13.0" in cp.stdout
    assert "CPATH=" in cp.stdout  # cusparse.h from torch's nvidia wheels
    assert "cxx-standard" in cp.stdout
    ext = subprocess.run([str(cuda_env), "-c", "import mmcv._ext as e; print(e.__file__)"],
                         capture_output=True, text=True)
    assert ext.returncode == 0, ext.stderr
    tool = find_cuobjdump(str(cuda_env))
    assert tool, "cuobjdump (nvidia-cuda-cuobjdump) not found"
    sass, _ptx = list_archs(ext.stdout.strip(), tool)
    assert "sm_90" in sass
    assert re.search(r"SASS / PTX\s+.*sm_90", cp.stdout)
