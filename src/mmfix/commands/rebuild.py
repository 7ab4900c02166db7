"""``mmfix rebuild``: probe -> source -> plan -> (dry run: print, stop) -> build -> install -> verify.

Nothing in the target env changes before the build succeeded; a failed build is named by the
explain catalog instead of dumping its log.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from mmfix import proc, render
from mmfix.builder import plan as planmod
from mmfix.builder import source as srcmod
from mmfix.builder.plan import BuildPlan
from mmfix.builder.runner import BuildResult, find_ccache, prepare_source, run_build
from mmfix.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_REFUSED,
    MmfixError,
    OperationFailed,
    UsageError,
)
from mmfix.model import Environment
from mmfix.plan.planner import Request, choose_for_rebuild
from mmfix.plan.version import VersionChoice, parse_request

SCHEMA = "mmfix.rebuild/1"


def _probe(python: str | None) -> Environment:
    from mmfix.probe import probe  # the integrator's probe

    return probe(python)


def _source(env: Environment, source: Path | None, git: str | None, mmcv_version: str | None,
            choice: VersionChoice | None) -> srcmod.SourceTree:
    """The source tree to build: ``--source``, ``--git`` (the tag of the chosen version, when
    anything chose one), else the sdist of the version the planner chose."""
    if source:
        tree = srcmod.from_dir(source)
        # the tree's version must fit --mmcv-version and the env (ConflictError, exit 3, otherwise)
        choose_for_rebuild(env, Request(mmcv_version, source=str(source), source_version=tree.version))
        return tree
    if git:
        pinned = mmcv_version or env.active_mmcv or env.downstream
        return srcmod.from_git(git, choice.version if choice and pinned else None)
    assert choice is not None
    return srcmod.from_sdist(choice.version)


def plan_lines(plan: BuildPlan, origin: str, log: Path) -> list[str]:
    """The plan as text lines (what --dry-run prints)."""
    lines = [
        f"mmcv {plan.mmcv_version} ({plan.dist_name}) from {origin}",
        f"target: {plan.python} (Python {plan.python_version}, torch {plan.torch_version or '-'})",
        f"ops: {'CUDA ' + (plan.arch_list or '') + ' (' + plan.arch_source + ')' if plan.cuda else 'CPU only'}",
        f"jobs: {plan.jobs}",
        "build variables:",
        *[f"  {k}={v}" for k, v in sorted(plan.env.items())],
    ]
    if plan.unset:
        lines.append("  unset: " + " ".join(plan.unset))
    lines.append("  PATH prepend: " + ":".join(plan.path_prepend))
    lines.append("source patches (on the build copy): " + (", ".join(plan.patches) or "none"))
    if plan.env_changes:
        lines.append("changes to the target env (asked first): pip install " + " ".join(f"'{c}'" for c in plan.env_changes))
    lines += [f"note: {n}" for n in plan.notes]
    lines.append("commands:")
    lines.append("  " + " ".join(plan.wheel_command("<build>/mmcv-" + plan.mmcv_version, "<build>/wheel")))
    lines.append(f"  {plan.python} -m pip uninstall -y <installed mmcv/mmcv-full/mmcv-lite>   (only after success)")
    lines.append(f"  {plan.python} -m pip install --no-deps <built wheel>")
    lines.append(f"log: {log}")
    for b in plan.blockers:
        lines.append(f"BLOCKER {b.id}: {b.what}; fix: {b.fix}")
    return lines


def _explain(log: Path) -> list[str]:
    """The named problems of a failed build log (explain catalog: matches in rank order, then the
    first error lines no signature explains); without explain, the log's last error lines."""
    try:
        from mmfix.explain import explain_file  # type: ignore[attr-defined,unused-ignore]

        result = explain_file(log)
    except Exception:  # noqa: BLE001 - explaining (or its absence) must not hide the build failure
        result = None
    if result is not None:
        lines = [f"{m.id} (log line {m.line}): {m.text.strip()[:200]}\n    fix: {m.fix}" for m in result.matches[:3]]
        lines += [f"error (log line {e.line}): {e.text[:200]}" for e in getattr(result, "unmatched", ())[:3]]
        if lines:
            return lines
    text = log.read_text(errors="replace").splitlines()
    errs = [ln.strip() for ln in text if "error" in ln.lower() and not ln.startswith("#")]
    return (errs or text)[-8:]


