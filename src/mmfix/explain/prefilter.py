"""grep as the prefilter of big log files: one ``grep -E`` per CPU, each on a part of the file.

grep (C, a multi-string matcher) finds the few lines holding an anchor far faster than Python
can; its output (``N:OFFSET:line``) is small. The file is cut into line-aligned parts, one per
usable CPU (at least ``PART_BYTES`` each), and each part is copied into its grep's stdin pipe by
a thread (``os.sendfile``, else ``read``/``write``; both release the GIL). Each part ends with a
random end-of-part line that the pattern also matches: its ``-n`` number is the part's line
count, so line numbers stay exact across parts. Outputs go to unnamed temporary files, never
memory, so memory stays flat whatever the file holds.

This module imports nothing but ``os``, ``codecs``, ``errno``, ``fcntl`` and ``_thread`` (the
documented low-level API under ``threading``, which alone would pull in ``functools`` and
``collections``): ``mmfix explain`` starts grep from here
before it loads the signature table, and the two overlap. Processes are started with
``os.posix_spawnp`` (the ``subprocess`` module alone takes longer to import than a part of a
100 MB log takes to search).

Also here: telling log text from binary junk (``sniff``), shared with the Python scan.
"""

from __future__ import annotations

import _thread
import codecs
import errno
import os
import stat

# Imports here cost `mmfix explain` before grep starts: no typing, collections or contextlib.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Generator, Iterable, Iterator
    from typing import BinaryIO

try:
    import fcntl
except ImportError:  # Windows: no grep prefilter there
    fcntl = None  # type: ignore[assignment]
try:  # the C module under `signal` (built in: `signal` itself would load enum first)
    import _signal
except ImportError:
    _signal = None  # type: ignore[assignment]

SAMPLE = 1 << 16  # bytes looked at to tell text from binary junk
CONTROL_RATIO = 0.05  # more control bytes than this in the sample: not text
MAX_LINE = 1 << 20  # a "line" longer than this is cut (a log without newlines)
GREP_MIN_BYTES = 8 << 20  # smaller files are scanned in Python (no process start)
PART_BYTES = 8 << 20  # at least this much of the file per grep process
MAX_PARTS = 8  # grep processes at most, one per usable CPU
PIECE_OVERLAP = 4096  # bytes a piece of a line over MAX_LINE repeats from the piece before
GREP_MEMORY = 256 << 20  # address space one grep may use (its buffer holds the longest line)
FEED_BLOCK = 1 << 20  # bytes per read()/write() into a grep's stdin pipe where sendfile() fails
# One sendfile() call copies a whole part without coming back for the GIL, which the main thread
# holds while it imports: a feeder waiting for it starves its grep (1 MiB calls: 25 ms later).
SENDFILE_BLOCK = 1 << 30
# control bytes that say "binary": not tab, newlines, form feed, ESC (colours), bell and backspace
# (progress bars), and NUL is counted apart
_CONTROL = bytes(b for b in range(1, 32) if b not in (7, 8, 9, 10, 12, 13, 27))
NUL_RATIO = 0.01  # more NUL bytes than this in the sample: binary (or UTF-16 without a BOM)
_ERE_SPECIAL = set(".[]()*+?{}|^$\\")


class NotALog(Exception):
    """The input holds no log text (empty, or binary data)."""


class GrepFailed(Exception):
    """A grep process failed or its output was not what ``-n -b`` gives; scan in Python instead."""


def sniff(sample: bytes, at_end: bool = True) -> str:
    """Classify the first bytes of an input: ``"empty"``, ``"utf-16"``/``"utf-32"`` (a BOM),
    ``"utf-16-le"``/``"utf-16-be"`` (none), ``"binary"``, ``"bytes-cr"`` or ``"bytes"``.

    ``"bytes"`` means an ASCII-compatible text (UTF-8, GBK, cp1252 ...), read line by line;
    ``"bytes-cr"`` the same with classic Mac line ends (CR, no LF in the sample). ``at_end``:
    the sample is the whole input; else blanks alone do not make it empty (a log may start
    with thousands of blank lines) and it is read as text.
    """
    if not sample.strip():
        return "empty" if at_end else "bytes"
    if sample.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):  # before UTF-16: FF FE 00 00
        return "utf-32"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if sample.count(b"\x00") > NUL_RATIO * len(sample):
        return _utf16_without_bom(sample) or "binary"
    controls = sum(sample.count(bytes([c])) for c in _CONTROL)
    if controls > CONTROL_RATIO * len(sample):
        return "binary"
    if b"\n" not in sample and sample.count(b"\r") > 1:
        return "bytes-cr"
    return "bytes"


