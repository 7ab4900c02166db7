"""The doctor --fix loop (mmfix.plan.repair) on Environment values: the real checks and planner,
with probing and applying replaced by functions that return the next environment state."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from envfactory import make_env, mmcv, torch, with_host, with_target

from mmfix.checks import CheckContext, run_checks
from mmfix.errors import RefusedError
from mmfix.model import Downstream, Environment, ExtImport
from mmfix.plan.planner import Plan, Step
from mmfix.plan.repair import RepairResult, StepOutcome, repair

MMDET_3 = Downstream("mmdet", "3.3.0", mmcv_min="2.0.0rc4", mmcv_max="2.2.0", max_inclusive=False)
MMDET_2 = Downstream("mmdet", "2.28.2", mmcv_min="1.3.17", mmcv_max="1.8.0", max_inclusive=True)
MMSEG_1 = Downstream("mmseg", "1.2.2", mmcv_min="2.0.0rc4", mmcv_max="2.2.0", max_inclusive=False)


def opsless(**fields: object) -> Environment:
    env = dataclasses.replace(make_env(torch=torch(), mmcv=(mmcv(),)), **fields)
    return with_host(env, ninja="/usr/bin/ninja")


def with_ops(env: Environment, version: str) -> Environment:
    return dataclasses.replace(env, mmcv=(mmcv(version=version, ext=True),), ext_import=ExtImport(True, ok=True))


def diagnose(env: Environment) -> list:
    return run_checks(CheckContext(env))


class Machine:
    """A stand-in target: ``apply`` turns a step into the next environment via ``effects``."""

    def __init__(self, env: Environment, effects: Callable[[Step, Environment], Environment | None]) -> None:
        self.env, self.effects, self.applied = env, effects, []

    def apply(self, step: Step, plan: Plan) -> StepOutcome:
        self.applied.append(step.action)
        nxt = self.effects(step, self.env)
        if nxt is None:
            return StepOutcome(step, "failed", "the build failed", 1)
        self.env = nxt
        return StepOutcome(step, "done", "ok", 0)

    def run(self, **kw: object) -> RepairResult:
        start = self.env
        return repair(start, diagnose(start), probe=lambda: self.env, diagnose=diagnose, apply=self.apply,
                      confirm=kw.pop("confirm", lambda plan: True), **kw)  # type: ignore[arg-type]


def rebuilt(step: Step, env: Environment) -> Environment | None:
    if step.action.kind == "rebuild":
        return with_ops(env, step.action.mmcv_version)
    return env


def test_one_round_repairs_the_opsless_mmcv() -> None:
    m = Machine(opsless(), rebuilt)
    res = m.run(verify=lambda env: "nms ok")
    assert res.exit_code == 0 and res.stopped == "clean" and len(res.rounds) == 1
    assert [a.kind for a in m.applied] == ["rebuild"]
    verdicts = {v.id: v.verdict for v in res.verdicts}
    assert verdicts["mmcv-ops-missing"] == verdicts["build-isolation-no-torch"] == "repaired"
    assert res.verify == "nms ok" and res.env_after.active_mmcv.has_ext


def test_a_build_problem_the_rebuild_made_moot_is_not_called_repaired() -> None:
    """setuptools 84 (no pkg_resources) is answered by the rebuild's patched setup.py but never
    changed: afterwards the check no longer applies, and its headline says what is still true."""
    start = with_target(opsless(), packages={"setuptools": "84.2.1"})
    m = Machine(start, rebuilt)
    res = m.run()
    assert res.exit_code == 0
    verdicts = {v.id: v.verdict for v in res.verdicts}
    assert verdicts["setuptools-no-pkg-resources"] == "moot" and verdicts["mmcv-ops-missing"] == "repaired"
    after = {f.id: f for f in res.after}["setuptools-no-pkg-resources"]
    assert after.status.value == "skip" and "has no pkg_resources" in after.title


def test_mmdet_env_ends_with_2_1_0() -> None:
    m = Machine(opsless(downstream=(MMDET_3,)), rebuilt)
    res = m.run()
    assert res.exit_code == 0 and m.applied[0].mmcv_version == "2.1.0"
    assert res.env_after.active_mmcv.version == "2.1.0"
    assert {v.id: v.verdict for v in res.verdicts}["downstream-version-mismatch"] == "repaired"


def test_a_second_round_takes_what_the_first_revealed() -> None:
    """After the rebuild, the import shows numpy 2 beside a torch built against NumPy 1."""
    start = with_target(opsless(torch=torch("2.1.2")), packages={"setuptools": "80.9.0"})

    def effects(step: Step, env: Environment) -> Environment:
        if step.action.kind == "rebuild":
            after = with_ops(env, step.action.mmcv_version)
            return with_target(after, packages={**env.target.packages, "numpy": "2.0.1"})
        return with_target(env, packages={**env.target.packages, "numpy": "1.26.4"})

    m = Machine(start, effects)
    res = m.run()
    assert [r.number for r in res.rounds] == [1, 2] and res.exit_code == 0
    assert [a.kind for a in m.applied] == ["rebuild", "env-change"]
    assert res.rounds[1].plan.steps[0].answers == ("numpy-abi-mismatch",)


def test_a_failed_step_stops_the_round_and_the_loop() -> None:
    env = dataclasses.replace(opsless(), mmcv=(mmcv(), mmcv(name="mmcv-lite")))
    m = Machine(env, lambda step, env: None if step.action.kind == "uninstall" else env)
    res = m.run()
    assert res.stopped == "step-failed" and res.exit_code == 1
    assert [o.status for o in res.rounds[0].outcomes] == ["failed", "skipped"]
    assert [a.kind for a in m.applied] == ["uninstall"]  # the rebuild never ran
    assert {v.id: v.verdict for v in res.verdicts}["mmcv-lite-and-full"] == "failed"


def test_the_same_plan_is_not_applied_twice() -> None:
    m = Machine(opsless(), lambda step, env: env)  # "works" but changes nothing
    res = m.run()
    assert res.stopped == "no-change" and len(res.rounds) == 1 and res.exit_code == 1
    assert {v.id: v.verdict for v in res.verdicts}["mmcv-ops-missing"] == "failed"


def test_at_most_three_rounds() -> None:
    versions = iter(["2.0.0", "2.0.1", "2.1.0", "2.2.0"])

    def effects(step: Step, env: Environment) -> Environment:  # each round a new ops-less mmcv
        return dataclasses.replace(env, mmcv=(mmcv(version=next(versions)),))

    res = Machine(opsless(), effects).run()
    assert res.stopped == "max-rounds" and len(res.rounds) == 3 and res.exit_code == 1


def test_conflicts_are_refused_before_any_step() -> None:
    m = Machine(opsless(downstream=(MMDET_2, MMSEG_1)), rebuilt)
    res = m.run()
    assert res.exit_code == 3 and res.stopped == "refused" and m.applied == []
    assert "mmdet 2.28.2" in res.refusal and "mmseg 1.2.2" in res.refusal


def test_dry_run_plans_and_changes_nothing() -> None:
    seen: list[int] = []
    m = Machine(opsless(downstream=(MMDET_3,)), rebuilt)
    res = m.run(dry_run=True, observe=lambda n, plan: seen.append(n))
    assert res.stopped == "dry-run" and m.applied == [] and seen == [1] and res.exit_code == 1
    assert res.rounds[0].plan.rebuild.action.mmcv_version == "2.1.0"
    assert {v.verdict for v in res.verdicts} <= {"planned", "skipped"}


def test_asked_once_and_a_no_changes_nothing() -> None:
    asked: list[Plan] = []
    m = Machine(opsless(), rebuilt)
    res = m.run(confirm=lambda plan: asked.append(plan) or False)
    assert len(asked) == 1 and m.applied == [] and res.stopped == "declined" and res.exit_code == 1


def test_no_terminal_to_ask_on_is_a_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    from mmfix.commands import fixplan

    monkeypatch.setattr("sys.stdin", None)
    with pytest.raises(RefusedError) as err:
        Machine(opsless(), rebuilt).run(confirm=fixplan.confirm)
    assert "pass --yes" in err.value.one_line() and err.value.exit_code == 3


def test_nothing_to_do_on_a_healthy_env() -> None:
    m = Machine(with_ops(opsless(), "2.2.0"), rebuilt)
    res = m.run()
    assert res.stopped == "nothing-to-do" and res.exit_code == 0 and m.applied == []


def test_a_finding_only_a_person_can_answer_is_left_to_them_not_skipped() -> None:
    from mmfix.model import Finding, Status
    from mmfix.plan.actions import Manual
    from mmfix.plan.repair import verdicts

    manual = Finding("torch-load-weights-only", Status.WARN, "t", action=Manual("load it under safe_globals"))
    plain = Finding("ninja-missing", Status.WARN, "t")
    got = {v.id: v.verdict for v in verdicts([manual, plain], [manual, plain], ())}
    assert got == {"torch-load-weights-only": "manual", "ninja-missing": "skipped"}
