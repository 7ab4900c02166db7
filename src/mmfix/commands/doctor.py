"""``mmfix doctor``: probe, run the checks, show each verdict with evidence and fix; with ``--fix``
repair in rounds (``mmfix.plan.repair``) and show the result (``render.print_repair`` / ``mmfix.plan/1``)."""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

from mmfix import checks, render
from mmfix.checks.base import CheckContext
from mmfix.errors import EXIT_OK, EXIT_PROBLEMS, UsageError
from mmfix.model import Environment, Finding, Status
from mmfix.probe import probe


def summarize(findings: list[Finding], strict: bool) -> dict[str, int]:
    """Counts per status and the exit code: 1 when something failed (or warned, with strict)."""
    counts = Counter(f.status.value for f in findings)
    bad = counts.get("fail", 0) + counts.get("error", 0) + (counts.get("warn", 0) if strict else 0)
    summary = {s.value: counts.get(s.value, 0) for s in Status}
    summary["exit_code"] = EXIT_PROBLEMS if bad else EXIT_OK
    return summary


def diagnose(env: Environment, check_ids: list[str], config: Path | None = None) -> list[Finding]:
    """Run the selected checks (all when empty) on ``env``. Raises UsageError for unknown ids."""
    ctx = CheckContext(env, str(config) if config else None)
    return checks.run_checks(ctx, check_ids)


def _print_environment(env: Environment) -> None:
    con = render.console()
    t = env.target
    torch = f"torch {env.torch.version} (CUDA {env.torch.cuda or 'none'})" if env.torch else "no torch"
    mm = ", ".join(f"{d.name} {d.version}{' +ops' if d.has_ext else ''}" for d in env.mmcv) or "no mmcv"
    nvcc = f"nvcc {env.host.nvcc.version}" if env.host.nvcc else "no nvcc"
    gpus = ", ".join(f"{g.name} (sm_{g.compute_capability.replace('.', '') if g.compute_capability else '?'})"
                     for g in env.host.gpus) or "no GPU visible"
    con.print(f"[bold]Python[/bold] {t.version} at {t.executable}", highlight=False)
    con.print(f"[bold]Packages[/bold] {torch}; {mm}", highlight=False)
    con.print(f"[bold]Machine[/bold] {env.host.os} {env.host.machine}, {env.host.cpu_count} CPUs; {nvcc}; {gpus}",
              highlight=False)
    con.print()


def _list_checks(as_json: bool) -> int:
    items = [{"id": c.id, "family": c.family, "title": c.title} for c in checks.ALL_CHECKS]
    if as_json:
        render.emit_json("mmfix.doctor-list/1", {"checks": items})
    else:
        for it in items:
            render.console().print(f"{it['family']}  {it['id']:<34} {it['title']}", markup=False)
    return EXIT_OK


def run(
    python: str | None,
    check_ids: list[str],
    list_only: bool,
    config: Path | None,
    fix: bool,
    yes: bool,
    dry_run: bool,
    strict: bool,
    as_json: bool,
) -> int:
    """Run doctor; returns the exit code (0 healthy, 1 problems). Raises UsageError on bad input."""
    if list_only:
        return _list_checks(as_json)
    checks.select(check_ids)  # unknown ids: usage error before the slow probe
    if config is not None:
        if not config.is_file():
            raise UsageError(f"--config {config} is not a file", None, "pass the path of a training config (.py)")
        from mmfix.config_lint import load_config

        load_config(config)  # a broken config (syntax, _base_ loop) is a usage error, exit 2
    for flag, given in (("--dry-run", dry_run), ("--yes", yes)):
        if given and not fix:
            raise UsageError(f"{flag} needs --fix", None, f"run 'mmfix doctor --fix {flag}'")
    render.info("probing the target environment and this machine ...")
    env = probe(python)
    _note_own_env(python, env)
    findings = diagnose(env, check_ids, config)
    summary = summarize(findings, strict)
    if fix:
        return _fix(python, env, findings, check_ids, config, yes=yes, dry_run=dry_run, strict=strict,
                    as_json=as_json)
    if as_json:
        render.emit_json("mmfix.doctor/1", {"environment": env.to_dict(), "findings": findings, "summary": summary})
    else:
        _print_report(env, findings, summary)
    return int(summary["exit_code"])


def _note_own_env(python: str | None, env: Environment) -> None:
    """Without --python, the active env may be the one mmfix itself is installed in (its venv
    first on PATH): say so, since the user's torch and mmcv live elsewhere."""
    prefix = env.target.prefix
    if python is None and prefix and os.path.realpath(prefix) == os.path.realpath(sys.prefix) \
            and env.torch is None and not env.mmcv:
        render.info(f"note: {prefix} is the environment mmfix runs in, with no torch or mmcv; activate your "
                    "project's environment or pass --python PATH")


def _print_report(env: Environment, findings: list[Finding], summary: dict[str, int]) -> None:
    _print_environment(env)
    render.print_findings(findings, render.options().verbose)
    render.console().print(
        f"{summary['ok']} ok, {summary['warn']} warnings, {summary['fail']} failed, "
        f"{summary['skip']} skipped, {summary['error']} check errors "
        f"(probe {env.probe_seconds:.1f} s)",
        markup=False,
    )


def _fix(python: str | None, env: Environment, findings: list[Finding], check_ids: list[str],
         config: Path | None, *, yes: bool, dry_run: bool, strict: bool, as_json: bool) -> int:
    """doctor --fix: the findings, then the repair loop; returns its exit code (0 only when no
    failure is left; 3 when the plan was refused before any change)."""
    from mmfix.builder.source import cache_dir
    from mmfix.commands import fixplan
    from mmfix.plan.repair import repair

    cache_dir()  # an unusable MMFIX_CACHE_DIR: one line before the plan, not in its first step

    target = env.target.executable
    if not as_json:
        _print_report(env, findings, summarize(findings, strict))
        render.console().print()

    def again() -> Environment:
        render.info("probing again ...")
        return probe(target)

    result = repair(
        env,
        findings,
        probe=again,
        diagnose=lambda e: diagnose(e, check_ids, config),
        apply=lambda step, plan: fixplan.apply_step(step, plan, env=env, as_json=as_json),
        confirm=(lambda plan: True) if yes else fixplan.confirm,
        observe=(lambda n, plan: None) if as_json else (lambda n, plan: render.print_plan(n, plan, target)),
        verify=_verify,
        dry_run=dry_run,
        strict=strict,
    )
    if as_json:
        render.emit_json("mmfix.plan/1", render.repair_json(result, target))
    else:
        render.print_repair(result, target, render.options().verbose)
    return result.exit_code


def _verify(env: Environment) -> object:
    """Import mmcv.ops and run nms in the target (the end state of a repair)."""
    from mmfix.builder.verify import verify_install

    return verify_install(env.target.executable)
