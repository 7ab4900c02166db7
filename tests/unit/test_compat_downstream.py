"""Downstream mmcv ranges: reading them with ast (on every real interpreter here), the newest
mmcv inside all of them, and the downstream-version-mismatch check."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from mmfix.checks import compat
from mmfix.checks.base import CheckContext
from mmfix.knowledge import downstream as kd
from mmfix.model import Downstream, Environment, Host, MmcvDist, Status, TargetPython
from mmfix.plan.actions import Manual
from mmfix.probe import downstream_bounds
from mmfix.probe.downstream_bounds import read_mmcv_bounds, read_mmcv_bounds_file

DATA = Path(__file__).resolve().parents[1] / "data" / "compat" / "downstream"
CACHE = Path.home() / ".cache" / "mmfix-tests" / "downstream"
PYENV = Path.home() / ".pyenv" / "versions"
URL = "https://download.openmmlab.com/mmcv/dist/cu118/torch2.0/index.html"


def bounds(name: str) -> dict:
    return read_mmcv_bounds((DATA / f"{name}.py.txt").read_text())


def ds(name: str, version: str, file: str) -> Downstream:
    b = bounds(file)
    return Downstream(name, version, None, None, b["min"], b["max"], b["max_inclusive"])


def env_with(mmcv_version: str | None, *downstream: Downstream) -> Environment:
    mm = ()
    if mmcv_version:
        dist = "mmcv-full" if mmcv_version.startswith("1.") else "mmcv"
        mm = (MmcvDist(dist, mmcv_version, "/sp", "/sp/mmcv", "cp311-cp311-linux_x86_64",
                       ext_files=("/sp/mmcv/_ext.so",)),)
    return Environment(TargetPython("/usr/bin/python3", "3.11.7"), Host("Linux"), mmcv=mm,
                       downstream=tuple(downstream))


@pytest.mark.parametrize(
    "name, expected",
    [
        ("mmdet_2_28", {"min": "1.3.17", "max": "1.8.0", "max_inclusive": True}),
        ("mmdet_3_3", {"min": "2.0.0rc4", "max": "2.2.0", "max_inclusive": False}),
        ("mmseg_1_2", {"min": "2.0.0rc4", "max": "2.2.0", "max_inclusive": False}),
        ("mmpose_1_x", {"min": "2.0.0rc4", "max": "2.1.0", "max_inclusive": True}),
        ("names_only", {"min": "1.3.13", "max": "1.8.0", "max_inclusive": None}),
        ("mmocr_1_0", {"min": "2.0.0rc4", "max": "2.2.0", "max_inclusive": False}),
        ("raise_only", {"min": "2.0.0", "max": "2.3.0", "max_inclusive": False}),
    ],
)
def test_read_bounds_layouts(name: str, expected: dict) -> None:
    assert bounds(name) == expected


def test_read_bounds_bad_source_gives_nones() -> None:
    assert read_mmcv_bounds("def (:\n") == {"min": None, "max": None, "max_inclusive": None}
    assert read_mmcv_bounds("import os\n") == {"min": None, "max": None, "max_inclusive": None}


def test_read_bounds_missing_file(tmp_path: Path) -> None:
    assert read_mmcv_bounds_file(str(tmp_path / "nope.py"))["min"] is None


def _interpreters() -> list[Path]:
    found = sorted(PYENV.glob("3.*/bin/python")) if PYENV.is_dir() else []
    return [p for p in found if p.is_file()]


@pytest.mark.parametrize("python", _interpreters(), ids=lambda p: p.parts[-3])
def test_reader_runs_inside_every_target_interpreter(python: Path) -> None:
    """The module runs in the target interpreter (3.6-3.13): same answers, no warnings."""
    code = (
        "import sys, json; sys.path.insert(0, sys.argv[1]); import downstream_bounds as d; "
        "print(json.dumps([d.read_mmcv_bounds_file(f) for f in sys.argv[2:]]))"
    )
    names = ("mmdet_2_28", "mmdet_3_3", "mmseg_1_2", "mmocr_1_0")
    files = [str(DATA / f"{n}.py.txt") for n in names]
    out = subprocess.run(
        [str(python), "-W", "error", "-c", code, str(Path(downstream_bounds.__file__).parent),
         *files],
        capture_output=True, text=True, timeout=60, check=True,
    )
    got = json.loads(out.stdout)
    assert got == [bounds(n) for n in names]


def test_mmdet_3_3_rejects_2_2_0_and_accepts_its_minimum() -> None:
    d = ds("mmdet", "3.3.0", "mmdet_3_3")
    assert kd.accepts(d, "2.2.0") is False
    assert kd.accepts(d, "2.1.0") is True
    assert kd.accepts(d, "2.0.0rc4") is True
    assert kd.accepts(d, "2.0.0rc3") is False
    assert kd.accepts(d, "2.1.0+cu118") is True  # local label ignored, as digit_version does


def test_mmdet_2_28_maximum_is_inclusive() -> None:
    d = ds("mmdet", "2.28.2", "mmdet_2_28")
    assert kd.accepts(d, "1.8.0") is True
    assert kd.accepts(d, "1.8.1") is False
    assert kd.accepts(d, "1.3.16") is False
    assert kd.accepts(d, "not-a-version") is None


def test_newest_inside_all_ranges() -> None:
    both = [ds("mmdet", "3.3.0", "mmdet_3_3"), ds("mmseg", "1.2.2", "mmseg_1_2")]
    assert kd.compatible_releases(both)[:3] == ["2.1.0", "2.0.1", "2.0.0"]
    with_pose = [*both, ds("mmpose", "1.3.2", "mmpose_1_x")]
    assert kd.recommend(with_pose).version == "2.1.0"  # inclusive 2.1.0 keeps it
    old = [ds("mmdet", "2.28.2", "mmdet_2_28")]
    rec = kd.recommend(old)
    assert (rec.version, rec.dist, rec.wheel_index) == ("1.7.2", "mmcv-full", None)


def test_prerelease_only_when_nothing_final_fits() -> None:
    d = Downstream("mmx", "1.0.0rc0", mmcv_min="2.0.0rc1", mmcv_max="2.0.0rc4", max_inclusive=False)
    assert kd.compatible_releases([d]) == ["2.0.0rc3", "2.0.0rc2", "2.0.0rc1"]


def test_disjoint_ranges() -> None:
    rec = kd.recommend([ds("mmdet", "2.28.2", "mmdet_2_28"), ds("mmseg", "1.2.2", "mmseg_1_2")])
    assert rec.version is None and rec.dist is None


def test_recommend_prefers_a_version_with_a_wheel() -> None:
    both = [ds("mmdet", "3.3.0", "mmdet_3_3"), ds("mmseg", "1.2.2", "mmseg_1_2")]
    asked = []

    def finder(v: str) -> str | None:
        asked.append(v)
        return URL if v == "2.0.1" else None

    rec = kd.recommend(both, finder)
    assert asked == ["2.1.0", "2.0.1"]
    assert (rec.version, rec.wheel_index) == ("2.0.1", URL)


def test_recommend_survives_a_failing_wheel_lookup() -> None:
    def finder(v: str) -> str | None:
        raise ConnectionError("no network")

    rec = kd.recommend([ds("mmdet", "3.3.0", "mmdet_3_3")], finder)
    assert rec.version == "2.1.0" and rec.wheel_index is None


def test_check_fails_for_mmcv_2_2_0_with_mmdet_3_3() -> None:
    env = env_with("2.2.0", ds("mmdet", "3.3.0", "mmdet_3_3"), ds("mmseg", "1.2.2", "mmseg_1_2"))
    out = compat.evaluate_downstream(env)
    assert out.status is Status.FAIL
    assert "mmdet 3.3.0 needs mmcv>=2.0.0rc4,<2.2.0: rejects 2.2.0" in out.evidence
    assert out.action.mmcv_version == ">=2.0.0rc4,<2.2.0" and out.action.cpu  # no torch here: CPU ops
    assert out.action.note == "newest inside: 2.1.0"
    assert out.facts["ranges"]["mmdet"] in (">=2.0.0rc4,<2.2.0", "<2.2.0,>=2.0.0rc4")


def test_check_ok_inside_ranges_and_skip_without_downstream() -> None:
    new = env_with("2.1.0", ds("mmdet", "3.3.0", "mmdet_3_3"))
    old = env_with("1.8.0", ds("mmdet", "2.28.2", "mmdet_2_28"))
    assert compat.evaluate_downstream(new).status is Status.OK
    assert compat.evaluate_downstream(old).status is Status.OK
    assert compat.evaluate_downstream(env_with("2.1.0")).status is Status.SKIP


def test_check_no_mmcv_and_disjoint() -> None:
    out = compat.evaluate_downstream(env_with(None, ds("mmdet", "2.28.2", "mmdet_2_28")))
    assert out.status is Status.FAIL and out.action.mmcv_version == ">=1.3.17,<=1.8.0"
    out = compat.evaluate_downstream(
        env_with("2.1.0", ds("mmdet", "2.28.2", "mmdet_2_28"), ds("mmseg", "1.2.2", "mmseg_1_2"))
    )
    assert out.status is Status.FAIL and "no mmcv release satisfies all of them" in out.evidence
    assert isinstance(out.action, Manual)  # the planner refuses a rebuild for such ranges (exit 3)


def test_project_tree_shadowing_installed_package(tmp_path: Path) -> None:
    site = tmp_path / "site" / "mmdet"
    site.mkdir(parents=True)
    (site / "__init__.py").write_text((DATA / "mmdet_3_3.py.txt").read_text())
    project = tmp_path / "project"
    (project / "mmdet").mkdir(parents=True)
    (project / "mmdet" / "__init__.py").write_text((DATA / "mmdet_2_28.py.txt").read_text())
    (project / "mmdet" / "version.py").write_text("__version__ = '2.28.2'\n")
    installed = Downstream("mmdet", "3.3.0", str(site.parent), str(site / "__init__.py"),
                           "2.0.0rc4", "2.2.0", False)
    env = env_with("2.1.0", installed)
    out = compat.evaluate_downstream(env, cwd=str(project))
    assert out.status is Status.WARN
    line = [e for e in out.evidence if e.startswith("./mmdet")][0]
    assert "version 2.28.2" in line and "mmcv>=1.3.17,<=1.8.0" in line and "3.3.0" in line
    # the installed copy itself as cwd package: no shadowing
    assert compat.find_shadowing(str(site.parent), env.downstream, env.active_mmcv) == []


def test_mmcv_source_tree_in_cwd(tmp_path: Path) -> None:
    (tmp_path / "mmcv").mkdir()
    (tmp_path / "mmcv" / "__init__.py").write_text("")
    env = env_with("2.1.0")
    lines = compat.find_shadowing(str(tmp_path), (), env.active_mmcv)
    assert len(lines) == 1 and "shadows the installed mmcv 2.1.0" in lines[0]


def test_registered_check_runs_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(compat, "default_wheel_finder", lambda env: None)
    env = env_with("2.2.0", ds("mmdet", "3.3.0", "mmdet_3_3"))
    [chk] = [c for c in compat.CHECKS if c.id == "downstream-version-mismatch"]
    finding = chk.run(CheckContext(env))
    assert finding.status is Status.FAIL and finding.family == "A"


# --- real wheel metadata (downloaded by tests/e2e/test_compat_downstream.py into the cache) ----

REAL = [
    ("mmdet-2.28.2-py3-none-any.whl", "mmdet/__init__.py", "mmdet_2_28"),
    ("mmdet-3.3.0-py3-none-any.whl", "mmdet/__init__.py", "mmdet_3_3"),
    ("mmsegmentation-1.2.2-py3-none-any.whl", "mmseg/__init__.py", "mmseg_1_2"),
]


@pytest.mark.parametrize("wheel, member, excerpt", REAL)
def test_real_wheels_match_the_excerpts(wheel: str, member: str, excerpt: str) -> None:
    path = CACHE / wheel
    if not path.is_file():
        pytest.skip(f"{path} not cached (run the e2e test_compat_downstream)")
    with zipfile.ZipFile(path) as zf:
        source = zf.read(member).decode()
    assert read_mmcv_bounds(source) == bounds(excerpt)


# --- the recommendation crossed with a real (local) wheel index ------------------------------


def test_recommendation_uses_the_wheel_index(httpserver, monkeypatch: pytest.MonkeyPatch) -> None:
    """mmdet 3.3.0 + mmseg 1.2.2 allow up to 2.1.0, but cu118/torch2.0 only has 2.0.0 / 2.0.1
    wheels: the command installs the 2.0.1 wheel instead of building 2.1.0."""
    from test_wheels_support import WheelIndex, linux, make_env

    from mmfix.knowledge import wheel_index

    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "MMFIX_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    index = WheelIndex(httpserver)
    page = index.add_page("cu118/torch2.0.0",
                          [("mmcv", v, linux("3.8")) for v in ("2.0.0", "2.0.1")])
    monkeypatch.setenv(wheel_index.INDEX_URL_ENV, index.base)
    both = (ds("mmdet", "3.3.0", "mmdet_3_3"), ds("mmseg", "1.2.2", "mmseg_1_2"))
    env = make_env(python="3.8.18", downstream=both)
    env = Environment(env.target, env.host, env.torch,
                      (MmcvDist("mmcv", "2.2.0", "/sp", "/sp/mmcv", linux("3.8"),
                                ext_files=("/sp/mmcv/_ext.so",)),), both)
    out = compat.evaluate_downstream(env, compat.default_wheel_finder(env))
    assert out.status is Status.FAIL
    assert out.facts["recommended"] == "2.0.1"
    assert f"a prebuilt wheel of mmcv 2.0.1 is on {page}" in out.evidence
    assert out.action.note == "newest inside: 2.1.0"  # the planner's choice; rebuild takes a wheel first
    monkeypatch.setenv("MMFIX_OFFLINE", "1")
    assert compat.default_wheel_finder(env) is None


def test_recommendation_falls_back_when_the_index_is_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from test_wheels_support import make_env

    from mmfix.knowledge import wheel_index

    monkeypatch.delenv("MMFIX_OFFLINE", raising=False)
    monkeypatch.setenv(wheel_index.INDEX_URL_ENV, "http://127.0.0.1:9/mmcv/dist")
    env = make_env(downstream=(ds("mmdet", "3.3.0", "mmdet_3_3"),))
    out = compat.evaluate_downstream(env, compat.default_wheel_finder(env))
    assert out.status is Status.FAIL and out.action.note == "newest inside: 2.1.0"
