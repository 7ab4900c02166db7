"""A literal every match of a regular expression contains: what the scan looks for first.

``required_literal(pattern)`` reads the pattern's source without compiling it. Outside groups and
classes, with no top-level ``|``, a pattern is a concatenation: each run of plain characters there
(escaped punctuation included; a character made optional by ``?``, ``*`` or ``{`` dropped) is in
every match. ``required_literals`` does the same per top-level branch of an alternation (every
match holds one of them). None when a pattern has none (inline flags such as ``(?i)``, a branch
without a run of ``MIN_LENGTH``). Sound by construction; tested on every signature sample and on
hypothesis-generated patterns and matches.
"""

from __future__ import annotations

MIN_LENGTH = 3


def _class_end(pattern: str, i: int) -> int:
    """The index just after the character class opening at ``pattern[i]`` (``[``); a ``]`` first
    in the class (after an optional ``^``) is a literal, escapes are skipped."""
    n = len(pattern)
    j = i + 1
    if j < n and pattern[j] == "^":
        j += 1
    if j < n and pattern[j] == "]":
        j += 1
    while j < n and pattern[j] != "]":
        j += 2 if pattern[j] == "\\" else 1
    return j + 1


def top_level_branches(pattern: str) -> list[str] | None:
    """``pattern`` split at its top-level ``|`` (outside groups, classes and escapes); None when
    it is not well formed."""
    branches: list[str] = []
    depth, start, i, n = 0, 0, 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            i = _class_end(pattern, i)
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                return None
        elif c == "|" and depth == 0:
            branches.append(pattern[start:i])
            start = i + 1
        i += 1
    if depth != 0 or i > n:
        return None
    branches.append(pattern[start:])
    return branches


def required_literals(pattern: str, prefer: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    """One literal per top-level branch of ``pattern`` (every match holds at least one of them),
    or None when some branch has none. A pattern without ``|`` gives its ``required_literal``."""
    branches = top_level_branches(pattern)
    if not branches:
        return None
    found = [required_literal(b, prefer) for b in branches]
    if any(lit is None for lit in found):
        return None
    return tuple(dict.fromkeys(lit for lit in found if lit is not None))
_SPECIAL = set(".^$*+?{}[]()|\\")
_OPTIONAL = set("?*{")


def required_literal(pattern: str, prefer: tuple[str, ...] = ()) -> str | None:
    """The longest plain substring every match of ``pattern`` (``re`` syntax, no flags) holds,
    or None; among several, the longest that holds one of ``prefer`` (a key the scan looks for
    anyway), else the longest. Never raises; an odd pattern gives None."""
    runs = _runs(pattern)
    if runs is None:
        return None
    runs = [r for r in runs if len(r) >= MIN_LENGTH]
    preferred = [r for r in runs if any(p in r for p in prefer)]
    return max(preferred or runs, key=len, default=None)


def _runs(pattern: str) -> list[str] | None:
    """The runs of plain characters at the top level of ``pattern`` (each in every match), or
    None when the pattern is not one this reading handles."""
    runs: list[str] = []
    run: list[str] = []
    depth = 0
    i, n = 0, len(pattern)

    def end_run() -> None:
        if run:
            runs.append("".join(run))
            run.clear()

    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n:
                return None
            nxt = pattern[i + 1]
            i += 2
            if depth or nxt.isalnum() or nxt == "_":  # \d \w \b \1 ...: not a literal
                end_run()
                continue
            char = nxt
        elif c == "[":  # a class: no literal of its own
            end_run()
            i = _class_end(pattern, i)
            continue
        elif c == "(":
            flag = pattern[i + 2] if pattern.startswith("(?", i) and i + 2 < n else ""
            if depth == 0 and flag.isalpha() and flag != "P":  # (?i) (?x) ...: the text may differ
                return None
            end_run()
            depth += 1
            i += 1
            continue
        elif c == ")":
            depth -= 1
            if depth < 0:
                return None
            i += 1
            continue
        elif c == "{":  # a quantifier {m,n} (or a literal brace): its digits are no literal
            end_run()
            close = pattern.find("}", i)
            if close == -1 or not set(pattern[i + 1 : close]) <= set("0123456789,"):
                return None  # a literal brace: rare, and not worth reasoning about
            i = close + 1
            continue
        elif c == "|":
            if depth == 0:
                return None
            i += 1
            continue
        elif depth or c in _SPECIAL:
            end_run()
            i += 1
            continue
        else:
            char = c
            i += 1
        # a plain character at the top level: optional if a quantifier follows
        if depth:
            continue
        if i < n and pattern[i] in _OPTIONAL:
            end_run()
            continue
        run.append(char)
        if i < n and pattern[i] == "+":
            end_run()
    end_run()
    return runs
