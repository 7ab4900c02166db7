"""A local wheel index (``file://DIR`` laid out like OpenMMLab's): found and downloaded without a
server (the repair e2e serves the wheels it built this way)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from test_wheels_support import linux, make_env, page_html, wheel_bytes

from mmfix import wheels


def test_file_index_wheel_is_found_and_downloaded(tmp_path: Path) -> None:
    name = f"mmcv-2.0.1-{linux('3.8')}.whl"
    page = tmp_path / "dist" / "cu118" / "torch2.0.0"
    page.mkdir(parents=True)
    data = wheel_bytes("mmcv", "2.0.1", linux("3.8"))
    (page / name).write_bytes(data)
    (page / "index.html").write_text(page_html([(f"{name}#sha256={hashlib.sha256(data).hexdigest()}", name)]))
    link = wheels.find_wheel(make_env(), f"file://{tmp_path / 'dist'}").chosen
    assert link is not None and link.filename == name
    path = wheels.download_wheel(link, tmp_path / "cache")
    assert path.read_bytes() == data
