"""Exact text operations the patch engine is built on: hashing, line endings, unified diffs.

Everything here is exact. A diff applies only where every context and removed line matches at
the recorded line number (no offset, no fuzz, unlike ``patch(1)``); the engine additionally
compares the sha256 of the result with the recorded one.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


class DiffError(ValueError):
    """A diff does not apply exactly to the given text."""


def normalise(data: bytes) -> bytes:
    """The bytes with CRLF and lone CR line endings turned into LF (what hashes are taken of)."""
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def sha256_text(data: bytes) -> str:
    """sha256 (hex) of the line-ending-normalised bytes: the same for LF and CRLF copies."""
    return hashlib.sha256(normalise(data)).hexdigest()


def sha256_bytes(data: bytes) -> str:
    """sha256 (hex) of the exact bytes (used for byte-identical restore checks)."""
    return hashlib.sha256(data).hexdigest()


def line_ending(data: bytes) -> bytes:
    """The file's own line ending: ``b"\\r\\n"`` when most line breaks are CRLF, else ``b"\\n"``."""
    crlf = data.count(b"\r\n")
    lf = data.count(b"\n") - crlf
    return b"\r\n" if crlf > lf else b"\n"


def with_line_ending(normalised: bytes, eol: bytes) -> bytes:
    """LF-normalised bytes written back with ``eol`` line endings."""
    return normalised if eol == b"\n" else normalised.replace(b"\n", eol)


def make_diff(old: str, new: str, path: str, context: int = 3) -> str:
    """A unified diff (``--- a/path``/``+++ b/path``) from ``old`` to ``new`` (LF text)."""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        f"a/{path}",
        f"b/{path}",
        n=context,
    )
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


@dataclass(frozen=True)
class Hunk:
    old_start: int  # 1-based
    new_start: int
    old_lines: tuple[str, ...]
    new_lines: tuple[str, ...]


def parse_diff(diff: str) -> list[Hunk]:
    """The hunks of a one-file unified diff. Raises DiffError when it is malformed."""
    hunks: list[Hunk] = []
    old: list[str] = []
    new: list[str] = []
    start = new_start = 0
    in_hunk = False
    prev = " "
    lines = diff.splitlines(keepends=True)

    def close() -> None:
        if in_hunk:
            hunks.append(Hunk(start, new_start, tuple(old), tuple(new)))

    for line in lines:
        m = _HUNK.match(line)
        if m:
            close()
            start, new_start = int(m.group(1)), int(m.group(3))
            old, new, in_hunk = [], [], True
            continue
        if not in_hunk:  # the ---/+++ header
            continue
        if line.startswith("\\"):  # "\ No newline at end of file": strip the last line's "\n"
            for seq in (old, new) if prev == " " else (old,) if prev == "-" else (new,):
                if seq and seq[-1].endswith("\n"):
                    seq[-1] = seq[-1][:-1]
            continue
        prev = line[:1]
        body = line[1:]
        if prev == " ":
            old.append(body)
            new.append(body)
        elif prev == "-":
            old.append(body)
        elif prev == "+":
            new.append(body)
        else:
            raise DiffError(f"malformed diff line: {line!r}")
    close()
    if not hunks:
        raise DiffError("the diff has no hunks")
    return hunks


def apply_diff(text: str, diff: str, reverse: bool = False) -> str:
    """Apply a unified diff to LF text exactly (or undo it with ``reverse``).

    Raises DiffError naming the first line that differs when the text is not what the diff expects.
    """
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    pos = 0  # index into lines
    for h in parse_diff(diff):
        expect, put = (h.new_lines, h.old_lines) if reverse else (h.old_lines, h.new_lines)
        start = h.new_start if reverse else h.old_start
        idx = start - 1 if expect else start
        if idx < pos:
            raise DiffError(f"overlapping hunk at line {start}")
        out.extend(lines[pos:idx])
        for i, want in enumerate(expect):
            have = lines[idx + i] if idx + i < len(lines) else None
            if have != want:
                raise DiffError(f"line {idx + i + 1}: expected {want!r}, found {have!r}")
        out.extend(put)
        pos = idx + len(expect)
    out.extend(lines[pos:])
    return "".join(out)


def differing_lines(expected: str, actual: str, limit: int = 12) -> list[str]:
    """A short ``-expected``/``+found`` listing of where ``actual`` differs from ``expected``."""
    diff = list(
        difflib.unified_diff(
            expected.splitlines(), actual.splitlines(), "expected", "found", n=0, lineterm=""
        )
    )[2:]
    if len(diff) > limit:
        diff = diff[:limit] + [f"... ({len(diff) - limit} more lines differ)"]
    return diff
