"""Stream a log of any size and hand on only the lines worth matching ("candidates").

Files are read in binary chunks (``CHUNK`` bytes), never whole. A cheap prefilter finds the
anchor strings of ``signatures.ANCHORS`` with ``bytes.find`` over each chunk (C speed); only
the lines holding one are decoded and passed on, with a few preceding lines as context and,
after the start of a pasted environment report, the report's lines. Memory stays flat in the
file size: one chunk, its carried-over partial line, and the candidates.

Decoding is per line: UTF-8, then cp936/GBK (Chinese-locale Windows consoles), then cp1252
with replacement characters, so undecodable bytes never stop the scan. Line endings may be
LF, CRLF or CR-LF mixes. A UTF-16 file (PowerShell's ``>`` redirection) is recognised by its
BOM and read as text. Binary junk (NUL bytes, many control bytes) raises ``NotALog``.
"""

from __future__ import annotations

import codecs
import io
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

CHUNK = 1 << 23  # 8 MiB per read
SAMPLE = 1 << 16  # bytes looked at to tell text from binary junk
MAX_LINE = 1 << 20  # a "line" longer than this is cut (a log without newlines)
BEFORE_LINES = 8  # preceding lines kept as context for each candidate
REPORT_LINES = 200  # lines passed on after the start of an environment report
CONTROL_RATIO = 0.05  # more control bytes than this in the sample: not text

_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27))


class NotALog(Exception):
    """The input holds no log text (empty, or binary data)."""


@dataclass(frozen=True)
class Candidate:
    """One line to match: its 1-based number, its decoded text (no line ending), context."""

    line: int
    text: str
    before: tuple[str, ...] = ()  # up to BEFORE_LINES preceding lines, oldest first
    report: bool = False  # within the lines that follow the start of a pasted environment report
    anchor: bool = True  # holds an anchor (else passed on only as a report line)


