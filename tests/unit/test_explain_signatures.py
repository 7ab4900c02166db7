"""Every catalog id that leaves text is recognised in several differently shaped inputs; every
pattern is reachable by the scan (its literal holds one of the scan's keys)."""

from __future__ import annotations

import io
import re
from collections import Counter

import pytest
from explain_samples import SAMPLES

from mmfix.explain import explain_lines, explain_stream
from mmfix.explain.engine import ERROR_WORDS, KEYS
from mmfix.explain.literal import required_literals
from mmfix.explain.rules import FACTS, NO_TEXT_IDS, REPORT_RULES, RULES
from mmfix.explain.signatures import CONSEQUENCES, SIGNATURES
from mmfix.knowledge.catalog import IDS


def test_every_catalog_id_is_named_by_a_signature_a_rule_or_a_report_or_listed_as_textless() -> None:
    named = {s.id for s in SIGNATURES} | {r.cause for r in RULES} | {r.id for r in REPORT_RULES.values()}
    assert named | set(NO_TEXT_IDS) == IDS
    assert named.isdisjoint(NO_TEXT_IDS)


def test_every_signature_has_two_samples_and_the_new_ids_three() -> None:
    counts = Counter(sig_id for sig_id, _, _ in SAMPLES)
    assert {s.id for s in SIGNATURES if counts[s.id] < 2} == set()
    new = ("torch-gpu-unsupported", "torch-load-weights-only", "mmcv2-removed-1x-api", "yapf-formatcode-verify",
           "torch-header-all-slots", "cuda-args-override-arch", "build-isolation-no-torch")
    assert {i: counts[i] for i in new if counts[i] < 3} == {}


def test_ids_are_unique_and_every_pattern_compiles_and_holds_a_key() -> None:
    ids = [s.id for s in SIGNATURES]
    assert len(ids) == len(set(ids))
    patterns = [p for s in SIGNATURES for p in s.patterns] + [c.pattern for c in CONSEQUENCES] + [f.pattern for f in FACTS]
    for pattern in patterns:
        re.compile(pattern)
        literals = required_literals(pattern, ERROR_WORDS)
        assert literals, pattern  # no literal: the scan could never hand it a line
        assert all(any(key in lit for key in KEYS) for lit in literals), pattern


@pytest.mark.parametrize(("sig_id", "text", "facts"), SAMPLES, ids=[f"{sid}-{i}" for i, (sid, _, _) in enumerate(SAMPLES)])
def test_sample_is_named_first_with_its_facts(sig_id: str, text: str, facts: dict) -> None:
    result = explain_lines(text.splitlines())
    assert result.ids, f"nothing named; unmatched: {result.unmatched}"
    first = result.matches[0]
    assert first.id == sig_id, result.ids
    for key, value in facts.items():
        assert first.facts.get(key) == value, (key, first.facts)
    # the evidence line is one of the input's lines, with its number
    assert text.splitlines()[first.line - 1].strip() == first.text
    assert first.fix and "{" not in first.fix


@pytest.mark.parametrize(("sig_id", "text", "facts"), SAMPLES[::3])
def test_sample_found_through_the_byte_reader_with_crlf(sig_id: str, text: str, facts: dict) -> None:
    data = text.replace("\n", "\r\n").encode("utf-8")
    assert explain_stream(io.BytesIO(data)).ids[0] == sig_id


def test_no_signature_on_ordinary_build_noise() -> None:
    noise = [
        "[12/136] c++ -MMD -MF build/x.o.d -Wsign-compare -DNDEBUG -O3 -Wall -fPIC -Werror=format -c x.cpp",
        "/home/u/src/mmcv/setup.py:5: UserWarning: pkg_resources is deprecated as an API.",
        "mmcv/ops/csrc/common/box_iou_rotated_utils.hpp:276: warning: ignoring '#pragma unroll ' [-Wunknown-pragmas]",
        "Successfully installed mmcv-2.2.0",
        "  Building wheel for mmcv (setup.py) ... done",
        "  Created wheel for mmcv: filename=mmcv-2.2.0-cp311-cp311-linux_x86_64.whl size=48123456 sha256=ab",
        "ENV MMCV_CUDA_ARGS=\"-gencode=arch=compute_86,code=sm_86\"",
    ]
    result = explain_lines(noise)
    assert result.matches == ()
    assert result.unmatched == ()


def test_a_pure_wheel_of_the_lite_packages_is_no_evidence() -> None:
    """mmcv 1.x ('mmcv') and mmcv-lite are built without ops by design: their none-any wheels name
    nothing; mmcv 2.x's and mmcv-full's do."""
    lite = ["  Created wheel for mmcv: filename=mmcv-1.7.2-py2.py3-none-any.whl size=1 sha256=ab",
            "  Created wheel for mmcv-lite: filename=mmcv_lite-2.2.0-py2.py3-none-any.whl size=1 sha256=ab"]
    assert explain_lines(lite).ids == []
    full = ["  Created wheel for mmcv-full: filename=mmcv_full-1.7.2-py2.py3-none-any.whl size=1 sha256=ab"]
    assert explain_lines(full).ids == ["build-isolation-no-torch"]


def test_a_context_fact_alone_names_nothing_and_a_platform_wheel_is_no_evidence() -> None:
    lines = [
        "  Created wheel for mmcv: filename=mmcv-2.2.0-cp311-cp311-linux_x86_64.whl size=48123456 sha256=ab",
        "ModuleNotFoundError: No module named 'mmcv._ext'",
    ]
    assert explain_lines(lines).ids == ["mmcv-ops-missing"]


def test_an_mmcv_frame_keeps_the_symptom_a_torch_frame_names_torch() -> None:
    mmcv_frame = [
        '  File "/opt/conda/lib/python3.8/site-packages/mmcv/ops/nms.py", line 27, in forward',
        "    inds = ext_module.nms(",
        "RuntimeError: CUDA error: no kernel image is available for execution on the device",
    ]
    assert explain_lines(mmcv_frame).ids == ["cuda-arch-not-compiled"]
    torch_frame = [line.replace("mmcv/ops/nms.py", "torch/nn/modules/conv.py") for line in mmcv_frame]
    result = explain_lines(torch_frame)
    assert result.ids == ["torch-gpu-unsupported", "cuda-arch-not-compiled"]
    assert result.matches[0].source == "rule" and "torch/nn/modules/conv.py" in result.matches[0].facts["torch_frame"]


def test_the_wrapped_half_of_a_message_is_read_from_the_next_line() -> None:
    m = explain_lines(["The detected CUDA version (12.1) mismatches the version that was used to compile",
                       "PyTorch (11.8). Please make sure to use the same CUDA versions."]).matches[0]
    assert (m.id, m.line, m.facts["torch_cuda"]) == ("cuda-version-mismatch", 1, "11.8")
    m = explain_lines(["RuntimeError: CUDA error: no kernel image is available for", "execution on the device"]).matches[0]
    assert (m.id, m.line) == ("cuda-arch-not-compiled", 1)


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


def test_the_mmddp_fix_names_the_release_from_the_knowledge_table() -> None:
    m = explain_lines(["AttributeError: 'MMDistributedDataParallel' object has no attribute '_sync_params'"]).matches[0]
    assert (m.facts["mmcv_fixed"], m.facts["torch_from"]) == ("1.4.8", "1.11.0") and ">= 1.4.8" in m.fix


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
    assert [(c.key, c.count) for c in result.consequences] == [("pip-step-error", 2), ("failed-building-wheel", 2)]
