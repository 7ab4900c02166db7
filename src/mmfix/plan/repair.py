"""``doctor --fix`` as a loop: probe -> plan -> apply -> probe again, until no failure is left.

Shaped like pipx's ``health`` repair: check, fix, check again, and return one frozen
``RepairResult`` (per finding repaired / skipped / failed, the rounds, the exit code) that one
renderer prints as text or JSON. The loop prints nothing and touches nothing itself: probing,
checking, applying a step, asking and the final nms run are passed in, so tests drive it on
``Environment`` values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Callable

from mmfix.errors import EXIT_OK, EXIT_PROBLEMS, EXIT_REFUSED
from mmfix.model import Environment, Finding, Status
from mmfix.plan.planner import Plan, Request, Step, make_plan, same_steps
from mmfix.plan.version import ConflictError

MAX_ROUNDS = 3


@dataclass(frozen=True)
class StepOutcome:
    """What applying one step did: ``status`` done / failed / skipped (not run after a failure),
    ``detail`` one line, ``exit_code`` of the command behind it, ``seconds`` it took."""

    step: Step
    status: str
    detail: str = ""
    exit_code: int | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class Round:
    """One pass: the findings it started from, its plan, and the outcome of each step."""

    number: int
    findings: tuple[Finding, ...]
    plan: Plan
    outcomes: tuple[StepOutcome, ...] = ()


@dataclass(frozen=True)
class Verdict:
    """What became of a finding that warned or failed before the repair."""

    id: str
    before: str  # its status before: warn / fail
    after: str  # its status at the end (ok, skip, warn, fail, gone)
    verdict: str  # repaired / moot / failed / manual / skipped / planned (dry run)


@dataclass(frozen=True)
class RepairResult:
    """The whole repair, for the renderer: rounds, findings before and after, environments before
    and after, per-finding verdicts, why it stopped, the nms check of the end state, the exit code."""

    rounds: tuple[Round, ...]
    before: tuple[Finding, ...]
    after: tuple[Finding, ...]
    env_before: Environment
    env_after: Environment
    verdicts: tuple[Verdict, ...]
    stopped: str  # clean, dry-run, declined, refused, nothing-to-do, no-change, step-failed, max-rounds
    exit_code: int
    refusal: str | None = None
    verify: Any = None  # mmfix.builder.verify.VerifyResult of the end state, when mmcv has ops


Apply = Callable[[Step, Plan], StepOutcome]


def _bad(findings: Sequence[Finding], strict: bool) -> bool:
    bad = (Status.FAIL, Status.ERROR, Status.WARN) if strict else (Status.FAIL, Status.ERROR)
    return any(f.status in bad for f in findings)


def repair(
    env: Environment,
    findings: Sequence[Finding],
    *,
    probe: Callable[[], Environment],
    diagnose: Callable[[Environment], Sequence[Finding]],
    apply: Apply,
    confirm: Callable[[Plan], bool],
    observe: Callable[[int, Plan], None] = lambda n, plan: None,
    verify: Callable[[Environment], Any] | None = None,
    request: Request = Request(),
    dry_run: bool = False,
    strict: bool = False,
    max_rounds: int = MAX_ROUNDS,
) -> RepairResult:
    """Repair ``env`` (probed, with its ``findings``) in rounds of plan -> apply -> probe again.

    Each round plans from the current findings (``make_plan``), hands the plan to ``observe``,
    asks ``confirm`` once for the whole run (the first round that changes something), applies the
    steps in order (a failed step skips the rest of its round), then probes and diagnoses again.
    It goes on while failures remain, every step of the round worked and the next plan differs from
    the last one, at most ``max_rounds`` times. ``dry_run`` stops after planning the first round.
    A ``ConflictError`` from the planner ends it as ``refused`` (exit 3) with no step run.
    Exit code: 0 when no failure is left (no warning either, with ``strict``), 3 refused, else 1.
    """
    rounds: list[Round] = []
    cur_env, cur = env, tuple(findings)
    stopped, refusal, asked = "max-rounds", None, False
    for n in range(1, max_rounds + 1):
        try:
            plan = make_plan(cur_env, cur, request)
        except ConflictError as exc:
            stopped, refusal = "refused", exc.one_line()
            break
        if not plan.steps:
            rounds.append(Round(n, cur, plan))
            stopped = "nothing-to-do" if n == 1 else "no-change"
            break
        if rounds and same_steps(rounds[-1].plan, plan):
            stopped = "no-change"
            break
        observe(n, plan)
        if dry_run:
            rounds.append(Round(n, cur, plan))
            stopped = "dry-run"
            break
        if not asked:
            asked = True
            if not confirm(plan):
                rounds.append(Round(n, cur, plan))
                stopped = "declined"
                break
        outcomes = _apply_all(plan, apply)
        rounds.append(Round(n, cur, plan, outcomes))
        cur_env = probe()
        cur = tuple(diagnose(cur_env))
        if not _bad(cur, strict):
            stopped = "clean"
            break
        if any(o.status == "failed" for o in outcomes):
            stopped = "step-failed"  # a failed step would fail again: no second try of a build
            break
    after_verify = verify(cur_env) if verify and cur_env.active_mmcv and cur_env.active_mmcv.has_ext else None
    code = EXIT_REFUSED if stopped == "refused" else EXIT_PROBLEMS if _bad(cur, strict) else EXIT_OK
    return RepairResult(tuple(rounds), tuple(findings), cur, env, cur_env,
                        verdicts(findings, cur, rounds, dry_run), stopped, code, refusal, after_verify)


def _apply_all(plan: Plan, apply: Apply) -> tuple[StepOutcome, ...]:
    out: list[StepOutcome] = []
    for step in plan.steps:
        if out and out[-1].status == "failed":
            out.append(StepOutcome(step, "skipped", "an earlier step failed"))
            continue
        out.append(apply(step, plan))
    return tuple(out)


def verdicts(before: Sequence[Finding], after: Sequence[Finding], rounds: Sequence[Round],
             dry_run: bool = False) -> tuple[Verdict, ...]:
    """Per finding that warned or failed before: repaired (ok or gone now), moot (the check no
    longer applies, e.g. a build problem once mmcv has its ops: nothing changed it), manual (only a
    person can do its remedy, a ``Manual`` action), failed (a
    step answered it and it is still there, or that step failed), skipped (no step answered it),
    planned (a dry run's plan answers it)."""
    now = {f.id: f.status.value for f in after}
    ran = {i for r in rounds for o in r.outcomes if o.status in ("done", "failed") for i in o.step.answers}
    planned = {i for r in rounds for s in r.plan.steps for i in s.answers}
    out = []
    for f in before:
        if f.status not in (Status.WARN, Status.FAIL):
            continue
        after_status = now.get(f.id, "gone")
        if dry_run:
            verdict = "planned" if f.id in planned else "skipped"
        elif after_status in ("ok", "gone"):
            verdict = "repaired"
        elif after_status == "skip":
            verdict = "moot"
        elif f.id in ran:
            verdict = "failed"
        else:
            verdict = "manual" if f.action is not None and f.action.kind == "manual" else "skipped"
        out.append(Verdict(f.id, f.status.value, after_status, verdict))
    return tuple(out)
