"""e2e: a real ``mmfix rebuild --cpu`` of the real mmcv 2.2.0 sdist, stopped at several moments by
``kill -9``, SIGINT and SIGTERM. Afterwards no process of that build may run (15 s after kill -9,
5 s after SIGINT/SIGTERM) and the target env's mmcv must be unchanged.

Cost: each run stops its build within its first compile steps; five runs take about 3-5 minutes on
2 idle cores (mostly the probe, the copy of the source and pip/torch starting the build). ccache
is turned off for them so that the compilers really run when the signal arrives."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from mmfix.builder.source import from_sdist
from mmfix.builder.supervise import MARKER

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")]


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def build_processes(tag: str) -> list[str]:
    """Running processes whose command line or working folder mentions ``tag`` (a folder only
    this run uses: its MMFIX_CACHE_DIR, which holds the build copy)."""
    found = []
    for d in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(d / "cwd")
        except OSError:
            continue
        if (tag in cmd or tag in cwd) and alive(int(d.name)):
            found.append(f"{d.name} {cmd[:120]}")
    return found


def mmcv_state(py: Path) -> str:
    """sha256 over the installed mmcv's RECORD and its package files (what a reinstall changes)."""
    code = ("import importlib.metadata as m, hashlib, pathlib; d = m.distribution('mmcv'); h = hashlib.sha256();"
            "h.update(d.version.encode()); h.update((d.read_text('RECORD') or '').encode());"
            "[h.update(pathlib.Path(d.locate_file(f)).read_bytes()) for f in d.files or []"
            " if pathlib.Path(d.locate_file(f)).is_file()]; print(h.hexdigest())")
    cp = subprocess.run([str(py), "-c", code], capture_output=True, text=True, timeout=300)
    assert cp.returncode == 0, cp.stderr
    return hashlib.sha256(cp.stdout.encode()).hexdigest()


@pytest.fixture(scope="module")
def sdist_tree() -> Path:
    return from_sdist("2.2.0").path


def start(tmp_path: Path, py: Path, src: Path, mmfix_cmd: list[str]) -> tuple[subprocess.Popen[str], Path, str]:
    cache = tmp_path / "cache"
    log = tmp_path / "build.log"
    env = dict(os.environ, MMFIX_CACHE_DIR=str(cache), CCACHE_DISABLE="1", MMFIX_OFFLINE="1")
    proc = subprocess.Popen(
        [*mmfix_cmd, "--no-color", "rebuild", "--python", str(py), "--cpu", "--source", str(src), "--jobs", "2",
         "--yes", "--no-prefer-wheel", "--log", str(log)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.default_int_handler),
    )
    return proc, log, str(cache)


def wait_for(log: Path, what: str, proc: subprocess.Popen[str], limit: float = 900) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        text = log.read_text(errors="replace") if log.exists() else ""
        if what in text:
            return
        if proc.poll() is not None:
            pytest.fail(f"mmfix ended before '{what}': {proc.communicate()}")
        time.sleep(0.1)
    pytest.fail(f"no '{what}' in {log} after {limit} s")


def wait_gone(tag: str, limit: float) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if not build_processes(tag):
            return time.monotonic() - t0
        time.sleep(0.05)
    return limit


# moment -> what the log must show before the signal, and seconds to wait after it shows
MOMENTS = {
    "pip-starting": (MARKER, 0.0),  # the supervisor started pip: setup.py not yet running
    "first-compile": ("[1/", 1.0),  # ninja's first step: compilers running
    "compiling": ("[1/", 25.0),  # well into the compile
}


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_kill_9_during_rebuild(opsless_env: Path, sdist_tree: Path, mmfix_cmd: list[str], tmp_path: Path,
                               moment: str) -> None:
    before = mmcv_state(opsless_env)
    proc, log, tag = start(tmp_path, opsless_env, sdist_tree, mmfix_cmd)
    what, extra = MOMENTS[moment]
    wait_for(log, what, proc)
    time.sleep(extra)
    running = build_processes(tag)
    assert running, "nothing of the build runs at the chosen moment"
    proc.kill()
    gone_after = wait_gone(tag, 15.0)
    _, err = proc.communicate(timeout=60)
    print(f"\nkill -9 at {moment}: {len(running)} build processes; last one gone after {gone_after:.2f} s")
    print("  " + "\n  ".join(ln for ln in err.splitlines() if "interrupted" in ln))
    assert gone_after < 15.0, build_processes(tag)
    time.sleep(2.0)
    assert build_processes(tag) == []  # nothing came back either
    assert "interrupted: mmfix ended during the build" in err and "nothing was installed" in err
    assert mmcv_state(opsless_env) == before


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sigint_sigterm_during_rebuild(opsless_env: Path, sdist_tree: Path, mmfix_cmd: list[str], tmp_path: Path,
                                       sig: int) -> None:
    before = mmcv_state(opsless_env)
    proc, log, tag = start(tmp_path, opsless_env, sdist_tree, mmfix_cmd)
    wait_for(log, "[1/", proc)
    time.sleep(3.0)
    t0 = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    exited = time.monotonic() - t0
    left = build_processes(tag)
    print(f"\n{signal.Signals(sig).name}: mmfix exited {proc.returncode} after {exited:.2f} s; "
          f"build processes left: {len(left)}")
    print("  " + err.strip().splitlines()[-1])
    assert proc.returncode == 130 and exited < 5.0 and left == []
    [line] = [ln for ln in err.splitlines() if ln.startswith("mmfix: error:")]
    assert line.startswith("mmfix: error: interrupted: nothing was installed")
    assert "Traceback" not in err
    assert mmcv_state(opsless_env) == before
