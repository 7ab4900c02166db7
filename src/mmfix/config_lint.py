"""Read an mmcv / mmengine training config with ``ast``: never imported, never executed.

The config is Python: top-level assignments of literals, ``dict(...)``/``list``/``tuple`` calls,
names assigned earlier, simple arithmetic and ``{{_base_.x}}`` / ``_base_.x`` references. Anything
else (function calls, comprehensions, lambdas) becomes an ``Opaque`` value holding its source text.
``_base_`` (a path or a list of paths relative to the config's folder) is followed and merged the
way ``mmengine.Config`` / ``mmcv.Config`` does: bases in order, then the file itself on top, dicts
merged key by key unless the child dict has ``_delete_=True``, lists and other values replaced.
mmengine's pure-Python style (``with read_base(): from .._base_.x import *``) is followed too.
"""

from __future__ import annotations

import ast
import json
import operator
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmfix.errors import UsageError

MAX_DEPTH = 32  # _base_ chains deeper than this are a cycle or a mistake
_BASE_REF = re.compile(r"^\{\{\s*_base_\.([\w.]+)\s*\}\}$")
_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
           ast.Pow: operator.pow}


@dataclass(frozen=True)
class Opaque:
    """A value the linter does not evaluate (a function call, a comprehension, ...)."""

    source: str

    def __repr__(self) -> str:
        return f"<{self.source}>"


@dataclass
class Config:
    """A merged config: ``data`` (name -> value), the files read (the config first, then bases),
    the bases not read (YAML)."""

    path: str
    data: dict[str, Any]
    files: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # bases not read (YAML)

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    @property
    def style(self) -> str:
        """``"mmengine"`` (optim_wrapper / train_cfg loops / default_hooks) or ``"mmcv"``."""
        if any(k in self.data for k in ("optim_wrapper", "default_hooks", "train_dataloader")):
            return "mmengine"
        return "mmcv"


def _json_base(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"_base_ {path} is not valid JSON", str(exc), "fix the file") from exc
    if not isinstance(data, dict):
        raise UsageError(f"_base_ {path} is not a JSON object", None, "fix the file")
    return data


def _read(path: Path) -> ast.Module:
    try:
        text = path.read_bytes().decode("utf-8", "replace")
    except OSError as exc:
        raise UsageError(f"cannot read config {path}", exc.strerror or str(exc),
                         "check the path given to --config") from exc
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences in old configs
            return ast.parse(text, filename=str(path))
    except (SyntaxError, ValueError) as exc:  # ValueError: NUL bytes before Python 3.12
        lineno = getattr(exc, "lineno", None)
        where = f"line {lineno}: " if lineno else ""
        raise UsageError(f"config {path} is not valid Python",
                         where + str(getattr(exc, "msg", None) or exc),
                         "fix the file or give another --config") from exc


