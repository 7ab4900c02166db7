"""Arch entries: ASCII digits only, and only compute capabilities that exist (the knowledge tables),
else exit 2 with the accepted forms (hypothesis over strings and numbers, plus the CLI)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmfix.builder.arch import ACCEPTED_FORMS, known_compute_capabilities, parse_arch_list
from mmfix.errors import UsageError
from mmfix.knowledge import cuda as kcuda
from mmfix.knowledge import torch_arch

REPO = Path(__file__).resolve().parents[2]
KNOWN = known_compute_capabilities()


def test_known_capabilities_come_from_the_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    assert {"3.0", "3.5", "7.5", "8.6", "9.0", "9.0a", "12.0"} <= KNOWN
    assert not {"0.0", "39.5", "9.9", "1.2"} & KNOWN
    for sms in kcuda.NVCC_ARCHS.values():
        assert {f"{s // 10}.{s % 10}" for s in sms} <= KNOWN
    for row in torch_arch.TORCH_ARCH_TABLE:
        assert set(row[2]) <= KNOWN
    with pytest.raises(UsageError):
        parse_arch_list("13.5")
    monkeypatch.setitem(kcuda.NVCC_ARCHS, "99.0", (135,))  # a new CUDA release's table row
    assert str(parse_arch_list("13.5")[0]) == "13.5"


@pytest.mark.parametrize("text", ["٣.٦", "８.６", "395", "0.0", "sm_395", "compute_00", "9.9", "12", "8.6a", "٨٦", "8.6;٣.٦"])
def test_the_issue_cases_are_usage_errors_naming_the_accepted_forms(text: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_arch_list(text)
    assert err.value.exit_code == 2 and ACCEPTED_FORMS in err.value.one_line()


@given(st.text(max_size=24))
def test_any_string_parses_only_to_known_capabilities(text: str) -> None:
    try:
        archs = parse_arch_list(text)
    except UsageError as exc:
        assert exc.exit_code == 2 and "\n" not in exc.one_line()
        return
    assert text.isascii()
    assert all(a.cc in KNOWN for a in archs)


@given(st.text(min_size=1, max_size=12), st.characters(min_codepoint=128), st.integers(0, 12))
def test_any_non_ascii_character_is_refused(text: str, odd: str, at: int) -> None:
    with pytest.raises(UsageError):
        parse_arch_list(text[:at] + odd + text[at:])


unicode_digits = st.characters(categories=["Nd"]).filter(lambda c: not c.isascii())


@given(unicode_digits, unicode_digits, st.sampled_from(["{a}.{b}", "sm_{a}{b}", "{a}{b}", "{a}.{b}+PTX"]))
def test_non_ascii_digits_in_every_form_are_refused(a: str, b: str, form: str) -> None:
    with pytest.raises(UsageError):
        parse_arch_list(form.format(a=a, b=b))


@given(st.integers(0, 999), st.sampled_from(["{sm}", "sm_{sm}", "compute_{sm}", "{major}.{minor}"]))
def test_numbers_are_accepted_exactly_when_the_capability_exists(sm: int, form: str) -> None:
    text = form.format(sm=sm, major=sm // 10, minor=sm % 10)
    cc = f"{sm // 10}.{sm % 10}"
    valid_syntax = form == "{major}.{minor}" or sm >= 10
    if cc in KNOWN and valid_syntax:
        assert parse_arch_list(text)[0].cc == cc
    else:
        with pytest.raises(UsageError):
            parse_arch_list(text)


@pytest.mark.parametrize("text", ["٣.٦", "８.６", "395", "0.0"])
def test_cli_exits_2_with_one_line(text: str, tmp_path: Path) -> None:
    env = {"PYTHONPATH": str(REPO / "src"), "NO_COLOR": "1", "PATH": os.environ["PATH"],
           "MMFIX_CACHE_DIR": str(tmp_path), "PYTHONIOENCODING": "utf-8"}
    r = subprocess.run([sys.executable, "-m", "mmfix", "rebuild", "--arch", text, "--dry-run"],
                       capture_output=True, text=True, env=env, encoding="utf-8")
    assert r.returncode == 2 and r.stdout == ""
    [line] = r.stderr.strip().splitlines()
    assert line.startswith("mmfix: error: ") and "accepted: 8.6, 8.6+PTX" in line
