"""knowledge.downstream builds every mmcv range mmfix uses; the wheel search, the build's default version
and doctor's text read it (the ranges against the packages' real assertions:
tests/e2e/test_compat_downstream.py; the release list against PyPI: tests/e2e/test_knowledge_artifacts_tools.py)."""

from __future__ import annotations

from packaging.specifiers import SpecifierSet

from mmfix.builder.source import downstream_specifier
from mmfix.knowledge import downstream as kd
from mmfix.model import Downstream
from mmfix.wheels import downstream_spec

MMDET2 = Downstream("mmdet", "2.28.2", "/sp", "/sp/mmdet/__init__.py", "1.3.17", "1.8.0", True)
MMDET3 = Downstream("mmdet", "3.3.0", "/sp", "/sp/mmdet/__init__.py", "2.0.0rc4", "2.2.0", False)
MMSEG = Downstream("mmseg", "1.2.2", "/sp", "/sp/mmseg/__init__.py", "2.0.0rc4", "2.2.0", None)
ODD = Downstream("mmocr", "1.0.1", "/sp", "/sp/mmocr/__init__.py", "2.0.0rc4", "not-a-version", None)
NONE = Downstream("mmengine", "0.10.4", "/sp", "/sp/mmengine/__init__.py", None, None, None)


def test_one_range_per_package():
    assert kd.bound_specs(MMDET2) == [">=1.3.17", "<=1.8.0"]
    assert kd.bound_specs(MMSEG) == [">=2.0.0rc4", "<2.2.0"]  # unknown inclusivity: exclusive
    assert kd.bound_specs(ODD) == [">=2.0.0rc4"] and kd.bound_specs(NONE) == []
    assert kd.range_text(MMDET3) == "mmdet 3.3.0 needs mmcv>=2.0.0rc4,<2.2.0"
    assert kd.range_text(NONE) == "mmengine 0.10.4 needs mmcv (no bound found)"


def test_wheels_build_and_doctor_read_the_same_range():
    pkgs = (MMDET3, MMSEG, ODD, NONE)
    want = SpecifierSet(">=2.0.0rc4,<2.2.0")
    assert kd.allowed(pkgs) == want
    assert downstream_specifier(pkgs) == want
    spec, lines = downstream_spec(pkgs)
    assert spec == want
    assert lines == ("mmdet 3.3.0: <2.2.0,>=2.0.0rc4", "mmseg 1.2.2: <2.2.0,>=2.0.0rc4", "mmocr 1.0.1: >=2.0.0rc4")
    assert kd.compatible_releases(pkgs)[0] == "2.1.0"
    assert list(kd.allowed((MMDET2, MMDET3)).filter(kd.MMCV_RELEASES, prereleases=True)) == []  # no overlap
