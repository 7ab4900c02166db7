"""knowledge.torch_arch against torch's own cpp_extension.py where a real torch is on this disk."""

from __future__ import annotations

import ast
import zipfile
from pathlib import Path

import pytest

from mmfix.knowledge.torch_arch import TORCH_ARCH_TABLE, named_arches, supported_arches


def _tables(source: str) -> tuple[dict[str, str], list[str]]:
    """named_arches and supported_arches literals of _get_cuda_arch_flags, read with ast."""
    tree = ast.parse(source)
    fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "_get_cuda_arch_flags")
    named: dict[str, str] = {}
    supported: list[str] = []
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name == "named_arches":
                named = dict(ast.literal_eval(node.value.args[0]))  # type: ignore[attr-defined]
            elif name == "supported_arches":
                supported = ast.literal_eval(node.value)
    return named, supported


def _real_sources() -> list[tuple[str, str]]:
    found = []
    for whl in sorted(Path("/opt/wheels").glob("torch-*.whl")):
        with zipfile.ZipFile(whl) as zf:
            found.append((whl.name.split("-")[1], zf.read("torch/utils/cpp_extension.py").decode()))
    for cpp in sorted(Path.home().glob(".cache/mmfix-tests/*/lib/python3*/site-packages/torch/utils/cpp_extension.py")):
        version = (cpp.parents[1] / "version.py").read_text().split("__version__ = '")[1].split("'")[0]
        found.append((version, cpp.read_text()))
    return found


@pytest.mark.parametrize(("version", "source"), _real_sources() or [pytest.param("", "", marks=pytest.mark.skip("no torch on disk"))])
def test_table_matches_real_torch(version, source):
    named, supported = _tables(source)
    assert named_arches(version) == named
    assert set(supported_arches(version)) == set(supported)


def test_rows_are_in_version_order_and_names_keep_combined_first():
    from packaging.version import Version

    versions = [Version(r[0]) for r in TORCH_ARCH_TABLE]
    assert versions == sorted(versions)
    for _, names, _ in TORCH_ARCH_TABLE:
        keys = [k for k, _ in names]
        for i, k in enumerate(keys):
            if "+" in k:  # torch replaces by substring: "Kepler+Tesla" must come before "Kepler"
                base = k.split("+")[0]
                assert base not in keys[:i]
