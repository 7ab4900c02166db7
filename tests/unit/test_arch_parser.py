"""The arch-list parser: every form users type, normalisation, refusals (hypothesis + examples)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmfix.builder.arch import (
    Arch,
    clamp_to,
    default_archs,
    parse_arch_list,
    refuse_unsupported,
    sms_from_gpu_archs,
    strip_arch_flags,
    to_torch_list,
)
from mmfix.errors import RefusedError, UsageError
from mmfix.knowledge import cuda as kcuda
from mmfix.knowledge.torch_arch import supported_arches

REAL = [(3, 5), (3, 7), (5, 0), (6, 1), (7, 0), (7, 5), (8, 0), (8, 6), (8, 9), (9, 0), (10, 0), (12, 0)]


def _spell(arch: Arch, form: int) -> str:
    """Write ``arch`` in one of the forms users type."""
    ptx = "+PTX" if arch.ptx else ""
    if form == 0:
        return f"{arch.cc}{ptx}"
    if form == 1:
        return f"sm_{arch.sm}{arch.variant}{ptx}"
    if form == 2:
        return f"{arch.sm}{arch.variant}{ptx.lower()}"
    return f"SM{arch.sm}{arch.variant}{ptx}"


archs_st = st.lists(
    st.builds(lambda mm, ptx: Arch(mm[0], mm[1], "", ptx), st.sampled_from(REAL), st.booleans()),
    min_size=1,
    max_size=6,
    unique_by=lambda a: (a.major, a.minor),
)


@given(archs_st, st.lists(st.integers(0, 3), min_size=6, max_size=6), st.sampled_from([";", " ", ",", " ; ", ", "]))
def test_any_spelling_parses_to_the_same_arches(archs, forms, sep):
    text = sep.join(_spell(a, f) for a, f in zip(archs, forms))
    assert parse_arch_list(text) == tuple(archs)


@given(archs_st)
def test_normalised_list_is_a_fixed_point_torch_accepts(archs):
    norm = to_torch_list(archs)
    assert "," not in norm and ";;" not in norm and not norm.endswith(";")
    assert to_torch_list(parse_arch_list(norm)) == norm
    ok = set(supported_arches("2.13.0"))
    assert all(e.removesuffix("+PTX") in ok for e in norm.split(";"))


@given(st.text(max_size=30))
def test_garbage_raises_only_usage_error(text):
    try:
        out = parse_arch_list(text)
    except UsageError as exc:
        assert exc.exit_code == 2 and exc.one_line()
    else:
        assert out and all(isinstance(a, Arch) for a in out)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("8.6", "8.6"),
        ("8.6+PTX", "8.6+PTX"),
        ("sm_86", "8.6"),
        ("86", "8.6"),
        ("compute_90", "9.0+PTX"),
        ("sm_90a", "9.0a"),
        ("120", "12.0"),
        ("7.5, 8.6", "7.5;8.6"),
        ("Ampere", "8.0;8.6+PTX"),
        ("ampere turing", "7.5+PTX;8.0;8.6+PTX"),
        ("Kepler+Tesla", "3.7"),
        ("8.6 8.6+PTX", "8.6+PTX"),
    ],
)
def test_examples(text, want):
    assert to_torch_list(parse_arch_list(text, "2.13.0")) == want


def test_names_follow_the_torch_version():
    assert to_torch_list(parse_arch_list("Ampere", "1.6.0")) == "8.0+PTX"
    with pytest.raises(UsageError, match="Hopper"):
        parse_arch_list("Hopper", "1.13.1")
    assert to_torch_list(parse_arch_list("Hopper", "2.0.1")) == "9.0+PTX"


@pytest.mark.parametrize("text", ["8.6;;", "8.6;", ";8.6", "7.5,,8.6", "", "   "])
def test_empty_entries_are_usage_errors(text):
    with pytest.raises(UsageError) as exc:
        parse_arch_list(text)
    assert exc.value.exit_code == 2


@pytest.mark.parametrize("text", ["foo", "8.6+SASS", "8.", "sm_8", "1234"])
def test_malformed_entries_name_the_accepted_forms(text):
    with pytest.raises(UsageError) as exc:
        parse_arch_list(text)
    assert "accepted: 8.6, 8.6+PTX, sm_86" in exc.value.one_line()


def test_kepler_on_nvcc_13_is_refused_naming_toolkits():
    with pytest.raises(RefusedError) as exc:
        refuse_unsupported(parse_arch_list("3.7"), nvcc_version="13.0", torch_version="2.13.0")
    line = exc.value.one_line()
    assert exc.value.exit_code == 3
    assert "sm_37" in line and "CUDA 9.0-11.8" in line and "torch" in line


def test_sm30_refused_on_nvcc_13_and_by_torch_alone():
    with pytest.raises(RefusedError, match="sm_30"):
        refuse_unsupported(parse_arch_list("3.0"), nvcc_version="13.0")
    with pytest.raises(RefusedError, match="does not accept arch 3.0"):
        refuse_unsupported(parse_arch_list("3.0"), nvcc_version="10.2", torch_version="1.7.1")


def test_listed_gpu_archs_override_the_table():
    refuse_unsupported(parse_arch_list("9.0"), nvcc_version="13.0", nvcc_sms=[90], torch_version="2.14.1")
    with pytest.raises(RefusedError):
        refuse_unsupported(parse_arch_list("8.6"), nvcc_version="13.0", nvcc_sms=[90])


def test_default_is_visible_gpus_with_ptx_on_top():
    archs, why = default_archs(["8.6", "7.5", "8.6"], "13.0", None, "2.14.1")
    assert to_torch_list(archs) == "7.5;8.6+PTX" and "GPUs" in why


def test_default_without_gpu_is_portable_clamped():
    archs, _ = default_archs([], "13.0", list(kcuda.nvcc_archs("13.0") or ()), "2.14.1")
    assert to_torch_list(archs) == "7.5;8.0;8.6;8.9;9.0;10.0;12.0+PTX"
    # torch 1.13 knows no 8.9/9.0: clamped, PTX moves to the highest kept
    archs, _ = default_archs([], "11.8", None, "1.13.1")
    assert to_torch_list(archs) == "3.5;5.0;6.0;6.1;7.0;7.5;8.0;8.6+PTX"


def test_clamp_keeps_nothing_when_nothing_fits():
    assert clamp_to(parse_arch_list("3.5"), [75, 80], "2.13.0") == ()


def test_sms_from_list_gpu_arch_output():
    assert sms_from_gpu_archs(["compute_75", "compute_90a", "sm_120", "junk"]) == (75, 90, 120)


def test_strip_arch_flags():
    rest, removed = strip_arch_flags("-O3 -gencode arch=compute_70,code=sm_70 --use_fast_math -arch=sm_60")
    assert rest == "-O3 --use_fast_math"
    assert removed == ["-gencode", "arch=compute_70,code=sm_70", "-arch=sm_60"]
