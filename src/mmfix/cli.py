"""The command line (typer). Thin: options -> ``mmfix.commands.*`` functions -> exit code.

Each command module exposes ``run(...) -> int`` (the exit code) and does its own rendering through
``mmfix.render``. ``main`` is the console entry point (``mmfix``, ``python -m mmfix``): errors of
type ``MmfixError`` become one line on stderr and their exit code, Ctrl-C exits 130, a reader that
closed the pipe ends it quietly, an output that cannot be written is one line.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable, Optional

import typer

from mmfix import __version__, render
from mmfix.errors import EXIT_INTERRUPTED, EXIT_PROBLEMS, MmfixError

app = typer.Typer(
    name="mmfix",
    help="Diagnose, patch and rebuild OpenMMLab mmcv so its ops build and run on this machine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

PythonOpt = typer.Option(
    None,
    "--python",
    help="Target interpreter (default: $VIRTUAL_ENV, then $CONDA_PREFIX, then python on PATH).",
)
JsonOpt = typer.Option(False, "--json", help="Print one JSON document instead of text.")
WheelhouseOpt = typer.Option(
    [], "--wheelhouse", help="Also look in (and keep builds in) this wheelhouse folder or URL (repeatable; $MMFIX_WHEELHOUSE)."
)
NoWheelhouseOpt = typer.Option(False, "--no-wheelhouse", help="Neither look in nor keep builds in any wheelhouse.")


def _wheelhouses(extra: list[str], disabled: bool) -> None:
    from mmfix.wheels import house

    house.configure(extra, enabled=not disabled)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"mmfix {__version__}")
        raise typer.Exit(0)


@app.callback()
def _global(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Show the version and exit."
    ),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="More detail (repeatable)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only results and errors."),
    no_color: bool = typer.Option(False, "--no-color", help="No colours in the output."),
) -> None:
    color = not no_color and "NO_COLOR" not in os.environ
    render.configure(render.Options(verbose=verbose, quiet=quiet, color=color))


class Interrupted(MmfixError):
    """Ctrl-C in a command: one line, exit 130 (``run_guarded`` prints it)."""

    exit_code = EXIT_INTERRUPTED


def _with_json(as_json: bool) -> None:
    o = render.options()
    render.configure(render.Options(o.verbose, o.quiet or as_json, o.color, as_json))


@app.command()
def doctor(
    python: Optional[str] = PythonOpt,
    check: list[str] = typer.Option([], "--check", help="Run only this check id (repeatable)."),
    list_: bool = typer.Option(False, "--list", help="List the check ids and exit."),
    config: Optional[Path] = typer.Option(None, "--config", help="A training config to lint (parsed, never run)."),
    fix: bool = typer.Option(False, "--fix", help="Plan and apply the automatic fixes."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before changing anything."),
    dry_run: bool = typer.Option(False, "--dry-run", help="With --fix: show the plan, change nothing."),
    strict: bool = typer.Option(False, "--strict", help="Warnings count as problems (exit 1)."),
    wheelhouse: list[str] = WheelhouseOpt,
    no_wheelhouse: bool = NoWheelhouseOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Check the target environment and this machine; name each problem with evidence and fix."""
    from mmfix.commands import doctor as cmd

    _with_json(as_json)
    _wheelhouses(wheelhouse, no_wheelhouse)
    raise typer.Exit(
        cmd.run(
            python=python,
            check_ids=check,
            list_only=list_,
            config=config,
            fix=fix,
            yes=yes,
            dry_run=dry_run,
            strict=strict,
            as_json=as_json,
        )
    )


@app.command()
def explain(
    files: list[str] = typer.Argument(None, help="Log files or tracebacks; '-' or nothing reads stdin."),
    as_json: bool = JsonOpt,
) -> None:
    """Name every known problem in build logs, tracebacks or pasted environment reports."""
    from mmfix.commands import explain as cmd

    _with_json(as_json)
    try:
        code = cmd.run(files=files or ["-"], as_json=as_json)
    except KeyboardInterrupt:  # typer would turn it into a silent exit 130
        raise Interrupted("interrupted") from None
    raise typer.Exit(code)


