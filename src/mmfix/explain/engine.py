"""Match candidate lines against the signatures, group repeats, rank root causes first.

``explain_lines`` / ``explain_file`` / ``explain_stream`` are the entry points (re-exported by
``mmfix.explain``). They return an ``ExplainResult`` whose ``matches`` are in rank order.
"""

from __future__ import annotations

import dataclasses
import re
import string
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from mmfix.explain import reader
from mmfix.explain.facts import derive
from mmfix.explain.signatures import (
    ANCHORS,
    ANCHORS_STR,
    CONSEQUENCES,
    ECHO_LINE,
    SIGNATURES,
    Signature,
)
from mmfix.model import Environment, Finding

REPORT_ANCHORS = (b"sys.platform", b"PyTorch version")
REPORT_ANCHORS_STR = tuple(a.decode() for a in REPORT_ANCHORS)
MAX_UNMATCHED = 5

# A line that reads like an error although no signature knows it.
_ERRORISH = re.compile(r"(?:\berror\b|\bError\b|\bERROR\b|Error:|\bfatal\b|#error|\bFAILED\b)")
# ... but is not one: compiler flags, pip's summary lines, warnings that mention errors.
_NOT_ERROR = re.compile(
    r"-Werror|warning:|Warning:|error_code|errors? in the future|errors=|\bno errors?\b|"
    r"^\s*File \"|ERROR: Command errored out|Traceback|warnings\.warn\("
)


@dataclass(frozen=True)
class Evidence:
    """A log line: its 1-based number and text (leading/trailing blanks removed)."""

    line: int
    text: str


@dataclass(frozen=True)
class Match:
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
    count: int = 1
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


@dataclass(frozen=True)
class Consequence:
    """A line printed because something earlier failed (``ninja: build stopped`` ...)."""

    key: str
    line: int
    text: str
    count: int = 1


@dataclass(frozen=True)
class ExplainResult:
    """What ``explain`` found in one input.

    ``matches``: catalog ids in rank order (root cause first); ``unmatched``: the first error lines
    no signature explains; ``consequences``: cascade lines (ninja, CalledProcessError ...);
    ``environment``: the facts of a pasted collect_env report, when there was one; ``findings``:
    the doctor checks that fail or warn on those facts; ``lines``: lines read (None when the
    grep prefilter read the file: counting them would cost a second pass); ``bytes_read``.
    """

    matches: tuple[Match, ...] = ()
    unmatched: tuple[Evidence, ...] = ()
    consequences: tuple[Consequence, ...] = ()
    environment: Environment | None = None
    findings: tuple[Finding, ...] = ()
    lines: int | None = 0  # None when not counted (the grep prefilter skips that pass)
    bytes_read: int | None = None
    source: str = ""

    @property
    def named(self) -> bool:
        """True when at least one known problem was named."""
        return bool(self.matches or self.findings)

    @property
    def ids(self) -> list[str]:
        return [m.id for m in self.matches]


class _Formatter(string.Formatter):
    def get_value(self, key: Any, args: Any, kwargs: Any) -> Any:
        value = kwargs.get(key) if isinstance(key, str) else None
        return f"<{key}>" if value is None or value == [] else value


def render_fix(template: str | tuple[str, ...], facts: dict[str, Any]) -> str:
    """``template`` with ``{fact}`` fields filled; a missing fact shows as ``<fact>``.

    A tuple of templates: the first whose fields are all known facts, else the last.
    """
    if isinstance(template, str):
        return _Formatter().format(template, **facts)
    for option in template:
        fields = {name for _, name, _, _ in string.Formatter().parse(option) if name}
        if all(facts.get(f) not in (None, []) for f in fields):
            return _Formatter().format(option, **facts)
    return _Formatter().format(template[-1], **facts)


