"""The explicit, ordered list of doctor checks, one per catalog id seen in a live environment.

Order: install state, compatibility, toolchain, Windows shell, architecture, headers, run time,
what mmcv's neighbours changed (torch, mmengine, yapf), config. ``run_checks`` runs them (all,
or the ids asked for) and never raises for a crashing check.
"""

from __future__ import annotations

from collections.abc import Sequence

from mmfix.checks import arch, compat, config, ecosystem, headers, install, runtime, toolchain, windows
from mmfix.checks.base import Check, CheckContext
from mmfix.errors import UsageError
from mmfix.model import Finding

ALL_CHECKS: tuple[Check, ...] = (
    *install.CHECKS,
    *compat.CHECKS,
    *toolchain.CHECKS,
    *windows.CHECKS,
    *arch.CHECKS,
    *headers.CHECKS,
    *runtime.CHECKS,
    *ecosystem.CHECKS,
    *config.CHECKS,
)


def check_ids() -> list[str]:
    """Every check id in run order."""
    return [c.id for c in ALL_CHECKS]


def select(ids: Sequence[str] = ()) -> list[Check]:
    """The checks for ``ids`` (all when empty), in run order. Raises UsageError for an unknown id."""
    if not ids:
        return list(ALL_CHECKS)
    if any(not i.strip() for i in ids):
        raise UsageError("empty check id", None, "run 'mmfix doctor --list' for the ids")
    known = {c.id for c in ALL_CHECKS}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise UsageError(
            f"unknown check id {', '.join(unknown)}",
            None,
            "run 'mmfix doctor --list' for the ids",
        )
    wanted = set(ids)
    return [c for c in ALL_CHECKS if c.id in wanted]


def run_checks(ctx: CheckContext, ids: Sequence[str] = ()) -> list[Finding]:
    """Run the selected checks on ``ctx`` and return their findings in run order."""
    return [c.run(ctx) for c in select(ids)]
