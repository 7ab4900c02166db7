"""Real public reports (tests/data/explain/public, index.toml): each names the cause its thread
established first, and the other listed ids in order. At least 30 from open-mmlab projects and
projects that depend on mmcv, Linux and Windows, mmcv 1.x and 2.x."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mmfix.explain import explain_file
from mmfix.knowledge.catalog import IDS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

PUBLIC = Path(__file__).resolve().parents[1] / "data" / "explain" / "public"
INDEX = tomllib.loads((PUBLIC / "index.toml").read_text(encoding="utf-8"))


def test_the_corpus_is_wide_enough() -> None:
    assert {p.stem for p in PUBLIC.glob("*.txt")} == set(INDEX)
    counted = {k: v for k, v in INDEX.items() if v.get("counted", True)}
    assert len(counted) >= 30
    assert {v["platform"] for v in counted.values()} >= {"linux", "windows"}
    assert {v["mmcv"] for v in counted.values()} >= {"1.x", "2.x"}
    assert all(v["source"].startswith("https://github.com/") and v["cause"] for v in INDEX.values())
    assert {i for v in INDEX.values() for i in v["ids"]} <= IDS


@pytest.mark.parametrize("name", sorted(INDEX))
def test_public_report(name: str) -> None:
    expected = INDEX[name]["ids"]
    result = explain_file(PUBLIC / f"{name}.txt")
    assert result.ids[:1] == expected[:1], result.ids
    positions = [result.ids.index(i) for i in expected]
    assert positions == sorted(positions)
