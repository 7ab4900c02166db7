"""``mmfix doctor --fix``: turn findings with an automatic fix into actions and run them.

Today the automatic fix is the rebuild (``mmfix rebuild``'s own plan, so doctor and rebuild never
disagree); findings whose fix needs a person are listed with their fix line.
"""

from __future__ import annotations

from mmfix import render
from mmfix.checks.facts import torch_is_cuda
from mmfix.errors import EXIT_OK
from mmfix.model import Environment, Finding, Status


def apply_fixes(env: Environment, findings: list[Finding], *, python: str | None, yes: bool, dry_run: bool) -> int:
    """Run the rebuild when a failing/warning finding asks for it; return the exit code.

    With ``dry_run`` the rebuild only prints its plan. Findings without an automatic fix are listed.
    """
    actionable = [f for f in findings if f.status in (Status.FAIL, Status.WARN)]
    rebuild_ids = [f.id for f in actionable if f.auto_fix == "rebuild"]
    manual = [f for f in actionable if f.auto_fix != "rebuild" and f.fix]
    for f in manual:
        render.info(f"needs you: {f.id}: {f.fix}")
    if not rebuild_ids:
        render.info("nothing for mmfix to fix automatically")
        return EXIT_OK if not any(f.status == Status.FAIL for f in actionable) else 1
    render.info(f"fixing by rebuilding mmcv: {', '.join(rebuild_ids)}")
    from mmfix.commands import rebuild

    active = env.active_mmcv
    return rebuild.run(
        python=python,
        arch=None,
        cpu=not torch_is_cuda(env),
        source=None,
        git=None,
        mmcv_version=active.version if active else None,
        jobs=None,
        threads_per_block=None,
        prefer_wheel=None,
        allow_unsupported_compiler=False,
        dry_run=dry_run,
        yes=yes,
        log=None,
        as_json=False,
    )