CR_LOOKAHEAD = 8 << 20  # bytes read past a sample without LF before calling a file CR-only


def look_for_lf(stream: BinaryIO, first: bytes) -> tuple[bytes, str]:
    """A sample without LF but with CRs is a classic Mac file, or progress-bar updates (tqdm
    writes ``\\r`` only) before the real lines: read on (up to ``CR_LOOKAHEAD`` bytes) for an LF.
    Returns (all bytes read, ``"bytes"`` if an LF came, else ``"bytes-cr"``)."""
    data = [first]
    seen = len(first)
    while seen < CR_LOOKAHEAD:
        block = stream.read(SAMPLE)
        if not block:
            break
        data.append(block)
        seen += len(block)
        if b"\n" in block:
            return b"".join(data), "bytes"
    return b"".join(data), "bytes-cr"


def _utf16_without_bom(sample: bytes) -> str | None:
    """"utf-16-le" / "utf-16-be" when the NULs sit at odd / even offsets only (mostly ASCII text in
    UTF-16 without a BOM), else None."""
    even, odd = sample[0::2], sample[1::2]
    if not even or not odd:
        return None
    z_even, z_odd = even.count(0) / len(even), odd.count(0) / len(odd)
    if z_odd > 0.4 and z_even < 0.02:
        return "utf-16-le"
    if z_even > 0.4 and z_odd < 0.02:
        return "utf-16-be"
    return None


def find_grep() -> str | None:
    """The grep program to run (searched on PATH when spawned), or None where there is none to
    try: not POSIX (Windows), or MMFIX_NO_GREP is set."""
    if os.name != "posix" or os.environ.get("MMFIX_NO_GREP") or not hasattr(os, "posix_spawnp"):
        return None
    return "grep"


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one, else ``os.cpu_count``)."""
    affinity = getattr(os, "sched_getaffinity", None)
    if affinity is not None:
        try:
            return max(1, len(affinity(0)))
        except OSError:
            pass
    return max(1, os.cpu_count() or 1)


def ere(anchors: Iterable[bytes]) -> str:
    """The anchors as one POSIX extended regular expression (``a|b|c``, metacharacters escaped).

    grep -E matches an alternation of literals faster than ``grep -F`` with the same strings
    (GNU grep 3.8, 100 MB build log, 15 anchors: 0.13 s against 0.21 s).
    """
    return "|".join("".join("\\" + c if c in _ERE_SPECIAL else c for c in a.decode("ascii")) for a in anchors)


def split_points(fh: BinaryIO, size: int, parts: int) -> list[int]:
    """Start offsets of ``parts`` pieces of a file of ``size`` bytes, each at a line start.

    The first is 0; a piece that would start inside a line starts after that line's end
    (pieces that would be empty are dropped, so fewer may come back).
    """
    starts = [0]
    for k in range(1, parts):
        pos = max(k * size // parts, starts[-1] + 1)
        fh.seek(pos - 1)  # a newline just before ``pos`` makes ``pos`` a line start
        while True:
            block = fh.read(1 << 16)
            i = block.find(b"\n")
            if i != -1:
                pos = fh.tell() - len(block) + i + 1
                break
            if not block:
                pos = size
                break
        if pos >= size:
            break
        starts.append(pos)
    return starts


def start(path: os.PathLike[str] | str, anchors: Iterable[bytes]) -> GrepRun | None:
    """Start grep on the log at ``path`` when it pays: a file of at least ``GREP_MIN_BYTES`` in
    an ASCII-compatible encoding, with grep available. Returns the running ``GrepRun``, or None
    (the caller scans in Python). Raises ``NotALog`` for an empty or binary file and ``OSError``
    when it cannot be read.
    """
    info = os.stat(path)  # before any open: opening a FIFO would take its writer's data
    grep = find_grep()
    if grep is None or not stat.S_ISREG(info.st_mode) or info.st_size < GREP_MIN_BYTES:
        return None
    with open(path, "rb") as fh:
        kind = sniff(fh.read(SAMPLE), at_end=False)
        if kind == "bytes-cr":
            fh.seek(0)
            _, kind = look_for_lf(fh, fh.read(SAMPLE))
    if kind in ("empty", "binary"):
        raise NotALog(kind)
    if kind != "bytes":
        return None
    run = GrepRun(os.fspath(path), anchors, grep)
    try:
        run.start()
    except OSError:  # no grep on PATH after all, no temporary file ...
        run.close()
        return None
    return run


def try_start(name: str, anchors: Iterable[bytes]) -> GrepRun | None:
    """``start`` for a command-line input: None for stdin (``-``) and for a file that cannot be
    read or holds no text (the caller reads it again and says what is wrong)."""
    if name == "-":
        return None
    try:
        return start(name, anchors)
    except (OSError, NotALog):
        return None


class _Feeder:
    """A thread copying a part of the file into a grep's pipe; ``join`` waits for its end."""

    def __init__(self, path: str, pipe: int, first: int, end: int, tail: bytes) -> None:
        self._done = _thread.allocate_lock()
        self._done.acquire()
        _thread.start_new_thread(self._run, (path, pipe, first, end, tail))

    def _run(self, path: str, pipe: int, first: int, end: int, tail: bytes) -> None:
        try:
            _feed(path, pipe, first, end, tail)
        finally:
            self._done.release()

    def join(self) -> None:
        with self._done:
            pass


