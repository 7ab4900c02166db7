"""knowledge.torch_arch and knowledge.runtime's NumPy fact against the real torch wheels on PyPI.

Compared: ``_get_cuda_arch_flags`` of ``torch/utils/cpp_extension.py`` in every final torch release from
1.3.0 (the table's first row) to the newest on PyPI (48 releases, 1.3.0-2.15.0, when written): its
``named_arches`` (order included), ``supported_arches``, whether it accepts "native" and whether an
unset list loops over the visible GPUs; and whether ``libtorch_python`` imports NumPy 2's
``numpy._core`` in the last release before and the first release from ``TORCH_FIRST_NUMPY2``; and the
C++ standard ``ATen/ATen.h`` requires (from 1.7.0) with knowledge.cxx.TORCH_REQUIRES.
Only the members are read (HTTP range requests, macOS wheels preferred).
Cost (measured here, 2 cores): cold ~12 s and ~80 MB read (48 x ~1.4 MB central directories and
cpp_extension.py, 2 x ~6 MB libtorch_python); the cache keeps 48 x ~100 KB; warm ~2 s (parsing).
"""

from __future__ import annotations

import ast
import re

import pytest
from knowledge_artifacts import fetch_all, final_versions, wheel_member_has, wheel_members
from packaging.version import Version

from mmfix.knowledge.cxx import torch_requires
from mmfix.knowledge.runtime import TORCH_FIRST_NUMPY2
from mmfix.knowledge.torch_arch import (
    NATIVE_SINCE,
    TORCH_ARCH_TABLE,
    UNSET_NEEDS_GPU_SINCE,
    named_arches,
    supported_arches,
)

pytestmark = pytest.mark.e2e
PREFER = ("macosx", "manylinux")  # the macOS wheels are the small ones; the files are the same
CPP_EXTENSION = "torch/utils/cpp_extension.py"
ATEN_H = "torch/include/ATen/ATen.h"


def _arch_flags(source: str) -> dict[str, object]:
    """What ``_get_cuda_arch_flags`` holds, read with ast (never imported)."""
    fn = next(n for n in ast.walk(ast.parse(source))
              if isinstance(n, ast.FunctionDef) and n.name == "_get_cuda_arch_flags")
    out: dict[str, object] = {}
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id == "named_arches":  # collections.OrderedDict([...])
                out["named"] = [tuple(p) for p in ast.literal_eval(node.value.args[0])]  # type: ignore[attr-defined]
            elif node.targets[0].id == "supported_arches":
                out["supported"] = ast.literal_eval(node.value)
    out["native"] = any(isinstance(n, ast.Constant) and n.value == "native" for n in ast.walk(fn))
    out["loops_gpus"] = any(isinstance(n, ast.Attribute) and n.attr == "device_count" for n in ast.walk(fn))
    return out


def test_torch_arch_table_matches_every_torch_release_on_pypi():
    first = TORCH_ARCH_TABLE[0][0]
    versions = final_versions("torch", first)
    files = fetch_all(lambda v: wheel_members("torch", v, [CPP_EXTENSION, ATEN_H], PREFER), versions)
    wrong, standards = [], 0
    for version, (source, aten) in zip(versions, files):
        assert source is not None, f"torch {version}: no torch/utils/cpp_extension.py"
        real = _arch_flags(source.decode())
        v = Version(version)
        mine = {
            "named": list(named_arches(version).items()),
            "supported": list(supported_arches(version)),
            "native": v >= Version(NATIVE_SINCE),
            "loops_gpus": v >= Version(UNSET_NEEDS_GPU_SINCE),
        }
        wrong += [f"torch {version} {key}: table {mine[key]} != real {real[key]}" for key in mine if mine[key] != real[key]]
        required = re.search(rb"#error C\+\+(\d+) or later compatible compiler is required to use ATen", aten or b"")
        if required:  # ATen.h states it from 1.7 on
            standards += 1
            if torch_requires(version) != int(required.group(1)):
                wrong.append(f"torch {version}: knowledge.cxx says C++{torch_requires(version)}, ATen.h C++{int(required.group(1))}")
    print(f"\ncompared {len(versions)} torch releases {versions[0]} ... {versions[-1]} with knowledge.torch_arch, "
          f"{standards} of them with knowledge.cxx's C++ standard")
    assert standards >= 42
    assert len(versions) >= 48
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(("side", "numpy2"), [("before", False), ("first", True)])
def test_first_torch_built_against_numpy_2(side, numpy2):
    """NumPy 2's headers make ``import_array`` try ``numpy._core._multiarray_umath``; NumPy 1's never do."""
    versions = final_versions("torch", "2.0")
    first = min((v for v in versions if Version(v) >= Version(TORCH_FIRST_NUMPY2)), key=Version)
    version = first if side == "first" else max((v for v in versions if Version(v) < Version(first)), key=Version)
    imports_numpy2 = wheel_member_has("torch", version, "torch/lib/libtorch_python.dylib",
                                      b"numpy._core._multiarray_umath", ("macosx",))
    assert imports_numpy2 is numpy2, f"torch {version}"
