"""required_literal: a substring every match holds (sound), found without compiling."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmfix.explain.literal import required_literal, required_literals
from mmfix.explain.signatures import CONSEQUENCES, SIGNATURES


@pytest.mark.parametrize(
    ("pattern", "literal"),
    [
        (r"nvcc fatal\s+: Unsupported gpu architecture '(?P<arch>compute_\d+)'", ": Unsupported gpu architecture '"),
        (r"libtorch_cuda_cu\.so: cannot open shared object file", "libtorch_cuda_cu.so: cannot open shared object file"),
        (r"errors? detected in the compilation", " detected in the compilation"),  # the s is optional
        (r"Killed signal terminated program (?P<program>cc1plus|cc1)", "Killed signal terminated program "),
        (r"a|bcdef", None),  # top-level alternation
        (r"(?i)ninja is required", None),  # inline flag: case may differ
        (r"(?:abc|def)", None),  # everything inside a group
        (r"ab", None),  # too short to be worth a test
        (r"xyz\d+abcd", "abcd"),
        (r"Using cached (?P<w>mmcv[\w.-]+)\.whl", "Using cached "),
        (r"[)(|]+ literal text", " literal text"),  # a class holding ) ( | is skipped whole
        (r"colou?r scheme", "r scheme"),
        (r"aaa+bbb", "aaa"),
        (r"x{2}yyyy", "yyyy"),
        (r"\(tail\)", "(tail)"),
        ("broken\\", None),
        (r"abc{(def)}ghij", None),  # a literal brace
        (r"unbalanced)", None),
    ],
)
def test_required_literal(pattern: str, literal: str | None) -> None:
    assert required_literal(pattern) == literal


def all_patterns() -> list[str]:
    out = [p for s in SIGNATURES for p in s.patterns]
    out += [s.requires_before for s in SIGNATURES if s.requires_before]
    out += [c.pattern for c in CONSEQUENCES]
    return out


def test_every_signature_pattern_gets_a_sound_literal_or_none() -> None:
    from test_explain_signatures import SAMPLES  # the real-looking samples, two per catalog id

    gated = 0
    for pattern in all_patterns():
        literal = required_literal(pattern)
        if literal is None:
            continue
        gated += 1
        assert literal in pattern.replace("\\", "") or "\\" in pattern, pattern
        rx = re.compile(pattern)
        for _, text, _ in SAMPLES:
            for line in text.splitlines():
                m = rx.search(line)
                if m:
                    assert literal in m.group(0), (pattern, line)
    assert gated >= len(all_patterns()) * 0.8  # most patterns are gated (else the gate buys little)


ATOMS = st.sampled_from(["a", "b", "c", "ab", r"\.", r"\d", ".", "[ab]", "(?:a|bc)", "(c)", " ", "x", "\\(", "-"])
QUANT = st.sampled_from(["", "", "", "?", "*", "+", "{1,2}", "*?"])


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.tuples(ATOMS, QUANT), min_size=1, max_size=10), data=st.data())
def test_required_literal_is_in_every_match(parts: list[tuple[str, str]], data: st.DataObject) -> None:
    pattern = "".join(a + q for a, q in parts)
    literal = required_literal(pattern)
    if literal is None:
        return
    rx = re.compile(pattern)
    text = data.draw(st.from_regex(rx, fullmatch=True))
    assert literal in text, (pattern, text)


@pytest.mark.parametrize(
    ("pattern", "literals"),
    [
        (r"error: subprocess-exited-with-error|Command errored out", ("error: subprocess-exited-with-error", "Command errored out")),
        (r"abcd|x\d", None),  # a branch without a literal: no gate
        (r"(?:a|b)cdef|ghij", ("cdef", "ghij")),  # the | inside the group is no top-level one
        (r"[|]wxyz|klmn", ("wxyz", "klmn")),
        (r"plain text here", ("plain text here",)),
    ],
)
def test_required_literals_per_branch(pattern: str, literals: tuple[str, ...] | None) -> None:
    assert required_literals(pattern) == literals


@settings(max_examples=200, deadline=None)
@given(
    branches=st.lists(st.lists(st.tuples(ATOMS, QUANT), min_size=1, max_size=6), min_size=2, max_size=4),
    data=st.data(),
)
def test_some_branch_literal_is_in_every_match(branches: list[list[tuple[str, str]]], data: st.DataObject) -> None:
    pattern = "|".join("".join(a + q for a, q in parts) for parts in branches)
    literals = required_literals(pattern)
    if literals is None:
        return
    text = data.draw(st.from_regex(re.compile(pattern), fullmatch=True))
    assert any(lit in text for lit in literals), (pattern, text)
