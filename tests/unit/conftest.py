"""Unit tests: their helper modules import each other by name; and no unit test reads this machine's
own pip cache (a real ``pip install mmcv`` elsewhere leaves an ops-less wheel there, which the probe
of a test's interpreter would then report)."""

import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True, scope="session")
def _own_pip_cache() -> object:
    with tempfile.TemporaryDirectory(prefix="mmfix-unit-pip-cache-") as folder, pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIP_CACHE_DIR", folder)
        yield folder
