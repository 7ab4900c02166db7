"""Compute capability of a GPU known only by its name (explain reads collect_env reports; the probe
falls back to it when nvidia-smi has no ``compute_cap``).

Source: NVIDIA's lists (https://developer.nvidia.com/cuda-gpus and .../cuda-legacy-gpus), recorded with
their date in tests/data/knowledge/nvidia_cuda_gpus.json; tests/unit/test_knowledge_gpus.py checks
that every recorded name resolves to its compute capability and that no fragment matches a name of
another compute capability. A GPU missing from NVIDIA's lists is left out: None beats a guess.
"""

from __future__ import annotations

import re

# (name fragment, compute capability). A fragment matches whole words of the upper-cased name
# ("A10" is not in "A100" or "A10G"); when several match, the longest wins ("GTX TITAN X" 5.2 over
# "TITAN X" 6.1 in "GeForce GTX TITAN X").
GPU_CC: tuple[tuple[str, str], ...] = (
    # 12.1 / 12.0 / 11.0 / 10.x Blackwell
    ("GB10", "12.1"),
    ("RTX PRO", "12.0"), ("RTX 5090", "12.0"), ("RTX 5080", "12.0"), ("RTX 5070", "12.0"),
    ("RTX 5060", "12.0"), ("RTX 5050", "12.0"),
    ("THOR", "11.0"), ("JETSON T5000", "11.0"), ("JETSON T4000", "11.0"),
    ("B300", "10.3"), ("GB300", "10.3"),
    ("B200", "10.0"), ("GB200", "10.0"),
    # 9.0 Hopper, 8.9 Ada, 8.7 Orin
    ("H100", "9.0"), ("H200", "9.0"), ("GH200", "9.0"),
    ("L4", "8.9"), ("L40", "8.9"), ("L40S", "8.9"), ("ADA", "8.9"),
    ("RTX 4090", "8.9"), ("RTX 4080", "8.9"), ("RTX 4070", "8.9"), ("RTX 4060", "8.9"), ("RTX 4050", "8.9"),
    ("ORIN", "8.7"),
    # 8.6 / 8.0 Ampere
    ("A40", "8.6"), ("A10", "8.6"), ("A16", "8.6"), ("A2", "8.6"),
    ("RTX A6000", "8.6"), ("RTX A5000", "8.6"), ("RTX A4000", "8.6"), ("RTX A3000", "8.6"), ("RTX A2000", "8.6"),
    ("RTX 3090", "8.6"), ("RTX 3080", "8.6"), ("RTX 3070", "8.6"), ("RTX 3060", "8.6"), ("RTX 3050", "8.6"),
    ("A100", "8.0"), ("A30", "8.0"),
    # 7.5 Turing, 7.2 Xavier, 7.0 Volta
    ("T4", "7.5"), ("QUADRO RTX", "7.5"), ("T2000", "7.5"), ("T1200", "7.5"), ("T1000", "7.5"),
    ("T600", "7.5"), ("T500", "7.5"), ("T400", "7.5"), ("GTX 1650", "7.5"), ("TITAN RTX", "7.5"),
    ("RTX 2080", "7.5"), ("RTX 2070", "7.5"), ("RTX 2060", "7.5"),
    ("XAVIER", "7.2"),
    ("V100", "7.0"), ("GV100", "7.0"), ("TITAN V", "7.0"),
    # 6.x Pascal
    ("TX2", "6.2"),
    ("P40", "6.1"), ("P4", "6.1"), ("P6000", "6.1"), ("P5200", "6.1"), ("P5000", "6.1"), ("P4200", "6.1"),
    ("P4000", "6.1"), ("P3200", "6.1"), ("P3000", "6.1"), ("P2200", "6.1"), ("P2000", "6.1"), ("P1000", "6.1"),
    ("P620", "6.1"), ("P600", "6.1"), ("P520", "6.1"), ("P500", "6.1"), ("P400", "6.1"),
    ("NVIDIA TITAN X", "6.1"), ("TITAN X (PASCAL)", "6.1"), ("TITAN XP", "6.1"),
    ("GTX 1080", "6.1"), ("GTX 1070", "6.1"), ("GTX 1060", "6.1"), ("GTX 1050", "6.1"),
    ("P100", "6.0"), ("GP100", "6.0"),
    # 5.x Maxwell
    ("JETSON NANO", "5.3"),
    ("M60", "5.2"), ("M40", "5.2"), ("M6000", "5.2"), ("M5000", "5.2"), ("M4000", "5.2"), ("M2000", "5.2"),
    ("M5500M", "5.2"), ("M2200", "5.2"), ("M620", "5.2"), ("GTX TITAN X", "5.2"),
    ("GTX 980", "5.2"), ("GTX 970", "5.2"), ("GTX 960", "5.2"), ("GTX 950", "5.2"),
    ("GTX 980M", "5.2"), ("GTX 970M", "5.2"), ("GTX 965M", "5.2"), ("910M", "5.2"),
    ("K2200", "5.0"), ("K1200", "5.0"), ("K620", "5.0"), ("M1200", "5.0"), ("M520", "5.0"), ("M5000M", "5.0"),
    ("M4000M", "5.0"), ("M3000M", "5.0"), ("M2000M", "5.0"), ("M1000M", "5.0"), ("K620M", "5.0"),
    ("M600M", "5.0"), ("M500M", "5.0"), ("NVS 810", "5.0"), ("GTX 750", "5.0"), ("GTX 960M", "5.0"),
    ("GTX 950M", "5.0"), ("940M", "5.0"),
    # 3.x Kepler
    ("K80", "3.7"), ("K40", "3.5"), ("K20", "3.5"),
)

# Fragments for names drivers report where NVIDIA's lists spell the GPU otherwise: fragment -> the
# listed name. NVML / nvidia-smi on Jetson AGX Thor (module T5000) say "NVIDIA Thor"; drivers of 2016-17
# say "TITAN X (Pascal)" for the 6.1 TITAN X.
DRIVER_NAMES: dict[str, str] = {"THOR": "Jetson T5000", "TITAN X (PASCAL)": "NVIDIA TITAN X"}


def fragment_matches(fragment: str, name: str) -> bool:
    """Whether ``fragment`` occurs in ``name`` as whole words (case-insensitive; spaces in a name
    may be repeated, as in NVIDIA's "QUADRO  T2000")."""
    words = r"\s+".join(re.escape(w) for w in fragment.upper().split())
    return re.search(rf"(?<![A-Z0-9]){words}(?![A-Z0-9])", name.upper()) is not None


def cc_for_name(name: str) -> str | None:
    """Compute capability ("8.6") for a GPU name as nvidia-smi, torch or NVIDIA's lists spell it
    ("NVIDIA GeForce RTX 3090", "Tesla V100-SXM2-32GB"); None for a GPU not on NVIDIA's lists."""
    found = [(len(frag), cc) for frag, cc in GPU_CC if fragment_matches(frag, name)]
    return max(found)[1] if found else None