class _Part:
    __slots__ = ("start", "end", "pid", "out", "feeder", "status")

    def __init__(self, start: int, end: int, pid: int, out: int, feeder: _Feeder | None) -> None:
        self.start, self.end, self.pid, self.out, self.feeder = start, end, pid, out, feeder
        self.status: int | None = None  # exit code once waited for


def end_token() -> bytes:
    """A random end-of-part line: 48 characters of ``@`` and ``~``, which build logs hardly hold
    (a token of common letters slows grep's matcher by about 4%)."""
    bits = int.from_bytes(os.urandom(6), "big")
    return bytes(b"@~"[(bits >> i) & 1] for i in range(48))


class GrepRun:
    """grep processes searching one file, a part each.

    ``start`` spawns them and returns at once; ``records`` waits for them and yields each hit
    as (line number, byte offset, line bytes with its newline), numbered in the whole file;
    ``close`` stops and reaps whatever still runs (idempotent). ``records`` raises
    ``GrepFailed`` before yielding anything when a grep failed or its numbers do not fit.

    The last part is read by grep straight from the file (its stdin is the file, positioned at
    the part's start), the others through pipes that end with ``token``. So every part's
    line count but the last is known: ``lines`` is the file's line count only when there is a
    single, piped part (never in ``start``'s use), else None.
    """

    def __init__(self, path: str, anchors: Iterable[bytes], grep: str = "grep", parts: int | None = None) -> None:
        self.path = path
        self.grep = grep
        self.parts = parts
        self.lines: int | None = None
        self.anchors = tuple(anchors)
        self.token = end_token()
        self.pattern = ere(self.anchors) + "|" + self.token.decode("ascii")
        self._parts: list[_Part] = []

    def start(self) -> None:
        """Spawn the grep processes (raises ``OSError``: file unreadable, grep not found ...)."""
        size = os.path.getsize(self.path)
        wanted = self.parts or max(1, min(usable_cpus(), size // PART_BYTES, MAX_PARTS))
        with open(self.path, "rb") as fh:
            starts = split_points(fh, size, wanted)
        argv = [self.grep, "-a", "-n", "-b", "-E", "-e", self.pattern]
        env = {**os.environ, "LC_ALL": "C"}
        ends = [*starts[1:], size]
        held = _hold_sigint()  # a Ctrl-C now would orphan a grep between its spawn and its record
        try:
            try:
                for k, (first, end) in enumerate(zip(starts, ends)):
                    direct = k == len(starts) - 1 and len(starts) > 1
                    self._parts.append(self._spawn(argv, env, first, end, direct))
            finally:
                _release_sigint(held)  # a Ctrl-C held back is raised here, every grep recorded
        except BaseException:
            self.close()
            raise

    def _spawn(self, argv: list[str], env: dict[str, str], first: int, end: int, direct: bool) -> _Part:
        """One grep on bytes ``first..end``: from the file itself (``direct``, to its end), or from
        a pipe a feeder thread fills (``first..end``, then the end-of-part token)."""
        if direct:
            read_end, write_end = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)), -1
            os.lseek(read_end, first, os.SEEK_SET)
        else:
            read_end, write_end = os.pipe()  # both close-on-exec; dup2 onto 0 clears it for grep
        out = -1
        try:
            if write_end != -1 and fcntl is not None and hasattr(fcntl, "F_SETPIPE_SZ"):
                try:  # noqa: SIM105 (contextlib: an import before grep starts); fewer wake-ups (Linux)
                    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 1 << 20)
                except OSError:
                    pass
            out = _temporary_file()
            actions = [
                (os.POSIX_SPAWN_DUP2, read_end, 0),
                (os.POSIX_SPAWN_DUP2, out, 1),
                (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
            ]
            # grep gets an empty signal mask (ours holds SIGINT back while spawning)
            pid = os.posix_spawnp(argv[0], argv, env, file_actions=actions, setsigmask=())
            _cap_memory(pid)
        except BaseException:
            if write_end != -1:
                os.close(write_end)
            if out != -1:
                os.close(out)
            raise
        finally:
            os.close(read_end)
        feeder = None
        if write_end != -1:
            feeder = _Feeder(self.path, write_end, first, end, self.token + b"\n")
        return _Part(first, end, pid, out, feeder)

    def _wait(self, part: _Part, kill: bool = False) -> int:
        if part.status is None:
            if kill:
                try:  # noqa: SIM105 (as above)
                    os.kill(part.pid, 9)
                except ProcessLookupError:
                    pass
            _, status = os.waitpid(part.pid, 0)
            part.status = os.waitstatus_to_exitcode(status)
        return part.status

    def close(self) -> None:
        """Stop every grep process still running, reap it, drop its output."""
        for part in self._parts:
            self._wait(part, kill=True)
            if part.feeder is not None:
                part.feeder.join()
            os.close(part.out)
        self._parts = []

    def records(self) -> Iterator[tuple[int, int, bytes]]:
        """Wait for the greps; yield (line number, byte offset, line with newline) per hit, in
        file order. Raises ``GrepFailed`` (before the first record) when a grep failed."""
        for part in self._parts:
            if part.feeder is not None:
                part.feeder.join()
            status = self._wait(part)
            if status not in (0, 1):  # 1: nothing matched
                raise GrepFailed(f"grep exited with status {status}")
        base = 0  # lines before the current part
        with open(self.path, "rb") as log:
            for part in self._parts:
                lines = yield from self._part_records(part, base, log)
                if lines is None:
                    if part.feeder is not None:
                        raise GrepFailed("a grep output lacks its end-of-part line")
                    self.lines = None
                    return
                base += lines
        self.lines = base

    def _part_records(self, part: _Part, base: int, log: BinaryIO) -> Generator[tuple[int, int, bytes], None, int | None]:
        """The hits of one part (numbered from ``base``); returns its line count if it has a token."""
        os.lseek(part.out, 0, os.SEEK_SET)
        checked = False
        with open(part.out, "rb", closefd=False) as out:
            while True:
                raw = out.readline(MAX_LINE + 64)  # room for grep's "N:OFFSET:" in front of the line
                if not raw:
                    return None
                number, offset, rest = _parse_hit(raw)
                if part.feeder is not None and rest.rstrip(b"\r\n") == self.token:
                    return number - 1  # a missing final newline was added before the end line
                if not checked:  # grep -b counted from where it began reading (BSD grep too?)
                    log.seek(part.start + offset)
                    if log.read(len(rest.rstrip(b"\n"))) != rest.rstrip(b"\n"):
                        raise GrepFailed("grep's byte offsets do not point at its lines")
                    checked = True
                yield base + number, part.start + offset, rest
                tail = rest[-PIECE_OVERLAP:]
                while not raw.endswith(b"\n"):  # a line over MAX_LINE: its other pieces that hold an anchor
                    raw = out.readline(MAX_LINE)
                    if not raw:
                        break
                    piece = tail + raw  # overlapping, so a message across the cut is whole in one piece
                    if any(a in piece for a in self.anchors):
                        yield base + number, part.start + offset, piece
                    tail = raw[-PIECE_OVERLAP:]


def _hold_sigint() -> object:
    """Block SIGINT in this thread (feeder threads started meanwhile inherit the block, so the
    signal waits for this thread); returns what ``_release_sigint`` needs. POSIX; else a no-op."""
    if _signal is None or not hasattr(_signal, "pthread_sigmask"):
        return None
    return _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGINT})


