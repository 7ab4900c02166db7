"""Running other programs: always an argument list (never ``shell=True``), always a timeout.

``run`` never raises for a missing program, a non-zero exit or a timeout: those are facts returned
in ``ProcResult``. Output is decoded with the console code page on Windows (cp936, cp1252 ...) and
UTF-8 elsewhere, replacing undecodable bytes, so nothing crashes on a foreign-locale tool.
"""

from __future__ import annotations

import locale
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ProcResult:
    """What a finished (or failed-to-start, or timed-out) program did."""

    argv: tuple[str, ...]
    returncode: int | None  # None when it could not start or timed out
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    start_error: str | None = None  # "No such file or directory" when it could not start
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def console_encoding() -> str:
    """The encoding a console program's output is in: the OEM/ANSI code page on Windows, else UTF-8."""
    if sys.platform == "win32":
        return locale.getpreferredencoding(False) or "mbcs"
    return "utf-8"


def decode(data: bytes | None, encoding: str | None = None) -> str:
    """Bytes -> str without ever raising: the given or console encoding, then replacement chars."""
    if not data:
        return ""
    enc = encoding or console_encoding()
    try:
        return data.decode(enc)
    except (UnicodeDecodeError, LookupError):
        return data.decode("utf-8", errors="replace")


def which(name: str, path: str | None = None) -> str | None:
    """``shutil.which`` (kept here so tests can fake the PATH in one place)."""
    return shutil.which(name, path=path)


def run(
    argv: Sequence[str],
    timeout: float = 30.0,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    encoding: str | None = None,
    input_text: str | None = None,
) -> ProcResult:
    """Run ``argv`` and capture its output. Units: ``timeout`` in seconds.

    Never raises for a missing program, a non-zero exit or a timeout (see ``ProcResult``).
    """
    t0 = time.monotonic()
    args = tuple(str(a) for a in argv)
    try:
        child = subprocess.Popen(
            args,
            stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            # its own process group, so a timeout or Ctrl-C ends its children too
            start_new_session=os.name == "posix",
        )
    except OSError as exc:
        return ProcResult(args, None, start_error=exc.strerror or str(exc), seconds=time.monotonic() - t0)
    try:
        out, err = child.communicate(input_text.encode() if input_text is not None else None, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(child)
        out, err = child.communicate()
        return ProcResult(args, None, decode(out, encoding), decode(err, encoding), timed_out=True,
                          seconds=time.monotonic() - t0)
    except BaseException:  # Ctrl-C / SIGTERM in mmfix: never leave the child's processes behind
        _kill_group(child)
        child.wait()
        raise
    return ProcResult(args, child.returncode, decode(out, encoding), decode(err, encoding),
                      seconds=time.monotonic() - t0)


def _kill_group(child: subprocess.Popen[bytes]) -> None:
    """Kill ``child`` and every process in its group (POSIX), or the child alone (Windows)."""
    try:
        if os.name == "posix":
            os.killpg(child.pid, signal.SIGKILL)
        else:
            child.kill()
    except (ProcessLookupError, PermissionError):
        pass


def base_env() -> dict[str, str]:
    """A copy of this process's environment, for building a child's environment from."""
    return dict(os.environ)
