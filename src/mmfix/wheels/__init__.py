"""Prebuilt mmcv wheels: OpenMMLab's index and mmfix's wheelhouses, chosen, checked and installed.

Modules, in the order a wheel goes through them:

- ``net``: HTTP session (retries, proxies, timeouts), ``file://`` reads, one-line network errors;
- ``pages``: reading and writing index pages (``<a href>`` lists, ``#sha256=`` fragments);
- ``tags``: the target's side: wheel tags (``packaging.tags``), torch/CUDA combination, versions wanted;
- ``choose``: choosing by tags and versions (shared by the official index and the wheelhouses);
- ``official``: OpenMMLab's index (``find_wheel``), with neighbouring combinations when none fits;
- ``records`` / ``match``: a wheelhouse wheel's build record, and whether it fits the target;
- ``house``: the wheelhouse folder: layout, locked atomic ``store``, ``prune``, reading pages;
- ``lookup``: choosing across wheelhouses (``find_in_wheelhouses``);
- ``download``: hash-checked download into the cache (shared);
- ``install``: install into the target env and verify (shared).

The names below stay importable from ``mmfix.wheels`` for callers.
"""

from __future__ import annotations

from mmfix.wheels.choose import Rejected, WheelLink, classify_links
from mmfix.wheels.download import default_cache_dir, download_wheel, file_sha256
from mmfix.wheels.install import WheelInstall, install_checked, install_from_index
from mmfix.wheels.net import DEFAULT_TIMEOUT, TIMEOUT_ENV, make_session
from mmfix.wheels.official import (
    Alternative,
    WheelSearch,
    find_wheel,
    index_base,
    index_pages,
    neighbour_combinations,
)
from mmfix.wheels.pages import PageFetch, fetch_page, parse_links
from mmfix.wheels.tags import (
    WheelTarget,
    cuda_tag,
    downstream_spec,
    make_target,
    requested_spec,
    target_tags,
    torch_build,
    torch_minor,
    torch_release,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "TIMEOUT_ENV",
    "Alternative",
    "PageFetch",
    "Rejected",
    "WheelInstall",
    "WheelLink",
    "WheelSearch",
    "WheelTarget",
    "classify_links",
    "cuda_tag",
    "default_cache_dir",
    "download_wheel",
    "downstream_spec",
    "fetch_page",
    "file_sha256",
    "find_wheel",
    "index_base",
    "index_pages",
    "install_checked",
    "install_from_index",
    "make_session",
    "make_target",
    "neighbour_combinations",
    "parse_links",
    "requested_spec",
    "target_tags",
    "torch_build",
    "torch_minor",
    "torch_release",
]
