"""Facts about OpenMMLab's prebuilt mmcv wheel index, as data.

Sources: shared/CATALOG.md "Prebuilt wheels"; mim's ``get_mmcv_full_find_link``
(open-mmlab/mim ``mim/commands/install.py``:
``{base}/mmcv/dist/{cu118|cpu}/torch{M}.{m}.0/index.html``); mmcv's install docs, which also
spell the page ``torch{M}.{m}/index.html``.
"""

from __future__ import annotations

# The official base URL of the index (mim's DEFAULT_MMCV_FIND_BASE_URL + "/mmcv/dist").
OFFICIAL_BASE = "https://download.openmmlab.com/mmcv/dist"

# Environment variable that overrides the base (a mirror); ``--index-url`` wins over it.
INDEX_URL_ENV = "MMFIX_INDEX_URL"

# The page spellings tried, in order, under ``{base}/{cuda_tag}/``.
PAGE_SPELLINGS: tuple[str, ...] = (
    "torch{major}.{minor}.0/index.html",
    "torch{major}.{minor}/index.html",
)

# The newest torch (major, minor) with official mmcv wheels
# (catalog: "Official wheels stop at torch 2.4",
# with mmcv 2.2.0 the last release built for it).
LAST_OFFICIAL_TORCH: tuple[int, int] = (2, 4)

# CUDA tags the official index has used (mmcv install docs, 1.x and 2.x tables); neighbours are
# picked from this list when no wheel matches. "cpu" is also used for ROCm torch.
KNOWN_CUDA_TAGS: tuple[str, ...] = (
    "cu92",
    "cu101",
    "cu102",
    "cu110",
    "cu111",
    "cu113",
    "cu115",
    "cu116",
    "cu117",
    "cu118",
    "cu121",
    "cu124",
)

# Distribution names on the index that carry the compiled ops, and the versions they cover.
# mmcv < 2.0.0rc1 named "mmcv" is the ops-less package (mmcv-lite's ancestor); ops were in
# mmcv-full.
OPS_PACKAGES: dict[str, str] = {"mmcv": ">=2.0.0rc1", "mmcv-full": "<2.0.0rc1"}

# How many neighbouring index pages to fetch, at most, when no wheel matches.
MAX_NEIGHBOUR_PAGES = 8
