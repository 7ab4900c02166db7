"""Run the planned build: copy the source, patch the copy, ``pip wheel`` it, show progress, log all.

The build runs ``pip wheel --no-build-isolation --no-deps --no-cache-dir`` in the target interpreter
(pip's wheel cache otherwise hands back an ops-less wheel built earlier: ``pip-cache-stale-wheel``)
under the build supervisor (``builder/supervise.py``): a small process that starts the build in a
session of its own and stops that whole session (pip, ninja, every compiler) when mmfix asks
(Ctrl-C, SIGTERM) or when mmfix is gone (``kill -9``: its end of the supervisor's pipe closes).
The target env is left as it was either way (nothing is installed before the build succeeded).
torch's ninja backend prints ``[n/N] <command>`` lines; they drive a rich progress bar with elapsed
time and ETA. The whole output goes to a log file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mmfix.builder import supervise

try:
    import resource
except ImportError:  # Windows: no getrusage; cpu_seconds is then 0
    resource = None  # type: ignore[assignment]
from mmfix.builder.plan import BuildPlan
from mmfix.builder.source import SourceTree, cache_dir, copy_for_build

NINJA_STEP = re.compile(r"^\[(\d+)/(\d+)\]\s")
SUPERVISOR = Path(supervise.__file__)
STOP_GRACE_S = 2.0  # SIGTERM, then SIGKILL after this: a stop takes well under 5 s
_NEW_GROUP = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)


@dataclass(frozen=True)
class BuildResult:
    """What one build did. Times in seconds; cpu_seconds is user+sys of all child processes."""

    ok: bool
    returncode: int | None
    log: Path
    build_dir: Path
    wheel: Path | None
    seconds: float
    cpu_seconds: float
    steps_done: int = 0
    steps_total: int = 0
    applied_patches: tuple[str, ...] = ()
    interrupted: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)


def build_environment(plan: BuildPlan, build_dir: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The process environment of the build: the caller's, minus ``plan.unset``, plus ``plan.env``
    (``{build}`` replaced by the build folder), with ``plan.path_prepend`` in front of PATH."""
    env = dict(os.environ if base is None else base)
    for name in plan.unset:
        env.pop(name, None)
    for k, v in plan.env.items():
        env[k] = v.replace("{build}", str(build_dir))
    env["PATH"] = os.pathsep.join([*plan.path_prepend, env.get("PATH", "")])
    env.setdefault("PYTHONUNBUFFERED", "1")
    env["PIP_NO_INPUT"] = "1"
    return env


def prepare_source(plan: BuildPlan, tree: SourceTree, threads_per_block: int | None = None) -> tuple[Path, list[str]]:
    """Copy ``tree`` into a clean build folder, write the plan's build-only files, apply the versioned
    source patches there (mmfix.patching.patch_build_source). Returns (build folder, applied ids).

    Raises RefusedError from the patch engine when a file has unknown contents.
    """
    # one stable folder per target interpreter: concurrent builds for two envs never collide,
    # and a rebuild for the same env reuses the same paths (ccache hits)
    key = hashlib.sha256(os.path.abspath(plan.python).encode()).hexdigest()[:10]
    src = copy_for_build(tree, cache_dir("build", key))
    for name, text in plan.files.items():
        (src / name).write_text(text)
    applied: list[str] = []
    from mmfix.patching import NOT_NEEDED, patch_build_source

    changes = patch_build_source(
        src, plan.mmcv_version, plan.torch_version or "0", plan.python_version,
        threads_per_block=threads_per_block, dry_run=False,
    )
    applied = [f"{c.patch_id} ({c.path})" for c in changes if c.state != NOT_NEEDED]
    return src, applied


