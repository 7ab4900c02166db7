"""The anchor strings of the signatures: a line holding none of them is never matched.

Data only, and no imports, so that ``mmfix explain`` can hand them to grep before it loads the
signature table (``signatures.py``, whose every pattern must contain one of these; tested).
"""

from __future__ import annotations

# Byte strings at least one of which every signature's line contains (case-sensitive).
ANCHORS: tuple[bytes, ...] = (
    b"error",  # error:, #error, fatal error, nvcc error ...
    b"Error",  # KeyError, RuntimeError, ModuleNotFoundError ...
    b"ERROR",
    b"fatal",  # nvcc fatal   : ...
    b"Segmentation fault",
    b"Warning",  # UserWarning: ... (torch and mmcv warnings)
    b"WARNING",  # mmcv's "[WARNING]your gpu arch"
    b"mismatch",  # "The detected CUDA version (A) mismatches ..."
    b"Skip building",
    b"build stopped",  # ninja: build stopped (a consequence, shown last)
    b"Using cached mmcv",
    b"NumPy 1.x",
    b"C0000005",
    b"sys.platform",  # start of an mmcv / mmdet / mmengine collect_env block
    b"PyTorch version",  # start of a `python -m torch.utils.collect_env` block
)
# Longer anchors scan faster (bigger skips in bytes.find and grep's matcher), so none is a short
# fragment like "rror".
ANCHORS_STR: tuple[str, ...] = tuple(a.decode() for a in ANCHORS)
# The anchors that start a pasted environment report (its next lines are read too).
REPORT_ANCHORS: tuple[bytes, ...] = (b"sys.platform", b"PyTorch version")
REPORT_ANCHORS_STR: tuple[str, ...] = tuple(a.decode() for a in REPORT_ANCHORS)
