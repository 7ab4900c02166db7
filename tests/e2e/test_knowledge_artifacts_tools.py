"""knowledge.buildtools and knowledge.downstream against the real packages on PyPI.

Compared: ``pkg_resources/__init__.py`` in the last setuptools wheel before and the first from
SETUPTOOLS_WITHOUT_PKG_RESOURCES; SETUPTOOLS_PIN against the newest torch's own ``Requires-Dist:
setuptools``; MMCV_RELEASES against every sdist of mmcv-full and mmcv >= 2.0.0rc1 on PyPI (67 when
written); DOWNSTREAM_DISTS / NO_MMCV_BOUND against the newest wheel of each of the 14 distributions
(its top-level package and the mmcv bound its ``__init__.py`` asserts, read with ast). The bounds
themselves, run against every mmcv release, are tests/e2e/test_compat_downstream.py.
Cost (measured here, 2 cores): cold ~7 s and ~5 MB read (central directories and small members);
warm < 1 s.
"""

from __future__ import annotations

import pytest
from knowledge_artifacts import fetch_all, final_versions, releases, wheel_member, wheel_names
from packaging.requirements import Requirement
from packaging.version import Version

from mmfix.knowledge import buildtools
from mmfix.knowledge import downstream as kd
from mmfix.probe.downstream_bounds import read_mmcv_bounds

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(("side", "has_it"), [("before", True), ("first", False)])
def test_setuptools_drops_pkg_resources_where_the_table_says(side, has_it):
    cut = Version(buildtools.SETUPTOOLS_WITHOUT_PKG_RESOURCES)
    versions = final_versions("setuptools", "60")
    version = (str(cut) if side == "first" else max((v for v in versions if Version(v) < cut), key=Version))
    assert version in versions
    assert ("pkg_resources/__init__.py" in wheel_names("setuptools", version)) is has_it, f"setuptools {version}"


def test_setuptools_pin_fits_the_newest_torch():
    newest = final_versions("torch")[-1]
    meta = wheel_member("torch", newest, f"torch-{newest}.dist-info/METADATA", ("macosx",))
    assert meta is not None
    wanted = [Requirement(line.split(":", 1)[1].strip()) for line in meta.decode().splitlines()
              if line.startswith("Requires-Dist:") and line.split(":", 1)[1].strip().startswith("setuptools")]
    pin = Requirement(buildtools.SETUPTOOLS_PIN).specifier
    fits = [v for v in final_versions("setuptools", "60") if v in pin and all(v in r.specifier for r in wanted)]
    assert fits, f"no setuptools fits both {pin} and torch {newest}'s {[str(r) for r in wanted]}"
    assert buildtools.SETUPTOOLS_WITHOUT_PKG_RESOURCES not in pin


def test_mmcv_releases_are_every_mmcv_with_ops_on_pypi():
    on_pypi = {v for v, files in releases("mmcv-full").items() if any(f["packagetype"] == "sdist" for f in files)}
    on_pypi |= {v for v, files in releases("mmcv").items()
                if Version(v) >= kd.MMCV_2_FIRST and any(f["packagetype"] == "sdist" for f in files)}
    print(f"\ncompared MMCV_RELEASES with {len(on_pypi)} mmcv(-full) sdists on PyPI")
    assert set(kd.MMCV_RELEASES) == on_pypi
    assert list(kd.MMCV_RELEASES) == sorted(kd.MMCV_RELEASES, key=Version, reverse=True)
    assert {kd.dist_for(v) for v in kd.MMCV_RELEASES if v in releases("mmcv-full")} == {"mmcv-full"}


def _newest_wheel(dist: str) -> str:
    with_wheel = [v for v, files in releases(dist).items() if any(f["filename"].endswith(".whl") for f in files)]
    finals = [v for v in with_wheel if not Version(v).is_prerelease] or with_wheel
    return max(finals, key=Version)


def test_downstream_dists_name_real_packages_with_an_mmcv_bound():
    dists = sorted({*kd.DOWNSTREAM_DISTS.values(), *kd.NO_MMCV_BOUND})
    versions = fetch_all(_newest_wheel, dists)
    names = fetch_all(lambda dv: wheel_names(*dv), list(zip(dists, versions)))
    wrong = []
    for dist, version, members in zip(dists, versions, names):
        packages = {m.split("/")[0] for m in members if m.count("/") == 1 and m.endswith("/__init__.py")}
        imports = [k for k, d in kd.DOWNSTREAM_DISTS.items() if d == dist] or [dist]
        real = [k for k in imports if k in packages]
        if not real:
            wrong.append(f"{dist} {version}: none of {imports} is a package of its wheel ({sorted(packages)})")
            continue
        text = wheel_member(dist, version, f"{real[0]}/__init__.py").decode()  # type: ignore[union-attr]
        bounds = read_mmcv_bounds(text)
        bounded = bool(bounds["min"] or bounds["max"])
        if bounded is (dist in kd.NO_MMCV_BOUND):
            wrong.append(f"{dist} {version}: {real[0]}/__init__.py bounds {bounds}, NO_MMCV_BOUND says "
                         f"{'none' if dist in kd.NO_MMCV_BOUND else 'some'}")
    print(f"\ncompared DOWNSTREAM_DISTS / NO_MMCV_BOUND with the newest wheels of {len(dists)} distributions")
    assert not wrong, "\n".join(wrong)
