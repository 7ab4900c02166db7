"""Real wheels of mmdet 2.28.2 / 3.3.0 and mmseg 1.2.2 (pip download --no-deps, cached outside the
repo): the mmcv range mmfix computes agrees with each package's own assertion, run for every
known mmcv release against a stub ``mmcv`` module carrying only ``__version__``."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mmfix.knowledge import downstream as kd
from mmfix.model import Downstream
from mmfix.probe.downstream_bounds import read_mmcv_bounds

pytestmark = pytest.mark.e2e

CACHE = Path.home() / ".cache" / "mmfix-tests" / "downstream"
WHEELS = {
    "mmdet==2.28.2": ("mmdet-2.28.2-py3-none-any.whl", "mmdet"),
    "mmdet==3.3.0": ("mmdet-3.3.0-py3-none-any.whl", "mmdet"),
    "mmsegmentation==1.2.2": ("mmsegmentation-1.2.2-py3-none-any.whl", "mmseg"),
    "mmsegmentation==0.30.0": ("mmsegmentation-0.30.0-py3-none-any.whl", "mmseg"),
    "mmpretrain==1.2.0": ("mmpretrain-1.2.0-py2.py3-none-any.whl", "mmpretrain"),
    "mmcls==0.25.0": ("mmcls-0.25.0-py2.py3-none-any.whl", "mmcls"),
    "mmdet3d==1.4.0": ("mmdet3d-1.4.0-py3-none-any.whl", "mmdet3d"),
    "mmpose==1.3.2": ("mmpose-1.3.2-py2.py3-none-any.whl", "mmpose"),
    "mmpose==0.29.0": ("mmpose-0.29.0-py2.py3-none-any.whl", "mmpose"),
    "mmocr==1.0.1": ("mmocr-1.0.1-py2.py3-none-any.whl", "mmocr"),
    "mmaction2==1.2.0": ("mmaction2-1.2.0-py2.py3-none-any.whl", "mmaction"),
    "mmrotate==0.3.4": ("mmrotate-0.3.4-py3-none-any.whl", "mmrotate"),
}
# The mmdet each package is run next to (mmocr / mmdet3d / mmrotate assert its version too).
MMDET_FOR = {"mmrotate": "2.28.2", "mmocr": "3.1.0"}

# Runs the package's real __init__.py once per mmcv version with stub mmcv/mmengine/mmdet
# modules; relative imports (.version, .apis ...) are dropped and __version__ given instead.
# digit_version is mmengine 0.10's algorithm (mmcv 1.x and mmseg carry the same one).
RUNNER = r'''
import ast, json, sys, types
from packaging.version import parse

def digit_version(version_str, length=4):
    version = parse(version_str)
    release = list(version.release)[:length]
    release += [0] * (length - len(release))
    if version.is_prerelease:
        mapping = {"a": -3, "b": -2, "rc": -1}
        val = mapping.get(version.pre[0], -4) if version.pre else -4
        release.extend([val, version.pre[-1] if version.pre else 0])
    elif version.is_postrelease:
        release.extend([1, version.post])
    else:
        release.extend([0, 0])
    return tuple(release)

init, pkg, mmdet_version = sys.argv[1], sys.argv[2], sys.argv[3]
tree = ast.parse(open(init).read())
tree.body = [n for n in tree.body if not (isinstance(n, ast.ImportFrom) and n.level)]
code = compile(tree, init, "exec")
engine = types.ModuleType("mmengine"); engine.__version__ = "0.10.4"
utils = types.ModuleType("mmengine.utils"); utils.digit_version = digit_version
engine.utils = utils
mmdet = types.ModuleType("mmdet"); mmdet.__version__ = mmdet_version
sys.modules.update({"mmengine": engine, "mmengine.utils": utils, "mmdet": mmdet})
result = {}
for v in sys.argv[4:]:
    mmcv = types.ModuleType("mmcv"); mmcv.__version__ = v; mmcv.digit_version = digit_version
    sys.modules["mmcv"] = mmcv
    env = {"__name__": pkg, "__version__": "0.0.0", "short_version": "0.0.0",
           "version_info": (0, 0, 0)}
    try:
        exec(code, env)
        result[v] = True
    except (AssertionError, RuntimeError):
        result[v] = False
print(json.dumps(result))
'''


@pytest.fixture(scope="module")
def wheels() -> dict[str, Path]:
    CACHE.mkdir(parents=True, exist_ok=True)
    for req, (fname, _) in WHEELS.items():
        if not (CACHE / fname).is_file():
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(CACHE), req],
                check=True, timeout=600,
            )
    return {req: CACHE / fname for req, (fname, _) in WHEELS.items()}


def _extract(wheel: Path, pkg: str, dest: Path) -> Path:
    with zipfile.ZipFile(wheel) as zf:
        for member in (f"{pkg}/__init__.py",):
            target = dest / member
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(member))
    return dest / pkg / "__init__.py"


@pytest.mark.parametrize("req", list(WHEELS))
def test_computed_range_matches_the_packages_own_assertion(
    req: str, wheels: dict[str, Path], tmp_path: Path
) -> None:
    pkg = WHEELS[req][1]
    init = _extract(wheels[req], pkg, tmp_path)
    b = read_mmcv_bounds(init.read_text())
    d = Downstream(pkg, req.split("==")[1], None, str(init), b["min"], b["max"], b["max_inclusive"])
    probe_versions = [*kd.MMCV_RELEASES, "1.8.0", "1.8.1", "1.9.0", "2.1.1", "2.2.1", "2.3.0",
                      "2.4.0", "3.0.0", "3.0.1"]
    out = subprocess.run(
        [sys.executable, "-c", RUNNER, str(init), pkg, MMDET_FOR.get(pkg, "3.3.0"),
         *probe_versions],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    theirs = json.loads(out.stdout)
    ours = {v: kd.accepts(d, v) for v in probe_versions}
    assert ours == theirs
    assert any(theirs.values()) and not all(theirs.values())


def test_mmdet_3_3_rejects_2_2_0_and_newest_for_mmdet_and_mmseg(
    wheels: dict[str, Path], tmp_path: Path
) -> None:
    found = []
    for req in ("mmdet==3.3.0", "mmsegmentation==1.2.2"):
        pkg = WHEELS[req][1]
        b = read_mmcv_bounds(_extract(wheels[req], pkg, tmp_path / pkg).read_text())
        found.append(Downstream(pkg, req.split("==")[1], None, None, b["min"], b["max"],
                                b["max_inclusive"]))
    assert kd.accepts(found[0], "2.2.0") is False
    assert kd.recommend(found).version == "2.1.0"
