"""What an mmcv release needs from the target's Python and torch, as data (the planner's limits
besides the downstream ranges; ``mmfix.plan.version``).

Each row: the target fact it reads, the range of that fact it applies to, the mmcv releases that
range allows, and where the fact was checked.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Need:
    """When the target's ``fact`` ("python" or "torch") is inside ``when``, only mmcv inside
    ``allows`` fits; ``why`` says so in words, ``source`` where it was checked."""

    fact: str
    when: str  # a PEP 440 specifier on the fact's version
    allows: str  # a PEP 440 specifier on the mmcv version
    why: str
    source: str


NEEDS: tuple[Need, ...] = (
    Need("python", "<3.7", "<2.0.0rc4",
         "mmcv 2.0.0rc4 and later need Python >= 3.7",
         "mmcv v2.0.0rc4-v2.2.0 setup.py: python_requires='>=3.7' (v2.0.0rc1-rc3 set none; "
         "mmengine from v0.5.0 likewise)"),
    Need("torch", "<1.6", "<2.0.0rc1",
         "mmcv 2.x runs on mmengine, which supports PyTorch 1.6 or newer",
         "mmengine docs/en/get_started/installation.md: 'PyTorch 1.6+'; mmcv 2.x "
         "requirements/runtime.txt: mmengine"),
)
