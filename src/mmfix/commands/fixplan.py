"""``mmfix doctor --fix``: turn findings with an automatic fix into actions and run them in order.

Actions (the ``auto_fix`` of a finding): ``patch-torch-headers`` first (a rebuild on Windows needs
the patched headers), then ``rebuild`` (``mmfix rebuild``'s own plan, so doctor and rebuild never
disagree). Findings whose fix needs a person are listed with their fix line.
"""

from __future__ import annotations

from mmfix import render
from mmfix.errors import EXIT_OK, EXIT_PROBLEMS
from mmfix.model import Environment, Finding, Status

ACTION_ORDER = ("patch-torch-headers", "rebuild")


def plan_actions(findings: list[Finding]) -> dict[str, list[str]]:
    """Action kind -> ids of the failing/warning findings it fixes, in ACTION_ORDER."""
    plan: dict[str, list[str]] = {}
    for kind in ACTION_ORDER:
        ids = [f.id for f in findings if f.status in (Status.FAIL, Status.WARN) and f.auto_fix == kind]
        if ids:
            plan[kind] = ids
    return plan


def _rebuild(python: str | None, yes: bool, dry_run: bool) -> int:
    from mmfix.commands import rebuild

    return rebuild.run_for_doctor(python, dry_run=dry_run, yes=yes)


def _patch_headers(python: str | None, dry_run: bool) -> int:
    from mmfix.commands import patch

    return patch.run_torch_headers(python=python, torch_dir=None, dry_run=dry_run, force=False, as_json=False)


def apply_fixes(env: Environment, findings: list[Finding], *, python: str | None, yes: bool, dry_run: bool) -> int:
    """Run the planned actions; return the first non-zero exit code, or 1 when failures remain
    that no action covers, else 0. With ``dry_run`` each action only prints its plan."""
    plan = plan_actions(findings)
    for f in findings:
        if f.status in (Status.FAIL, Status.WARN) and f.auto_fix not in ACTION_ORDER and f.fix:
            render.info(f"needs you: {f.id}: {f.fix}")
    if not plan:
        render.info("nothing for mmfix to fix automatically")
        uncovered = any(f.status is Status.FAIL for f in findings)
        return EXIT_PROBLEMS if uncovered else EXIT_OK
    for kind, ids in plan.items():
        render.info(f"{'plan' if dry_run else 'fixing'}: {kind} for {', '.join(ids)}")
        rc = _patch_headers(python, dry_run) if kind == "patch-torch-headers" else _rebuild(python, yes, dry_run)
        if rc != EXIT_OK:
            return rc
    uncovered = any(f.status is Status.FAIL and f.auto_fix not in ACTION_ORDER for f in findings)
    return EXIT_PROBLEMS if uncovered else EXIT_OK
