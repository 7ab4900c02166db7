"""``mmfix explain [FILE...|-] [--json]``: name the known problems in logs and pasted reports.

Exit codes: 0 something known was named; 1 nothing known (or no log text at all); 2 an input
cannot be read (missing path, a directory, no permission), raised as ``UsageError``.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from mmfix import render
from mmfix.errors import EXIT_OK, EXIT_PROBLEMS, MmfixError, UsageError
from mmfix.explain import ExplainResult, NotALog, explain_file, explain_stdin

if TYPE_CHECKING:
    from mmfix.model import Environment

SCHEMA = "mmfix.explain/1"
MAX_TEXT = 300  # characters of an evidence line shown in human output

CONSEQUENCE_NAMES = {
    "ninja-stopped": "ninja: build stopped",
    "called-process-error": "CalledProcessError",
    "error-compiling-objects": "Error compiling objects for extension",
    "failed-building-wheel": "Failed building wheel",
    "subprocess-exited": "subprocess exited with error",
    "errors-detected": "errors detected in the compilation",
    "getting-requirements": "Getting requirements to build wheel failed",
    "legacy-install-failure": "setup.py install failed",
    "pip-step-error": "pip step failed",
}


def printable(name: str) -> str:
    """A file name as it may be shown: control characters (a terminal escape in a name) and
    undecodable bytes (kept by Python as lone surrogates) written as backslash escapes."""
    if name.isprintable():
        return name
    text = os.fsencode(name).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _check_readable(name: str) -> None:
    """Raise UsageError (exit 2) when ``name`` is not a readable file."""
    if name == "-":
        return
    try:
        os.stat(name)
    except OSError as exc:  # ENOENT, ELOOP (a symlink loop), ENAMETOOLONG ...
        why = "no such file" if isinstance(exc, FileNotFoundError) else (exc.strerror or str(exc)).lower()
        raise UsageError(f"cannot read {printable(name)}", why, "give the path of a log file, or - for stdin") from exc
    if os.path.isdir(name):
        raise UsageError(f"cannot read {printable(name)}", "it is a directory", "give a log file inside it, or - for stdin")
    if not os.access(name, os.R_OK):
        raise UsageError(f"cannot read {printable(name)}", "permission denied", "make it readable, or pipe it on stdin")


def _explain_one(name: str) -> ExplainResult:
    if name == "-" and sys.stdin.isatty():
        render.info("reading a log from stdin (paste it, then Ctrl-D; Ctrl-Z Enter on Windows)")
    try:
        return explain_stdin() if name == "-" else explain_file(name)
    except IsADirectoryError as exc:  # raced with _check_readable
        raise UsageError(f"cannot read {printable(name)}", "it is a directory", "give a log file") from exc
    except OSError as exc:
        raise UsageError(f"cannot read {printable(name)}", exc.strerror or str(exc), "give a readable log file") from exc


def run(files: list[str], as_json: bool) -> int:
    """Explain each input in ``files`` ("-" = stdin); print text or one JSON document.

    Returns 0 when a known problem was named, 1 when not (or no input held log text).
    Raises ``UsageError`` (exit 2) for a missing path or a directory, ``MmfixError`` (exit 1)
    when no input held log text (human output).
    """
    names = files or ["-"]
    for name in names:
        _check_readable(name)
    results: list[tuple[str, ExplainResult | None]] = []
    for name in names:
        try:
            results.append((name, _explain_one(name)))
        except NotALog:
            results.append((name, None))
    named = any(r is not None and r.named for _, r in results)
    if as_json:
        render.emit_json(SCHEMA, _payload(results))
        return EXIT_OK if named else EXIT_PROBLEMS
    if all(r is None for _, r in results):
        shown = ", ".join("stdin" if n == "-" else printable(n) for n, _ in results)
        raise MmfixError(
            f"no log text found in {shown}",
            "it is empty or binary data",
            "give a build log, traceback or collect_env output",
        )
    for name, result in results:
        _print_result("stdin" if name == "-" else printable(name), result)
    return EXIT_OK if named else EXIT_PROBLEMS


# ---------------------------------------------------------------- JSON


def _payload(results: list[tuple[str, ExplainResult | None]]) -> dict[str, Any]:
    matches: list[dict[str, Any]] = []
    unmatched: list[dict[str, Any]] = []
    inputs: list[dict[str, Any]] = []
    for name, result in results:
        file = "<stdin>" if name == "-" else printable(name)
        if result is None:
            inputs.append({"file": file, "text_found": False, "lines": 0})
            continue
        matches += [{**m.to_dict(), "file": file} for m in result.matches]
        unmatched += [{"line": e.line, "text": e.text, "file": file} for e in result.unmatched]
        inputs.append(
            {
                "file": file,
                "text_found": True,
                "lines": result.lines,
                "bytes": result.bytes_read,
                "consequences": [
                    {"key": c.key, "line": c.line, "text": c.text, "count": c.count} for c in result.consequences
                ],
                "environment": result.environment.to_dict() if result.environment else None,
                "findings": [f.to_dict() for f in result.findings],
            }
        )
    return {"matches": matches, "unmatched": unmatched, "inputs": inputs}


# ---------------------------------------------------------------- human


def _short(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."


def _facts_line(facts: dict[str, Any]) -> str:
    parts = []
    for key, value in facts.items():
        if isinstance(value, list):
            shown = value if len(value) <= 6 else [*value[:2], "...", value[-1]]
            value = ", ".join(str(v) for v in shown)
        parts.append(f"{key}={value}")
    return "; ".join(parts)


def _env_summary(env: Environment) -> list[str]:
    out = []
    if env.torch:
        out.append(f"torch {env.torch.version} (CUDA {env.torch.cuda or 'none'})")
    for d in env.mmcv:
        cuda = env.ext_import.compiling_cuda_version if env.ext_import else None
        out.append(f"{d.name} {d.version}" + (f" (ops compiled with CUDA: {cuda})" if cuda else ""))
    for g in env.host.gpus:
        out.append(f"GPU {g.index} {g.name} (compute capability {g.compute_capability or 'unknown'})")
    if env.host.nvcc:
        out.append(f"nvcc {env.host.nvcc.version}")
    if env.host.gcc:
        out.append(f"gcc {env.host.gcc.version}")
    return out


def _print_result(name: str, result: ExplainResult | None) -> None:
    con = render.text_console()
    if result is None:
        con.print(f"{name}: no log text found (empty or binary data)", markup=False)
        return
    count = len(set(result.ids) | {f.id for f in result.findings})
    con.print(f"{name}: {result.lines} lines read, {count} known problem(s)", markup=False, style="bold")
    for i, m in enumerate(result.matches, 1):
        con.print()
        con.print(f"{i}. ", end="", style="bold red", markup=False)
        con.print(f"{m.id}", end="", style="bold", markup=False)
        con.print(f"  {m.title}", markup=False)
        where = {"report": f"environment report, line {m.line}", "rule": f"evidence, line {m.line}"}.get(m.source, m.where)
        con.print(f"   {where}: ", end="", style="dim")
        con.print(_short(m.text), markup=False)
        if m.facts:
            con.print("   facts: ", end="", style="dim")
            con.print(_short(_facts_line(m.facts)), markup=False)
        con.print("   fix: ", end="", style="bold green")
        con.print(m.fix, markup=False)
        if m.faq:
            con.print("   FAQ: ", end="", style="dim")
            con.print(m.faq, markup=False)
    if result.consequences and result.matches:
        con.print()
        text = "; ".join(
            f"{CONSEQUENCE_NAMES.get(c.key, c.key)} (line {c.line}" + (f", {c.count} times)" if c.count > 1 else ")")
            for c in result.consequences
        )
        con.print("   then, as consequences: ", end="", style="dim")
        con.print(text, markup=False)
    if result.environment is not None:
        con.print()
        con.print("environment report: ", end="", style="bold")
        con.print("; ".join(_env_summary(result.environment)) or "(few facts)", markup=False)
        named = {m.id for m in result.matches}
        others = [f for f in result.findings if f.id not in named]  # no need to say it twice
        if others:
            con.print("doctor checks on the report's facts:", style="bold", markup=False)
            render.print_findings(others)
    if not result.named:
        con.print()
        if result.unmatched:
            con.print("No known problem found. The first error lines:", markup=False)
            for e in result.unmatched:
                con.print(f"   line {e.line}: ", end="", style="dim")
                con.print(_short(e.text), markup=False)
        else:
            con.print("No known problem and no error lines found.", markup=False)
        con.print(
            "If this is an mmcv build or run problem, run `mmfix doctor` in that environment.",
            markup=False,
        )
    con.print()