_COMPILED: list[tuple[Signature, list[re.Pattern[str]], re.Pattern[str] | None]] = [
    (
        s,
        [re.compile(p) for p in s.patterns],
        re.compile(s.requires_before) if s.requires_before else None,
    )
    for s in SIGNATURES
]
_ECHO = re.compile(ECHO_LINE)
_CONSEQUENCES = [(c.key, re.compile(c.pattern)) for c in CONSEQUENCES]


@dataclass
class _Group:
    sig: Signature
    first: Evidence
    facts: dict[str, Any]
    lines: list[int] = field(default_factory=list)


class Matcher:
    """Feed candidates in line order; ``result()`` groups and ranks them."""

    def __init__(self) -> None:
        self.groups: dict[str, _Group] = {}
        self.consequences: dict[str, Consequence] = {}
        self.unmatched: list[Evidence] = []
        self.report_lines: list[tuple[int, str]] = []

    def feed(self, cand: reader.Candidate) -> None:
        text = cand.text
        if cand.report or any(a in text for a in REPORT_ANCHORS_STR):
            self.report_lines.append((cand.line, text))
        if not cand.anchor:
            return
        stripped = text.strip()
        if _ECHO.match(text):
            return
        for sig, patterns, before_rx in _COMPILED:
            for rx in patterns:
                m = rx.search(text)
                if m is None:
                    continue
                if before_rx is not None and not (
                    before_rx.search(text) or any(before_rx.search(b) for b in cand.before[-sig.context_lines :])
                ):
                    continue
                self._add(sig, cand.line, stripped, derive(sig.id, m.groupdict(), text, cand.before))
                return
        for key, crx in _CONSEQUENCES:
            if crx.search(text):
                old = self.consequences.get(key)
                self.consequences[key] = (
                    Consequence(key, cand.line, stripped)
                    if old is None
                    else Consequence(key, old.line, old.text, old.count + 1)
                )
                return
        if len(self.unmatched) < MAX_UNMATCHED and _ERRORISH.search(text) and not _NOT_ERROR.search(text):
            self.unmatched.append(Evidence(cand.line, stripped))

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
    from mmfix.explain import report  # the report parser needs the checks; import lazily

    matches = matcher.matches()
    env = None
    findings: tuple[Finding, ...] = ()
    if matcher.report_lines:
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
    kind = reader.sniff(first)
    if kind in ("empty", "binary"):
        raise reader.NotALog(kind)
    matcher = Matcher()
    if kind == "utf-16":
        scanner = reader.LineScanner(ANCHORS_STR, REPORT_ANCHORS_STR)
        for cand in scanner.scan(reader.open_text_utf16(stream, first)):
            matcher.feed(cand)
        return _finish(matcher, scanner.lines_read, source)
    chunks = reader.ChunkScanner(ANCHORS, REPORT_ANCHORS)
    for cand in chunks.scan(stream, first):
        matcher.feed(cand)
    return _finish(matcher, chunks.lines_read, source)


def explain_file(path: Path) -> ExplainResult:
    """Explain the log file at ``path`` (any size, any line ending, UTF-8/GBK/cp1252/UTF-16).

    Raises ``OSError`` when it cannot be opened (missing, a directory, no permission) and
    ``reader.NotALog`` when it holds no log text (empty or binary junk).
    """
    with open(path, "rb") as fh:
        grep = reader.find_grep()
        if grep and path.is_file() and path.stat().st_size >= reader.GREP_MIN_BYTES:
            kind = reader.sniff(fh.read(reader.SAMPLE))
            if kind in ("empty", "binary"):
                raise reader.NotALog(kind)
            if kind == "bytes":
                scanner = reader.GrepScanner(grep, ANCHORS, REPORT_ANCHORS)
                matcher = Matcher()
                for cand in scanner.scan(str(path)):
                    matcher.feed(cand)
                return _finish(matcher, None, str(path), path.stat().st_size)
            fh.seek(0)
        result = explain_stream(fh, str(path))
        return dataclasses.replace(result, bytes_read=fh.tell())


def explain_stdin() -> ExplainResult:
    """Explain standard input (binary), streamed."""
    return explain_stream(sys.stdin.buffer, "<stdin>")
