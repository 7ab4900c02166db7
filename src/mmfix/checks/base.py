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
from mmfix.plan.actions import Action, is_automatic


@dataclass(frozen=True)
class CheckContext:
    """What a check may read: the environment, and the config file given with ``--config``."""

    env: Environment
    config_path: str | None = None


@dataclass(frozen=True)
class Outcome:
    """A check's verdict before it is named: status, evidence lines, the remedy as an action.

    ``headline``: what was found, when the check's static problem headline is not precise enough
    for this outcome (e.g. "no mmcv is installed" rather than "mmcv has no compiled ops").
    """

    status: Status
    evidence: tuple[str, ...] = ()
    action: Action | None = None  # the remedy as data; the fix line is rendered from it
    facts: Mapping[str, Any] = field(default_factory=dict)
    headline: str | None = None


def ok(*evidence: str, **facts: Any) -> Outcome:
    return Outcome(Status.OK, tuple(evidence), facts=facts)


def warn(*evidence: str, action: Action | None = None, headline: str | None = None, **facts: Any) -> Outcome:
    return Outcome(Status.WARN, tuple(evidence), action, facts, headline)


def fail(*evidence: str, action: Action | None = None, headline: str | None = None, **facts: Any) -> Outcome:
    return Outcome(Status.FAIL, tuple(evidence), action, facts, headline)


def skip(reason: str, headline: str | None = None, **facts: Any) -> Outcome:
    """Not applicable here; ``headline`` replaces the healthy title where that would not be true
    (a build problem present but moot because mmcv already has its ops)."""
    return Outcome(Status.SKIP, (reason,), facts=facts, headline=headline)


CheckFunc = Callable[[CheckContext], Outcome]


@dataclass(frozen=True)
class Check:
    """One catalog id seen in a live environment.

    ``title``: the healthy assertion (shown beside ✓ and in ``doctor --list``); ``problem``: the
    headline of a warning or failure, saying what was found ("mmcv has no compiled ops"), so a
    reader of the headlines alone never gets the opposite of the truth.
    """

    id: str
    family: str  # catalog family letter: A install, B arch, C toolchain, D headers, E runtime, F config
    title: str
    func: CheckFunc
    problem: str | None = None

    def headline(self, out: Outcome) -> str:
        """The headline for ``out``: the healthy title for ok (and skip, unless it names what it
        found), else what was found."""
        if out.status is Status.SKIP and out.headline:
            return out.headline
        if out.status in (Status.OK, Status.SKIP):
            return self.title
        return out.headline or self.problem or f"not so: {self.title}"

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
                f"the check itself crashed ({self.title})",
                (f"the check crashed: {type(exc).__name__}: {exc} ({where})",),
                family=self.family,
            )
        act = out.action if out.status in (Status.WARN, Status.FAIL) else None
        return Finding(
            self.id,
            out.status,
            self.headline(out),
            out.evidence,
            act.command(ctx.env.target.executable) if act is not None else None,
            out.facts,
            self.family,
            act.kind if act is not None and is_automatic(act) else None,
            act,
        )


def check(
    registry: list[Check], id: str, family: str, title: str, problem: str | None = None
) -> Callable[[CheckFunc], CheckFunc]:
    """Decorator: append the function to ``registry`` (a module's ordered ``CHECKS`` list).

    ``title`` is the healthy assertion, ``problem`` the headline when the check warns or fails.
    """

    def deco(func: CheckFunc) -> CheckFunc:
        registry.append(Check(id, family, title, func, problem))
        return func

    return deco
