"""Run the planned build: copy the source, patch the copy, ``pip wheel`` it, show progress, log all.

The build runs ``pip wheel --no-build-isolation --no-deps --no-cache-dir`` in the target interpreter
(pip's wheel cache otherwise hands back an ops-less wheel built earlier: ``pip-cache-stale-wheel``)
in its own process group, so Ctrl-C stops pip, ninja and every compiler, and the target env is left
as it was (nothing is installed before the build succeeded). torch's ninja backend prints
``[n/N] <command>`` lines; they drive a rich progress bar with elapsed time and ETA. The whole
output goes to a log file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import resource
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mmfix.builder.plan import BuildPlan
from mmfix.builder.source import SourceTree, cache_dir, copy_for_build

NINJA_STEP = re.compile(r"^\[(\d+)/(\d+)\]\s")


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

    ``on_step(n, total)`` is called for each ninja ``[n/N]`` line. Ctrl-C (KeyboardInterrupt)
    terminates the whole process group, then re-raises. Never installs anything.
    """
    wheel_dir = src.parent / f"{src.name}-wheel"
    if wheel_dir.exists():
        shutil.rmtree(wheel_dir)
    wheel_dir.mkdir(parents=True)
    env = build_environment(plan, src, base_env)
    argv = plan.wheel_command(str(src), str(wheel_dir))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    done = total = 0
    with open(log_path, "w", encoding="utf-8", errors="replace") as log:
        log.write("# mmfix rebuild\n# command: " + " ".join(argv) + "\n")
        for k in sorted(plan.env):
            log.write(f"# {k}={env.get(k, '')}\n")
        log.flush()
        old_term = _raise_on_sigterm()
        proc = subprocess.Popen(
            argv, cwd=str(src), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, text=True, encoding="utf-8", errors="replace", bufsize=1,
        )
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                log.write(line)
                m = NINJA_STEP.match(line.lstrip())
                if m:
                    done, total = int(m.group(1)), int(m.group(2))
                    if on_step:
                        on_step(done, total)
                elif on_line:
                    on_line(line.rstrip("\n"))
            rc = proc.wait()
        except KeyboardInterrupt:
            stop_group(proc)
            log.write("\n# interrupted (Ctrl-C / SIGTERM): build stopped, nothing installed\n")
            raise
        finally:
            _restore_sigterm(old_term)
    seconds = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    wheels = sorted(wheel_dir.glob("*.whl"))
    ok = rc == 0 and bool(wheels)
    return BuildResult(ok, rc, log_path, src, wheels[0] if wheels else None, seconds, cpu, done, total)


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
    """PIDs in session ``sid`` (Linux /proc; empty elsewhere). ninja starts every command in its
    own process group, so the compilers are reached through the session, not pip's group."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 3 and fields[3] == str(sid):  # state ppid pgrp session ...
            out.append(int(stat.parent.name))
    return out


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