def decode_line(raw: bytes) -> str:
    """Decode one line: UTF-8, else cp936/GBK, else cp1252 with replacements. Never raises."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gbk")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def sniff(sample: bytes) -> str:
    """Classify the first bytes of an input: ``"empty"``, ``"utf-16"``, ``"binary"`` or ``"bytes"``.

    ``"bytes"`` means an ASCII-compatible text (UTF-8, GBK, cp1252 ...), read line by line.
    """
    if not sample.strip():
        return "empty"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in sample:
        return "binary"
    controls = sum(sample.count(bytes([c])) for c in _CONTROL)
    if controls > CONTROL_RATIO * len(sample):
        return "binary"
    return "bytes"


def _line_bounds(data: bytes, pos: int) -> tuple[int, int]:
    start = data.rfind(b"\n", 0, pos) + 1
    end = data.find(b"\n", pos)
    return start, (len(data) if end == -1 else end)


def _strip_eol(raw: bytes) -> bytes:
    return raw.rstrip(b"\r\n")


def _before(data: bytes, start: int, prev_tail: list[bytes], n: int) -> tuple[str, ...]:
    """The ``n`` lines before the line starting at ``start`` (reaching into the previous chunk)."""
    lines: list[bytes] = []
    end = start
    while len(lines) < n and end > 0:
        s = data.rfind(b"\n", 0, end - 1) + 1
        lines.append(data[s:end])
        end = s
    if len(lines) < n:
        lines.extend(reversed(prev_tail[-(n - len(lines)) :]))
    return tuple(decode_line(_strip_eol(b)) for b in reversed(lines))


class ChunkScanner:
    """Find candidate lines in a binary stream, chunk by chunk."""

    def __init__(self, anchors: Iterable[bytes], report_anchors: Iterable[bytes]) -> None:
        self.anchors = tuple(anchors)
        self.report_anchors = tuple(report_anchors)
        self.lines_read = 0

    def scan(self, stream: BinaryIO, first: bytes = b"") -> Iterator[Candidate]:
        """Yield candidates of ``stream`` in line order; ``first`` is data already read from it."""
        carry = first
        base = 1  # line number of the first line of ``data``
        pending_report = 0  # report lines still to pass on from the next chunk
        prev_tail: list[bytes] = []
        while True:
            chunk = stream.read(CHUNK)
            if chunk:
                data = carry + chunk
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    if len(data) < MAX_LINE:
                        carry = data
                        continue
                    cut = len(data)
                carry = data[cut:]
                data = data[:cut]
            else:
                data, carry = carry, b""
            if data:
                yield from self._scan_data(data, base, prev_tail, pending_report)
                pending_report = self._pending
                newlines = data.count(b"\n")
                base += newlines + (0 if data.endswith(b"\n") else 1)
                prev_tail = self._tail(data)
            if not chunk:
                break
        self.lines_read = base - 1

    _pending = 0

    @staticmethod
    def _tail(data: bytes) -> list[bytes]:
        lines: list[bytes] = []
        end = len(data)
        while len(lines) < BEFORE_LINES and end > 0:
            s = data.rfind(b"\n", 0, end - 1) + 1
            lines.append(data[s:end])
            end = s
        return list(reversed(lines))

    def _scan_data(self, data: bytes, base: int, prev_tail: list[bytes], pending: int) -> Iterator[Candidate]:
        """Candidates of ``data`` (whole lines, the first is line ``base``).

        Sets ``self._pending``: report lines still to pass on from the next chunk.
        """
        starts: dict[int, int] = {}  # line start -> line end
        report_starts: set[int] = set()
        for anchor in self.anchors:
            is_report = anchor in self.report_anchors
            i = data.find(anchor)
            while i != -1:
                s, e = _line_bounds(data, i)
                starts[s] = e
                if is_report:
                    report_starts.add(s)
                i = data.find(anchor, e)
        # report lines: those after a report start, and those carried over from the last chunk
        extra: dict[int, int] = {}
        self._pending = 0
        if pending:
            lines, self._pending = self._following(data, 0, pending)
            extra.update(lines)
        for s in sorted(report_starts):
            lines, left = self._following(data, starts[s] + 1, REPORT_LINES)
            extra.update(lines)
            self._pending = max(self._pending, left)
        anchored = set(starts)
        for s, e in extra.items():
            starts.setdefault(s, e)
        lineno, pos = base, 0
        for s in sorted(starts):
            lineno += data.count(b"\n", pos, s)
            pos = s
            text = decode_line(_strip_eol(data[s : starts[s]]))
            hit = s in anchored
            before = _before(data, s, prev_tail, BEFORE_LINES) if hit else ()
            yield Candidate(lineno, text, before, s in extra, hit)

    @staticmethod
    def _following(data: bytes, pos: int, n: int) -> tuple[dict[int, int], int]:
        """Up to ``n`` lines of ``data`` from ``pos``: ({start: end}, how many were not there)."""
        out: dict[int, int] = {}
        while n > 0 and pos < len(data):
            e = data.find(b"\n", pos)
            e = len(data) if e == -1 else e
            out[pos] = e
            pos = e + 1
            n -= 1
        return out, n


class LineScanner:
    """The same selection as ``ChunkScanner`` for lines that are already text (``str``)."""

    def __init__(self, anchors: Iterable[str], report_anchors: Iterable[str]) -> None:
        self.anchors = tuple(anchors)
        self.report_anchors = tuple(report_anchors)
        self.lines_read = 0

    def scan(self, lines: Iterable[str]) -> Iterator[Candidate]:
        """Yield candidates of ``lines`` (each may end in LF/CRLF; embedded newlines split it)."""
        before: deque[str] = deque(maxlen=BEFORE_LINES)
        report_left = 0
        n = 0
        for item in lines:
            for line in item.rstrip("\r\n").split("\n"):
                n += 1
                line = line.rstrip("\r")
                starts_report = any(a in line for a in self.report_anchors)
                hit = starts_report or any(a in line for a in self.anchors)
                if report_left or hit:
                    yield Candidate(n, line, tuple(before) if hit else (), report_left > 0, hit)
                report_left = REPORT_LINES if starts_report else max(0, report_left - 1)
                before.append(line)
        self.lines_read = n


def open_text_utf16(stream: BinaryIO, first: bytes) -> Iterator[str]:
    """Lines of a UTF-16 stream whose first bytes (with the BOM) were already read."""
    rest = io.BufferedReader(_Prepend(first, stream))  # type: ignore[arg-type,type-var]
    text = io.TextIOWrapper(rest, encoding="utf-16", errors="replace", newline=None)
    yield from text


class _Prepend(io.RawIOBase):
    """A raw stream that first returns ``head``, then the rest of ``tail``."""

    def __init__(self, head: bytes, tail: BinaryIO) -> None:
        self._head = head
        self._tail = tail

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._tail.read(len(b))
        b[: len(data)] = data
        return len(data)
