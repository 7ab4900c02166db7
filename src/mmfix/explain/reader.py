"""Stream a log of any size and hand on only the lines worth matching ("candidates").

Input is read in binary blocks (``CHUNK`` bytes), never whole: ``bytes.find`` (C speed) looks for
the engine's key literals in each block, and only the lines holding one are decoded and passed on,
with the lines around them, and the lines after the start of a pasted environment report. Memory
stays flat in the file size. Decoding is per line: UTF-8, then cp936/GBK (Chinese-locale Windows
consoles), then cp1252 with replacements, without terminal colour codes. Line ends may be LF,
CRLF, mixed, or CR alone (classic Mac, or a progress bar's ``\\r`` before the first LF). UTF-16/32
(PowerShell's ``>``) and ``str`` lines are re-encoded as UTF-8 on the way in: one scan for every
input. Binary junk raises ``NotALog``.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

CHUNK = 1 << 20  # bytes per read (8 MiB reads fragmented the heap: RSS grew with the file)
MAX_LINE = 1 << 20  # a longer "line" is cut into pieces of this size (a log without newlines)
BEFORE_LINES = 8  # preceding lines kept as context for each candidate
REPORT_LINES = 200  # lines passed on after the start of an environment report
MAX_REPORTS = 20  # report starts that open (or extend) a window, per input: a flood stays linear
SAMPLE = 1 << 16  # bytes looked at to tell text from binary junk
CR_LOOKAHEAD = 8 << 20  # bytes read past a sample without LF before calling the input CR-only
CONTROL_RATIO = 0.05  # more control bytes than this in the sample: not text
NUL_RATIO = 0.01  # more NUL bytes than this: binary (or UTF-16 without a BOM)
# control bytes that say "binary": not tab, newlines, form feed, ESC (colours), bell, backspace
_CONTROL = bytes(b for b in range(1, 32) if b not in (7, 8, 9, 10, 12, 13, 27))
# Terminal escape sequences: gcc/clang/ninja colours (CSI ... m, CSI K) and other two-byte escapes.
_ANSI = re.compile(rb"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|[@-Z\\-_])")


class NotALog(Exception):
    """The input holds no log text (empty, or binary data)."""


def sniff(sample: bytes, at_end: bool = True) -> str:
    """Classify the first bytes of an input: ``"empty"``, ``"utf-16"``/``"utf-32"`` (a BOM),
    ``"utf-16-le"``/``"utf-16-be"`` (none), ``"binary"``, ``"bytes-cr"`` or ``"bytes"``.

    ``"bytes"``: an ASCII-compatible text (UTF-8, GBK, cp1252 ...); ``"bytes-cr"``: the same with
    CR line ends only. ``at_end``: the sample is the whole input; else blanks alone do not make it
    empty (a log may start with thousands of blank lines).
    """
    if not sample.strip():
        return "empty" if at_end else "bytes"
    if sample.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):  # before UTF-16: FF FE 00 00
        return "utf-32"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if sample.count(b"\x00") > NUL_RATIO * len(sample):
        even, odd = sample[0::2], sample[1::2]  # mostly-ASCII UTF-16: NULs on one side only
        z_even, z_odd = even.count(0) / max(1, len(even)), odd.count(0) / max(1, len(odd))
        if z_odd > 0.4 and z_even < 0.02:
            return "utf-16-le"
        if z_even > 0.4 and z_odd < 0.02:
            return "utf-16-be"
        return "binary"
    if sum(sample.count(bytes([c])) for c in _CONTROL) > CONTROL_RATIO * len(sample):
        return "binary"
    if b"\n" not in sample and sample.count(b"\r") > 1:
        return "bytes-cr"
    return "bytes"


def decode_line(raw: bytes) -> str:
    """One line as text: UTF-8, else cp936/GBK, else cp1252 with replacements, without terminal
    colour codes (``gcc -fdiagnostics-color``: ``\\x1b[01;31m\\x1b[Kerror:``). Never raises."""
    if b"\x1b" in raw:
        raw = _ANSI.sub(b"", raw)
    for encoding in ("utf-8", "gbk"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            pass
    return raw.decode("cp1252", errors="replace")


class Candidate:
    """One line to match: its 1-based number, its text (no line end) and context: ``before`` (up
    to BEFORE_LINES lines, oldest first) and ``after`` (the next line), decoded when asked for;
    ``report``: after the start of a pasted environment report; ``key``: holds a key literal."""

    __slots__ = ("line", "text", "_before", "_after", "report", "key")

    def __init__(self, line: int, text: str, before: Callable[[], tuple[str, ...]] | tuple[str, ...] = (),
                 after: Callable[[], str] | str = "", report: bool = False, key: bool = True) -> None:
        self.line, self.text, self._before, self._after = line, text, before, after
        self.report, self.key = report, key

    @property
    def before(self) -> tuple[str, ...]:
        return self._before() if callable(self._before) else self._before

    @property
    def after(self) -> str:
        return self._after() if callable(self._after) else self._after


class _Stream(io.RawIOBase):
    """A readable binary stream over an iterator of byte strings (``head`` first)."""
    def __init__(self, parts: Iterable[bytes], head: bytes = b"") -> None:
        self._parts, self._buf = iter(parts), head

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray) -> int:  # type: ignore[override]
        while not self._buf:
            part = next(self._parts, None)
            if part is None:
                return 0
            self._buf = part
        n = min(len(b), len(self._buf))
        b[:n], self._buf = self._buf[:n], self._buf[n:]
        return n


def text_stream(lines: Iterable[str]) -> BinaryIO:
    """``str`` lines (with or without line ends) as a UTF-8 byte stream for the scanner."""
    parts = (line.rstrip("\r\n").encode("utf-8", "replace") + b"\n" for line in lines)
    return io.BufferedReader(_Stream(parts), CHUNK)  # type: ignore[type-var]


def utf16_stream(stream: BinaryIO, first: bytes, encoding: str) -> BinaryIO:
    """A UTF-16/UTF-32 stream (``first``: bytes already read from it) re-encoded as UTF-8.
    ``encoding``: "utf-16"/"utf-32" (a BOM tells the byte order) or "utf-16-le"/"utf-16-be"."""
    raw = io.BufferedReader(_Stream(iter(lambda: stream.read(CHUNK), b""), first))  # type: ignore[type-var]
    text = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
    blocks = (block.encode("utf-8") for block in iter(lambda: text.read(CHUNK // 4), ""))
    return io.BufferedReader(_Stream(blocks))  # type: ignore[type-var]


def open_input(stream: BinaryIO) -> tuple[BinaryIO, bytes, bool]:
    """Sniff ``stream``: (the stream to scan, the bytes already read from it, CR-only line ends).

    Raises ``NotALog`` when it is empty or binary junk.
    """
    first = stream.read(SAMPLE)
    kind = sniff(first, at_end=len(first) < SAMPLE)
    if kind == "bytes-cr":  # or progress-bar updates (tqdm writes \r only) before the real lines
        data = [first]
        seen = len(first)
        while seen < CR_LOOKAHEAD and b"\n" not in data[-1]:
            block = stream.read(SAMPLE)
            if not block:
                break
            data.append(block)
            seen += len(block)
        first = b"".join(data)
        kind = "bytes" if b"\n" in first else kind
    if kind in ("empty", "binary"):
        raise NotALog(kind)
    if kind.startswith("utf-"):
        return utf16_stream(stream, first, kind), b"", False
    return stream, first, kind == "bytes-cr"


class Scanner:
    """Find the candidate lines of a binary stream, block by block.

    ``keys``: byte strings, one of which every line worth matching holds; ``report_keys``: those
    that start an environment report (their next REPORT_LINES lines are passed on too).
    """

    def __init__(self, keys: Iterable[bytes], report_keys: Iterable[bytes]) -> None:
        self.keys = tuple(keys)
        self.report_keys = tuple(report_keys)
        self.lines_read = 0
        self.bytes_read = 0
        self._reports = 0  # report windows opened so far
        self._pending = 0  # report lines still to pass on from the next block

    def scan(self, stream: BinaryIO, first: bytes = b"", cr_lines: bool = False) -> Iterator[Candidate]:
        """Yield the candidates of ``stream`` in line order; ``first``: bytes already read from it.

        Each block ends before its last line, which is carried into the next block, so that every
        candidate's next line is known.
        """
        carry = first.replace(b"\r", b"\n") if cr_lines else first
        self.bytes_read = len(first)
        base = 1  # number of the first line of the block
        tail: list[bytes] = []  # the last lines of the previous block (context)
        while True:
            chunk = stream.read(CHUNK)
            self.bytes_read += len(chunk)
            if cr_lines:
                chunk = chunk.replace(b"\r", b"\n")
            data = carry + chunk
            if chunk:
                last = data.rfind(b"\n")
                cut = data.rfind(b"\n", 0, last) + 1 if last != -1 else 0
                if cut == 0 and len(data) < 2 * MAX_LINE:
                    carry = data  # not two whole lines yet
                    continue
                if cut == 0:  # a monster line: cut a piece off; the rest keeps the line number
                    cut = MAX_LINE
                carry, data = data[cut:], data[:cut]
            else:
                carry = b""
            if data:
                next_line = carry[: carry.find(b"\n")] if b"\n" in carry else carry
                yield from self._block(data, base, tail, next_line)
                # a piece cut off a monster line goes on in the next block, under the same number;
                # the input's last line may have no line end
                base += data.count(b"\n") + (0 if chunk or data.endswith(b"\n") else 1)
                tail = (tail + _last_lines(data, len(data)))[-BEFORE_LINES:]
            if not chunk:
                break
        self.lines_read = base - 1

    def _block(self, data: bytes, base: int, tail: list[bytes], next_line: bytes) -> Iterator[Candidate]:
        spans: dict[int, int] = {}  # line start -> line end, for the lines holding a key
        report_starts: set[int] = set()
        for key in self.keys:
            i = data.find(key)
            while i != -1:
                s = data.rfind(b"\n", 0, i) + 1
                e = data.find(b"\n", i)
                e = len(data) if e == -1 else e
                if key in self.report_keys:
                    report_starts.add(s)
                spans[s] = e
                i = data.find(key, e)
        extra: dict[int, int] = {}  # report lines: after a report start, or carried over
        pending, self._pending = self._pending, 0
        if pending:
            self._pending = _following(data, 0, pending, extra)
        opening = sorted(report_starts)[: max(0, MAX_REPORTS - self._reports)]
        self._reports += len(opening)
        for s in opening:
            self._pending = max(self._pending, _following(data, spans[s] + 1, REPORT_LINES, extra))
        lineno, pos = base, 0
        for s in sorted(spans.keys() | extra.keys()):
            lineno += data.count(b"\n", pos, s)
            pos = s
            hit = s in spans
            e = spans[s] if hit else extra[s]
            text = decode_line(data[s:e].rstrip(b"\r\n"))
            yield Candidate(lineno, text, _before(data, s, tail) if hit else (),
                            _after(data, e, next_line) if hit else "", s in extra, hit)


def _last_lines(data: bytes, end: int, n: int = BEFORE_LINES) -> list[bytes]:
    """The ``n`` lines of ``data`` before offset ``end`` (a line start), oldest first."""
    lines: list[bytes] = []
    while len(lines) < n and end > 0:
        s = data.rfind(b"\n", 0, end - 1) + 1
        lines.append(data[s:end])
        end = s
    return lines[::-1]


def _before(data: bytes, start: int, tail: list[bytes]) -> Callable[[], tuple[str, ...]]:
    """The BEFORE_LINES lines before the line at ``start`` (reaching into the previous block)."""

    def read() -> tuple[str, ...]:
        lines = _last_lines(data, start)
        need = BEFORE_LINES - len(lines)
        if need > 0 and tail:
            lines = tail[-need:] + lines
        return tuple(decode_line(b.rstrip(b"\r\n")) for b in lines)

    return read


def _after(data: bytes, end: int, next_line: bytes) -> Callable[[], str]:
    """The line after the one ending at ``end`` ("" at the end of the input)."""

    def read() -> str:
        if end + 1 >= len(data):
            return decode_line(next_line.rstrip(b"\r\n"))
        e = data.find(b"\n", end + 1)
        return decode_line(data[end + 1 : len(data) if e == -1 else e].rstrip(b"\r\n"))

    return read


def _following(data: bytes, pos: int, n: int, out: dict[int, int]) -> int:
    """Record up to ``n`` lines of ``data`` from ``pos`` in ``out`` ({start: end}); return how
    many were not there (to be taken from the next block)."""
    while n > 0 and pos < len(data):
        e = data.find(b"\n", pos)
        e = len(data) if e == -1 else e
        out[pos] = e
        pos = e + 1
        n -= 1
    return n
