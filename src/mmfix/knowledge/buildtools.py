"""Facts about the tools around an mmcv build: the gcc releases mmcv's FAQ warns about, and the
setuptools release that removed ``pkg_resources``. Plain data without imports: ``mmfix explain``
reads it at start-up.
"""

from __future__ import annotations

# mmcv's FAQ (shared/seed/mmcv-faq.md, "Segmentation fault"): "use GCC >= 5.4 ... avoid using GCC 5.5,
# many feedbacks report that GCC 5.5 will cause segmentation fault". (major, minor)
GCC_FAQ_MIN = (5, 4)
GCC_FAQ_AVOID = ((5, 5),)
GCC_FAQ_RULE = "gcc >= 5.4, not 5.5"  # the advice
GCC_FAQ_CAUSES = "gcc < 5.4 and 5.5"  # the same, as causes
# torch 1.x's c10/util/C++17.h: "You're running a too old version of GCC. We need GCC 5 or later."
GCC_TORCH_MIN_MAJOR = 5

# pkg_resources, which the setup.py of every mmcv release imports, ships in setuptools up to 81.x and
# is gone from 82.0.0 (the setuptools wheels: tests/e2e/test_knowledge_artifacts_tools.py).
SETUPTOOLS_WITHOUT_PKG_RESOURCES = "82.0.0"
# The setuptools to pin instead of patching setup.py: below 82, and at least torch 2.13's own floor
# (its METADATA: "Requires-Dist: setuptools>=77.0.3").
SETUPTOOLS_PIN = "setuptools>=77,<82"
# The one remedy doctor and explain name: mmfix rebuild always applies the setup.py patch
# (patching: setuptools-no-pkg-resources) and builds without isolation.
SETUPTOOLS_FIX = (
    "`mmfix rebuild` (patches setup.py's pkg_resources imports in its build copy and builds without "
    f'isolation); or `pip install "{SETUPTOOLS_PIN}"` and build with --no-build-isolation'
)


def gcc_faq_problem(major: int, minor: int) -> str | None:
    """Why mmcv's FAQ advises against gcc ``major.minor``, or None when it does not.

    Out: "older than 5.4" or "5.5, which the FAQ links to segfaults" (see GCC_FAQ_*).
    """
    if (major, minor) < GCC_FAQ_MIN:
        return f"older than {GCC_FAQ_MIN[0]}.{GCC_FAQ_MIN[1]}"
    if (major, minor) in GCC_FAQ_AVOID:
        return f"{major}.{minor}, which the FAQ links to segfaults"
    return None
