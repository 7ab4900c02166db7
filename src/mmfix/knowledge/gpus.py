"""Compute capability of common GPUs by name fragment (catalog "Compute capability of common GPUs";
NVIDIA's CUDA GPUs list). Used when only a GPU name is known (explain, collect_env reports)."""

from __future__ import annotations

# (name fragment, compute capability); the first matching fragment wins, so specific before general.
GPU_CC: tuple[tuple[str, str], ...] = (
    ("K80", "3.7"), ("K40", "3.5"), ("P100", "6.0"), ("P40", "6.1"), ("P4", "6.1"),
    ("GTX 10", "6.1"), ("TITAN X", "6.1"), ("V100", "7.0"), ("TITAN V", "7.0"),
    ("T4", "7.5"), ("RTX 20", "7.5"), ("GTX 16", "7.5"), ("QUADRO RTX", "7.5"), ("TITAN RTX", "7.5"),
    ("A100", "8.0"), ("A30", "8.0"), ("RTX 30", "8.6"), ("A40", "8.6"), ("A10", "8.6"),
    ("RTX A", "8.6"), ("A5000", "8.6"), ("A6000", "8.6"), ("A4000", "8.6"), ("ORIN", "8.7"),
    ("RTX 40", "8.9"), ("L40", "8.9"), ("L4", "8.9"), ("RTX 6000 ADA", "8.9"),
    ("H100", "9.0"), ("H200", "9.0"), ("GH200", "9.0"), ("B200", "10.0"), ("B100", "10.0"),
    ("RTX 50", "12.0"), ("RTX PRO 6000", "12.0"),
)


def cc_for_name(name: str) -> str | None:
    """Compute capability for a GPU marketing name ("NVIDIA GeForce RTX 3090" -> "8.6"), or None."""
    upper = name.upper()
    for frag, cc in GPU_CC:
        if frag in upper:
            return cc
    return None
