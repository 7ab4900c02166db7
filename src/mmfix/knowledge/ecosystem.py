"""Releases of mmcv's neighbours (yapf, mmengine, torch) that change behaviour under mmcv.

Each fact was checked in the released files named beside it (wheels and sdists from PyPI).
"""

from __future__ import annotations

# yapf 0.40.2 removed FormatCode()'s ``verify`` argument (yapf/yapflib/yapf_api.py in the 0.40.2
# wheel); later releases keep it removed.
YAPF_WITHOUT_VERIFY = "0.40.2"
YAPF_WITH_VERIFY = "0.40.1"  # the newest release that still accepts it
# mmengine passes verify=True only to yapf < 0.40.2 from 0.8.5 on (mmengine/config/config.py:
# unconditional in the 0.8.4 wheel, guarded in 0.8.5, 0.9.0 and 0.10.7; mmengine PR #1365).
MMENGINE_YAPF_GUARD = "0.8.5"
# mmcv 1.x always passes verify=True (mmcv/utils/config.py in the 1.7.2 sdist, the last 1.x);
# mmcv 2.x has no Config (it uses mmengine's).
MMCV_CONFIG_REMOVED = "2.0.0"

# torch.load defaults to weights_only=True from torch 2.6 (its release notes; the "In PyTorch 2.6,
# we changed the default value of the weights_only argument" error text).
TORCH_WEIGHTS_ONLY_DEFAULT = "2.6.0"
# The newest mmengine checked: its runner/checkpoint.py calls torch.load(filename,
# map_location=...) without weights_only (0.10.7 wheel), like mmcv 1.7.2's runner/checkpoint.py.
# A later mmengine is not judged until its source is checked.
MMENGINE_LOADER_CHECKED = "0.10.7"
