"""The check protocol: a check is a pure function of the probed environment (DESIGN.md, "checks").

A check function takes a ``CheckContext`` and returns an ``Outcome``; ``Check.run`` wraps it into a
``Finding`` with the catalog id and turns a crash of the check itself into status ``error``, so
one broken check never stops the others.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

from mmfix.model import Environment, Finding, Status
from mmfix.plan.actions import Action


@dataclass(frozen=True)
class CheckContext:
    """What a check may read: the environment, and the config file given with ``--config``."""

    env: Environment
    config_path: str | None = None


@dataclass(frozen=True)
class Outcome:
    """A check's verdict before it is named: status, evidence lines, the fix."""

    status: Status
    evidence: tuple[str, ...] = ()
    fix: str | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)
    auto_fix: str | None = None
    action: Action | None = None  # the remedy as data; when set, ``fix`` is rendered from it


def ok(*evidence: str, **facts: Any) -> Outcome:
    return Outcome(Status.OK, tuple(evidence), facts=facts)


def warn(*evidence: str, fix: str | None = None, auto_fix: str | None = None, action: Action | None = None,
         **facts: Any) -> Outcome:
    return Outcome(Status.WARN, tuple(evidence), fix, facts, auto_fix, action)


def fail(*evidence: str, fix: str | None = None, auto_fix: str | None = None, action: Action | None = None,
         **facts: Any) -> Outcome:
    return Outcome(Status.FAIL, tuple(evidence), fix, facts, auto_fix, action)


def skip(reason: str, **facts: Any) -> Outcome:
    return Outcome(Status.SKIP, (reason,), facts=facts)


CheckFunc = Callable[[CheckContext], Outcome]


@dataclass(frozen=True)
class Check:
    """One catalog id seen in a live environment."""

    id: str
    family: str  # catalog family letter: A install, B arch, C toolchain, D headers, E runtime, F config
    title: str
    func: CheckFunc

    def run(self, ctx: CheckContext) -> Finding:
        """Run the check; never raises (a crash becomes a Finding with status ``error``)."""
        try:
            out = self.func(ctx)
        except Exception as exc:  # noqa: BLE001 - reported as this check's error
            last = traceback.extract_tb(exc.__traceback__)[-1]
            where = f"{last.filename.rsplit('/', 1)[-1]}:{last.lineno}"
            return Finding(
                self.id,
                Status.ERROR,
                self.title,
                (f"the check crashed: {type(exc).__name__}: {exc} ({where})",),
                family=self.family,
            )
        fix = out.action.command(ctx.env.target.executable) if out.action is not None else out.fix
        return Finding(
            self.id,
            out.status,
            self.title,
            out.evidence,
            fix,
            out.facts,
            self.family,
            out.auto_fix,
            out.action,
        )


def check(registry: list[Check], id: str, family: str, title: str) -> Callable[[CheckFunc], CheckFunc]:
    """Decorator: append the function to ``registry`` (a module's ordered ``CHECKS`` list)."""

    def deco(func: CheckFunc) -> CheckFunc:
        registry.append(Check(id, family, title, func))
        return func

    return deco