def run_build(
    plan: BuildPlan,
    src: Path,
    log_path: Path,
    *,
    on_step: Callable[[int, int], None] | None = None,
    on_line: Callable[[str], None] | None = None,
    base_env: dict[str, str] | None = None,
) -> BuildResult:
    """Build the wheel of ``src`` per ``plan``; the full output goes to ``log_path``.

    ``on_step(n, total)`` is called for each ninja ``[n/N]`` line. The build runs under the
    supervisor (``start_supervised``): Ctrl-C or SIGTERM (KeyboardInterrupt) stops its whole
    session within ``STOP_GRACE_S`` + a moment, then re-raises; a ``kill -9`` of mmfix makes the
    supervisor stop it. Never installs anything.
    """
    wheel_dir = src.parent / f"{src.name}-wheel"
    if wheel_dir.exists():
        shutil.rmtree(wheel_dir)
    wheel_dir.mkdir(parents=True)
    env = build_environment(plan, src, base_env)
    argv = plan.wheel_command(str(src), str(wheel_dir))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    before = _children_cpu()
    t0 = time.monotonic()
    done = total = 0
    with open(log_path, "w", encoding="utf-8", errors="replace", buffering=1) as log:  # line by line: a kill -9 keeps the log
        log.write("# mmfix rebuild\n# command: " + " ".join(argv) + "\n")
        for k in sorted(plan.env):
            log.write(f"# {k}={env.get(k, '')}\n")
        log.flush()
        old_term = _raise_on_sigterm()
        sup, fd = start_supervised(argv, str(src), env)
        control: int | None = fd
        build_pid: int | None = None
        try:
            assert sup.stdout is not None
            for line in sup.stdout:
                log.write(line)
                if build_pid is None and line.startswith(supervise.MARKER):
                    build_pid = int(line[len(supervise.MARKER):])
                    continue
                m = NINJA_STEP.match(line.lstrip())
                if m:
                    done, total = int(m.group(1)), int(m.group(2))
                    if on_step:
                        on_step(done, total)
                elif on_line:
                    on_line(line.rstrip("\n"))
            rc = sup.wait()
        except KeyboardInterrupt:
            stop_supervised(sup, fd, build_pid)
            control = None
            log.write("\n# interrupted (Ctrl-C / SIGTERM): build stopped, nothing installed\n")
            raise
        finally:
            if control is not None:
                with contextlib.suppress(OSError):
                    os.close(control)
            _restore_sigterm(old_term)
    seconds = time.monotonic() - t0
    cpu = _children_cpu() - before
    wheels = sorted(wheel_dir.glob("*.whl"))
    ok = rc == 0 and bool(wheels)
    return BuildResult(ok, rc, log_path, src, wheels[0] if wheels else None, seconds, cpu, done, total)


def _children_cpu() -> float:
    """User + system CPU seconds of all waited-for descendants (0 where getrusage is missing)."""
    if resource is None:
        return 0.0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _raise_on_sigterm() -> object:
    """While building, SIGTERM acts like Ctrl-C (so ``kill`` also stops the compilers)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _on_sigterm)


def _restore_sigterm(old: object) -> None:
    if old is not None:
        signal.signal(signal.SIGTERM, old)  # type: ignore[arg-type]


def session_members(sid: int) -> list[int]:
    """PIDs of the live processes in session ``sid`` (Linux /proc; empty elsewhere). ninja starts
    every command in its own process group, so the compilers are reached through the session,
    not pip's group."""
    return supervise.session_members(sid)


def start_supervised(argv: list[str], cwd: str, env: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
    """Start the build supervisor (``supervise.py`` in this interpreter, isolated mode) and hand it
    the build ``argv``/``cwd``/``env``. Returns (the supervisor, whose stdout is the build's
    output and whose exit code is the build's; the write end of its control pipe). Keep the
    descriptor open while the build runs: closing it, or mmfix dying, stops the build."""
    read_end, control = os.pipe()  # not inherited by any other child (PEP 446)
    try:
        sup = subprocess.Popen(
            [sys.executable, "-I", str(SUPERVISOR)], stdin=read_end, stdout=subprocess.PIPE, stderr=None,
            start_new_session=os.name == "posix", creationflags=_NEW_GROUP,
            text=True, encoding="utf-8", errors="replace", bufsize=1,
        )
    except BaseException:
        os.close(control)
        raise
    finally:
        os.close(read_end)
    spec = (json.dumps({"argv": argv, "cwd": cwd, "env": env, "grace": STOP_GRACE_S}) + "\n").encode()
    view = memoryview(spec)
    while view:
        view = view[os.write(control, view):]
    return sup, control


def stop_supervised(sup: subprocess.Popen[str], control: int, build_pid: int | None) -> None:
    """Ask the supervisor to stop the build (a ``stop`` line, then end of file) and wait for it;
    if it does not end in time, kill it and stop the build's session from here."""
    with contextlib.suppress(OSError):
        os.write(control, supervise.STOP)
    with contextlib.suppress(OSError):
        os.close(control)
    try:
        sup.wait(timeout=STOP_GRACE_S + 5)
    except subprocess.TimeoutExpired:
        sup.kill()
        sup.wait()
        if build_pid is not None and os.name == "posix":
            for sig in (signal.SIGTERM, signal.SIGKILL):
                supervise._signal_session(build_pid, sig)
                time.sleep(0.5)


def stop_group(proc: subprocess.Popen[str], grace: float = 10.0) -> None:
    """Stop the build started by ``run_build`` (its own session): SIGTERM to pip's process group
    and every process of the session (ninja's compilers), SIGKILL after ``grace`` seconds."""
    sid = proc.pid  # start_new_session: pip leads its session and group
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(sid, sig)
        for pid in session_members(sid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
        if sig == signal.SIGTERM and session_members(sid):
            time.sleep(min(grace, 2.0))  # let the compilers go, then make sure
            continue
        return


def find_ccache() -> str | None:
    """The ccache binary on PATH, None when not installed."""
    return shutil.which("ccache")