class _Evaluator:
    """Evaluates the literal subset of one config file's expressions."""

    def __init__(self, source: str, scope: dict[str, Any], base: dict[str, Any]) -> None:
        self.source, self.scope, self.base = source, scope, base

    def opaque(self, node: ast.AST) -> Opaque:
        return Opaque(ast.get_source_segment(self.source, node) or type(node).__name__)

    def value(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str):
                m = _BASE_REF.match(node.value)
                if m:
                    return _lookup(self.base, m.group(1), default=node.value)
            return node.value
        if isinstance(node, ast.Dict):
            out: dict[Any, Any] = {}
            for k, v in zip(node.keys, node.values):
                if k is None:  # {**other}
                    inner = self.value(v)
                    if isinstance(inner, dict):
                        out.update(inner)
                    continue
                out[self.value(k)] = self.value(v)
            return out
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            items = [self.value(e) for e in node.elts]
            return tuple(items) if isinstance(node, ast.Tuple) else items
        if isinstance(node, ast.Name):
            if node.id in self.scope:
                return self.scope[node.id]
            return {"True": True, "False": False, "None": None}.get(node.id, self.opaque(node))
        if isinstance(node, ast.Attribute):
            dotted = _dotted(node)
            if dotted and dotted.startswith("_base_."):
                return _lookup(self.base, dotted[len("_base_."):], default=self.opaque(node))
            holder = self.value(node.value)
            if isinstance(holder, dict) and node.attr in holder:
                return holder[node.attr]
            return self.opaque(node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.args and \
                node.func.id == "dict":
            return self._kwargs(node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id == "dict" and len(node.args) == 1:
            first = self.value(node.args[0])
            if isinstance(first, dict):
                return {**first, **self._kwargs(node)}
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            left, right = self.value(node.left), self.value(node.right)
            if not isinstance(left, Opaque) and not isinstance(right, Opaque):
                try:
                    return _BINOPS[type(node.op)](left, right)
                except Exception:  # noqa: BLE001 - not computable: keep as text
                    return self.opaque(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = self.value(node.operand)
            if isinstance(inner, (int, float)):
                return -inner
        if isinstance(node, ast.Subscript):
            holder, key = self.value(node.value), self.value(node.slice)
            try:
                return holder[key]
            except Exception:  # noqa: BLE001
                return self.opaque(node)
        return self.opaque(node)

    def _kwargs(self, node: ast.Call) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for kw in node.keywords:
            if kw.arg is None:
                inner = self.value(kw.value)
                if isinstance(inner, dict):
                    out.update(inner)
            else:
                out[kw.arg] = self.value(kw.value)
        return out


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _lookup(data: dict[str, Any], dotted: str, default: Any) -> Any:
    cur: Any = data
    for part in dotted.split("."):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, (list, tuple)) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return default
    return cur


def merge(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """``child`` merged into a copy of ``base`` (mmengine ``Config._merge_a_into_b``): dicts key by
    key, unless the child dict says ``_delete_=True`` (then it replaces, without that key)."""
    out = dict(base)
    for key, value in child.items():
        if isinstance(value, dict):
            value = dict(value)
            delete = value.pop("_delete_", False)
            if not delete and isinstance(out.get(key), dict):
                out[key] = merge(out[key], value)
                continue
            out[key] = _strip_delete(value)
        else:
            out[key] = value
    return out


def _strip_delete(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_delete(v) for k, v in value.items() if k != "_delete_"}
    return value


def _base_paths(node: ast.Assign, folder: Path, ev: _Evaluator) -> list[Path]:
    val = ev.value(node.value)
    names = [val] if isinstance(val, str) else list(val) if isinstance(val, (list, tuple)) else []
    return [(folder / n).resolve() for n in names if isinstance(n, str)]


def _read_base_imports(tree: ast.Module, folder: Path) -> Iterator[Path]:
    """Files named by ``with read_base(): from .._base_.x import *`` (mmengine pure-Python)."""
    for node in tree.body:
        if not isinstance(node, ast.With):
            continue
        if not any(isinstance(i.context_expr, ast.Call) and _dotted(i.context_expr.func) in
                   ("read_base", "mmengine.config.read_base") for i in node.items):
            continue
        for stmt in node.body:
            if isinstance(stmt, ast.ImportFrom) and stmt.module:
                up = folder
                for _ in range(max(stmt.level - 1, 0)):
                    up = up.parent
                yield (up / (stmt.module.replace(".", os.sep) + ".py")).resolve()


def load_config(path: str | os.PathLike[str], _depth: int = 0,
                _seen: tuple[str, ...] = ()) -> Config:
    """Parse ``path`` and its bases into one merged ``Config``.

    Raises ``UsageError`` (exit 2) for a missing/unreadable file, a syntax error, a ``_base_``
    that does not exist or a base cycle. Nothing of the config is imported or executed.
    """
    p = Path(path).resolve()
    if not p.is_file():
        raise UsageError(f"config {path} not found", None, "give the path of a training config")
    if str(p) in _seen or _depth > MAX_DEPTH:
        raise UsageError(f"config {p} inherits from itself", " -> ".join(_seen), "fix its _base_")
    tree = _read(p)
    source = p.read_bytes().decode("utf-8", "replace")
    files = [str(p)]
    skipped: list[str] = []
    merged_base: dict[str, Any] = {}
    bases: list[Path] = list(_read_base_imports(tree, p.parent))
    probe = _Evaluator(source, {}, {})
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "_base_" for t in node.targets
        ):
            bases += _base_paths(node, p.parent, probe)
    for b in bases:
        if not b.is_file():
            raise UsageError(f"_base_ {b} of {p} not found", None, "fix the _base_ path")
        if b.suffix == ".json":
            merged_base = merge(merged_base, _json_base(b))
            files.append(str(b))
            continue
        if b.suffix != ".py":  # a YAML base: read by mmengine with PyYAML; not linted here
            skipped.append(str(b))
            continue
        sub = load_config(b, _depth + 1, (*_seen, str(p)))
        merged_base = merge(merged_base, sub.data)
        files += sub.files
        skipped += sub.skipped
    scope: dict[str, Any] = dict(merged_base)  # names of bases are visible (pure-Python style)
    own: dict[str, Any] = {}
    ev = _Evaluator(source, scope, merged_base)
    for node in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = list(node.targets), node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        if value is None:
            continue
        for t in targets:
            if isinstance(t, ast.Name) and t.id != "_base_":
                val = ev.value(value)
                scope[t.id] = val
                own[t.id] = val
            elif isinstance(t, ast.Attribute):  # model.backbone.depth = 101 (pure-Python style)
                _set_dotted(scope, own, t, ev.value(value))
    return Config(str(p), merge(merged_base, own), files, skipped)


def _set_dotted(scope: dict[str, Any], own: dict[str, Any], target: ast.Attribute,
                value: Any) -> None:
    dotted = _dotted(target)
    if not dotted:
        return
    head, *rest = dotted.split(".")
    if head not in scope or not isinstance(scope[head], dict):
        return
    root = scope[head] = dict(scope[head])
    cur = root
    for part in rest[:-1]:
        nxt = cur.get(part)
        if not isinstance(nxt, dict):
            return
        cur[part] = cur = dict(nxt)
    cur[rest[-1]] = value
    own[head] = root


def walk_types(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """(type name, dotted location) for every ``type='Name'`` string in the config tree."""
    if isinstance(value, dict):
        t = value.get("type")
        if isinstance(t, str):
            yield t, where or "<root>"
        for k, v in value.items():
            yield from walk_types(v, f"{where}.{k}" if where else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from walk_types(v, f"{where}[{i}]")
