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
import os
import shutil
import subprocess
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, BinaryIO, Callable

CHUNK = 1 << 23  # 8 MiB per read
SAMPLE = 1 << 16  # bytes looked at to tell text from binary junk
MAX_LINE = 1 << 20  # a "line" longer than this is cut (a log without newlines)
BEFORE_LINES = 8  # preceding lines kept as context for each candidate
REPORT_LINES = 200  # lines passed on after the start of an environment report
CONTROL_RATIO = 0.05  # more control bytes than this in the sample: not text

_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27))


class NotALog(Exception):
    """The input holds no log text (empty, or binary data)."""


Context = Callable[[], "tuple[str, ...]"]


@dataclass(frozen=True)
class Candidate:
    """One line to match: its 1-based number, its decoded text (no line ending), context.

    ``before`` (up to BEFORE_LINES preceding lines, oldest first) is read only when asked for.
    """

    line: int
    text: str
    context: tuple[str, ...] | Context = field(default=(), repr=False, compare=False)
    report: bool = False  # within the lines that follow the start of a pasted environment report
    anchor: bool = True  # holds an anchor (else passed on only as a report line)

    @property
    def before(self) -> tuple[str, ...]:
        return self.context() if callable(self.context) else self.context


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


def _lazy_before(data: bytes, start: int, prev_tail: list[bytes]) -> Context:
    return lambda: _before(data, start, prev_tail, BEFORE_LINES)


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
                # a line cut at MAX_LINE goes on in the next chunk: same line number there
                base += newlines + (1 if not chunk and not data.endswith(b"\n") else 0)
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
            context = _lazy_before(data, s, prev_tail) if hit else ()
            yield Candidate(lineno, text, context, s in extra, hit)

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


# ---------------------------------------------------------------- grep as the prefilter

GREP_MIN_BYTES = 8 << 20  # smaller files are scanned in Python (no process start)


def find_grep() -> str | None:
    """GNU/BSD grep on PATH (POSIX only), unless MMFIX_NO_GREP is set; None otherwise."""
    if os.name != "posix" or os.environ.get("MMFIX_NO_GREP"):
        return None
    return shutil.which("grep")


def count_lines(fh: BinaryIO) -> int:
    """Lines in ``fh`` from its current position (a last line without newline counts)."""
    n = 0
    last = b"\n"
    while True:
        chunk = fh.read(CHUNK)
        if not chunk:
            break
        n += chunk.count(b"\n")
        last = chunk[-1:]
    return n + (0 if last == b"\n" else 1)


def _bounded_lines(out: IO[bytes]) -> Iterator[bytes]:
    """Lines of ``out``, each cut at MAX_LINE (the rest of a longer line is skipped)."""
    while True:
        raw = out.readline(MAX_LINE)
        if not raw:
            return
        if not raw.endswith(b"\n"):
            more = raw
            while more and not more.endswith(b"\n"):
                more = out.readline(MAX_LINE)
        yield raw


class GrepScanner:
    """The ``ChunkScanner`` selection for a file on disk, with ``grep -F`` finding the anchors.

    grep (C, a multi-string matcher) runs in its own process; its output (``N:OFFSET:line``) is
    small. ``lines_read`` is counted only when asked for (``count=True``). Report windows and context lines are read by seeking
    to the byte offsets grep gives. Same candidates as ``ChunkScanner`` (tested).
    """

    def __init__(
        self, grep: str, anchors: Iterable[bytes], report_anchors: Iterable[bytes], count: bool = False
    ) -> None:
        self.grep = grep
        self.count = count  # count the file's lines (a second pass, in parallel with grep)
        self.anchors = tuple(anchors)
        self.report_anchors = tuple(report_anchors)
        self.lines_read = 0

    def scan(self, path: str) -> Iterator[Candidate]:
        argv = [self.grep, "-a", "-n", "-b", "-F"]
        for a in self.anchors:
            argv += ["-e", a.decode("ascii")]
        argv += ["--", path]
        env = {**os.environ, "LC_ALL": "C"}
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        assert proc.stdout is not None
        try:
            with open(path, "rb") as fh:
                if self.count:
                    self.lines_read = count_lines(fh)
                yield from self._merge(proc.stdout, fh)
        finally:
            proc.stdout.close()
            proc.kill()
            proc.wait()

    def _merge(self, out: IO[bytes], fh: BinaryIO) -> Iterator[Candidate]:
        queued: dict[int, str] = {}  # report lines to pass on: line number -> text
        window_end = 0  # last line number of the current report window
        window_offset = 0  # byte offset just after line ``window_end``
        for raw in _bounded_lines(out):
            try:
                number_b, offset_b, rest = raw.split(b":", 2)
                number, offset = int(number_b), int(offset_b)
            except ValueError:  # not grep's N:OFFSET: form; cannot happen with -n -b
                continue
            for n in sorted(k for k in queued if k < number):
                yield Candidate(n, queued.pop(n), (), True, False)
            in_report = number <= window_end
            queued.pop(number, None)
            content = _strip_eol(rest)
            yield Candidate(number, decode_line(content), self._context(fh, offset), in_report, True)
            if rest.endswith(b"\n") and any(a in content for a in self.report_anchors):
                start_line, start_off = number, offset + len(rest)
                if window_end > number:  # extend the open window from where it ends
                    start_line, start_off = window_end, window_offset
                window_offset, window_end = self._read_window(fh, start_off, start_line, number + REPORT_LINES, queued)
        for n in sorted(queued):
            yield Candidate(n, queued[n], (), True, False)

    @staticmethod
    def _read_window(fh: BinaryIO, offset: int, after: int, last: int, queued: dict[int, str]) -> tuple[int, int]:
        """Queue lines ``after+1 .. last`` starting at byte ``offset``; return (end offset, end line)."""
        fh.seek(offset)
        n = after
        while n < last:
            line = fh.readline(MAX_LINE)
            if not line:
                break
            offset += len(line)
            n += 1
            queued[n] = decode_line(_strip_eol(line))
        return offset, n

    @staticmethod
    def _context(fh: BinaryIO, offset: int) -> Context:
        def read() -> tuple[str, ...]:
            if offset == 0:
                return ()
            start = max(0, offset - 64 * 1024)
            fh.seek(start)
            data = fh.read(offset - start)
            lines = data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n")
            if start > 0:
                lines = lines[1:]  # the first piece may be a partial line
            return tuple(decode_line(_strip_eol(b)) for b in lines[-BEFORE_LINES:])

        return read
