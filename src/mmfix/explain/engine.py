"""Match candidate lines against the signatures, gather context facts, apply the rules, rank.

The entry points (``explain_lines`` / ``_file`` / ``_stream`` / ``_stdin``) return an
``ExplainResult`` whose ``matches`` are in rank order: root cause first. The scan looks for the
literals every pattern holds (``KEYS``); a candidate line is tried against the patterns whose
literal it holds, and a line that names nothing once more joined with the next (a wrapped message).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple, Union

from mmfix.explain import reader
from mmfix.explain.facts import derive
from mmfix.explain.literal import required_literals
from mmfix.explain.rules import FACTS, REPORT_STARTS, RULES, Fact, Rule
from mmfix.explain.signatures import BY_ID, CONSEQUENCES, ECHO_LINE, SIGNATURES, ConsequencePattern, Signature

if TYPE_CHECKING:  # the model is imported only when a pasted report needs it
    from mmfix.model import Environment, Finding

MAX_UNMATCHED = 5
MAX_REPORT_LINES = reader.MAX_REPORTS * reader.REPORT_LINES  # report lines kept per input
LONG_LINE = 16_384  # characters: a longer line is matched in windows around its keys
WINDOW = 2_048  # characters kept on each side of a key in such a window
NOTHING_CACHE = 10_000  # distinct key lines remembered as matching nothing (a warning flood)
# Words one of which every "error-looking" line holds: they are keys too, for the unmatched list.
ERROR_WORDS = ("error", "Error", "fatal")

# A line that reads like an error although no signature knows it ...
_ERRORISH = re.compile(r"(?:\berror\b|\bError\b|\bERROR\b|Error:|\bfatal\b|#error|\bFAILED\b)")
# ... but is not one: compiler flags, pip's summary lines, warnings that mention errors.
_NOT_ERROR = re.compile(
    r"-Werror|warning:|Warning:|error_code|errors? in the future|errors=|\bno errors?\b|"
    r"^\s*File \"|ERROR: Command errored out|Traceback|warnings\.warn\("
)
_ECHO = re.compile(ECHO_LINE)


class Evidence(NamedTuple):
    """A log line: its 1-based number and text (leading/trailing blanks removed)."""
    line: int
    text: str


class Match(NamedTuple):
    """One catalog id found in the input, with every line that showed it.

    ``line``/``text``: the first evidence line; ``lines``: all of them (``count`` in total);
    ``facts``: values read from the lines (versions, arches, header line numbers ...); ``fix``:
    what to run; ``source``: "log" (a line said so), "rule" (a context fact turned a symptom into
    this cause; ``facts["explains"]`` names the symptom) or "report" (a pasted environment report).
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
        doc = {k: getattr(self, k) for k in ("id", "line", "text", "facts", "fix", "title", "family", "source")}
        doc.update({"count": self.count, "lines": list(self.lines)} if self.count > 1 else {})
        return {**doc, "faq": self.faq} if self.faq else doc

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
    ``environment``: the facts of a pasted environment report, when there was one; ``findings``:
    the doctor checks that fail or warn on those facts; ``lines``: lines read; ``bytes_read``.
    """

    matches: tuple[Match, ...] = ()
    unmatched: tuple[Evidence, ...] = ()
    consequences: tuple[Consequence, ...] = ()
    environment: Environment | None = None
    findings: tuple[Finding, ...] = ()
    lines: int | None = 0
    bytes_read: int | None = None
    source: str = ""

    @property
    def named(self) -> bool:  # at least one known problem was named
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


Owner = Union[Signature, ConsequencePattern, Fact]


class _Pattern(NamedTuple):  # order: table order (the first signature that matches a line names it)
    order: int
    owner: Owner
    rx: re.Pattern[str]


def _index() -> tuple[list[tuple[str, list[_Pattern]]], tuple[str, ...]]:
    """(literal -> the patterns that need it, in table order), and the scan's key literals: every
    literal, the error words and the report starts, minus those holding a shorter key."""
    owners: list[tuple[Owner, str]] = [(s, p) for s in SIGNATURES for p in s.patterns]
    owners += [(c, c.pattern) for c in CONSEQUENCES] + [(f, f.pattern) for f in FACTS]
    by_literal: dict[str, list[_Pattern]] = {}
    for order, (owner, pattern) in enumerate(owners):
        for lit in required_literals(pattern, ERROR_WORDS) or ():  # every pattern has one (tested)
            by_literal.setdefault(lit, []).append(_Pattern(order, owner, re.compile(pattern)))
    words = set(by_literal) | set(ERROR_WORDS) | set(REPORT_STARTS)
    keys = tuple(sorted(w for w in words if not any(o != w and o in w for o in words)))
    return list(by_literal.items()), keys


INDEX, KEYS = _index()


def _hits(text: str) -> list[_Pattern]:
    """The patterns whose literal ``text`` holds, in table order."""
    found = {p.order: p for lit, pats in INDEX if lit in text for p in pats}
    return [found[k] for k in sorted(found)]


class _Group:
    __slots__ = ("sig", "first", "facts", "lines")

    def __init__(self, sig: Signature, first: Evidence, facts: dict[str, Any]) -> None:
        self.sig, self.first, self.facts = sig, first, facts
        self.lines: list[int] = []


def _windows(text: str) -> list[str]:
    """The stretches of ``text`` within ``WINDOW`` characters of a key, overlapping ones merged
    (a regex on a megabyte line could take minutes; a message is short)."""
    spans: list[list[int]] = []
    for key in KEYS:
        i = text.find(key)
        while i != -1:
            spans.append([max(0, i - WINDOW), min(len(text), i + len(key) + WINDOW)])
            i = text.find(key, i + WINDOW)
    merged: list[list[int]] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1] and hi - merged[-1][0] <= 4 * WINDOW:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return [text[lo:hi] for lo, hi in merged]


class Matcher:
    """Feed candidates in line order; ``matches()`` groups them and applies the rules."""

    def __init__(self) -> None:
        self.groups: dict[str, _Group] = {}
        self.facts: dict[str, tuple[Evidence, dict[str, Any]]] = {}  # context facts, first seen
        self.consequences: dict[str, Consequence] = {}
        self.unmatched: list[Evidence] = []
        self.report_lines: list[tuple[int, str]] = []
        self._nothing: set[str] = set()  # key lines that matched nothing, whatever the context

    def feed(self, cand: reader.Candidate) -> None:
        text = cand.text
        if len(self.report_lines) < MAX_REPORT_LINES and (cand.report or any(s in text for s in REPORT_STARTS)):
            self.report_lines.append((cand.line, text))
        if not cand.key or text in self._nothing:
            return
        if len(text) <= LONG_LINE:
            self._match(cand, text)
            return
        for window in _windows(text):  # a very long line: bounded regex cost, short evidence
            if self._match(cand, window, remember=False):
                return

    def _match(self, cand: reader.Candidate, text: str, remember: bool = True) -> bool:
        """Match ``text`` (the candidate's line, or a stretch of it); True when it was named."""
        if _ECHO.match(text):
            return True
        hits = _hits(text)
        for p in hits:
            m = p.rx.search(text) if isinstance(p.owner, Fact) and p.owner.name not in self.facts else None
            if m and isinstance(p.owner, Fact):
                self.facts[p.owner.name] = (Evidence(cand.line, text.strip()), m.groupdict())
        named = self._signature(cand, text, [p for p in hits if isinstance(p.owner, Signature)])
        if not named and cand.after and any(isinstance(p.owner, Signature) for p in hits):
            joined = text.rstrip() + " " + cand.after.strip()  # a message wrapped onto the next line
            sigs = [p for p in _hits(joined) if isinstance(p.owner, Signature)]
            named = self._signature(cand, joined, sigs, text)
        if named:
            return True
        for p in hits:
            if isinstance(p.owner, ConsequencePattern) and p.rx.search(text):
                old = self.consequences.get(p.owner.key)
                self.consequences[p.owner.key] = (Consequence(p.owner.key, cand.line, text.strip()) if old is None
                                                  else old._replace(count=old.count + 1))
                return True
        if len(self.unmatched) < MAX_UNMATCHED and _ERRORISH.search(text) and not _NOT_ERROR.search(text):
            self.unmatched.append(Evidence(cand.line, text.strip()))
            return True
        if remember and not any(isinstance(p.owner, Signature) for p in hits) and len(self._nothing) < NOTHING_CACHE:
            self._nothing.add(text)  # the same line again (a warning flood) is skipped at once
        return False

    def _signature(self, cand: reader.Candidate, text: str, patterns: list[_Pattern], shown: str | None = None) -> bool:
        for p in patterns:
            sig = p.owner
            assert isinstance(sig, Signature)
            m = p.rx.search(text)
            if m is None:
                continue
            if shown is None and cand.after:  # its last part may have wrapped onto the next line
                whole = p.rx.search(text.rstrip() + " " + cand.after.strip())
                if whole and whole.start() == m.start() and len([g for g in whole.groups() if g]) > len([g for g in m.groups() if g]):
                    m = whole
            context = (text, *cand.before[-sig.context_lines :]) if sig.requires_before else ()
            if context and not any(re.search(sig.requires_before or "", t) for t in context):
                continue
            self._add(sig, Evidence(cand.line, (shown or text).strip()), derive(sig, m.groupdict(), m.string, cand.before))
            return True
        return False

    def _add(self, sig: Signature, evidence: Evidence, facts: dict[str, Any]) -> None:
        group = self.groups.get(sig.id)
        if group is None:
            group = self.groups[sig.id] = _Group(sig, evidence, dict(facts))
            group.facts.update({key + "s": [facts[key]] for key in sig.collect if key in facts})
        else:
            for key in sig.collect:
                if key in facts and facts[key] not in group.facts.setdefault(key + "s", []):
                    group.facts[key + "s"].append(facts[key])
            for key, value in facts.items():
                group.facts.setdefault(key, value)
        group.lines.append(evidence.line)

    def matches(self) -> list[Match]:
        """The log's matches, and the causes the rules name from them (rules first: a cause its own
        signature already matched gets the symptom it explains added to its facts)."""
        named = [m for rule in RULES if (m := self._apply(rule)) is not None]
        out = [Match(g.sig.id, g.first.line, g.first.text, g.facts, render_fix(g.sig.fix, g.facts), len(g.lines),
                     tuple(g.lines), g.sig.title, g.sig.family, g.sig.rank, g.sig.faq) for g in self.groups.values()]
        return out + named

    def _apply(self, rule: Rule) -> Match | None:
        """The cause ``rule`` names, or None when its symptom or a fact it needs was not seen."""
        symptom = self.groups.get(rule.symptom)
        if symptom is None:
            return None
        facts = dict(symptom.facts)
        evidence = symptom.first
        for need in rule.needs:
            if need.startswith("symptom."):
                if not symptom.facts.get(need[len("symptom."):]):
                    return None
            elif need in self.facts:
                seen, values = self.facts[need]
                facts.update({k: v for k, v in values.items() if v is not None})
                evidence = seen if need == rule.evidence else evidence
            else:
                return None
        facts["explains"] = f"{rule.symptom} (line {symptom.first.line})"
        if rule.cause in self.groups:  # its own signature matched too: keep that match, add the link
            self.groups[rule.cause].facts.setdefault("explains", facts["explains"])
            return None
        sig = BY_ID.get(rule.cause)
        title, family, fix = (sig.title, sig.family, sig.fix) if sig else (rule.title, rule.family, rule.fix)
        return Match(rule.cause, evidence.line, evidence.text, facts, render_fix(fix, facts), title=title,
                     family=family, rank=rule.rank, source="rule")


def _finish(matcher: Matcher, scanner: reader.Scanner, source: str, size: int | None) -> ExplainResult:
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
    ranked = tuple(sorted(matches, key=lambda m: (m.rank, m.line)))  # root causes first, then by line
    return ExplainResult(ranked, tuple(matcher.unmatched), consequences, env, findings, scanner.lines_read, size, source)


def explain_stream(stream: BinaryIO, source: str = "<stdin>") -> ExplainResult:
    """Explain a binary stream (a file opened ``rb``, ``sys.stdin.buffer``), read in blocks.
    Raises ``reader.NotALog`` when it is empty or binary junk."""
    scan_from, first, cr_lines = reader.open_input(stream)
    scanner = reader.Scanner((k.encode() for k in KEYS), (s.encode() for s in REPORT_STARTS))
    matcher = Matcher()
    for cand in scanner.scan(scan_from, first, cr_lines):
        matcher.feed(cand)
    return _finish(matcher, scanner, source, scanner.bytes_read if scan_from is stream else None)


def explain_lines(lines: Iterable[str], source: str = "<lines>") -> ExplainResult:
    """Explain ``str`` lines (line ends optional: a pasted traceback, a captured build log).
    Never raises on odd content; nothing known gives empty ``matches``."""
    try:
        return explain_stream(reader.text_stream(lines), source)._replace(bytes_read=None)
    except reader.NotALog:
        return ExplainResult(source=source)


def explain_file(path: str | os.PathLike[str]) -> ExplainResult:
    """Explain the log file at ``path`` (any size, line ending, UTF-8/GBK/cp1252/UTF-16; a FIFO or
    ``<(...)`` too). Raises ``OSError`` when it cannot be opened, ``reader.NotALog`` when it holds
    no log text."""
    with open(path, "rb") as fh:
        return explain_stream(fh, os.fspath(path))


def explain_stdin() -> ExplainResult:
    """Explain standard input (binary), streamed."""
    return explain_stream(sys.stdin.buffer, "<stdin>")