def _log_path(log: Path | None, version: str) -> Path:
    if log:
        return log.expanduser().resolve()
    return srcmod.cache_dir("logs") / f"rebuild-mmcv-{version}-{time.strftime('%Y%m%d-%H%M%S')}.log"


def _build_with_progress(plan: BuildPlan, src: Path, log: Path) -> BuildResult:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    opts = render.options()
    if opts.quiet:
        return run_build(plan, src, log)
    with Progress(TextColumn("compiling"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("ETA"), TimeRemainingColumn(), console=render.err_console(), transient=False) as prog:
        task = prog.add_task("build", total=None)

        def step(n: int, total: int) -> None:
            prog.update(task, completed=n, total=total)

        return run_build(plan, src, log, on_step=step)


def _ensure_env_changes(plan: BuildPlan, yes: bool) -> None:
    if not plan.env_changes:
        return
    req = " ".join(plan.env_changes)
    if not yes:
        from mmfix.builder.install import _confirm

        if not _confirm(f"The build needs `pip install {req}` in the target env. Install?"):
            raise OperationFailed("build prerequisites missing", req, f"{plan.python} -m pip install {req}")
    r = proc.run([plan.python, "-m", "pip", "install", *plan.env_changes], timeout=1800)
    if not r.ok:
        raise OperationFailed(f"pip install {req} failed", r.output.strip().splitlines()[-1] if r.output.strip() else None)


def run(
    python: str | None,
    arch: str | None,
    cpu: bool,
    source: Path | None,
    git: str | None,
    mmcv_version: str | None,
    jobs: int | None,
    threads_per_block: int | None,
    prefer_wheel: bool | None,
    allow_unsupported_compiler: bool,
    dry_run: bool,
    yes: bool,
    log: Path | None,
    as_json: bool,
    wheel_only: bool = False,
    force_build: bool = False,
    in_repair: bool = False,
) -> int:
    """Run ``mmfix rebuild``; returns the exit code. Raises MmfixError subclasses for one-line errors.

    ``in_repair``: a step of ``doctor --fix``, which shows the plan and the before/after table
    itself, so the build plan lines and this command's table are left out.

    Wheelhouse (``mmfix.commands.wheelhouse``): unless ``force_build`` (or a source option), a wheel
    whose record fits is installed instead of building; a verified build is kept. ``wheel_only``:
    build, verify a scratch copy and keep it, without touching the target env's mmcv."""
    if jobs is not None and jobs < 1:
        raise UsageError(f"--jobs {jobs} is not a job count", fix="pass --jobs 1 or more")
    if threads_per_block is not None and threads_per_block not in (32, 64, 128, 256, 512, 1024):
        raise UsageError(f"--threads-per-block {threads_per_block} is out of range", "it must be a power of two in 32..1024",
                         "for example --threads-per-block 256")
    if arch is not None and cpu:
        raise UsageError("--arch and --cpu exclude each other", "--cpu builds CPU ops only",
                         "pass --arch LIST for CUDA ops or --cpu for CPU ops")
    if source and git:
        raise UsageError("--source and --git exclude each other", fix="pass one of them")
    parse_request(mmcv_version)  # UsageError for text that is neither a version nor a range
    if arch is not None:  # malformed lists fail before anything is probed or downloaded
        from mmfix.builder.arch import parse_arch_list

        parse_arch_list(arch)
    from mmfix.commands import wheelhouse
    from mmfix.wheels import house

    srcmod.cache_dir()  # an unusable MMFIX_CACHE_DIR is one line now, not after the lookups (or a build)

    if wheel_only and not house.locations():
        raise UsageError("--wheel-only keeps the build in a wheelhouse", "--no-wheelhouse names none",
                         "drop --no-wheelhouse, or pass --wheelhouse PATH")
    env = _probe(python)
    # the version doctor --fix would build too (mmfix.plan): every constraint at once, and why
    choice = None if source else choose_for_rebuild(env, Request(mmcv_version))
    if choice is not None:
        for line in choice.why:
            render.info(line)
    # refusals that need no source: decide with a provisional version
    planmod.make_plan(env, mmcv_version=choice.version if choice else "2.2.0", arch=arch, cpu=cpu, jobs=jobs,
                      threads_per_block=threads_per_block, allow_unsupported_compiler=allow_unsupported_compiler)
    tree_version = choice.version if choice else mmcv_version
    if not force_build and source is None and git is None and threads_per_block is None:
        code = wheelhouse.try_wheelhouse(env, arch=arch, cpu=cpu, mmcv_version=tree_version, yes=yes, dry_run=dry_run,
                                         wheel_only=wheel_only, as_json=as_json, log=log,
                                         table=not in_repair)
        if code is not None:
            return code
    if not wheel_only and _wants_wheel(prefer_wheel, arch=arch, source=source, git=git, threads_per_block=threads_per_block):
        assert choice is not None
        code = _try_wheel(env, choice.version, yes, as_json, dry_run, explicit=bool(prefer_wheel), table=not in_repair)
        if code is not None:
            return code
    tree = _source(env, source, git, mmcv_version, choice)
    ccache = find_ccache()
    plan = planmod.make_plan(env, mmcv_version=tree.version, arch=arch, cpu=cpu, jobs=jobs,
                             threads_per_block=threads_per_block,
                             allow_unsupported_compiler=allow_unsupported_compiler, ccache=ccache)
    log_path = _log_path(log, tree.version)
    payload: dict[str, Any] = {"plan": plan, "source": tree.origin, "log": str(log_path), "dry_run": dry_run,
                               "mmcv_choice": choice}
    if not as_json and not in_repair:
        con = render.console()
        for line in plan_lines(plan, tree.origin, log_path):
            con.print(line, markup=False)
        if wheel_only:
            con.print("--wheel-only: the wheel is verified on a scratch copy and kept in the wheelhouse; "
                      "the pip uninstall/install lines above do not run", markup=False)
    if plan.blockers:
        if as_json:
            render.emit_json(SCHEMA, {**payload, "result": "blocked"})
        else:
            render.error_line("the build cannot work here yet: fix the BLOCKER lines above first")
        return EXIT_REFUSED
    if dry_run:
        if as_json:
            render.emit_json(SCHEMA, {**payload, "result": "planned"})
        return EXIT_OK
    _ensure_env_changes(plan, yes)
    try:
        src, applied = prepare_source(plan, tree, threads_per_block)
        render.info(f"build folder: {src}; patches applied: {', '.join(applied) or 'none'}")
        render.info(f"full build log: {log_path}")
        result = _build_with_progress(plan, src, log_path)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the runner stopped the whole build
        return _interrupted(payload, log_path, as_json)
    payload.update(build={"ok": result.ok, "seconds": round(result.seconds, 1), "cpu_seconds": round(result.cpu_seconds, 1),
                          "steps": result.steps_total, "wheel": str(result.wheel) if result.wheel else None,
                          "patches": applied})
    if not result.ok:
        named = _explain(log_path)
        payload["problems"] = named
        if as_json:
            render.emit_json(SCHEMA, {**payload, "result": "build-failed"})
        else:
            render.error_line(f"the build failed after {result.seconds:.0f} s; nothing was installed; log: {log_path}")
            for ln in named:
                render.err_console().print("  " + ln, markup=False)
        return EXIT_PROBLEMS
    cores = env.host.cpu_count or 1
    render.info(f"built {result.wheel.name if result.wheel else '?'} in {result.seconds:.0f} s "
                f"({result.steps_total} compile steps, cpu {result.cpu_seconds:.0f} s, "
                f"core utilisation {result.cpu_seconds / max(result.seconds * cores, 1e-9):.2f} of {cores})")
    from mmfix.builder.install import install_wheel
    from mmfix.builder.verify import verify_install

    assert result.wheel is not None
    archs = plan.arch_list.split(";") if plan.cuda and plan.arch_list else None
    if wheel_only:
        return wheelhouse.finish_wheel_only(env, plan, tree, applied, result, archs, payload, as_json)
    inst = install_wheel(plan.python, result.wheel, yes=yes, env=env)
    after = _probe(python)
    ver = verify_install(plan.python, archs, plan.toolkit_root)
    payload.update(install={"removed": inst.removed, "wheel": inst.wheel}, verify=ver,
                   before=_summary(env), after=_summary(after))
    if ver.ok:
        payload["wheelhouse"] = {"stored": wheelhouse.keep_build(env, plan, tree, applied, result, ver,
                                                                 "installed in the target env")}
    if as_json:
        render.emit_json(SCHEMA, {**payload, "result": "ok" if ver.ok else "verify-failed"})
    elif not in_repair:
        _print_table(env, after, ver)
    return EXIT_OK if ver.ok else EXIT_PROBLEMS


def _interrupted(payload: dict[str, Any], log: Path, as_json: bool) -> int:
    """Ctrl-C/SIGTERM during the build: one line, exit 130; the target env was not touched."""
    line = f"interrupted: nothing was installed; the build was stopped (log: {log})"
    render.error_line(line)
    if as_json:
        render.emit_json(SCHEMA, {**payload, "result": "interrupted", "message": line})
    return EXIT_INTERRUPTED


def _summary(env: Environment) -> dict[str, Any]:
    m = env.active_mmcv
    ext = env.ext_import
    return {
        "mmcv": f"{m.name} {m.version}" if m else None,
        "wheel_tag": m.wheel_tag if m else None,
        "ext": bool(m and m.has_ext),
        "ext_import": (ext.ok if ext and ext.attempted else None),
        "compiling_cuda": ext.compiling_cuda_version if ext else None,
    }


def _print_table(before: Environment, after: Environment, ver: Any) -> None:
    from rich.table import Table

    b, a = _summary(before), _summary(after)
    t = Table(title="mmcv before / after")
    t.add_column("")
    t.add_column("before")
    t.add_column("after")
    for key in ("mmcv", "wheel_tag", "ext", "ext_import", "compiling_cuda"):
        t.add_row(key, *("-" if v is None else str(v) for v in (b[key], a[key])))
    t.add_row("nms (CPU)", "-", "ok" if ver.cpu_nms_ok else f"FAILED {ver.error or ''}")
    if ver.gpu_nms_ok is not None:
        t.add_row("nms (GPU)", "-", "ok" if ver.gpu_nms_ok else "FAILED")
    if ver.sass or ver.ptx:
        t.add_row("SASS / PTX", "-", f"{' '.join(ver.sass)} / {' '.join(ver.ptx)}")
    if ver.missing_archs:
        t.add_row("missing SASS", "-", " ".join(ver.missing_archs))
    render.console().print(t)
    for n in ver.notes:
        render.info(n)


def _wants_wheel(prefer_wheel: bool | None, *, arch: str | None, source: Path | None, git: str | None,
                 threads_per_block: int | None) -> bool:
    """--prefer-wheel / --no-prefer-wheel, else the default: look for a prebuilt wheel unless the
    request needs a build (an explicit --arch: a wheel's archs are fixed; --source/--git; a patched
    THREADS_PER_BLOCK) or MMFIX_OFFLINE=1 is set."""
    if prefer_wheel is not None:
        return prefer_wheel
    if os.environ.get("MMFIX_OFFLINE") == "1":
        return False
    return arch is None and source is None and git is None and threads_per_block is None


def _try_wheel(env: Environment, mmcv_version: str | None, yes: bool, as_json: bool, dry_run: bool,
               explicit: bool, table: bool = True) -> int | None:
    """Install a matching prebuilt wheel (``mmfix.wheels``) instead of building; None when no wheel
    fits or the index cannot be reached (then the build goes on). With ``dry_run`` only say which."""
    from mmfix.wheels import find_wheel, install_from_index

    try:
        search = find_wheel(env, mmcv_version=mmcv_version)
    except MmfixError as exc:
        render.info(f"{'--prefer-wheel: ' if explicit else ''}no prebuilt wheel lookup ({exc.what}): building from source")
        return None
    chosen = search.chosen
    if not chosen:
        render.info("no prebuilt mmcv wheel matches this torch/CUDA/Python: building from source")
        return None
    if dry_run:
        render.info(f"would install the prebuilt wheel {chosen.filename} instead of building (--no-prefer-wheel builds)")
        return EXIT_OK
    render.info(f"installing the prebuilt wheel {chosen.filename} instead of building")
    done = install_from_index(chosen, env, yes=yes)
    ok = bool(getattr(done, "ok", False))
    if as_json:
        render.emit_json(SCHEMA, {"result": "wheel-installed" if ok else "verify-failed", "wheel": done})
    elif getattr(done, "verify", None) is not None and table:
        _print_table(env, _probe(env.target.executable), done.verify)
    return EXIT_OK if ok else EXIT_PROBLEMS
