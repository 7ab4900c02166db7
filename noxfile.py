"""Sessions: tests (unit), lint (ruff), typecheck (mypy), e2e (real builds), e2e_cuda and e2e_py313 (opt-in),
bench."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True
PY = "3.11"


@nox.session(python=PY)
def tests(session: nox.Session) -> None:
    """Unit tests: fast, no network, any OS."""
    session.install("-e", ".[test]")
    session.run("pytest", "tests/unit", "-q", *session.posargs)


@nox.session(python=PY)
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "src", "tests", "scripts", "noxfile.py")


@nox.session(python=PY)
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[test]", "mypy", "types-requests")
    session.run("mypy")


@nox.session(python=PY)
def e2e(session: nox.Session) -> None:
    """The main job on real input: real torch, real mmcv sdists, real compiles (long)."""
    session.install("-e", ".[test]")
    session.run("pytest", "tests/e2e", "-m", "e2e and not cuda and not py313", "-v", "-s", *session.posargs)


@nox.session(python=PY)
def e2e_cuda(session: nox.Session) -> None:
    """Opt-in: a real CUDA build of mmcv 2.2.0 for --arch 9.0 against torch 2.14.1+cu130 (very long)."""
    session.install("-e", ".[test]")
    session.run("pytest", "tests/e2e", "-m", "cuda", "-v", "-s", *session.posargs)


@nox.session(python=PY)
def e2e_py313(session: nox.Session) -> None:
    """Opt-in: doctor --fix --yes repairs a Python 3.13 target (downloads a cp313 torch 2.13.0 of several
    GB from PyPI, or from MMFIX_E2E_TORCH_INDEX; a CUDA torch means a CUDA build: very long)."""
    session.install("-e", ".[test]")
    session.run("pytest", "tests/e2e", "-m", "py313", "-v", "-s", *session.posargs)


@nox.session(python=PY)
def bench(session: nox.Session) -> None:
    """Benchmarks: print measured numbers next to their baselines. A regular (not editable)
    install, as users have: an editable one adds its import hook to every start."""
    session.install(".[test]")
    session.run("pytest", "tests/bench", "-v", "-s", *session.posargs)
