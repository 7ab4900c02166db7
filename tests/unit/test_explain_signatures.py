"""Every catalog id that leaves text is recognised in at least two differently shaped inputs."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from explain_samples import SAMPLES

from mmfix.explain import explain_lines
from mmfix.explain.signatures import (
    ANCHORS_STR,
    NO_TEXT_IDS,
    REPORT_ONLY_IDS,
    SIGNATURES,
)

# The ids of shared/CATALOG.md, families A-F.
CATALOG_IDS = {
    "registry-missing-module", "mmcv-ops-missing", "mmcv-lite-and-full", "downstream-version-mismatch",
    "setuptools-no-pkg-resources", "build-isolation-no-torch", "setup-py-python313",
    "pip-cache-stale-wheel", "git-checkout-ops-off",
    "cuda-arch-not-compiled", "threads-per-block", "ops-cpu-only", "arch-list-invalid",
    "nvcc-arch-unsupported", "cuda-args-override-arch",
    "cuda-home-missing", "cuda-headers-missing", "cuda-version-mismatch", "gcc-unsupported",
    "msvc-unsupported", "msvc-stl-cuda-mismatch", "msvc-missing", "msvc-env-no-sdk", "cxx-standard",
    "glibc-cuda-math-clash", "msvc-conforming-preprocessor", "ninja-missing", "build-out-of-memory",
    "torch-header-all-slots", "torch-header-constexpr-win-cuda", "torch-header-profile-kind",
    "pybind11-cast-complete-type", "torch-header-compiled-autograd",
    "ext-undefined-symbol", "libtorch-cuda-cu-missing", "import-segfault", "cuda-driver-too-old",
    "numpy-abi-mismatch", "mmddp-torch-internals",
    "ddp-unused-parameters", "double-backward-hooks",
}  # fmt: skip


def test_every_catalog_id_is_covered_by_a_signature_or_named_as_textless() -> None:
    covered = {s.id for s in SIGNATURES} | set(NO_TEXT_IDS) | set(REPORT_ONLY_IDS)
    assert CATALOG_IDS - covered == set()
    assert covered - CATALOG_IDS == set()


def test_every_signature_has_two_samples() -> None:
    counts = Counter(sig_id for sig_id, _, _ in SAMPLES)
    assert {s.id for s in SIGNATURES if counts[s.id] < 2} == set()


def test_ids_are_unique_and_patterns_compile() -> None:
    ids = [s.id for s in SIGNATURES]
    assert len(ids) == len(set(ids))
    for s in SIGNATURES:
        for p in s.patterns:
            re.compile(p)


@pytest.mark.parametrize(
    ("sig_id", "text", "facts"),
    SAMPLES,
    ids=[f"{sid}-{i}" for i, (sid, _, _) in enumerate(SAMPLES)],
)
def test_sample_is_named_first_with_its_facts(sig_id: str, text: str, facts: dict) -> None:
    result = explain_lines(text.splitlines())
    assert result.ids, f"nothing named; unmatched: {result.unmatched}"
    first = result.matches[0]
    assert first.id == sig_id
    for key, value in facts.items():
        assert first.facts.get(key) == value, (key, first.facts)
    # the evidence line is one of the input's lines, with its number
    lines = text.splitlines()
    assert lines[first.line - 1].strip() == first.text
    assert first.fix and "{" not in first.fix


@pytest.mark.parametrize(("sig_id", "text", "facts"), SAMPLES[:20])
def test_sample_found_through_the_byte_reader_with_crlf(sig_id: str, text: str, facts: dict) -> None:
    import io

    from mmfix.explain import explain_stream

    data = text.replace("\n", "\r\n").encode("utf-8")
    result = explain_stream(io.BytesIO(data))
    assert result.ids[0] == sig_id


def test_every_sample_key_line_holds_an_anchor() -> None:
    # the prefilter only passes lines with an anchor: the line each sample is named by must have one
    for sig_id, text, _ in SAMPLES:
        result = explain_lines(text.splitlines())
        line = result.matches[0].text
        assert any(a in line for a in ANCHORS_STR), (sig_id, line)


def test_no_signature_on_ordinary_build_noise() -> None:
    noise = [
        "[12/136] c++ -MMD -MF build/x.o.d -Wsign-compare -DNDEBUG -O3 -Wall -fPIC -Werror=format -c x.cpp",
        "/home/u/src/mmcv/setup.py:5: UserWarning: pkg_resources is deprecated as an API.",
        "mmcv/ops/csrc/common/box_iou_rotated_utils.hpp:276: warning: ignoring '#pragma unroll ' [-Wunknown-pragmas]",
        "Successfully installed mmcv-2.2.0",
        "  Building wheel for mmcv (setup.py) ... done",
    ]
    result = explain_lines(noise)
    assert result.matches == ()
    assert result.unmatched == ()


def test_fix_names_the_fallback_arch_when_the_toolkit_is_known() -> None:
    m = explain_lines(
        [
            "[2/40] /usr/local/cuda-10.2/bin/nvcc -c nms_cuda.cu -gencode=arch=compute_80,code=sm_80",
            "nvcc fatal   : Unsupported gpu architecture 'compute_80'",
        ]
    ).matches[0]
    assert "CUDA 10.2 cannot target 8.0" in m.fix
    assert "`mmfix rebuild --arch 7.5+PTX`" in m.fix


def test_fix_without_the_fact_it_needs_falls_back_to_the_generic_text() -> None:
    m = explain_lines(["RuntimeError: CUDA error: invalid device function"]).matches[0]
    assert "<" not in m.fix.replace("<compute capability>", "")
    assert "nvidia-smi" in m.fix


def test_a_missing_library_unrelated_to_torch_is_not_named() -> None:
    result = explain_lines(["ImportError: libGL.so.1: cannot open shared object file: No such file or directory"])
    assert result.ids == []
    assert result.unmatched[0].line == 1


def test_pip_status_lines_are_consequences_not_unknown_errors() -> None:
    result = explain_lines(
        [
            "  Building wheel for mmcv (pyproject.toml): finished with status 'error'",
            "  Building wheel for mmcv-full (setup.py) ... error",
            "  ERROR: Failed building wheel for mmcv-full",
            "ERROR: Failed to build one or more wheels",
        ]
    )
    assert result.unmatched == ()
    assert [(c.key, c.count) for c in result.consequences] == [
        ("pip-step-error", 2),
        ("failed-building-wheel", 2),
    ]
