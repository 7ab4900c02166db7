"""The build supervisor with real processes: a real ``pip wheel`` of a small source tree through the
real runner (``run_build``) in a driver process that is then killed with SIGKILL, SIGINT or SIGTERM.
The tree's setup.py starts "compilers" the way ninja does (each in its own process group), one of
them ignoring SIGTERM. Plus the Windows half (job object, taskkill) as far as it runs here."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_build_runner import target  # noqa: F401 - the real venv fixture

from mmfix.builder import supervise

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")

SETUP = """\
import os, signal, subprocess, sys, time
if 'bdist_wheel' in sys.argv:
    # like ninja: each compiler in a process group of its own; one ignores SIGTERM
    a = subprocess.Popen(['sleep', '300'], preexec_fn=os.setpgrp)
    b = subprocess.Popen([sys.executable, '-c',
        'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)'],
        preexec_fn=os.setpgrp)
    open({marker!r}, 'w').write(f'{{a.pid}} {{b.pid}}')
    print('[1/2] c++ -c a.cpp', flush=True)
    time.sleep(300)
from setuptools import setup; setup(name='mmcv', version='2.2.0', packages=['mmcv'])
"""

DRIVER = """
import sys
from pathlib import Path
from mmfix.builder.plan import BuildPlan
from mmfix.builder.runner import run_build
plan = BuildPlan(python=sys.argv[1], mmcv_version="2.2.0", dist_name="mmcv", cuda=False, arch_list=None,
                 arch_source="-", jobs=1, env={}, unset=(), path_prepend=(), patches=(), env_changes=(),
                 blockers=(), notes=())
try:
    run_build(plan, Path(sys.argv[2]), Path(sys.argv[3]))
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
"""


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for a reaper does not run)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def build_processes(tag: str) -> list[int]:
    """Running processes whose command line or folder mentions ``tag`` (the unique build tree)."""
    found = []
    for d in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(d / "cwd")
        except OSError:
            continue
        if (tag in cmd or tag in cwd) and alive(int(d.name)):
            found.append(int(d.name))
    return found


def start(tmp_path: Path, python: Path) -> tuple[subprocess.Popen[str], Path, Path]:
    src = tmp_path / "mmcv-2.2.0"
    (src / "mmcv").mkdir(parents=True)
    (src / "mmcv" / "__init__.py").write_text("")
    marker = tmp_path / "compilers.pid"
    (src / "setup.py").write_text(SETUP.format(marker=str(marker)))
    driver = tmp_path / "drive.py"
    driver.write_text(DRIVER)
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    proc = subprocess.Popen(
        [sys.executable, str(driver), str(python), str(src), str(tmp_path / "log")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.default_int_handler),
    )
    return proc, marker, src


def wait_gone(pids: list[int], tag: str, limit: float) -> float:
    """Seconds until none of ``pids`` and no process of the build ``tag`` runs (or ``limit``)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if not any(alive(p) for p in pids) and not build_processes(tag):
            return time.monotonic() - t0
        time.sleep(0.05)
    return limit


@pytest.mark.parametrize("moment", ["supervisor-start", "compiling"])
def test_kill_9_of_mmfix_leaves_no_build_process(tmp_path: Path, target: Path, moment: str) -> None:  # noqa: F811
    proc, marker, src = start(tmp_path, target)
    deadline = time.monotonic() + 120
    log = tmp_path / "log"
    if moment == "supervisor-start":  # the supervisor has the spec; pip may not even run yet
        while supervise.MARKER not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline:
            time.sleep(0.01)
    else:
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
    assert time.monotonic() < deadline, "the build never started"
    pids = [int(p) for p in marker.read_text().split()] if marker.exists() else []
    running = len(build_processes(str(src)))
    proc.kill()
    gone_after = wait_gone(pids, str(src), 15.0)
    _, err = proc.communicate(timeout=30)  # the supervisor shares its stderr: EOF once it is gone too
    print(f"kill -9 at {moment} ({running} build processes): last one gone after {gone_after:.2f} s")
    assert gone_after < 15.0, build_processes(str(src))
    time.sleep(1.0)  # nothing starts later either (a pip that was still starting up)
    assert build_processes(str(src)) == [] and not any(alive(p) for p in pids)
    assert "interrupted" in err and "nothing was installed" in err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sigint_and_sigterm_stop_the_build_within_5_s(tmp_path: Path, target: Path, sig: int) -> None:  # noqa: F811
    proc, marker, src = start(tmp_path, target)
    deadline = time.monotonic() + 120
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the fake compilers never started"
    time.sleep(0.3)
    pids = [int(p) for p in marker.read_text().split()]
    t0 = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    exited = time.monotonic() - t0
    print(f"{signal.Signals(sig).name}: mmfix exited after {exited:.2f} s")
    assert proc.returncode == 130 and "interrupted" in out
    assert exited < 5.0
    assert not any(alive(p) for p in pids) and build_processes(str(src)) == []
    assert "mmfix was killed" not in err and "supervisor stopped" not in err  # a requested stop is quiet


