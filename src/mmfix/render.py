"""Human (rich) and JSON output. Commands return data; this module alone prints it."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any, NamedTuple

from mmfix.jsonable import to_jsonable

if TYPE_CHECKING:  # rich and the model load on first use (`explain --json` needs neither)
    from rich.console import Console

    from mmfix.model import Finding


class Options(NamedTuple):
    """Global output options from the command line (a NamedTuple: `mmfix explain` never
    imports dataclasses, 20 ms of its start)."""

    verbose: int = 0
    quiet: bool = False
    color: bool = True
    json: bool = False


_options = Options()
_console: Console | None = None
_err_console: Console | None = None


def configure(options: Options) -> None:
    """Set the global output options (called once by the CLI)."""
    global _options, _console, _err_console
    _options = options
    _console = None
    _err_console = None


def options() -> Options:
    return _options


def console() -> Console:
    """The stdout console (no colour when --no-color, NO_COLOR, or not a terminal)."""
    global _console
    if _console is None:
        from rich.console import Console

        _console = Console(no_color=not _options.color, highlight=False, soft_wrap=True)
    return _console


class PlainText:
    """Where no colour can show (stdout not a terminal, --no-color, NO_COLOR): ``print`` writes the
    text as it is, without loading rich (``mmfix explain`` on a 100 MB log: 25 ms of its start).
    Markup is not read: give it plain text. Characters stdout cannot encode become ``?``."""

    def print(self, text: str = "", *, end: str = "\n", style: str | None = None, markup: bool = False) -> None:
        out = text + end
        try:
            sys.stdout.write(out)
        except UnicodeEncodeError:
            encoding = sys.stdout.encoding or "ascii"
            sys.stdout.write(out.encode(encoding, errors="replace").decode(encoding))


def text_console() -> Console | PlainText:
    """A console for plain text with optional styles: rich's when colour can show (a terminal,
    or FORCE_COLOR set, and colour not turned off), else ``PlainText``."""
    if _options.color and (os.environ.get("FORCE_COLOR") or sys.stdout.isatty()):
        return console()
    return PlainText()


def err_console() -> Console:
    global _err_console
    if _err_console is None:
        from rich.console import Console

        _err_console = Console(stderr=True, no_color=not _options.color, highlight=False, soft_wrap=True)
    return _err_console


def emit_json(schema: str, payload: dict[str, Any]) -> None:
    """Print one JSON document ``{"schema": "mmfix.<command>/1", ...payload}`` on stdout."""
    doc = {"schema": schema, **to_jsonable(payload)}
    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=False) + "\n")
    sys.stdout.flush()


def info(text: str) -> None:
    """A progress or status line on stderr (silenced by --quiet and under --json)."""
    if not _options.quiet:
        err_console().print(text, markup=False)


def error_line(text: str) -> None:
    err_console().print(f"mmfix: error: {text}", markup=False, style="bold red")


SYMBOLS = {  # by Status value
    "ok": ("✓", "green"),
    "warn": ("!", "yellow"),
    "fail": ("✗", "red"),
    "skip": ("-", "dim"),
    "error": ("E", "magenta"),
}

FAMILY_NAMES = {
    "A": "Install state and packaging",
    "B": "GPU architecture and kernels",
    "C": "Toolchain",
    "D": "Windows headers of PyTorch",
    "E": "Run time and loading",
    "F": "Training configuration",
    "W": "Windows developer shell",
}


def print_findings(findings: list[Finding] | tuple[Finding, ...], verbose: int = 0) -> None:
    """Print findings grouped by catalog family: symbol, id, title, evidence, fix.

    Evidence of passing and skipped checks shows only with ``verbose``; without it the skipped
    checks of a family are one line.
    """
    from mmfix.model import Status

    con = console()
    groups: dict[str, list[Finding]] = {}
    for f in findings:
        groups.setdefault(f.family or "?", []).append(f)
    for fam, items in groups.items():
        shown = [f for f in items if verbose or f.status is not Status.SKIP]
        skipped = len(items) - len(shown)
        if not shown and not verbose:
            continue
        con.print(f"[bold]{FAMILY_NAMES.get(fam, fam)}[/bold]")
        for f in shown:
            sym, style = SYMBOLS[f.status.value]
            con.print(f"  [{style}]{sym}[/{style}] {f.id}: ", end="")
            con.print(f.title, markup=False)
            if f.status in (Status.WARN, Status.FAIL, Status.ERROR) or verbose > 0:
                for line in f.evidence:
                    con.print(f"      {line}", markup=False, style="dim" if f.status == Status.OK else None)
                if f.fix and f.status in (Status.WARN, Status.FAIL):
                    con.print("      fix: ", end="", style="bold")
                    con.print(f.fix, markup=False)
        if skipped:
            con.print(f"  [dim]- {skipped} not applicable here (-v shows why)[/dim]")
        con.print()
