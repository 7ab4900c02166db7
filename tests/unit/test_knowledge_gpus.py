"""knowledge.gpus against NVIDIA's GPU lists as recorded in tests/data/knowledge/nvidia_cuda_gpus.json
(developer.nvidia.com/cuda-gpus and /cuda-legacy-gpus; sources and date inside the file)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmfix.knowledge.gpus import DRIVER_NAMES, GPU_CC, cc_for_name, fragment_matches

RECORD = json.loads((Path(__file__).parents[1] / "data" / "knowledge" / "nvidia_cuda_gpus.json").read_text())
NAMES = [(g["name"], g["cc"]) for g in RECORD["gpus"]]


def test_record_names_its_sources_and_date():
    assert RECORD["retrieved"] and all(s["url"].startswith("https://developer.nvidia.com/") for s in RECORD["sources"].values())
    assert {g["source"] for g in RECORD["gpus"]} == set(RECORD["sources"])
    assert len(NAMES) > 150


@pytest.mark.parametrize(("name", "cc"), NAMES)
def test_every_name_on_nvidias_lists_resolves_to_its_compute_capability(name, cc):
    assert cc_for_name(name) == cc


@pytest.mark.parametrize(("fragment", "cc"), GPU_CC)
def test_no_fragment_matches_a_name_of_another_compute_capability(fragment, cc):
    wrong = [(n, c) for n, c in NAMES if c != cc and fragment_matches(fragment, n)]
    assert not wrong
    backed = [n for n, c in NAMES if c == cc and fragment_matches(fragment, n)]
    listed = DRIVER_NAMES.get(fragment)
    assert backed or (listed, cc) in NAMES, "fragment backed by no listed name"


@pytest.mark.parametrize(("name", "cc"), [
    # as nvidia-smi / torch.cuda.get_device_name() spell them
    ("NVIDIA GeForce RTX 3090", "8.6"), ("NVIDIA GeForce RTX 4090 Laptop GPU", "8.9"),
    ("Tesla V100-SXM2-32GB", "7.0"), ("NVIDIA A100-SXM4-80GB", "8.0"), ("NVIDIA A100 80GB PCIe", "8.0"),
    ("NVIDIA H100 80GB HBM3", "9.0"), ("Tesla T4", "7.5"), ("Tesla K80", "3.7"), ("Tesla P100-PCIE-16GB", "6.0"),
    ("NVIDIA RTX 5000 Ada Generation", "8.9"), ("NVIDIA RTX 2000 Ada Generation", "8.9"),
    ("Quadro RTX 5000", "7.5"), ("NVIDIA RTX A5000", "8.6"), ("NVIDIA GeForce RTX 5090", "12.0"),
    ("NVIDIA RTX PRO 6000 Blackwell Workstation Edition", "12.0"),
    ("GeForce GTX TITAN X", "5.2"), ("NVIDIA TITAN X (Pascal)", "6.1"), ("TITAN X (Pascal)", "6.1"), ("NVIDIA TITAN Xp", "6.1"),
    ("NVIDIA GB10", "12.1"), ("NVIDIA Thor", "11.0"), ("NVIDIA B300 SXM6 AC", "10.3"), ("NVIDIA A2", "8.6"),
    ("Orin (nvgpu)", "8.7"), ("NVIDIA L40S", "8.9"), ("NVIDIA L4", "8.9"),
])
def test_names_as_drivers_report_them(name, cc):
    assert cc_for_name(name) == cc


@pytest.mark.parametrize("name", ["NVIDIA A10G", "AMD Radeon RX 7900 XTX", "", "NVIDIA GeForce GTX 1660 SUPER"])
def test_unlisted_gpus_are_unknown_not_guessed(name):
    assert cc_for_name(name) is None
