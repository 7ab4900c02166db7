"""The build supervisor: a small process that outlives a ``kill -9`` of mmfix just long enough to
stop the whole build (pip, setup.py, ninja, every compiler).

Run as a script (``python -I supervise.py``; standard library only, so it starts in ~20 ms and
never imports the user's site-packages). mmfix starts it with a pipe on its stdin that only mmfix
holds open, then writes one JSON line: ``{"argv": [...], "cwd": "...", "env": {...}, "grace": 3}``.
The supervisor then

1. starts the build in a session of its own (POSIX ``setsid``; on Windows a new process group
   inside a job object that kills every member when it is closed), its output on the
   supervisor's stdout (mmfix reads it from there);
2. prints ``# mmfix supervisor: build pid N`` and waits for the build to end or for the pipe to
   close. End of file on the pipe means mmfix is gone (the kernel closes a dead process's pipes,
   ``kill -9`` included) or, after a ``stop`` line, that mmfix asks it to stop (Ctrl-C, SIGTERM);
3. then stops the build: SIGTERM to its process group and to every process of its session
   (ninja starts each compiler in a process group of its own, so only the session reaches them),
   SIGKILL to whatever is left after ``grace`` seconds. On Windows: TerminateJobObject, and
   ``taskkill /T /F /PID`` for the process tree;
4. exits with the build's exit code (128 + signal when a signal ended it; 130 when stopped).

When mmfix died, the supervisor also prints one line on the stderr it shares with mmfix:
``mmfix: interrupted: ... nothing was installed`` (mmfix installs only after the build).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

MARKER = "# mmfix supervisor: build pid "
STOP = b"stop\n"
STOPPED_RC = 130
JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x2000
JOB_OBJECT_EXTENDED_LIMIT_INFORMATION_CLASS = 9  # JobObjectExtendedLimitInformation


def session_members(sid: int) -> list[int]:
    """PIDs of live (not zombie) processes in session ``sid`` (Linux /proc; empty elsewhere)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # fields: state ppid pgrp session ...
        if len(fields) > 3 and fields[3] == str(sid) and fields[0] not in ("Z", "X"):
            out.append(int(stat.parent.name))
    return out


def taskkill_argv(pid: int) -> list[str]:
    """The Windows command that ends ``pid`` and every process it started (its tree), forcibly."""
    return ["taskkill", "/T", "/F", "/PID", str(pid)]


