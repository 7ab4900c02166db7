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

Files of ``prefilter.GREP_MIN_BYTES`` or more are searched by grep processes instead
(``prefilter``); ``GrepScanner`` turns their hits into the same candidates.
"""

from __future__ import annotations

import io
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from mmfix.explain import prefilter

CHUNK = 1 << 20  # bytes per read (small: 8 MiB reads fragmented the heap, RSS grew with the file)
BEFORE_LINES = 8  # preceding lines kept as context for each candidate
REPORT_LINES = 200  # lines passed on after the start of an environment report
MAX_REPORTS = 20  # report starts that open (or extend) a window, per input: a flood of them stays linear

# re-exported: the input checks live beside the grep prefilter, which needs them first
NotALog = prefilter.NotALog
GrepFailed = prefilter.GrepFailed
sniff = prefilter.sniff
SAMPLE = prefilter.SAMPLE


Context = Callable[[], "tuple[str, ...]"]


class Candidate:
    """One line to match: its 1-based number, its decoded text (no line ending), context.

    ``before`` (up to BEFORE_LINES preceding lines, oldest first) is read only when asked for.
    ``report``: within the lines that follow the start of a pasted environment report;
    ``anchor``: holds an anchor (else passed on only as a report line). A plain class with
    slots: one is made per candidate line (a frozen dataclass's ``__init__`` is 3x slower).
    """

    __slots__ = ("line", "text", "context", "report", "anchor")

    def __init__(
        self, line: int, text: str, context: tuple[str, ...] | Context = (), report: bool = False, anchor: bool = True
    ) -> None:
        self.line, self.text, self.context, self.report, self.anchor = line, text, context, report, anchor

    def __repr__(self) -> str:
        return f"Candidate(line={self.line}, text={self.text!r}, report={self.report}, anchor={self.anchor})"

    @property
    def before(self) -> tuple[str, ...]:
        return self.context() if callable(self.context) else self.context


# Terminal escape sequences: gcc/clang/ninja colours (CSI ... m, CSI K) and other two-byte escapes.
_ANSI = re.compile(rb"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|[@-Z\\-_])")
_ANSI_STR = re.compile(_ANSI.pattern.decode("ascii"))


def decode_line(raw: bytes) -> str:
    """Decode one line: UTF-8, else cp936/GBK, else cp1252 with replacements, without terminal
    colour codes (``gcc -fdiagnostics-color``: ``\\x1b[01;31m\\x1b[Kerror:``). Never raises."""
    if b"\x1b" in raw:
        raw = _ANSI.sub(b"", raw)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gbk")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


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

    def __init__(self, anchors: Iterable[bytes], report_anchors: Iterable[bytes], cr_lines: bool = False) -> None:
        self.anchors = tuple(anchors)
        self.report_anchors = tuple(report_anchors)
        self.cr_lines = cr_lines  # classic Mac line ends: every CR ends a line
        self.lines_read = 0
        self.bytes_read = 0

    def scan(self, stream: BinaryIO, first: bytes = b"") -> Iterator[Candidate]:
        """Yield candidates of ``stream`` in line order; ``first`` is data already read from it."""
        carry = first.replace(b"\r", b"\n") if self.cr_lines else first
        self.bytes_read = len(first)
        self._reports = 0
        base = 1  # line number of the first line of ``data``
        pending_report = 0  # report lines still to pass on from the next chunk
        prev_tail: list[bytes] = []
        while True:
            chunk = stream.read(CHUNK)
            self.bytes_read += len(chunk)
            if chunk and self.cr_lines:
                chunk = chunk.replace(b"\r", b"\n")
            if chunk:
                data = carry + chunk
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    if len(data) < prefilter.MAX_LINE:  # a longer "line" is cut (a log without newlines)
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
    _reports = 0  # report windows opened so far

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
        opening = sorted(report_starts)[: max(0, MAX_REPORTS - self._reports)]
        self._reports += len(opening)
        for s in opening:
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
        reports = 0
        n = 0
        for item in lines:
            for line in item.rstrip("\r\n").split("\n"):
                n += 1
                line = line.rstrip("\r")
                if "\x1b" in line:
                    line = _ANSI_STR.sub("", line)
                starts_report = reports < MAX_REPORTS and any(a in line for a in self.report_anchors)
                reports += starts_report
                hit = starts_report or any(a in line for a in self.anchors)
                if report_left or hit:
                    yield Candidate(n, line, tuple(before) if hit else (), report_left > 0, hit)
                report_left = REPORT_LINES if starts_report else max(0, report_left - 1)
                before.append(line)
        self.lines_read = n


def open_text_utf16(stream: BinaryIO, first: bytes, encoding: str = "utf-16") -> Iterator[str]:
    """Lines of a UTF-16 (or UTF-32) stream whose first bytes were already read; ``encoding``:
    "utf-16"/"utf-32" (a BOM tells the byte order) or "utf-16-le"/"utf-16-be" (no BOM)."""
    rest = io.BufferedReader(_Prepend(first, stream))  # type: ignore[arg-type,type-var]
    text = io.TextIOWrapper(rest, encoding=encoding, errors="replace", newline=None)
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


class GrepScanner:
    """The ``ChunkScanner`` selection for a file on disk, from the hits of a ``prefilter.GrepRun``.

    Report windows and context lines are read by seeking to the byte offsets grep gives. Same
    candidates as ``ChunkScanner`` (tested). ``scan`` raises ``GrepFailed`` before yielding
    anything when a grep failed (the caller then scans in Python); it always ends the run.
    """

    def __init__(self, run: prefilter.GrepRun, report_anchors: Iterable[bytes]) -> None:
        self.run = run
        self.report_anchors = tuple(report_anchors)
        self.lines_read: int | None = 0  # None: not counted (see ``prefilter.GrepRun.lines``)

    def scan(self) -> Iterator[Candidate]:
        """Yield the candidates of the run's file in line order."""
        try:
            with open(self.run.path, "rb") as fh:
                yield from self._merge(self.run.records(), fh)
            self.lines_read = self.run.lines
        finally:
            self.run.close()

    def _merge(self, records: Iterator[tuple[int, int, bytes]], fh: BinaryIO) -> Iterator[Candidate]:
        queued: dict[int, str] = {}  # report lines to pass on: line number -> text
        window_end = 0  # last line number of the current report window
        window_offset = 0  # byte offset just after line ``window_end``
        reports = 0
        report_rx = re.compile(b"|".join(re.escape(a) for a in self.report_anchors)) if self.report_anchors else None
        for number, offset, rest in records:
            if queued:
                for n in sorted(k for k in queued if k < number):
                    yield Candidate(n, queued.pop(n), (), True, False)
                queued.pop(number, None)
            in_report = number <= window_end
            content = _strip_eol(rest)
            yield Candidate(number, decode_line(content), _file_context(self.run.path, offset), in_report, True)
            if reports < MAX_REPORTS and report_rx and rest.endswith(b"\n") and report_rx.search(content):
                reports += 1
                start_line, start_off = number, offset + len(rest)
                if window_end > number:  # extend the open window from where it ends
                    start_line, start_off = window_end, window_offset
                window_offset, window_end = _read_window(fh, start_off, start_line, number + REPORT_LINES, queued)
        for n in sorted(queued):
            yield Candidate(n, queued[n], (), True, False)


def grep_candidates(
    path: str, anchors: Iterable[bytes], report_anchors: Iterable[bytes], parts: int | None = None, grep: str = "grep"
) -> tuple[GrepScanner, Iterator[Candidate]]:
    """Start grep on ``path`` (``parts`` processes) and return the scanner and its candidates."""
    run = prefilter.GrepRun(path, anchors, grep, parts)
    run.start()
    scanner = GrepScanner(run, report_anchors)
    return scanner, scanner.scan()


def _read_window(fh: BinaryIO, offset: int, after: int, last: int, queued: dict[int, str]) -> tuple[int, int]:
    """Queue lines ``after+1 .. last`` starting at byte ``offset``; return (end offset, end line)."""
    fh.seek(offset)
    n = after
    while n < last:
        line = fh.readline(prefilter.MAX_LINE)
        if not line:
            break
        offset += len(line)
        n += 1
        queued[n] = decode_line(_strip_eol(line))
    return offset, n


def _file_context(path: str, offset: int) -> Context:
    """The BEFORE_LINES lines before byte ``offset`` of ``path``, read when asked for."""

    def read() -> tuple[str, ...]:
        if offset == 0:
            return ()
        span = 64 * 1024  # doubled while the lines before are longer (an nvcc command: 70 KB)
        with open(path, "rb") as fh:
            while True:
                start = max(0, offset - span)
                fh.seek(start)
                data = fh.read(offset - start)
                if start == 0 or data.count(b"\n") > BEFORE_LINES or span >= BEFORE_LINES * prefilter.MAX_LINE:
                    break
                span *= 2
        lines = data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n")
        if start > 0:
            lines = lines[1:]  # the first piece may be a partial line
        return tuple(decode_line(_strip_eol(b)) for b in lines[-BEFORE_LINES:])

    return read
