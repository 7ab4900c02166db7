"""``mmfix doctor --fix``: carry out one planned step in the target environment.

The planner (``mmfix.plan.planner``) decides the steps and the loop (``mmfix.plan.repair``) their
rounds; here each action kind is run the way its fix line says: ``pip uninstall`` (the removed
files saved first, for ``mmfix revert --install``), ``pip install``, ``mmfix patch-torch-headers``,
``mmfix rebuild`` (its own plan, build, install and verification, with the version the planner
solved), ``pip cache remove``. Always with the target's own pip; never ``shell=True``.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from mmfix import proc
from mmfix.errors import EXIT_OK, MmfixError, RefusedError
from mmfix.model import Environment
from mmfix.plan.actions import EnvChange, PatchHeaders, PurgePipCache, Rebuild, Uninstall
from mmfix.plan.planner import Plan, Step
from mmfix.plan.repair import StepOutcome

PIP_TIMEOUT_S = 1800


def apply_step(step: Step, plan: Plan, *, env: Environment, as_json: bool) -> StepOutcome:
    """Run ``step`` in ``env``'s target interpreter; never raises for a failed step (it becomes a
    ``failed`` outcome with the one-line reason). Progress goes to stderr under ``--json``."""
    t0 = time.monotonic()
    try:
        with _stdout_to_stderr(as_json):
            code, detail = _run(step, env)
    except MmfixError as exc:
        code, detail = exc.exit_code, exc.one_line()
    status = "done" if code == EXIT_OK else "failed"
    return StepOutcome(step, status, detail, code, round(time.monotonic() - t0, 1))


def _run(step: Step, env: Environment) -> tuple[int, str]:
    a = step.action
    python = env.target.executable
    if isinstance(a, Uninstall):
        return _uninstall(env, a)
    if isinstance(a, EnvChange):
        return _pip(python, ["install", *a.pip_options, *a.requirements], f"installed {' '.join(a.requirements)}")
    if isinstance(a, PurgePipCache):
        return _pip(python, ["cache", "remove", a.project], f"removed {a.project} wheels from pip's cache")
    if isinstance(a, PatchHeaders):
        from mmfix.commands import patch

        code = patch.run_torch_headers(python=python, torch_dir=Path(a.torch_dir), dry_run=False, force=False,
                                       as_json=False)
        return code, "patched torch's headers" if code == EXIT_OK else "patch-torch-headers failed"
    if isinstance(a, Rebuild):
        from mmfix.commands import rebuild

        code = rebuild.run(python=python, arch=a.arch, cpu=a.cpu, source=Path(a.source) if a.source else None,
                           git=None, mmcv_version=a.mmcv_version, jobs=None, threads_per_block=a.threads_per_block,
                           prefer_wheel=None, allow_unsupported_compiler=False, dry_run=False, yes=True, log=None,
                           as_json=False, in_repair=True)
        what = f"mmcv {a.mmcv_version}" if a.mmcv_version else "mmcv"
        return code, f"{what} installed and verified" if code == EXIT_OK else f"the rebuild of {what} failed"
    return 1, f"mmfix cannot apply a {a.kind} step itself"


def _pip(python: str, args: list[str], done: str) -> tuple[int, str]:
    r = proc.run([python, "-m", "pip", *args], timeout=PIP_TIMEOUT_S)
    if r.ok:
        return EXIT_OK, done
    last = r.output.strip().splitlines()[-1] if r.output.strip() else f"exit {r.returncode}"
    return 1, f"pip {' '.join(args)} failed: {last}"


def _uninstall(env: Environment, a: Uninstall) -> tuple[int, str]:
    """Save every installed mmcv-family distribution byte for byte (they share files), then
    ``pip uninstall`` the named ones; the saved copy is journalled for ``mmfix revert --install``."""
    from mmfix.builder.install import save_install
    from mmfix.builder.source import cache_dir
    from mmfix.patching import install_journal

    python = env.target.executable
    keep = cache_dir("previous", time.strftime("%Y%m%d-%H%M%S") + "-uninstall")
    saved = []
    for d in env.mmcv:
        archive = save_install(d, keep)
        saved.append({"name": d.name, "version": d.version, "location": d.location,
                      "archive": str(archive) if archive else None})
    prefix = env.target.prefix or python
    journal = install_journal(prefix)
    with journal.locked():
        journal.record("install", patch_id="uninstall", target_prefix=prefix, saved=str(keep), python=python,
                       new_wheel=None, previous=saved)
    code, detail = _pip(python, ["uninstall", "-y", *a.dists], f"uninstalled {' '.join(a.dists)}")
    return code, detail + (f" (saved in {keep})" if code == EXIT_OK else "")


@contextlib.contextmanager
def _stdout_to_stderr(active: bool) -> Iterator[None]:
    """Under ``--json`` stdout carries one JSON document: the steps' own output goes to stderr."""
    if not active:
        yield
        return
    with contextlib.redirect_stdout(sys.stderr):
        yield


def confirm(plan: Plan) -> bool:
    """Ask once before the first change (the plan was just shown). Raises RefusedError when there
    is no terminal to ask on (pass --yes)."""
    if not sys.stdin or not sys.stdin.isatty():
        raise RefusedError("not changing the environment without confirmation", "stdin is not a terminal",
                           "pass --yes to apply the plan, or --dry-run to only see it")
    import typer

    n = len(plan.steps)
    return bool(typer.confirm(f"Apply {'this step' if n == 1 else f'these {n} steps'} to the target environment?",
                              default=False, err=True))