def test_supervisor_without_a_request_starts_nothing(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-I", supervise.__file__], input=b"", capture_output=True, timeout=60)
    assert r.returncode == supervise.STOPPED_RC and r.stdout == b""


def test_supervisor_passes_the_build_exit_code_and_output(tmp_path: Path) -> None:
    import json

    spec = {"argv": [sys.executable, "-c", "print('hello'); raise SystemExit(7)"], "cwd": str(tmp_path),
            "env": dict(os.environ), "grace": 1}
    p = subprocess.Popen([sys.executable, "-I", supervise.__file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert p.stdin is not None
    p.stdin.write((json.dumps(spec) + "\n").encode())
    p.stdin.flush()
    assert p.stdout is not None
    out = p.stdout.read()  # to the end of the build's output, with the control pipe still open
    assert p.wait(timeout=60) == 7
    p.stdin.close()
    assert out.decode().splitlines()[0].startswith(supervise.MARKER) and b"hello" in out


# --- Windows: as far as it runs on Linux ----------------------------------------------------


def test_taskkill_command_ends_the_whole_tree() -> None:
    assert supervise.taskkill_argv(4242) == ["taskkill", "/T", "/F", "/PID", "4242"]


class FakeKernel32:
    """Records the job-object calls WindowsJob makes (their arguments as Windows would get them)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[object, ...]]] = []

    def CreateJobObjectW(self, *a: object) -> int:  # noqa: N802 - the Win32 names
        self.calls.append(("CreateJobObjectW", a))
        return 77

    def SetInformationJobObject(self, handle: int, cls: int, ref: object, size: int) -> int:  # noqa: N802
        info = ref._obj  # type: ignore[attr-defined]  # ctypes.byref's target
        self.calls.append(("SetInformationJobObject", (handle, cls, info.BasicLimitInformation.LimitFlags, size)))
        return 1

    def AssignProcessToJobObject(self, *a: object) -> int:  # noqa: N802
        self.calls.append(("AssignProcessToJobObject", a))
        return 1

    def TerminateJobObject(self, *a: object) -> int:  # noqa: N802
        self.calls.append(("TerminateJobObject", a))
        return 1


def test_windows_job_object_kills_on_close_and_terminates() -> None:
    k32 = FakeKernel32()
    job = supervise.WindowsJob(k32)
    assert job.add(555)
    job.terminate()
    names = [c[0] for c in k32.calls]
    assert names == ["CreateJobObjectW", "SetInformationJobObject", "AssignProcessToJobObject", "TerminateJobObject"]
    _, (handle, cls, flags, size) = k32.calls[1]
    assert handle == 77 and cls == 9 and flags == 0x2000  # JobObjectExtendedLimitInformation, KILL_ON_JOB_CLOSE
    if ctypes.sizeof(ctypes.c_void_p) == 8:
        assert size == 144  # sizeof(JOBOBJECT_EXTENDED_LIMIT_INFORMATION) on x64 Windows
    assert k32.calls[2][1] == (77, 555) and k32.calls[3][1] == (77, 1)


def test_windows_stop_uses_the_job_then_taskkill() -> None:
    k32 = FakeKernel32()
    job = supervise.WindowsJob(k32)
    ran: list[list[str]] = []
    build = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        supervise.stop_windows(build, job, run=lambda argv, **kw: ran.append(argv) or build.kill())  # type: ignore[func-returns-value]
    finally:
        build.kill()
        build.wait()
    assert ("TerminateJobObject", (77, 1)) in k32.calls
    assert ran == [["taskkill", "/T", "/F", "/PID", str(build.pid)]]
