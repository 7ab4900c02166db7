"""e2e (nox -s e2e): the wheelhouse across two venvs of one combination (torch 2.13.0 CPU, CPython
3.11, the ops-less mmcv 2.2.0 that ``pip install mmcv==2.2.0`` gives).

The first venv is ``rebuilt_env`` (conftest: a real compile, kept in the session's wheelhouse). The
second is repaired by ``mmfix doctor --fix --yes`` from that wheelhouse: no compiler is called (the
compilers on PATH are tripwires that answer version queries only), the log shows no compile step, and
nms gives [0, 2]. Cost: the second venv (cached; about 2 minutes to make on a fresh machine) plus
about 30 s for the repair and a doctor run; it shares the session's one compile of mmcv 2.2.0.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from conftest import ensure_opsless_env

pytestmark = pytest.mark.e2e

NMS_CHECK = (
    "import torch; from mmcv.ops import nms; "
    "b = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]]); "
    "s = torch.tensor([0.9, 0.8, 0.7]); d, k = nms(b, s, 0.5); print(k.tolist())"
)
# A compiler on PATH that answers the probe's version questions and records any other call.
TRIPWIRE = """#!/bin/sh
case "$*" in
  --version|-dumpfullversion\\ -dumpversion|-dumpversion|--list-gpu-arch) exec {real} "$@" ;;
esac
echo "$0 $*" >> {calls}
exit 1
"""


def _tripwires(folder: Path, calls: Path) -> dict[str, str]:
    folder.mkdir()
    for name in ("cc", "c++", "gcc", "g++", "nvcc", "ninja"):
        real = shutil.which(name) or "/bin/false"
        script = folder / name
        script.write_text(TRIPWIRE.format(real=real, calls=calls))
        script.chmod(0o755)
    return dict(os.environ, PATH=f"{folder}{os.pathsep}{os.environ['PATH']}")


def test_second_venv_is_repaired_from_the_wheelhouse(rebuilt_env: Path, rebuild_result: dict,
                                                     mmfix_cmd: list[str], tmp_path: Path) -> None:
    assert rebuild_result["returncode"] == 0, rebuild_result.get("stderr")
    assert "kept in the wheelhouse:" in str(rebuild_result["stderr"])
    second = ensure_opsless_env("venv-wheelhouse-py311")
    calls = tmp_path / "compiler-calls.log"
    env = _tripwires(tmp_path / "bin", calls)
    t0 = time.monotonic()
    cp = subprocess.run([*mmfix_cmd, "--no-color", "-v", "doctor", "--fix", "--yes", "--python", str(second)],
                        capture_output=True, text=True, env=env, timeout=1800)
    fixed = time.monotonic() - t0
    print(cp.stdout[-3000:], cp.stderr[-3000:])
    assert cp.returncode == 0
    assert "✓ wheelhouse wheel: mmcv-2.2.0-cp311-cp311-linux_x86_64.whl" in cp.stderr
    assert "installing mmcv-2.2.0-cp311-cp311-linux_x86_64.whl from the wheelhouse instead of building" in cp.stderr
    assert not calls.exists(), calls.read_text()  # no compiler was called
    log = Path(re.search(r"\(log: (\S+)\)", cp.stderr).group(1))  # type: ignore[union-attr]
    text = log.read_text()
    assert text.startswith("# mmfix rebuild: mmcv from the wheelhouse; nothing was compiled")
    assert "Successfully installed mmcv-2.2.0" in text
    assert not re.search(r"^\[\d+/\d+\]", text, re.M) and "compiling" not in text  # no ninja step
    nms = subprocess.run([str(second), "-c", NMS_CHECK], capture_output=True, text=True, timeout=300)
    assert nms.stdout.strip() == "[0, 2]", nms.stderr
    doctor = subprocess.run([*mmfix_cmd, "doctor", "--python", str(second)], capture_output=True, text=True,
                            timeout=600)
    green = time.monotonic() - t0
    assert doctor.returncode == 0, doctor.stdout
    print(f"second venv: doctor --fix {fixed:.0f} s, green doctor after {green:.0f} s "
          f"(first venv's build: {rebuild_result.get('seconds')} s)")
