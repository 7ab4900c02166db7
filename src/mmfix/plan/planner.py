"""The planner: one consistent, ordered plan from the findings' actions (DESIGN.md, "plan").

A pure function of the probed ``Environment``, the findings and the user's request; it prints
nothing and changes nothing. Which actions it takes:
- every automatic action of a failing finding;
- from a warning, the steps that cost nothing to take along (remove a conflicting distribution,
  purge a cached ops-less wheel, patch torch's headers) always, and its build parameters or build
  prerequisites (``Rebuild``, ``EnvChange``) only when a rebuild is planned anyway;
- ``Manual`` actions are listed for the person, never run.
Actions of one kind merge into one step (one rebuild with the union of arch lists, one uninstall
of every extra distribution ...); the steps follow ``actions.APPLY_ORDER``. The rebuild's mmcv
version is solved from every constraint at once (``mmfix.plan.version``); conflicting requests
raise ``ConflictError`` (exit 3) before anything changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from mmfix.knowledge.versions import parse_version
from mmfix.model import Environment, Finding, Status
from mmfix.plan import version as vmod
from mmfix.plan.actions import (
    APPLY_ORDER,
    Action,
    EnvChange,
    PatchHeaders,
    PurgePipCache,
    Rebuild,
    Uninstall,
    is_automatic,
)
from mmfix.plan.version import ConflictError, Constraint, VersionChoice

MMCV_FAMILY = ("mmcv", "mmcv-full", "mmcv-lite")
# kinds a warning brings into the plan on its own (cheap, safe, and a real problem each)
WARN_ALWAYS = ("uninstall", "purge-pip-cache", "patch-headers")


@dataclass(frozen=True)
class Request:
    """What the user asked for on the command line (``mmfix rebuild`` options); all optional."""

    mmcv_version: str | None = None  # exact or a specifier
    arch: str | None = None
    cpu: bool = False
    threads_per_block: int | None = None
    source: str | None = None
    source_version: str | None = None  # the version in the --source tree


@dataclass(frozen=True)
class Step:
    """One step of a plan: the (merged) action and the ids of the findings it answers."""

    action: Action
    answers: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """Automatic ``steps`` in the order they run, the ``manual`` ones for a person, the mmcv
    version a rebuild builds (with why), and failing findings no action answers."""

    steps: tuple[Step, ...]
    manual: tuple[Step, ...] = ()
    mmcv: VersionChoice | None = None
    unanswered: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def rebuild(self) -> Step | None:
        return next((s for s in self.steps if isinstance(s.action, Rebuild)), None)


@dataclass(frozen=True)
class _Ask:
    """One finding's action, as the planner reads it."""

    id: str
    failing: bool
    action: Action


def _asks(findings: Sequence[Finding]) -> list[_Ask]:
    return [_Ask(f.id, f.status is Status.FAIL, f.action) for f in findings
            if f.status in (Status.FAIL, Status.WARN) and f.action is not None]


def make_plan(env: Environment, findings: Sequence[Finding], request: Request = Request()) -> Plan:
    """Plan the repair of ``env`` from ``findings`` (``Check.run`` results) and ``request``.

    Out: a ``Plan`` (no steps when nothing automatic is to be done). Raises ConflictError (exit 3)
    for requests that exclude each other: mmcv version constraints no release satisfies together
    (checked whenever something fails), CPU ops asked beside a CUDA arch list, two different
    source trees or THREADS_PER_BLOCK values.
    """
    asks = _asks(findings)
    auto = [a for a in asks if is_automatic(a.action)]
    alone = [a for a in auto if a.failing or a.action.kind in WARN_ALWAYS]
    # removing one of two mmcv distributions deletes files the other shares: reinstall the one that stays
    family_uninstall = tuple(a.id for a in alone
                             if isinstance(a.action, Uninstall) and set(a.action.dists) & set(MMCV_FAMILY))
    rebuilding = bool(family_uninstall) or any(isinstance(a.action, Rebuild) for a in alone)
    taken = [a for a in auto if a in alone or (rebuilding and isinstance(a.action, (Rebuild, EnvChange)))]

    notes: list[str] = []
    steps = [*_merge_uninstalls(taken), *_merge_env_changes(taken), *_merge_by_key(taken, PatchHeaders, "torch_dir")]
    choice = None
    if rebuilding or any(f.status is Status.FAIL for f in findings):
        rebuilds = [(a.id, a.action) for a in taken if isinstance(a.action, Rebuild)]
        choice = _solve(env, rebuilds, request)  # a conflict stops here, before any step runs
        if rebuilding:
            answers = tuple(i for i, _ in rebuilds)
            if family_uninstall:
                notes.append("the mmcv that stays after the uninstall is reinstalled: the distributions share files")
            steps.append(Step(_merge_rebuilds(env, rebuilds, request, choice), answers or family_uninstall))
    steps += _merge_by_key(taken, PurgePipCache, "project")
    steps.sort(key=lambda s: APPLY_ORDER.index(s.action.kind))
    answered = {i for s in steps for i in s.answers}
    return Plan(
        steps=tuple(steps),
        manual=tuple(Step(a.action, (a.id,)) for a in asks if not is_automatic(a.action)),
        mmcv=choice if rebuilding else None,
        unanswered=tuple(f.id for f in findings if f.status is Status.FAIL and f.action is None
                         and f.id not in answered),
        notes=tuple(notes),
    )


