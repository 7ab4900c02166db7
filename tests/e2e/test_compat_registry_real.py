"""registry-missing-module against the real sources of mmdet 2.28.2 + mmcv-full 1.7.2 and
mmdet 3.3.0 + mmcv 2.1.0 + mmengine 0.10.4 (wheels/sdists cached under ~/.cache/mmfix-tests):
the stock configs in tests/data/compat/configs are fully registered, the user configs are not."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from mmfix.checks.config import evaluate_registry
from mmfix.config_lint import load_config
from mmfix.model import Downstream, Environment, Host, MmcvDist, Status, TargetPython

pytestmark = pytest.mark.e2e

CACHE = Path.home() / ".cache" / "mmfix-tests"
CONFIGS = Path(__file__).resolve().parents[1] / "data" / "compat" / "configs"


def _cached(req: str, fname: str, folder: str, sdist: bool) -> Path:
    """A real wheel (``pip download``) or mmcv sdist (mmfix's own PEP 691 reader: ``pip download`` of
    an mmcv sdist runs its setup.py, which needs torch and pkg_resources), cached."""
    if sdist:
        from mmfix.builder.source import fetch_sdist

        return fetch_sdist(req.split("==")[1])
    path = CACHE / folder / fname
    if not path.is_file():
        argv = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(path.parent), req]
        cp = subprocess.run(argv, capture_output=True, text=True, timeout=600)
        assert cp.returncode == 0 and path.is_file(), f"pip download {req}: {cp.stderr[-2000:]}"
    return path


def _unpack_wheel(whl: Path, pkg: str, site: Path) -> None:
    with zipfile.ZipFile(whl) as zf:
        zf.extractall(site, [n for n in zf.namelist() if n.startswith(pkg + "/")])


def _unpack_sdist(sdist: Path, pkg: str, site: Path) -> None:
    with tarfile.open(sdist) as tf:
        top = tf.getnames()[0].split("/")[0]
        members = [m for m in tf.getmembers()
                   if m.name.startswith(f"{top}/{pkg}/") and m.isfile() and m.name.endswith(".py")]
        for m in members:
            m.name = m.name[len(top) + 1:]
            tf.extract(m, site)


def _env(site: Path, mmcv_version: str, mmdet_version: str) -> Environment:
    mmcv = MmcvDist("mmcv", mmcv_version, str(site), str(site / "mmcv"), "cp38-cp38-linux_x86_64")
    mmdet = Downstream("mmdet", mmdet_version, str(site), str(site / "mmdet" / "__init__.py"))
    return Environment(TargetPython(sys.executable, "3.8.18", site_packages=(str(site),)),
                       Host("Linux"), mmcv=(mmcv,), downstream=(mmdet,))


@pytest.fixture(scope="module")
def site_mmdet2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site2")
    _unpack_wheel(_cached("mmdet==2.28.2", "mmdet-2.28.2-py3-none-any.whl", "downstream", False),
                  "mmdet", site)
    _unpack_sdist(_cached("mmcv-full==1.7.2", "mmcv-full-1.7.2.tar.gz", "sdists", True),
                  "mmcv", site)
    return site


@pytest.fixture(scope="module")
def site_mmdet3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site3")
    _unpack_wheel(_cached("mmdet==3.3.0", "mmdet-3.3.0-py3-none-any.whl", "downstream", False),
                  "mmdet", site)
    _unpack_wheel(_cached("mmengine==0.10.4", "mmengine-0.10.4-py3-none-any.whl", "downstream",
                          False), "mmengine", site)
    _unpack_sdist(_cached("mmcv==2.1.0", "mmcv-2.1.0.tar.gz", "sdists", True), "mmcv", site)
    return site


def test_mmdet2_stock_config_fully_registered(site_mmdet2: Path, tmp_path: Path) -> None:
    cfg = load_config(CONFIGS / "mmdet2/configs/faster_rcnn/faster_rcnn_r50_fpn_1x_coco.py")
    out = evaluate_registry(cfg, _env(site_mmdet2, "1.7.2", "2.28.2"), str(tmp_path))
    assert out.status is Status.OK, out.evidence


def test_mmdet2_user_config_misses_the_project_head(site_mmdet2: Path, tmp_path: Path) -> None:
    cfg = load_config(CONFIGS / "mmdet2/configs/faster_rcnn/faster_rcnn_r50_fpn_accum_custom.py")
    out = evaluate_registry(cfg, _env(site_mmdet2, "1.7.2", "2.28.2"), str(tmp_path))
    assert out.status is Status.FAIL and out.facts["missing"] == ["MyBBoxHead"]


def test_mmdet3_stock_config_fully_registered(site_mmdet3: Path, tmp_path: Path) -> None:
    cfg = load_config(CONFIGS / "mmdet3/configs/retinanet/retinanet_r50_fpn_1x_coco.py")
    out = evaluate_registry(cfg, _env(site_mmdet3, "2.1.0", "3.3.0"), str(tmp_path))
    assert out.status is Status.OK, out.evidence


def test_mmdet3_has_no_mmcv1_accumulation_hook(site_mmdet3: Path, tmp_path: Path) -> None:
    cfg = load_config(CONFIGS / "mmdet3/configs/retinanet/retinanet_r50_fpn_user.py")
    out = evaluate_registry(cfg, _env(site_mmdet3, "2.1.0", "3.3.0"), str(tmp_path))
    assert out.status is Status.FAIL
    assert out.facts["missing"] == ["GradientCumulativeOptimizerHook"]