@app.command("patch-torch-headers")
def patch_torch_headers(
    python: Optional[str] = PythonOpt,
    torch_dir: Optional[Path] = typer.Option(None, "--torch-dir", help="The torch package folder."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the diff, change nothing."),
    force: bool = typer.Option(False, "--force", help="Patch even where the problem does not occur."),
    as_json: bool = JsonOpt,
) -> None:
    """Apply the versioned fixes to PyTorch 1.5-1.7 / >=2.8 headers that nvcc+MSVC reject."""
    from mmfix.commands import patch as cmd

    _with_json(as_json)
    raise typer.Exit(
        cmd.run_torch_headers(python=python, torch_dir=torch_dir, dry_run=dry_run, force=force, as_json=as_json)
    )


@app.command("patch-threads")
def patch_threads(
    value: int = typer.Option(..., "--value", help="THREADS_PER_BLOCK: a power of two, 32-1024."),
    source: Optional[Path] = typer.Option(None, "--source", help="The mmcv source tree (default: .)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the diff, change nothing."),
    as_json: bool = JsonOpt,
) -> None:
    """Set THREADS_PER_BLOCK in an mmcv source tree (both header layouts)."""
    from mmfix.commands import patch as cmd

    _with_json(as_json)
    raise typer.Exit(cmd.run_threads(value=value, source=source, dry_run=dry_run, as_json=as_json))


@app.command()
def revert(
    patch_ids: list[str] = typer.Argument(None, help="Only these patch ids (default: all recorded)."),
    python: Optional[str] = PythonOpt,
    torch_dir: Optional[Path] = typer.Option(None, "--torch-dir", help="Revert under this torch folder."),
    source: Optional[Path] = typer.Option(None, "--source", help="Revert under this mmcv source tree."),
    install: bool = typer.Option(False, "--install", help="Restore the mmcv install a rebuild replaced."),
    force: bool = typer.Option(False, "--force", help="Revert even files changed since mmfix wrote them."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be restored."),
    as_json: bool = JsonOpt,
) -> None:
    """Undo recorded changes, byte for byte."""
    from mmfix.commands import patch as cmd

    _with_json(as_json)
    raise typer.Exit(
        cmd.run_revert(
            patch_ids=patch_ids or [],
            python=python,
            torch_dir=torch_dir,
            source=source,
            install=install,
            force=force,
            dry_run=dry_run,
            as_json=as_json,
        )
    )


@app.command()
def rebuild(
    python: Optional[str] = PythonOpt,
    arch: Optional[str] = typer.Option(None, "--arch", help="GPU archs: '8.6', '7.5;8.6+PTX', 'sm_86', 'Ampere'."),
    cpu: bool = typer.Option(False, "--cpu", help="Build CPU ops only."),
    source: Optional[Path] = typer.Option(None, "--source", help="An mmcv checkout or unpacked sdist."),
    git: Optional[str] = typer.Option(None, "--git", help="URL[@REF] of an mmcv git repository."),
    mmcv_version: Optional[str] = typer.Option(None, "--mmcv-version", help="mmcv version to build."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", help="Parallel compile jobs (MAX_JOBS)."),
    threads_per_block: Optional[int] = typer.Option(None, "--threads-per-block", help="Patch THREADS_PER_BLOCK."),
    prefer_wheel: Optional[bool] = typer.Option(
        None, "--prefer-wheel/--no-prefer-wheel", help="Install a matching prebuilt wheel instead of building."
    ),
    allow_unsupported_compiler: bool = typer.Option(
        False, "--allow-unsupported-compiler", help="Pass -allow-unsupported-compiler to nvcc (at your risk)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the build plan, change nothing."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before replacing the install."),
    log: Optional[Path] = typer.Option(None, "--log", help="Write the full build log here."),
    wheelhouse: list[str] = WheelhouseOpt,
    no_wheelhouse: bool = NoWheelhouseOpt,
    wheel_only: bool = typer.Option(
        False, "--wheel-only", help="Build, verify a scratch copy and keep it in the wheelhouse; leave the env's mmcv."
    ),
    force_build: bool = typer.Option(False, "--force-build", help="Build even when a wheelhouse wheel fits."),
    as_json: bool = JsonOpt,
) -> None:
    """Build mmcv with ops for the target env and GPU arch; install only on success; verify."""
    from mmfix.commands import rebuild as cmd

    _with_json(as_json)
    _wheelhouses(wheelhouse, no_wheelhouse)
    raise typer.Exit(
        cmd.run(
            python=python,
            arch=arch,
            cpu=cpu,
            source=source,
            git=git,
            mmcv_version=mmcv_version,
            jobs=jobs,
            threads_per_block=threads_per_block,
            prefer_wheel=prefer_wheel,
            allow_unsupported_compiler=allow_unsupported_compiler,
            dry_run=dry_run,
            yes=yes,
            log=log,
            as_json=as_json,
            wheel_only=wheel_only,
            force_build=force_build,
        )
    )


@app.command()
def wheels(
    python: list[str] = typer.Option(
        [], "--python", help="Target interpreter (default: the active env); with --prune: repeatable, the envs to keep for."
    ),
    index_url: Optional[str] = typer.Option(
        None, "--index-url", help="Base URL of the wheel index (default: $MMFIX_INDEX_URL or the official one)."
    ),
    mmcv_version: Optional[str] = typer.Option(None, "--mmcv-version", help="mmcv version wanted."),
    install: bool = typer.Option(False, "--install", help="Download, verify and install the chosen wheel."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before replacing the install (or pruning)."),
    wheelhouse: list[str] = WheelhouseOpt,
    no_wheelhouse: bool = NoWheelhouseOpt,
    list_: bool = typer.Option(False, "--list", help="List every wheel in the wheelhouses with its record."),
    prune: bool = typer.Option(False, "--prune", help="Drop wheelhouse wheels for a torch no --python env has."),
    as_json: bool = JsonOpt,
) -> None:
    """Find the mmcv wheel for the target torch/CUDA/Python/platform: the wheelhouses first, then the index."""
    from mmfix.commands import wheels as cmd

    _with_json(as_json)
    _wheelhouses(wheelhouse, no_wheelhouse)
    if len(python) > 1 and not prune:
        from mmfix.errors import UsageError

        raise UsageError("--python is given more than once", "only --prune reads several envs", "pass one --python")
    if list_:
        raise typer.Exit(cmd.run_list(as_json=as_json))
    if prune:
        raise typer.Exit(cmd.run_prune(pythons=python, yes=yes, as_json=as_json))
    raise typer.Exit(
        cmd.run(python=python[0] if python else None, index_url=index_url, mmcv_version=mmcv_version, install=install,
                yes=yes, as_json=as_json)
    )


GLOBAL_FLAGS = {"--verbose", "--quiet", "-q", "--no-color"}


def _is_verbose_flag(arg: str) -> bool:
    return arg == "--verbose" or (len(arg) > 1 and arg.startswith("-v") and set(arg[1:]) == {"v"})


def hoist_global_flags(argv: list[str]) -> list[str]:
    """Move global flags typed after the command (``mmfix doctor -v``) in front of it, where the
    option parser expects them. Stops at ``--``."""
    front: list[str] = []
    rest: list[str] = []
    for i, arg in enumerate(argv):
        if arg == "--":
            rest.extend(argv[i:])
            break
        (front if arg in GLOBAL_FLAGS or _is_verbose_flag(arg) else rest).append(arg)
    return front + rest


def run_guarded(fn: Callable[[], int]) -> int:
    """Run ``fn`` and flush stdout; an ``MmfixError`` becomes one line on stderr (and, under
    ``--json``, an ``mmfix.error/1`` document on stdout) and its exit code; Ctrl-C becomes 130
    (a JSON document too under ``--json``); a reader that closed the pipe (``| head``) ends it
    quietly (exit 1); an output that cannot be written (a full disk) is one line, exit 1; any other
    OSError on a named path (a folder that cannot be created) is one line naming it, exit 1."""
    try:
        try:
            rc = fn()
            sys.stdout.flush()
            return rc
        except MmfixError as exc:
            render.error_line(exc.one_line())
            error = {"what": exc.what, "why": exc.why, "fix": exc.fix, "exit_code": exc.exit_code}
        except KeyboardInterrupt:
            render.error_line("interrupted")
            error = {"what": "interrupted", "why": None, "fix": None, "exit_code": EXIT_INTERRUPTED}
        except OSError as exc:
            if exc.filename is None:  # no path: writing stdout/stderr failed (handled below)
                raise
            what = f"cannot use {exc.filename}"
            render.error_line(f"{what}: {exc.strerror or exc}")
            error = {"what": what, "why": exc.strerror or str(exc), "fix": None, "exit_code": EXIT_PROBLEMS}
        if render.options().json:  # a JSON consumer gets a document too, never an empty stdout
            render.emit_json("mmfix.error/1", {"error": error})
        return int(error["exit_code"])  # type: ignore[arg-type]
    except BrokenPipeError:
        _drop_stdout()
        return EXIT_PROBLEMS
    except OSError as exc:  # stdout or stderr cannot be written (ENOSPC, EIO ...)
        _drop_stdout()
        try:
            sys.stderr.write(f"mmfix: error: cannot write the output: {exc.strerror or exc}\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        return EXIT_PROBLEMS


def _drop_stdout() -> None:
    """Point stdout at the null device, so the interpreter's last flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _usage_error(message: str, args: list[str], exit_code: int) -> int:
    """An option-parsing error (typer's click) as one line naming the command's --help, and an
    ``mmfix.error/1`` document on stdout when ``--json`` was asked for; returns ``exit_code``."""
    text = " ".join(message.split()).rstrip(".")
    if not text:  # no command given: typer has printed the help
        return exit_code
    command = next((a for a in args if not a.startswith("-")), None)
    fix = f"mmfix {command} --help" if command in typer.main.get_command(app).commands else "mmfix --help"  # type: ignore[attr-defined]
    render.error_line(f"{text}; see {fix}")
    if "--json" in args:
        render.emit_json("mmfix.error/1", {"error": {"what": text, "why": None, "fix": fix, "exit_code": exit_code}})
    return exit_code


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app; MmfixError -> one line + its exit code; Ctrl-C -> 130;
    option-parsing errors -> one line naming the command's --help, exit 2."""
    for name, mode in (("stdin", "r"), ("stdout", "w"), ("stderr", "w")):  # a closed stream (`>&-`, `<&-`)
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, mode))  # noqa: SIM115 (lives as long as the process)
    args = hoist_global_flags(list(sys.argv[1:] if argv is None else argv))

    def invoke() -> int:
        try:
            rc = app(args=args, prog_name="mmfix", standalone_mode=False)
        except typer.Exit as exc:
            return int(exc.exit_code)
        # without standalone mode, typer returns the code of typer.Exit instead of exiting
        return rc if isinstance(rc, int) else 0

    try:
        rc = run_guarded(invoke)
    except Exception as exc:
        # typer's (vendored) click: usage errors carry show() and exit_code; Abort is Ctrl-C at a prompt
        if type(exc).__name__ == "Abort":
            render.error_line("aborted")
            sys.exit(EXIT_INTERRUPTED)
        message = getattr(exc, "format_message", None)
        if callable(message) and isinstance(getattr(exc, "exit_code", None), int):
            sys.exit(_usage_error(str(message()), args, exc.exit_code))  # type: ignore[attr-defined]
        raise
    sys.exit(rc)