def _signal_session(sid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(sid, sig)
    for pid in session_members(sid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def stop_posix(build: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM to the build's group and session, SIGKILL after ``grace`` s; returns when no
    process of the session is left (or 5 s after the SIGKILL)."""
    sid = build.pid  # the build leads its own session (start_new_session)
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        _signal_session(sid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            build.poll()  # reap the leader
            if build.returncode is not None and not session_members(sid):
                return
            time.sleep(0.05)


class WindowsJob:
    """A job object holding the build: every process the build starts is in it, and closing the
    last handle (also when this supervisor dies) kills them all (JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE)."""

    def __init__(self, kernel32: Any = None) -> None:
        import ctypes

        dword = ctypes.c_uint32  # dword is a C long: 8 bytes on Linux, where this is tested
        class IoCounters(ctypes.Structure):
            _fields_ = [(n, ctypes.c_ulonglong) for n in (
                "ReadOperationCount", "WriteOperationCount", "OtherOperationCount",
                "ReadTransferCount", "WriteTransferCount", "OtherTransferCount")]

        class BasicLimits(ctypes.Structure):
            _fields_ = [
                ("PerProcessUserTimeLimit", ctypes.c_longlong), ("PerJobUserTimeLimit", ctypes.c_longlong),
                ("LimitFlags", dword), ("MinimumWorkingSetSize", ctypes.c_size_t),
                ("MaximumWorkingSetSize", ctypes.c_size_t), ("ActiveProcessLimit", dword),
                ("Affinity", ctypes.c_size_t), ("PriorityClass", dword),
                ("SchedulingClass", dword),
            ]

        class ExtendedLimits(ctypes.Structure):
            _fields_ = [
                ("BasicLimitInformation", BasicLimits), ("IoInfo", IoCounters),
                ("ProcessMemoryLimit", ctypes.c_size_t), ("JobMemoryLimit", ctypes.c_size_t),
                ("PeakProcessMemoryUsed", ctypes.c_size_t), ("PeakJobMemoryUsed", ctypes.c_size_t),
            ]

        self.ctypes = ctypes
        self.info_type = ExtendedLimits
        self.k32 = kernel32 if kernel32 is not None else ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        self.handle = self.k32.CreateJobObjectW(None, None)
        if not self.handle:
            raise OSError("CreateJobObjectW failed")
        info = ExtendedLimits()
        info.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
        if not self.k32.SetInformationJobObject(self.handle, JOB_OBJECT_EXTENDED_LIMIT_INFORMATION_CLASS,
                                                ctypes.byref(info), ctypes.sizeof(info)):
            raise OSError("SetInformationJobObject failed")

    def add(self, process_handle: int) -> bool:
        """Put the process (a Popen's ``_handle``) into the job; False when Windows refuses."""
        return bool(self.k32.AssignProcessToJobObject(self.handle, process_handle))

    def terminate(self) -> None:
        """End every process in the job at once."""
        self.k32.TerminateJobObject(self.handle, 1)


def stop_windows(build: subprocess.Popen[bytes], job: WindowsJob | None, run: Any = subprocess.run) -> None:
    """Stop the build on Windows: its job object, then ``taskkill /T /F`` for the process tree."""
    if job is not None:
        with contextlib.suppress(OSError):
            job.terminate()
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        run(taskkill_argv(build.pid), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
    with contextlib.suppress(subprocess.TimeoutExpired):
        build.wait(timeout=10)


def start_build(spec: dict[str, Any], out: Any) -> tuple[subprocess.Popen[bytes], WindowsJob | None]:
    """Start the build of ``spec`` in a session (POSIX) or job object (Windows) of its own, its
    stdout and stderr on ``out`` (a file with a descriptor)."""
    kw: dict[str, Any] = {"cwd": spec.get("cwd"), "env": spec.get("env"), "stdin": subprocess.DEVNULL,
                          "stdout": out, "stderr": subprocess.STDOUT}
    if os.name == "nt":
        kw["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
        job: WindowsJob | None = None
        with contextlib.suppress(OSError, AttributeError):
            job = WindowsJob()
        build = subprocess.Popen(spec["argv"], **kw)
        if job is not None and not job.add(int(build._handle)):  # type: ignore[attr-defined]
            job = None
        return build, job
    return subprocess.Popen(spec["argv"], start_new_session=True, **kw), None


def _read_until_eof(fd: int, first: bytes = b"") -> bytes:
    data = first
    while chunk := os.read(fd, 4096):
        data += chunk
    return data


def _read_line(fd: int) -> tuple[bytes, bytes]:
    """(the first line on ``fd``, what was read after it); (b"", b"") at end of file."""
    data = b""
    while b"\n" not in data:
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"", b""
        data += chunk
    line, _, rest = data.partition(b"\n")
    return line, rest


def supervise(control: int, out: Any, err: Any) -> int:
    """The supervisor's work on its control pipe ``control`` (a readable descriptor; raw reads,
    so the watching thread holds no lock at exit), ``out`` (the build output stream) and ``err``
    (mmfix's stderr). Returns the exit code."""
    line, rest = _read_line(control)
    if not line:  # mmfix went away before asking for a build: nothing to do
        return STOPPED_RC
    spec = json.loads(line)
    grace = float(spec.get("grace", 3.0))
    build, job = start_build(spec, out)
    out.write(f"{MARKER}{build.pid}\n".encode())
    out.flush()
    stopping = threading.Event()
    stopped = threading.Event()
    why: list[bytes] = []

    def watch() -> None:
        why.append(_read_until_eof(control, rest))  # end of file: mmfix closed the pipe or died
        stopping.set()
        if os.name == "nt":
            stop_windows(build, job)
        else:
            stop_posix(build, grace)
        stopped.set()

    threading.Thread(target=watch, daemon=True).start()
    if os.name != "nt":  # a SIGTERM to the supervisor itself also stops the build first
        def on_term(signum: int, frame: object) -> None:
            stop_posix(build, grace)
            os._exit(STOPPED_RC)

        signal.signal(signal.SIGTERM, on_term)
    rc = build.wait()
    if stopping.is_set():
        stopped.wait(grace + 10)
        if why and why[0] != STOP:
            with contextlib.suppress(OSError):  # mmfix's stderr may be gone with it
                err.write(f"mmfix: interrupted: mmfix ended during the build (killed?); the supervisor "
                          f"stopped the build (pid {build.pid}), nothing was installed\n".encode())
                err.flush()
        return STOPPED_RC
    if os.name != "nt" and session_members(build.pid):  # a daemon left behind holds the output pipe
        stop_posix(build, grace)
    return 128 - rc if rc < 0 else rc


def main() -> int:
    """Entry point when run as a script: stdin is the control pipe."""
    return supervise(sys.stdin.fileno(), sys.stdout.buffer, sys.stderr.buffer)


if __name__ == "__main__":
    sys.exit(main())