def _solve(env: Environment, rebuilds: Sequence[tuple[str, Rebuild]], request: Request) -> VersionChoice:
    constraints = vmod.env_constraints(env)
    if request.source_version:
        constraints.append(Constraint(f"=={request.source_version}",
                                      f"--source {request.source} holds mmcv {request.source_version}"))
    constraints += vmod.requested(request.mmcv_version)
    for finding_id, action in rebuilds:
        if action.mmcv_version:
            spec = vmod.parse_request(action.mmcv_version)
            c = Constraint(str(spec), f"{finding_id} asks for mmcv{action.mmcv_version}", finding_id)
            if not vmod.implied(c, [e for e in constraints if e.finding == finding_id]):
                constraints.append(c)
    return vmod.choose(env, constraints)


def choose_for_rebuild(env: Environment, request: Request) -> VersionChoice:
    """The mmcv version ``mmfix rebuild`` builds: the same solver ``doctor --fix`` uses, with the
    environment's constraints and the user's request. Raises ConflictError (exit 3)."""
    return _solve(env, (), request)


def _merge_rebuilds(env: Environment, found: Sequence[tuple[str, Rebuild]], request: Request,
                    choice: VersionChoice) -> Rebuild:
    """One Rebuild from the request and every taken Rebuild action: the union of arch lists,
    CPU when asked, one THREADS_PER_BLOCK and source. Raises ConflictError when they disagree."""
    acts = list(found)
    if request.arch or request.cpu or request.threads_per_block or request.source:
        acts.insert(0, ("the command line", Rebuild(arch=request.arch, cpu=request.cpu,
                                                     threads_per_block=request.threads_per_block,
                                                     source=request.source)))
    cpu = [(who, a) for who, a in acts if a.cpu]
    arch = [(who, a) for who, a in acts if a.arch]
    if cpu and arch:
        _refuse(f"{cpu[0][0]} asks for CPU ops", f"{arch[0][0]} asks for --arch {arch[0][1].arch}")
    for name in ("threads_per_block", "source"):
        values = [(who, getattr(a, name)) for who, a in acts if getattr(a, name)]
        if len({v for _, v in values}) > 1:
            _refuse(f"{values[0][0]} asks for {name} {values[0][1]}", f"{values[1][0]} asks for {name} {values[1][1]}")
    notes = [a.note for _, a in acts if a.note]
    return Rebuild(
        mmcv_version=choice.version,
        arch=_union_arch([a.arch for _, a in arch]) if arch else None,
        cpu=bool(cpu) or not (env.torch and env.torch.cuda) and not arch,
        threads_per_block=next((a.threads_per_block for _, a in acts if a.threads_per_block), None),
        source=next((a.source for _, a in acts if a.source), None),
        note="; ".join(dict.fromkeys(notes)),
    )


def _refuse(first: str, second: str) -> None:
    raise ConflictError(Constraint("", first), Constraint("", second))


def _union_arch(lists: Sequence[str | None]) -> str:
    """``"8.6;8.9"`` + ``"8.6+PTX"`` -> ``"8.6;8.6+PTX;8.9"``: entries kept once, ordered by compute
    capability (``TORCH_CUDA_ARCH_LIST`` form; separators ';', ' ' or ',')."""
    entries: dict[str, None] = {}
    for text in lists:
        for part in (text or "").replace(",", ";").replace(" ", ";").split(";"):
            if part.strip():
                entries.setdefault(part.strip(), None)

    def key(entry: str) -> tuple[object, str]:
        return (parse_version(entry.split("+")[0].rstrip("abf")) or parse_version("0"), entry)

    return ";".join(sorted(entries, key=key))


def _merge_uninstalls(taken: Sequence[_Ask]) -> list[Step]:
    found = [(a.id, a.action) for a in taken if isinstance(a.action, Uninstall)]
    if not found:
        return []
    dists = tuple(sorted({d for _, act in found for d in act.dists}))
    notes = "; ".join(dict.fromkeys(act.note for _, act in found if act.note))
    return [Step(Uninstall(dists, notes), tuple(i for i, _ in found))]


def _merge_env_changes(taken: Sequence[_Ask]) -> list[Step]:
    """One ``pip install`` per set of pip options (a ``--force-reinstall`` one stays apart)."""
    groups: dict[tuple[str, ...], list[tuple[str, EnvChange]]] = {}
    for a in taken:
        if isinstance(a.action, EnvChange):
            groups.setdefault(a.action.pip_options, []).append((a.id, a.action))
    steps = []
    for options, found in groups.items():
        reqs = tuple(dict.fromkeys(r for _, act in found for r in act.requirements))
        consent = any(act.needs_consent for _, act in found)
        notes = "; ".join(dict.fromkeys(act.note for _, act in found if act.note))
        steps.append(Step(EnvChange(reqs, consent, notes, options), tuple(i for i, _ in found)))
    return steps


def _merge_by_key(taken: Sequence[_Ask], cls: type[PatchHeaders] | type[PurgePipCache], key: str) -> list[Step]:
    """One step per distinct ``key`` value of the ``cls`` actions (a torch folder, a project)."""
    groups: dict[str, list[_Ask]] = {}
    for a in taken:
        if isinstance(a.action, cls):
            groups.setdefault(getattr(a.action, key), []).append(a)
    return [Step(found[0].action, tuple(a.id for a in found)) for found in groups.values()]


def same_steps(a: Plan, b: Plan) -> bool:
    """True when two plans would run the same actions (the repair loop stops instead of repeating)."""
    return [s.action for s in a.steps] == [s.action for s in b.steps]


__all__ = ["ConflictError", "Plan", "Request", "Step", "choose_for_rebuild", "make_plan", "same_steps"]
