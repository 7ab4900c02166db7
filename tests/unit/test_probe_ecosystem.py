"""Probe facts for the ecosystem checks, on real interpreters: torch's own arch list (read by
importing torch in a subprocess), yapf's version, a downstream package's first mmcv 1.x import."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from test_probe_target import INTERPRETERS, fake_site, write

from mmfix.probe import target as tp


def test_a_downstream_import_of_mmcv_runner_is_found_while_mmcv_2_is_installed(tmp_path: Path,
                                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    sp = fake_site(tmp_path)
    write(sp / "mmdet" / "apis" / "train.py", "import random\n\nfrom mmcv.runner import (HOOKS, DistSamplerSeedHook,\n")
    write(sp / "mmdet" / "core" / "utils.py", "from mmcv import Config, DictAction\n")
    write(sp / "mmdet" / "models" / "ok.py", "# from mmcv.runner import x (a comment)\nfrom mmengine.runner import Runner\n")
    write(sp / "yapf-0.40.2.dist-info" / "METADATA", "Metadata-Version: 2.1\nName: yapf\nVersion: 0.40.2\n")
    monkeypatch.setenv("PYTHONPATH", str(sp))
    for python in INTERPRETERS or [sys.executable]:  # the script runs on Python 3.6 - 3.13
        target, _, _, downstream = tp.parse_target(tp.run_target_probe(python))
        mmdet = next(d for d in downstream if d.name == "mmdet")
        assert mmdet.mmcv1x_import == "mmdet/apis/train.py:3: from mmcv.runner import (HOOKS, DistSamplerSeedHook,"
        assert target.packages["yapf"] == "0.40.2"
    # under mmcv 1.x these imports are right: not looked for
    di = sp / "mmcv-2.2.0.dist-info"
    di.rename(sp / "mmcv-1.7.2.dist-info")
    write(sp / "mmcv-1.7.2.dist-info" / "METADATA", "Metadata-Version: 2.1\nName: mmcv\nVersion: 1.7.2\n")
    _, _, _, downstream = tp.parse_target(tp.run_target_probe(sys.executable))
    assert next(d for d in downstream if d.name == "mmdet").mmcv1x_import is None


@pytest.mark.parametrize(
    ("init", "archs"),
    [("class _C:\n    @staticmethod\n    def _cuda_getArchFlags():\n        return 'sm_50 sm_86 sm_90 compute_90'\n",
      ("sm_50", "sm_86", "sm_90", "compute_90")),
     ("class _C:\n    @staticmethod\n    def _cuda_getArchFlags():\n        return None\n", None),  # a CPU build
     ("class _C:\n    pass\n", None),  # torch < 1.7 cannot say
     ("raise ImportError('libcudart.so.12: cannot open shared object file')\n", None)],
)
def test_torch_arch_list_is_read_in_the_target_interpreter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           init: str, archs: tuple[str, ...] | None) -> None:
    write(tmp_path / "site" / "torch" / "__init__.py", init)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))
    assert tp.torch_arch_list(sys.executable) == archs
