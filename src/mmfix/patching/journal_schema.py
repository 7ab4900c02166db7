"""The journal file's schema, checked before any entry is used (a journal is data from outside).

``mmfix.journal/1``::

    {"schema": "mmfix.journal/1", "root": "<the tree, informational>",
     "writer": {"user": "...", "host": "..."},            # informational, never trusted
     "entries": [<entry>, ...]}

A ``file`` entry (a patched file; paths relative to the tree, ``/``-separated)::

    {"entry": "<id>", "kind": "file", "path": "include/x.h", "patch_id": "...",
     "before_bytes_sha256": "<hex>", "after_bytes_sha256": "<hex>", "backup": "backups/<name>",
     optional: "value", "state", "before_sha256", "after_sha256", "mmfix_version", "time",
     "link" (the symlink's text when ``path`` is a symlink) and "link_target" (the file it points
     to, relative to the tree)}

An ``install`` entry (in the per-user install journal; restored by ``mmfix.builder.install``)::

    {"entry": "<id>", "kind": "install", "python": "...",
     "previous": [{"name": "...", "version": "...", "location": "...", "archive": "..." | null}]}

Fields added by newer mmfix versions are allowed (JSON documents add fields, never rename).
Everything else (another schema, a wrong type, a missing key, an unknown kind, an absolute or
``..`` path, a backup outside ``backups/``, a file over ``MAX_JOURNAL_BYTES``, nesting deeper than
``MAX_DEPTH``) raises ``JournalInvalid`` naming the entry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from mmfix.patching.safefs import UnsafePath, check_relative

SCHEMA = "mmfix.journal/1"
MAX_JOURNAL_BYTES = 4 * 1024 * 1024  # ~8,000 entries; a real journal holds a handful
MAX_ENTRIES = 10_000
MAX_DEPTH = 8  # document 1, entries 2, entry 3, install "previous" 4, its items 5
MAX_STRING = 4096

_HEX64 = re.compile(r"[0-9a-f]{64}")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_BACKUP = re.compile(r"backups/[A-Za-z0-9][A-Za-z0-9._-]{0,200}")


class JournalInvalid(ValueError):
    """The journal does not match its schema. ``entry``: "entry 3 (id 1a2b3c)" or None for the
    document itself; ``str()`` is the reason."""

    def __init__(self, reason: str, entry: str | None = None) -> None:
        super().__init__(reason)
        self.entry = entry


def _depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` in JSON ``text`` (strings skipped), without parsing it:
    ``json.loads`` recurses per level and must not see a 100,000-deep document."""
    outside = re.sub(r'"(?:[^"\\]|\\.)*"', "", text)
    depth = deepest = 0
    for m in re.finditer(r"[\[\]{}]", outside):
        depth += 1 if m.group() in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def parse(data: bytes) -> dict[str, Any]:
    """The journal document in ``data`` after the document-level checks (size, depth, JSON,
    schema, ``entries`` a list of at most ``MAX_ENTRIES``). Raises JournalInvalid."""
    if len(data) > MAX_JOURNAL_BYTES:
        raise JournalInvalid(f"it is {len(data)} bytes, more than the {MAX_JOURNAL_BYTES} a journal may have")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JournalInvalid(f"it is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if _depth(text) > MAX_DEPTH:
        raise JournalInvalid(f"it is nested deeper than {MAX_DEPTH} levels")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise JournalInvalid(f"it is not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise JournalInvalid(f"it is a JSON {type(doc).__name__}, not an object")
    if doc.get("schema") != SCHEMA:
        raise JournalInvalid(f"its schema is {doc.get('schema')!r}, not {SCHEMA!r}")
    entries = doc.get("entries")
    if not isinstance(entries, list):
        raise JournalInvalid(f"'entries' is {_kind(entries)}, not a list")
    if len(entries) > MAX_ENTRIES:
        raise JournalInvalid(f"it has {len(entries)} entries, more than {MAX_ENTRIES}")
    for key in ("root",):
        if key in doc and not isinstance(doc[key], str):
            raise JournalInvalid(f"'{key}' is {_kind(doc[key])}, not a string")
    for i, entry in enumerate(entries, 1):
        check_entry(entry, i)
    return doc


def _kind(value: object) -> str:
    return "missing" if value is None else f"a {type(value).__name__}"


def _string(value: object) -> bool:
    return isinstance(value, str) and len(value) <= MAX_STRING and "\x00" not in value


def _optional(check: Callable[[object], bool]) -> Callable[[object], bool]:
    return lambda v: v is None or check(v)


def _rel_path(value: object) -> bool:
    try:
        check_relative(value)
    except UnsafePath:
        return False
    return _string(value)


def _entry_id(value: object) -> bool:
    return isinstance(value, str) and bool(_ID.fullmatch(value))


def _hex64(value: object) -> bool:
    return isinstance(value, str) and bool(_HEX64.fullmatch(value))


def _backup(value: object) -> bool:
    return isinstance(value, str) and bool(_BACKUP.fullmatch(value)) and ".." not in value


def _previous(value: object) -> bool:
    return isinstance(value, list) and all(
        isinstance(p, dict)
        and all(_string(p.get(k)) for k in ("name", "version", "location"))
        and _optional(_string)(p.get("archive"))
        for p in value
    )


# kind -> {key: (required, check, what it must be)}
_FIELDS: dict[str, dict[str, tuple[bool, Callable[[object], bool], str]]] = {
    "file": {
        "path": (True, _rel_path, "a relative path inside the tree (no '..', not absolute)"),
        "patch_id": (True, _entry_id, "a patch id"),
        "before_bytes_sha256": (True, _hex64, "a sha256 (64 hex digits)"),
        "after_bytes_sha256": (True, _hex64, "a sha256 (64 hex digits)"),
        "backup": (True, _backup, "a file in the journal's own backups/ folder"),
        "before_sha256": (False, _optional(_hex64), "a sha256 or null"),
        "after_sha256": (False, _optional(_hex64), "a sha256 or null"),
        "value": (False, _optional(_string), "a string or null"),
        "state": (False, _string, "a string"),
        "link": (False, _optional(_string), "a symlink's text or null"),
        "link_target": (False, _optional(_rel_path), "a relative path inside the tree or null"),
    },
    "install": {
        "python": (True, _string, "the target interpreter's path"),
        "previous": (True, _previous, "a list of saved installs (name, version, location, archive)"),
        "patch_id": (False, _string, "a string"),
    },
}
_COMMON: dict[str, tuple[bool, Callable[[object], bool], str]] = {
    "entry": (True, _entry_id, "an entry id"),
    "mmfix_version": (False, _string, "a string"),
    "time": (False, _string, "a string"),
}


def entry_label(entry: object, index: int) -> str:
    """"entry 3 (id 1a2b3c)" for messages; the id only when it is a sane one."""
    eid = entry.get("entry") if isinstance(entry, dict) else None
    return f"entry {index}" + (f" (id {eid})" if _entry_id(eid) else "")


def check_entry(entry: object, index: int) -> None:
    """Check one entry (``index`` counts from 1, for the message). Raises JournalInvalid."""
    label = entry_label(entry, index)
    if not isinstance(entry, dict):
        raise JournalInvalid(f"it is {_kind(entry)}, not an object", label)
    kind = entry.get("kind")
    if kind not in _FIELDS:
        raise JournalInvalid(f"its kind {kind!r} is not one of {', '.join(sorted(_FIELDS))}", label)
    for key, (required, ok, what) in {**_COMMON, **_FIELDS[str(kind)]}.items():
        if key not in entry:
            if required:
                raise JournalInvalid(f"it has no '{key}'", label)
            continue
        if not ok(entry[key]):
            shown = repr(entry[key])
            raise JournalInvalid(f"its '{key}' {shown[:80]} is not {what}", label)
    if ("link" in entry) != ("link_target" in entry):
        raise JournalInvalid("it has only one of 'link' and 'link_target'", label)
