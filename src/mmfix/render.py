"""Human (rich) and JSON output. Commands return data; this module alone prints it."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any, NamedTuple

from mmfix.jsonable import to_jsonable

if TYPE_CHECKING:  # rich and the model load on first use (`explain --json` needs neither)
    from rich.console import Console

    from mmfix.model import Environment, Finding
    from mmfix.plan.actions import Action
    from mmfix.plan.planner import Plan
    from mmfix.plan.repair import RepairResult


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


# --- doctor --fix: the plan and the repair --------------------------------------------------------


def step_title(action: Action) -> str:
    """What a step does, in words: "rebuild mmcv 2.1.0 with CPU ops", "uninstall mmcv-lite"."""
    return action.title()


def plan_lines(number: int, plan: Plan, python: str) -> list[str]:
    """The plan of one round as text: numbered steps with the findings each answers and the exact
    command, the mmcv version and why, then what needs a person."""
    lines = [f"plan, round {number}:"]
    for i, step in enumerate(plan.steps, 1):
        lines.append(f"  {i}. {step_title(step.action)}  [{', '.join(step.answers)}]")
        if step.action.kind == "rebuild" and plan.mmcv is not None:
            lines += [f"     why: {w}" for w in plan.mmcv.why]
        lines.append(f"     $ {step.action.command(python)}")
    lines += [f"  note: {n}" for n in plan.notes]
    for step in plan.manual:
        lines.append(f"  needs you ({', '.join(step.answers)}): {step.action.command(python)}")
    if plan.unanswered:
        lines.append(f"  no fix known for: {', '.join(plan.unanswered)}")
    return lines


def print_plan(number: int, plan: Plan, python: str) -> None:
    con = console()
    for line in plan_lines(number, plan, python):
        con.print(line, markup=False)
    con.print()


def _state(env: Environment, nms: Any = None) -> dict[str, Any]:
    m = env.active_mmcv
    imp = env.ext_import
    return {
        "mmcv": ", ".join(f"{d.name} {d.version}" for d in env.mmcv) or None,
        "wheel_tag": m.wheel_tag if m else None,
        "ext": bool(m and m.has_ext),
        "ext_import": imp.ok if imp and imp.attempted else None,
        "nms": None if nms is None else ("ok: [0, 2]" if nms.ok else f"failed: {nms.error or '-'}"),
    }


def print_repair(result: RepairResult, python: str, verbose: int = 0) -> None:
    """The end of ``doctor --fix``: each step's outcome, the final findings, the verdict per
    finding and the before/after table with the nms result (or the refusal)."""
    from rich.table import Table

    con = console()
    if result.refusal:
        error_line(result.refusal)
        return
    for r in result.rounds:
        for i, o in enumerate(r.outcomes, 1):
            sym, style = {"done": SYMBOLS["ok"], "failed": SYMBOLS["fail"]}.get(o.status, SYMBOLS["skip"])
            con.print(f"[{style}]{sym}[/{style}] round {r.number} step {i} {o.status}: ", end="")
            con.print(f"{step_title(o.step.action)}: {o.detail} ({o.seconds:.0f} s)", markup=False)
    if result.stopped in ("dry-run", "nothing-to-do", "declined"):
        con.print({"dry-run": "dry run: nothing was changed",
                   "nothing-to-do": "nothing for mmfix to fix automatically",
                   "declined": "nothing was changed"}[result.stopped], markup=False)
        return
    con.print()
    con.print("[bold]After the repair[/bold]")
    print_findings(result.after, verbose)
    counts = {v: sum(1 for x in result.verdicts if x.verdict == v)
              for v in ("repaired", "moot", "failed", "manual", "skipped")}
    moot = f"{counts['moot']} no longer applicable, " if counts["moot"] else ""
    manual = f"{counts['manual']} left to you, " if counts["manual"] else ""
    con.print(f"repair: {counts['repaired']} repaired, {moot}{counts['failed']} failed, {manual}{counts['skipped']} skipped "
              f"in {len(result.rounds)} round(s); stopped: {result.stopped}", markup=False)
    for v in result.verdicts:
        if v.verdict != "repaired" or verbose:
            label = {"moot": "no longer applicable", "manual": "left to you"}.get(v.verdict, v.verdict)
            con.print(f"  {label}: {v.id} ({v.before} -> {v.after})", markup=False)
    b, a = _state(result.env_before), _state(result.env_after, result.verify)
    t = Table(title="mmcv before / after")
    for col in ("", "before", "after"):
        t.add_column(col)
    for key in b:
        t.add_row(key, str(b[key] if b[key] is not None else "-"), str(a[key] if a[key] is not None else "-"))
    con.print(t)


def repair_json(result: RepairResult, python: str) -> dict[str, Any]:
    """The ``mmfix.plan/1`` document: rounds with their steps (kind, parameters, command, findings
    answered, outcome), the mmcv version chosen and why, verdicts, before/after, exit code."""
    rounds = []
    for r in result.rounds:
        outcome = {id(o.step): o for o in r.outcomes}
        steps = []
        for i, s in enumerate(r.plan.steps, 1):
            o = outcome.get(id(s))
            steps.append({"n": i, "kind": s.action.kind, "title": step_title(s.action), "action": s.action,
                          "command": s.action.command(python), "answers": list(s.answers),
                          "outcome": None if o is None else {"status": o.status, "detail": o.detail,
                                                             "exit_code": o.exit_code, "seconds": o.seconds}})
        rounds.append({"round": r.number, "mmcv": r.plan.mmcv, "steps": steps,
                       "manual": [{"answers": list(s.answers), "text": s.action.command(python)} for s in r.plan.manual],
                       "unanswered": list(r.plan.unanswered), "notes": list(r.plan.notes)})
    return {
        "python": python,
        "rounds": rounds,
        "stopped": result.stopped,
        "refusal": result.refusal,
        "verdicts": result.verdicts,
        "findings_before": result.before,
        "findings": result.after,
        "before": _state(result.env_before),
        "after": _state(result.env_after, result.verify),
        "verify": result.verify,
        "exit_code": result.exit_code,
    }
