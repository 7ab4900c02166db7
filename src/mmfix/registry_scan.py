"""Which type names a package registers, found statically (``ast``; nothing imported).

mmcv/mmengine registries fill when a module is imported: ``@MODELS.register_module()`` on a
class, ``@DETECTORS.register_module(name='X')``,
``NORM_LAYERS.register_module('BN', module=nn.BatchNorm2d)``,
``for m in [nn.ReLU, ...]: ACTIVATION_LAYERS.register_module(module=m)``. This module finds
those names in files, in whole installed packages, and in ``custom_imports`` modules with what
they import. The registry a name lands in is not tracked: registered anywhere counts.
"""

from __future__ import annotations

import ast
import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# Registered dynamically (loops over torch.optim in mmcv's register_torch_optimizers and mmengine's
# optimizer builder), so static scanning cannot see them: torch.optim's optimizer class names.
TORCH_OPTIMIZERS: frozenset[str] = frozenset({
    "ASGD", "Adadelta", "Adafactor", "Adagrad", "Adam", "AdamW", "Adamax", "LBFGS", "NAdam",
    "RAdam", "RMSprop", "Rprop", "SGD", "SparseAdam",
})
MAX_FILES = 5000  # per package: a safety limit for huge trees


def _parse(source: str) -> ast.Module:
    """``ast.parse`` without the SyntaxWarnings old sources raise (invalid escape sequences)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(source)


def _name_of(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _strings(node: ast.AST | None) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.List, ast.Tuple)):
        return [e.value for e in node.elts
                if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return []


def _is_register(call: ast.AST) -> bool:
    func = call.func if isinstance(call, ast.Call) else call
    return isinstance(func, ast.Attribute) and func.attr in ("register_module", "_register_module")


def _loop_elements(tree: ast.Module) -> dict[str, list[str]]:
    """Loop variable -> element names, for ``for m in [nn.ReLU, nn.GELU]:`` loops."""
    out: dict[str, list[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.For) and isinstance(node.target, ast.Name) and \
                isinstance(node.iter, (ast.List, ast.Tuple)):
            out[node.target.id] = [n for n in map(_name_of, node.iter.elts) if n]
    return out


def names_in_source(source: str) -> set[str]:
    """Type names registered by one file's source text; empty for a file that does not parse."""
    if "register_module" not in source:
        return set()
    try:
        tree = _parse(source)
    except (SyntaxError, ValueError):
        return set()
    found: set[str] = set()
    loops = _loop_elements(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for deco in node.decorator_list:
                if not _is_register(deco):
                    continue
                given: list[str] = []
                if isinstance(deco, ast.Call):
                    given = _strings(deco.args[0]) if deco.args else []
                    for kw in deco.keywords:
                        if kw.arg == "name":
                            given = _strings(kw.value)
                found.update(given or [node.name])
        elif isinstance(node, ast.Call) and _is_register(node):
            kws = {kw.arg: kw.value for kw in node.keywords if kw.arg}
            given = _strings(kws.get("name") or kws.get("module_name") or
                             (node.args[0] if node.args else None))
            module = kws.get("module") or (node.args[1] if len(node.args) > 1 else None)
            if given:
                found.update(given)
            elif module is not None:
                mname = _name_of(module)
                if isinstance(module, ast.Name) and mname in loops:
                    found.update(loops[mname])
                elif mname:
                    found.add(mname)
    return found


@lru_cache(maxsize=4096)
def _file_names(path: str, mtime: float) -> frozenset[str]:
    try:
        text = Path(path).read_bytes().decode("utf-8", "replace")
    except OSError:
        return frozenset()
    return frozenset(names_in_source(text))


def names_in_file(path: Path) -> frozenset[str]:
    """``names_in_source`` of a file (cached by path and modification time)."""
    try:
        return _file_names(str(path), path.stat().st_mtime)
    except OSError:
        return frozenset()


_SKIP_DIRS = {"__pycache__", "node_modules", "site-packages", "dist-packages", "build", "data"}


def py_files(root: Path, limit: int = MAX_FILES) -> Iterator[Path]:
    """``*.py`` under ``root`` (sorted, hidden and build/data folders skipped, at most ``limit``);
    folders that vanish or cannot be read while walking are skipped."""
    count = 0
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
        for name in sorted(files):
            if name.endswith(".py"):
                count += 1
                if count > limit:
                    return
                yield Path(folder, name)


def names_in_tree(root: Path) -> dict[str, str]:
    """Every name registered under a package folder -> the file registering it."""
    out: dict[str, str] = {}
    for f in py_files(root):
        for n in names_in_file(f):
            out.setdefault(n, str(f))
    return out


@dataclass(frozen=True)
class ImportScan:
    """What a ``custom_imports`` list registers, and the modules that could not be found."""

    names: dict[str, str]  # type name -> file
    missing_modules: tuple[str, ...]


def module_file(module: str, roots: Iterable[Path]) -> Path | None:
    """``a.b.c`` -> ``<root>/a/b/c.py`` or ``<root>/a/b/c/__init__.py`` under the first root."""
    rel = Path(*module.split("."))
    for root in roots:
        for cand in (root / rel.with_suffix(".py"), root / rel / "__init__.py"):
            if cand.is_file():
                return cand
    return None


def _imports_of(path: Path, module: str) -> list[str]:
    """Absolute module names a file imports (relative imports resolved against ``module``)."""
    try:
        tree = _parse(path.read_bytes().decode("utf-8", "replace"))
    except (OSError, SyntaxError, ValueError):
        return []
    is_pkg = path.name == "__init__.py"
    parts = module.split(".") if is_pkg else module.split(".")[:-1]
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                prefix = ".".join([*base, node.module] if node.module else base)
            else:
                prefix = node.module or ""
            if prefix:
                out.append(prefix)
                out += [f"{prefix}.{a.name}" for a in node.names if a.name != "*"]
    return out


def scan_imports(modules: Iterable[str], roots: list[Path]) -> ImportScan:
    """Follow ``modules`` and what they import inside ``roots`` (breadth first) and collect the
    names they register. A listed module found in no root is reported missing; imports outside the
    top-level packages of the listed modules (torch, numpy, ...) are not followed."""
    names: dict[str, str] = {}
    missing: list[str] = []
    queue = list(modules)
    listed = set(queue)
    tops = {m.split(".")[0] for m in listed}
    seen: set[str] = set()
    while queue:
        mod = queue.pop(0)
        if mod in seen:
            continue
        seen.add(mod)
        path = module_file(mod, roots)
        if path is None:
            if mod in listed:
                missing.append(mod)
            continue
        for n in names_in_file(path):
            names.setdefault(n, str(path))
        queue += [m for m in _imports_of(path, mod) if m not in seen and m.split(".")[0] in tops]
    return ImportScan(names, tuple(missing))


def ops_names(mmcv_dir: Path) -> set[str]:
    """``__all__`` of ``mmcv/ops/__init__.py``: ops a config names by ``type`` that downstream code
    resolves with ``getattr(mmcv.ops, type)`` instead of a registry (``nms``, ``RoIAlign``)."""
    init = mmcv_dir / "ops" / "__init__.py"
    try:
        tree = _parse(init.read_bytes().decode("utf-8", "replace"))
    except (OSError, SyntaxError, ValueError):
        return set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return set(_strings(node.value))
    return set()


def package_dirs(locations: Iterable[str | None]) -> list[Path]:
    """Existing package folders among ``locations`` (duplicates removed, order kept)."""
    out: list[Path] = []
    for loc in locations:
        if loc and os.path.isdir(loc) and Path(loc).resolve() not in out:
            out.append(Path(loc).resolve())
    return out
