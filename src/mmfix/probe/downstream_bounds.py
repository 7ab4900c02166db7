"""Read the mmcv version range an OpenMMLab package asserts in its ``__init__.py``, with ``ast``.

Runs INSIDE the target interpreter (Python 3.6 to 3.13): stdlib only, no f-strings with '=', no
walrus, no ``from __future__ import annotations``, no dataclasses. The file is parsed, never
imported or executed (importing mmdet imports mmcv, which may be the very thing that is broken).

Layouts handled (real files: mmdet 2.28.2 / 3.3.0, mmseg 1.2.2, and mmpretrain, mmdet3d, mmpose,
mmocr, mmaction2, which copy one of them):

* ``mmcv_minimum_version = '1.3.17'`` / ``mmcv_maximum_version = '1.8.0'`` and
  ``assert (mmcv_version >= digit_version(mmcv_minimum_version)
  and mmcv_version <= digit_version(mmcv_maximum_version))`` (mmdet 2.x: inclusive maximum);
* the same with ``<`` (mmdet 3.x: exclusive maximum, so 3.3.0 rejects mmcv 2.2.0);
* ``MMCV_MIN = '2.0.0rc4'``, ``MMCV_MAX = '2.2.0'``, ``mmcv_min_version = digit_version(MMCV_MIN)``
  and a chained ``assert (mmcv_min_version <= mmcv_version < mmcv_max_version)`` (mmseg).

The assertion decides min/max and inclusivity; when no assertion is found, names alone are used
(``*min*``/``*max*`` next to ``mmcv``) and ``max_inclusive`` is None (unknown).
"""

import ast
import sys
import warnings

_OLD_AST = sys.version_info < (3, 8)
_FLIP = {ast.Lt: ast.Gt, ast.LtE: ast.GtE, ast.Gt: ast.Lt, ast.GtE: ast.LtE}
_NEGATE = {ast.Lt: ast.GtE, ast.LtE: ast.Gt, ast.Gt: ast.LtE, ast.GtE: ast.Lt}


def _const_str(node):
    """The string a node is, for ``'1.2.3'`` on Python 3.6 (ast.Str) and 3.8+ (ast.Constant)."""
    if isinstance(node, ast.Constant) and isinstance(getattr(node, "value", None), str):
        return node.value
    if _OLD_AST and isinstance(node, ast.Str):  # Python < 3.8
        return node.s
    return None


def _is_mmcv_version_attr(node):
    """True for ``mmcv.__version__`` (or a bare ``__mmcv_version__``-like name is not accepted)."""
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "__version__"
        and isinstance(node.value, ast.Name)
        and node.value.id == "mmcv"
    )


class _Reader:
    def __init__(self, tree):
        self.strings = {}  # name -> version string ("2.2.0")
        self.aliases = {}  # name -> name or string it wraps: mmcv_max_version -> MMCV_MAX
        self.mmcv_names = set()  # names holding the installed mmcv version
        self.tree = tree

    def resolve(self, node, depth=0):
        """What a node denotes: ("mmcv", None), ("bound", "2.2.0") or (None, None)."""
        if depth > 8:
            return None, None
        if _is_mmcv_version_attr(node):
            return "mmcv", None
        text = _const_str(node)
        if text is not None:
            return "bound", text
        if isinstance(node, ast.Name):
            if node.id in self.mmcv_names:
                return "mmcv", None
            if node.id in self.strings:
                return "bound", self.strings[node.id]
            if node.id in self.aliases:
                return self.resolve(self.aliases[node.id], depth + 1)
            return None, None
        if isinstance(node, ast.Call) and len(node.args) >= 1:
            # digit_version(x), parse(x), version.parse(x), LooseVersion(x): wrappers of a version
            return self.resolve(node.args[0], depth + 1)
        return None, None

    def collect_assignments(self):
        for node in ast.walk(self.tree):
            if not isinstance(node, ast.Assign) or len(node.targets) != 1:
                continue
            target = node.targets[0]
            if not isinstance(target, ast.Name):
                continue
            text = _const_str(node.value)
            if text is not None:
                self.strings[target.id] = text
                continue
            self.aliases[target.id] = node.value
        # a second pass: names whose value resolves to mmcv.__version__
        for name, value in list(self.aliases.items()):
            kind, _ = self.resolve(value)
            if kind == "mmcv":
                self.mmcv_names.add(name)

    def comparisons(self, root, negate=False):
        """Yield (op class, bound) for each ``mmcv_version <op> bound`` under ``root``, with mmcv
        on the left; ``negate`` flips the operator (a condition that raises states the opposite)."""
        for node in ast.walk(root):
            if not isinstance(node, ast.Compare):
                continue
            operands = [node.left] + list(node.comparators)
            for i, op in enumerate(node.ops):
                left = self.resolve(operands[i])
                right = self.resolve(operands[i + 1])
                op_type = type(op)
                if op_type not in _FLIP:
                    continue
                if left[0] == "bound" and right[0] == "mmcv":
                    op_type = _FLIP[op_type]
                elif not (left[0] == "mmcv" and right[0] == "bound"):
                    continue
                bound = right[1] if left[0] == "mmcv" else left[1]
                yield (_NEGATE[op_type] if negate else op_type), bound

    def statements(self):
        """Comparisons in order of trust: ``assert`` tests, then ``if ...: raise`` conditions
        (negated), then any other comparison."""
        asserts = [n.test for n in ast.walk(self.tree) if isinstance(n, ast.Assert)]
        raising = [n.test for n in ast.walk(self.tree) if isinstance(n, ast.If)
                   and any(isinstance(b, ast.Raise) for b in n.body)]
        for test in asserts:
            for item in self.comparisons(test):
                yield item
        for test in raising:
            for item in self.comparisons(test, negate=True):
                yield item
        for item in self.comparisons(self.tree):
            yield item


def _by_name(strings):
    """Fallback when no assertion compares mmcv: MMCV_MIN / mmcv_minimum_version style names."""
    lo = hi = None
    for name, value in strings.items():
        low = name.lower()
        if "mmcv" not in low or "engine" in low:
            continue
        if "min" in low:
            lo = value
        elif "max" in low:
            hi = value
    return lo, hi


def read_mmcv_bounds(source):
    """The mmcv range a downstream package's ``__init__.py`` source asserts.

    In: the file's text. Out: ``{"min": str|None, "max": str|None, "max_inclusive": bool|None}``;
    ``min`` is inclusive in every known layout. Never raises: a file that does not parse gives
    all-None values. Source of the facts: the package's own assertion (see module docstring).
    """
    result = {"min": None, "max": None, "max_inclusive": None}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning: invalid escape sequence
            tree = ast.parse(source)
    except (SyntaxError, ValueError, TypeError):
        return result
    reader = _Reader(tree)
    reader.collect_assignments()
    for op_type, bound in reader.statements():
        if op_type in (ast.Gt, ast.GtE) and result["min"] is None:
            result["min"] = bound
        elif op_type in (ast.Lt, ast.LtE) and result["max"] is None:
            result["max"] = bound
            result["max_inclusive"] = op_type is ast.LtE
    if result["min"] is None and result["max"] is None:
        lo, hi = _by_name(reader.strings)
        result["min"] = lo
        result["max"] = hi
    return result


def read_mmcv_bounds_file(path):
    """``read_mmcv_bounds`` of the file at ``path`` (UTF-8, undecodable bytes replaced)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return {"min": None, "max": None, "max_inclusive": None}
    return read_mmcv_bounds(data.decode("utf-8", "replace"))
