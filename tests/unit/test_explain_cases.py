"""Every shared case (tests/data/explain, copied byte for byte from shared/cases/explain) is a test:
the ids of expected.toml are named, the first one first."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mmfix.explain import explain_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

CASES = Path(__file__).resolve().parents[1] / "data" / "explain"
EXPECTED = tomllib.loads((CASES / "expected.toml").read_text(encoding="utf-8"))


def test_every_log_has_an_expectation() -> None:
    assert {p.stem for p in CASES.glob("*.log")} == set(EXPECTED)


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_case(case: str) -> None:
    expected = EXPECTED[case]["ids"]
    result = explain_file(CASES / f"{case}.log")
    assert result.ids[:1] == expected[:1]
    # every expected id is named, in the expected order
    positions = [result.ids.index(i) for i in expected]
    assert positions == sorted(positions)


def test_cp936_case_decodes_the_chinese_lines() -> None:
    from mmfix.explain import explain_lines
    from mmfix.explain.reader import decode_line

    raw = (CASES / "win-cuda92-msvc-cp936.log").read_bytes()
    assert b"\r\n" in raw
    lines = [decode_line(line.rstrip(b"\r")) for line in raw.split(b"\n")]
    assert any("包含文件" in line for line in lines)
    # the same result whether read as bytes or as already decoded lines
    assert explain_lines(lines).ids == explain_file(CASES / "win-cuda92-msvc-cp936.log").ids


def test_cp936_case_facts() -> None:
    m = explain_file(CASES / "win-cuda92-msvc-cp936.log").matches[0]
    assert m.line == 8
    assert m.facts["cuda"] == "9.2"
    assert m.facts["vs_supported"] == [2012, 2013, 2015, 2017]
    assert (m.facts["msc_min"], m.facts["msc_max"]) == (1600, 1913)


def test_grouped_repeats_in_the_torch16_case() -> None:
    m = explain_file(CASES / "win-torch16-module-h.log").matches[0]
    assert m.count == 4
    assert m.lines == (12, 14, 16, 18)
    assert m.where == "4 times, lines 12-18"
    assert m.facts["header_lines"] == [483, 496, 510, 523]


def test_consequences_rank_after_the_cause() -> None:
    result = explain_file(CASES / "rtx3090-cuda110.log")
    assert result.ids == ["nvcc-arch-unsupported"]
    m = result.matches[0]
    assert m.count == 2 and m.facts["cc"] == "8.6" and m.facts["min_cuda"] == "11.1"
    keys = [c.key for c in result.consequences]
    assert {"ninja-stopped", "called-process-error", "error-compiling-objects"} <= set(keys)
    assert "failed-building-wheel" in keys
    # pip announces the failure before the compiler output: still a consequence, never a match
    assert "pip-step-error" in keys


def test_prebuilt_arch_warning_facts() -> None:
    m = explain_file(CASES / "rtx4090-prebuilt.log").matches[0]
    assert m.facts["cc"] == "8.9"
    assert m.facts["available"] == ["5.2", "6.0", "6.1", "7.0", "7.5", "8.0", "8.6"]
    assert m.fix == "`mmfix rebuild --arch 8.9`"
    assert (m.count, m.lines) == (2, (2, 8))


def test_real_logs_point_at_the_first_real_error() -> None:
    cxx = explain_file(CASES / "real-torch214-cxx20.log").matches[0]
    assert (cxx.line, cxx.facts["std"]) == (1282, "20")
    assert cxx.count == 1  # gcc's "  5 | #error ..." source echo is not a second occurrence
    headers = explain_file(CASES / "real-cusparse-missing.log").matches[0]
    assert (headers.line, headers.facts["header"]) == (434, "cusparse.h")
