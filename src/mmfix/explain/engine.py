"""Match candidate lines against the signatures, group repeats, rank root causes first.

``explain_lines`` / ``explain_file`` / ``explain_stream`` are the entry points (re-exported by
``mmfix.explain``). They return an ``ExplainResult`` whose ``matches`` are in rank order.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple

from mmfix.explain import prefilter, reader
from mmfix.explain.facts import derive
from mmfix.explain.literal import required_literals
from mmfix.explain.signatures import (
    ANCHORS,
    ANCHORS_STR,
    CONSEQUENCES,
    ECHO_LINE,
    REPORT_ANCHORS,
    REPORT_ANCHORS_STR,
    SIGNATURES,
    Signature,
)

if TYPE_CHECKING:  # the model is imported only when a pasted report needs it
    from mmfix.model import Environment, Finding

MAX_UNMATCHED = 5
MAX_REPORT_LINES = reader.MAX_REPORTS * reader.REPORT_LINES  # report lines kept per input
LONG_LINE = 16_384  # characters: a longer line is matched in windows around its anchors
WINDOW = 2_048  # characters kept on each side of an anchor in such a window
NOTHING_CACHE = 10_000  # distinct anchored lines remembered as matching nothing
# Words one of which every _ERRORISH match holds: a cheap test before that (slow) regex.
_ERROR_WORDS = ("error", "Error", "ERROR", "fatal", "FAILED")

# A line that reads like an error although no signature knows it.
_ERRORISH = re.compile(r"(?:\berror\b|\bError\b|\bERROR\b|Error:|\bfatal\b|#error|\bFAILED\b)")
# ... but is not one: compiler flags, pip's summary lines, warnings that mention errors.
_NOT_ERROR = re.compile(
    r"-Werror|warning:|Warning:|error_code|errors? in the future|errors=|\bno errors?\b|"
    r"^\s*File \"|ERROR: Command errored out|Traceback|warnings\.warn\("
)


class Evidence(NamedTuple):
    """A log line: its 1-based number and text (leading/trailing blanks removed)."""

    line: int
    text: str


class Match(NamedTuple):
    """One catalog id found in the input, with every line that showed it.

    ``line``/``text``: the first evidence line; ``lines``: all of them (``count`` in total);
    ``facts``: values read from the lines (versions, arches, header line numbers ...);
    ``fix``: what to run; ``source``: "log" (a line said so) or "report" (derived from a pasted
    environment report's facts).
    """

    id: str
    line: int
    text: str
    facts: dict[str, Any]
    fix: str
    count: int = 1  # type: ignore[assignment]  # (shadows tuple.count, on purpose)
    lines: tuple[int, ...] = ()
    title: str = ""
    family: str = ""
    rank: int = 0
    faq: str | None = None
    source: str = "log"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (schema ``mmfix.explain/1``)."""
        doc: dict[str, Any] = {
            "id": self.id,
            "line": self.line,
            "text": self.text,
            "facts": self.facts,
            "fix": self.fix,
            "title": self.title,
            "family": self.family,
            "source": self.source,
        }
        if self.count > 1:
            doc["count"] = self.count
            doc["lines"] = list(self.lines)
        if self.faq:
            doc["faq"] = self.faq
        return doc

    @property
    def where(self) -> str:
        """ "line 12", or "4 times, lines 12-18"."""
        if self.count <= 1:
            return f"line {self.line}"
        return f"{self.count} times, lines {self.lines[0]}-{self.lines[-1]}"


class Consequence(NamedTuple):
    """A line printed because something earlier failed (``ninja: build stopped`` ...)."""

    key: str
    line: int
    text: str
    count: int = 1  # type: ignore[assignment]  # (shadows tuple.count, on purpose)


class ExplainResult(NamedTuple):
    """What ``explain`` found in one input.

    ``matches``: catalog ids in rank order (root cause first); ``unmatched``: the first error lines
    no signature explains; ``consequences``: cascade lines (ninja, CalledProcessError ...);
    ``environment``: the facts of a pasted collect_env report, when there was one; ``findings``:
    the doctor checks that fail or warn on those facts; ``lines``: lines read (None when grep
    read the file's last part straight from the file: see ``prefilter.GrepRun``); ``bytes_read``.
    A NamedTuple, like ``Match``: `mmfix explain` never imports dataclasses (20 ms of its start).
    """

    matches: tuple[Match, ...] = ()
    unmatched: tuple[Evidence, ...] = ()
    consequences: tuple[Consequence, ...] = ()
    environment: Environment | None = None
    findings: tuple[Finding, ...] = ()
    lines: int | None = 0  # None when not counted
    bytes_read: int | None = None
    source: str = ""

    @property
    def named(self) -> bool:
        """True when at least one known problem was named."""
        return bool(self.matches or self.findings)

    @property
    def ids(self) -> list[str]:
        return [m.id for m in self.matches]


class _Known(dict):  # type: ignore[type-arg]
    """The known facts; a missing one formats as ``<name>``."""

    def __missing__(self, key: str) -> str:
        return f"<{key}>"


_FIELD = re.compile(r"(?<!\{)\{(\w+)")


def render_fix(template: str | tuple[str, ...], facts: dict[str, Any]) -> str:
    """``template`` with ``{fact}`` fields filled; a missing fact (or None, or []) shows as ``<fact>``.

    A tuple of templates: the first whose fields are all known facts, else the last.
    """
    known = _Known({k: v for k, v in facts.items() if v is not None and v != []})
    if isinstance(template, str):
        return template.format_map(known)
    for option in template:
        if all(name in known for name in _FIELD.findall(option)):
            return option.format_map(known)
    return template[-1].format_map(known)


class _Pattern:
    """A signature pattern, compiled on first use, behind its required literal(s) (``literal.py``):
    ``literal`` (every match holds it) or, for a top-level alternation, ``literals`` (every match
    holds one of them)."""

    __slots__ = ("source", "literal", "literals", "_rx")

    def __init__(self, source: str) -> None:
        self.source = source
        lits = required_literals(source)
        self.literal = lits[0] if lits and len(lits) == 1 else None
        self.literals = lits if lits and len(lits) > 1 else None
        self._rx: re.Pattern[str] | None = None

    def search(self, text: str) -> re.Match[str] | None:
        if self.literal is not None and self.literal not in text:
            return None
        if self.literals is not None and not any(lit in text for lit in self.literals):
            return None
        if self._rx is None:
            self._rx = re.compile(self.source)
        return self._rx.search(text)


_PATTERNS: list[tuple[Signature, list[_Pattern], _Pattern | None]] = [
    (s, [_Pattern(p) for p in s.patterns], _Pattern(s.requires_before) if s.requires_before else None)
    for s in SIGNATURES
]
_ECHO = re.compile(ECHO_LINE)
_REPORT_START = re.compile("|".join(re.escape(a) for a in REPORT_ANCHORS_STR))
_CONSEQUENCES = [(c.key, _Pattern(c.pattern)) for c in CONSEQUENCES]


class _Group:
    __slots__ = ("sig", "first", "facts", "lines")

    def __init__(self, sig: Signature, first: Evidence, facts: dict[str, Any]) -> None:
        self.sig, self.first, self.facts = sig, first, facts
        self.lines: list[int] = []


def _anchor_windows(text: str) -> list[str]:
    """The stretches of ``text`` within ``WINDOW`` characters of an anchor, overlapping ones
    merged, in order (regexes on a megabyte line could take minutes; a message is short)."""
    spans: list[list[int]] = []
    for anchor in ANCHORS_STR:
        i = text.find(anchor)
        while i != -1:
            spans.append([max(0, i - WINDOW), min(len(text), i + len(anchor) + WINDOW)])
            i = text.find(anchor, i + WINDOW)  # the next window would overlap this one anyway
    spans.sort()
    merged: list[list[int]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1] and hi - merged[-1][0] <= 4 * WINDOW:
            merged[-1][1] = max(merged[-1][1], hi)
        else:  # a new window (it may overlap the last one: none grows past 4 x WINDOW)
            merged.append([lo, hi])
    return [text[lo:hi] for lo, hi in merged]


class Matcher:
    """Feed candidates in line order; ``result()`` groups and ranks them."""

    def __init__(self) -> None:
        self.groups: dict[str, _Group] = {}
        self.consequences: dict[str, Consequence] = {}
        self.unmatched: list[Evidence] = []
        self.report_lines: list[tuple[int, str]] = []
        self._nothing: set[str] = set()  # anchored lines that matched nothing, whatever the context

    def feed(self, cand: reader.Candidate) -> None:
        text = cand.text
        if (cand.report or _REPORT_START.search(text)) and len(self.report_lines) < MAX_REPORT_LINES:
            self.report_lines.append((cand.line, text))
        if not cand.anchor or text in self._nothing:
            return
        if len(text) <= LONG_LINE:
            self._feed_text(cand, text)
            return
        # a very long line: match the stretches around its anchors (bounded regex cost, short evidence)
        for window in _anchor_windows(text):
            if self._feed_text(cand, window, remember=False):
                return

    def _feed_text(self, cand: reader.Candidate, text: str, remember: bool = True) -> bool:
        """Match ``text`` (the candidate's line, or a stretch of it); True when it was named (a
        signature, a consequence, or an unmatched error line)."""
        stripped = text.strip()
        if _ECHO.match(text):
            return True
        searched = False  # some pattern matched the line itself (its context may still decide)
        for sig, patterns, before_rx in _PATTERNS:
            for rx in patterns:
                if rx.literal is not None and rx.literal not in text:  # the gate, inlined: hot loop
                    continue
                m = rx.search(text)
                if m is None:
                    continue
                searched = True
                if before_rx is not None and not (
                    before_rx.search(text) or any(before_rx.search(b) for b in cand.before[-sig.context_lines :])
                ):
                    continue
                self._add(sig, cand.line, stripped, derive(sig.id, m.groupdict(), text, cand.before))
                return True
        for key, crx in _CONSEQUENCES:
            if crx.search(text):
                old = self.consequences.get(key)
                self.consequences[key] = (
                    Consequence(key, cand.line, stripped)
                    if old is None
                    else Consequence(key, old.line, old.text, old.count + 1)
                )
                return True
        if (
            len(self.unmatched) < MAX_UNMATCHED
            and any(w in text for w in _ERROR_WORDS)
            and _ERRORISH.search(text)
            and not _NOT_ERROR.search(text)
        ):
            self.unmatched.append(Evidence(cand.line, stripped))
            return True
        if remember and not searched and len(self._nothing) < NOTHING_CACHE:
            self._nothing.add(text)  # the same line again (a warning flood) is skipped at once
        return False

    def _add(self, sig: Signature, line: int, text: str, facts: dict[str, Any]) -> None:
        group = self.groups.get(sig.id)
        if group is None:
            group = self.groups[sig.id] = _Group(sig, Evidence(line, text), dict(facts))
            for key in sig.collect:
                if key in facts:
                    group.facts[key + "s"] = [facts[key]]
        else:
            for key in sig.collect:
                if key in facts and facts[key] not in group.facts.setdefault(key + "s", []):
                    group.facts[key + "s"].append(facts[key])
            for key, value in facts.items():
                group.facts.setdefault(key, value)
        group.lines.append(line)

    def matches(self) -> list[Match]:
        out = [
            Match(
                id=g.sig.id,
                line=g.first.line,
                text=g.first.text,
                facts=g.facts,
                fix=render_fix(g.sig.fix, g.facts),
                count=len(g.lines),
                lines=tuple(g.lines),
                title=g.sig.title,
                family=g.sig.family,
                rank=g.sig.rank,
                faq=g.sig.faq,
            )
            for g in self.groups.values()
        ]
        return out


def rank(matches: Iterable[Match]) -> list[Match]:
    """Root causes first (lower ``rank``), then by first line."""
    return sorted(matches, key=lambda m: (m.rank, m.line))


def _finish(matcher: Matcher, lines: int | None, source: str, size: int | None = None) -> ExplainResult:
    matches = matcher.matches()
    env = None
    findings: tuple[Finding, ...] = ()
    if matcher.report_lines:
        from mmfix.explain import report  # the report parser needs the model and the checks

        env_facts = report.parse_report(matcher.report_lines)
        if env_facts.known:
            env = report.to_environment(env_facts)
            matches = report.merge(matches, report.derive_matches(env_facts), report.base_facts(env_facts))
            findings = tuple(report.run_doctor_checks(env, report.report_check_ids(env_facts)))
    consequences = tuple(sorted(matcher.consequences.values(), key=lambda c: c.line))
    return ExplainResult(
        matches=tuple(rank(matches)),
        unmatched=tuple(matcher.unmatched),
        consequences=consequences,
        environment=env,
        findings=findings,
        lines=lines,
        bytes_read=size,
        source=source,
    )


def explain_lines(lines: Iterable[str], source: str = "<lines>") -> ExplainResult:
    """Explain text lines already decoded (a traceback pasted in, a captured build log).

    ``lines``: any iterable of ``str`` (line endings optional). Returns an ``ExplainResult``; an
    input without anything known gives empty ``matches`` and the first error lines in
    ``unmatched``. Never raises on odd content.
    """
    scanner = reader.LineScanner(ANCHORS_STR, REPORT_ANCHORS_STR)
    matcher = Matcher()
    for cand in scanner.scan(lines):
        matcher.feed(cand)
    return _finish(matcher, scanner.lines_read, source)


def explain_stream(stream: BinaryIO, source: str = "<stdin>") -> ExplainResult:
    """Explain a binary stream (a file opened ``rb``, ``sys.stdin.buffer``), read in chunks.

    Raises ``reader.NotALog`` when it is empty or binary junk.
    """
    first = stream.read(reader.SAMPLE)
    kind = reader.sniff(first, at_end=len(first) < reader.SAMPLE)
    if kind == "bytes-cr":  # or a tqdm progress bar redirected to the file: its lines come later
        first, kind = prefilter.look_for_lf(stream, first)
    if kind in ("empty", "binary"):
        raise reader.NotALog(kind)
    matcher = Matcher()
    if kind.startswith("utf-"):
        scanner = reader.LineScanner(ANCHORS_STR, REPORT_ANCHORS_STR)
        for cand in scanner.scan(reader.open_text_utf16(stream, first, kind)):
            matcher.feed(cand)
        return _finish(matcher, scanner.lines_read, source)
    chunks = reader.ChunkScanner(ANCHORS, REPORT_ANCHORS, cr_lines=kind == "bytes-cr")
    for cand in chunks.scan(stream, first):
        matcher.feed(cand)
    return _finish(matcher, chunks.lines_read, source, chunks.bytes_read)


def explain_file(path: str | os.PathLike[str], started: prefilter.GrepRun | None = None) -> ExplainResult:
    """Explain the log file at ``path`` (any size, any line ending, UTF-8/GBK/cp1252/UTF-16).

    ``started``: the grep prefilter already running on it (``prefilter.start``), if any; big
    files get one here otherwise. Raises ``OSError`` when it cannot be opened (missing, a
    directory, no permission) and ``reader.NotALog`` when it holds no log text (empty or binary).
    """
    run = started if started is not None else prefilter.start(path, ANCHORS)
    if run is not None:
        scanner = reader.GrepScanner(run, REPORT_ANCHORS)
        matcher = Matcher()
        try:
            for cand in scanner.scan():
                matcher.feed(cand)
            return _finish(matcher, scanner.lines_read, os.fspath(path), os.path.getsize(path))
        except reader.GrepFailed:
            pass  # scanned in Python below
    with open(path, "rb") as fh:  # a regular file, or a FIFO, /dev/stdin, <(...): read as a stream
        result = explain_stream(fh, os.fspath(path))
        return result._replace(bytes_read=fh.tell()) if fh.seekable() else result


def explain_stdin() -> ExplainResult:
    """Explain standard input (binary), streamed."""
    return explain_stream(sys.stdin.buffer, "<stdin>")