def _release_sigint(held: object) -> None:
    if held is not None and _signal is not None:
        _signal.pthread_sigmask(_signal.SIG_SETMASK, held)  # type: ignore[arg-type]


def _cap_memory(pid: int) -> None:
    """Limit a grep's address space to ``GREP_MEMORY`` (Linux ``prlimit``): a "line" of gigabytes
    of NUL bytes (a log's tail after a crash) would otherwise be held whole; grep then fails with
    "memory exhausted" and the file is scanned in Python. Best effort."""
    try:
        import resource

        resource.prlimit(pid, resource.RLIMIT_AS, (GREP_MEMORY, GREP_MEMORY))
    except (ImportError, AttributeError, OSError, ValueError):
        pass


def _temporary_file() -> int:
    """An unnamed temporary file opened read-write (O_TMPFILE where the OS has it)."""
    tmp = os.environ.get("TMPDIR") or "/tmp"
    flag = getattr(os, "O_TMPFILE", 0)
    if flag:
        try:
            return os.open(tmp, flag | os.O_RDWR | getattr(os, "O_CLOEXEC", 0), 0o600)
        except OSError:
            pass
    import tempfile

    with tempfile.TemporaryFile() as fh:
        return os.dup(fh.fileno())


def _parse_hit(raw: bytes) -> tuple[int, int, bytes]:
    """``N:OFFSET:line`` (grep -n -b) -> (N, OFFSET, line); raises GrepFailed otherwise."""
    try:
        number_b, offset_b, rest = raw.split(b":", 2)
        return int(number_b), int(offset_b), rest
    except ValueError:
        raise GrepFailed(f"unexpected grep output {raw[:80]!r}") from None


def _feed(path: str, pipe: int, first: int, end: int, tail: bytes) -> None:
    """Copy bytes ``first..end`` of ``path`` into ``pipe``, then a newline if the part lacks its
    last one, then ``tail``; close ``pipe``. Runs in a thread (the copy releases the GIL)."""
    try:
        with open(path, "rb") as fh:
            fd = fh.fileno()
            offset = first
            use_sendfile = hasattr(os, "sendfile")
            while offset < end:
                if use_sendfile:
                    try:
                        sent = os.sendfile(pipe, fd, offset, min(end - offset, SENDFILE_BLOCK))
                    except OSError as exc:
                        if exc.errno == errno.EPIPE:
                            raise
                        use_sendfile = False  # e.g. macOS: sendfile() only into sockets
                        continue
                else:
                    sent = os.write(pipe, os.pread(fd, min(end - offset, FEED_BLOCK), offset))
                if sent <= 0:
                    break
                offset += sent
            if end > first and os.pread(fd, 1, end - 1) != b"\n":
                tail = b"\n" + tail
            os.write(pipe, tail)
    except OSError:  # grep went away (EPIPE) or the file shrank: records() sees grep's status
        pass
    finally:
        os.close(pipe)
