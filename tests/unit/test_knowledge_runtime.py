"""knowledge.runtime.DRIVER_MIN against NVIDIA's published tables (no artifact carries driver minimums),
recorded with their URLs in tests/data/knowledge/cuda_driver_minimums.json."""

from __future__ import annotations

import json
from pathlib import Path

from packaging.version import Version

from mmfix.knowledge.runtime import DRIVER_MIN, driver_min, newest_cuda_major_for_driver

RECORD = json.loads((Path(__file__).parents[1] / "data" / "knowledge" / "cuda_driver_minimums.json").read_text())


def test_driver_min_before_11_is_the_first_release_row_of_nvidia_release_notes_driver_table():
    rows = {r["release"]: (r["linux"], r["windows"]) for r in RECORD["toolkit_rows"]}
    for key, pair in DRIVER_MIN.items():
        if "." not in key:
            continue
        first = min((rel for rel in rows if rel.startswith(key + ".")), key=Version)
        assert pair == rows[first], (key, first)  # both values from one release, never mixed


def test_driver_min_from_11_meets_nvidia_compat_guide_minor_version_table():
    for row in RECORD["major_minimums"]:
        linux, windows = DRIVER_MIN[row["major"]]
        assert Version(linux).major == int(row["linux_floor"])
        if "linux" in row:
            assert (linux, windows) == (row["linux"], row["windows"])


def test_lookups():
    assert driver_min("9.2") == "396.26" and driver_min("9.2", windows=True) == "397.44"
    assert driver_min("12.8") == "525.60.13" and driver_min("8.0") is None
    assert newest_cuda_major_for_driver("535.104.05") == "12"
    assert newest_cuda_major_for_driver("440.33") is None
