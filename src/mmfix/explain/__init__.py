"""``mmfix explain``: name the catalog problems in build logs, tracebacks and pasted reports.

Public API (used by ``mmfix rebuild`` on a failed build log)::

    from mmfix.explain import explain_file, explain_lines
    result = explain_file(Path("build.log"))
    for m in result.matches:          # rank order: root cause first
        print(m.id, m.line, m.text, m.facts, m.fix, m.count, m.lines)

Modules: ``reader`` (streaming, decoding, the key scan), ``engine`` (matching, context rules,
ranking), ``facts`` (derived facts), ``report`` (collect_env reports -> Environment -> doctor
checks), and the data tables ``signatures`` and ``rules``.
"""

from __future__ import annotations

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

__all__ = ["Consequence", "Evidence", "ExplainResult", "Match", "NotALog", "explain_file", "explain_lines",
           "explain_stdin", "explain_stream"]
