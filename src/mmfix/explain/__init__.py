"""``mmfix explain``: name the catalog problems in build logs, tracebacks and pasted reports.

Public API (used by ``mmfix rebuild`` on a failed build log)::

    from mmfix.explain import explain_file, explain_lines
    result = explain_file(Path("build.log"))
    for m in result.matches:          # rank order: root cause first
        print(m.id, m.line, m.text, m.facts, m.fix, m.count, m.lines)

Modules: ``signatures`` (the data table), ``reader`` (streaming, decoding, prefilter),
``facts`` (derived facts), ``engine`` (matching, grouping, ranking), ``report`` (collect_env
reports -> Environment -> doctor checks).
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: importing typing (and re) here would slow `mmfix explain`

# The engine (regular expressions of every signature) loads on first use, so that
# ``mmfix explain`` can start its grep prefilter (``reader``) before paying for it.
_ENGINE = {"Consequence", "Evidence", "ExplainResult", "Match", "explain_file", "explain_lines",
           "explain_stdin", "explain_stream"}

if TYPE_CHECKING:
    from mmfix.explain.engine import (
        Consequence,
        Evidence,
        ExplainResult,
        Match,
        explain_file,
        explain_lines,
        explain_stdin,
        explain_stream,
    )
    from mmfix.explain.reader import NotALog


def __getattr__(name: str) -> object:
    if name in _ENGINE:
        from mmfix.explain import engine

        return getattr(engine, name)
    if name == "NotALog":
        from mmfix.explain.reader import NotALog

        return NotALog
    raise AttributeError(f"module 'mmfix.explain' has no attribute {name!r}")


__all__ = [
    "Consequence",
    "Evidence",
    "ExplainResult",
    "Match",
    "NotALog",
    "explain_file",
    "explain_lines",
    "explain_stdin",
    "explain_stream",
]
