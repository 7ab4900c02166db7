"""The versioned patch data shipped in ``patches/`` (the package ``mmfix._patches`` when installed).

One JSON file per patch (catalog id) and target::

    {"id": "torch-header-all-slots", "target": "torch", "versions": ">=1.5,<1.6",
     "path": "include/torch/csrc/jit/api/module.h", "title": "...", "param": null,
     "variants": [{"original": "<sha256>", "patched": "<sha256>" | {"<value>": "<sha256>"},
                   "diff": "<unified diff>", "sources": ["torch 1.5.0 wheel", ...],
                   "value": "<only for this parameter value>"}],
     "hand_edits": [{"sha256": "...", "diff": "<diff from original to the hand edit>",
                     "label": "FAQ: static bool all_slots = false;", "variant": 0,
                     "compiles": false}]}

Hashes are sha256 of the line-ending-normalised file (``textdiff.sha256_text``), taken from the
real released files by ``scripts/generate_patches.py``. A parametrised patch (``param``: e.g.
``THREADS_PER_BLOCK``) writes ``@MMFIX:<param>@`` in its diff where the value goes and records
the result hash per allowed value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from mmfix.errors import MmfixError

PLACEHOLDER = "@MMFIX:{}@"


@dataclass(frozen=True)
class Variant:
    """One released original file and how the patch changes it."""

    original: str  # sha256 of the released file (normalised line endings)
    patched: Mapping[str, str]  # param value ("" when unparametrised) -> sha256 of the result
    diff: str  # unified diff, with PLACEHOLDER where the parameter value goes
    sources: tuple[str, ...] = ()  # the releases this file was taken from
    value: str | None = None  # only for this parameter value (None: every value)

    @property
    def not_needed(self) -> bool:
        """The released file needs no change for this patch (its diff is empty)."""
        return not self.diff

    def diff_for(self, param: str | None, value: str | None) -> str:
        """The concrete diff for parameter ``value`` (the diff itself when unparametrised)."""
        if param is None:
            return self.diff
        return self.diff.replace(PLACEHOLDER.format(param), str(value))


@dataclass(frozen=True)
class HandEdit:
    """A known hand edit of a released file (the FAQ's variants): repaired to the patched form."""

    sha256: str
    diff: str  # from the variant's original to the hand-edited file
    label: str
    variant: int  # index into the patch's variants
    compiles: bool = False  # whether nvcc+MSVC accept the hand-edited file (the FAQ's cast does)


@dataclass(frozen=True)
class Patch:
    """One versioned repair of one file (``path`` relative to the target root)."""

    id: str
    target: str  # "torch" (root: the torch package folder) or "mmcv" (root: the source tree)
    versions: SpecifierSet
    path: str
    title: str
    variants: tuple[Variant, ...]
    hand_edits: tuple[HandEdit, ...] = ()
    param: str | None = None
    values: tuple[str, ...] = ()  # allowed parameter values
    order: int = 0  # application order among patches of the same file
    extra: Mapping[str, Any] = field(default_factory=dict)

    def applies_to(self, version: str) -> bool:
        """Whether the target ``version`` (e.g. torch "1.5.0+cu101", mmcv "1.7.2") is covered."""
        try:
            v = Version(version)
        except InvalidVersion:
            return False
        return self.versions.contains(Version(v.base_version), prereleases=True)

    def variant_by_original(self, sha: str, value: str = "") -> Variant | None:
        """The variant for the released file ``sha`` (and parameter ``value``), if known."""
        return next(
            (
                v
                for v in self.variants
                if v.original == sha and (v.value is None or v.value == value)
            ),
            None,
        )

    def patched_hashes(self) -> dict[str, tuple[Variant, str]]:
        """Every known patched result (changed files only): sha256 -> (variant, parameter value)."""
        return {
            h: (v, val)
            for v in self.variants
            if not v.not_needed
            for val, h in v.patched.items()
            if h != v.original
        }


def _load_one(doc: Mapping[str, Any]) -> Patch:
    variants = tuple(
        Variant(
            original=v["original"],
            patched=v["patched"] if isinstance(v["patched"], dict) else {"": v["patched"]},
            diff=v["diff"],
            sources=tuple(v.get("sources", ())),
            value=v.get("value"),
        )
        for v in doc["variants"]
    )
    edits = tuple(
        HandEdit(
            e["sha256"], e["diff"], e["label"], int(e.get("variant", 0)), bool(e.get("compiles"))
        )
        for e in doc.get("hand_edits", ())
    )
    return Patch(
        id=doc["id"],
        target=doc["target"],
        versions=SpecifierSet(doc["versions"]),
        path=doc["path"],
        title=doc["title"],
        variants=variants,
        hand_edits=edits,
        param=doc.get("param"),
        values=tuple(str(x) for x in doc.get("values", ())),
        order=int(doc.get("order", 0)),
        extra=doc.get("extra", {}),
    )


def _patch_files(target: str | None) -> list[tuple[str, str]]:
    """(name, text) of each patch JSON under ``<target>/`` (all when None): the installed
    ``mmfix._patches``, else the repository's patches/ folder."""
    found: list[tuple[str, str]] = []
    try:
        root = resources.files("mmfix._patches")
        stack = [root.joinpath(target)] if target else [root]
        while stack:
            node = stack.pop()
            if not node.is_dir():
                continue
            for child in node.iterdir():
                if child.is_dir():
                    stack.append(child)
                elif child.name.endswith(".json"):
                    found.append((child.name, child.read_text(encoding="utf-8")))
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        found = []
    if not found:
        repo = Path(__file__).resolve().parents[3] / "patches"
        base = repo / target if target else repo
        found = [(p.name, p.read_text(encoding="utf-8")) for p in sorted(base.rglob("*.json"))]
    return sorted(found)


@lru_cache(maxsize=4)
def load_all(target: str | None = None) -> tuple[Patch, ...]:
    """Every shipped patch (of ``target``, "torch" or "mmcv", when given; the patch files live in
    ``patches/<target>/``), in a stable order. Raises MmfixError when the data is unreadable."""
    patches = []
    for name, text in _patch_files(target):
        try:
            patches.append(_load_one(json.loads(text)))
        except (KeyError, ValueError, TypeError) as exc:
            raise MmfixError(
                f"the patch data file {name} is unreadable",
                f"{type(exc).__name__}: {exc}",
                "reinstall mmfix",
            ) from exc
    return tuple(sorted(patches, key=lambda p: (p.target, p.path, p.order, p.id)))


def by_id(patch_id: str) -> Patch | None:
    return next((p for p in load_all() if p.id == patch_id), None)


def select(target: str, version: str, ids: tuple[str, ...] | None = None) -> list[Patch]:
    """The patches for ``target`` ("torch"/"mmcv") whose version specifier contains ``version``."""
    return [
        p
        for p in load_all(target)
        if p.target == target and p.applies_to(version) and (ids is None or p.id in ids)
    ]
