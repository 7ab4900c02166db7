"""The console entry point: a lean start for ``mmfix explain FILE...``, typer for the rest.

Importing and dispatching through typer (click, rich, pydantic) takes about 0.2 s, twice what
grep needs for a 100 MB log, so the plain forms of ``explain`` (file paths or ``-``, ``--json``
and the global flags, in any order) run without it: the same ``commands.explain.run`` with the
same options and the same error handling. Every other command line, including ``explain --help``
and unknown options, goes to the typer app unchanged (``mmfix.cli.main``).
"""

from __future__ import annotations

import os
import sys

from mmfix.errors import EXIT_INTERRUPTED, EXIT_PROBLEMS, MmfixError

TYPE_CHECKING = False  # not typing's, nor collections: this runs before grep starts
if TYPE_CHECKING:
    from collections.abc import Callable

GLOBAL_FLAGS = {"--verbose", "--quiet", "-q", "--no-color"}


def is_verbose_flag(arg: str) -> bool:
    """``-v``, ``-vv`` ... or ``--verbose``."""
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
        if arg in GLOBAL_FLAGS or is_verbose_flag(arg):
            front.append(arg)
        else:
            rest.append(arg)
    return front + rest


class ExplainArgs:
    """The options of one ``mmfix explain`` command line."""

    __slots__ = ("files", "as_json", "verbose", "quiet", "color")

    def __init__(self, files: list[str], as_json: bool, verbose: int, quiet: bool, color: bool) -> None:
        self.files, self.as_json, self.verbose, self.quiet, self.color = files, as_json, verbose, quiet, color

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExplainArgs) and all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    def __repr__(self) -> str:
        return "ExplainArgs(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__) + ")"


def plain_explain(argv: list[str]) -> ExplainArgs | None:
    """``argv`` (without the program name) as the options of ``mmfix explain``, or None when it is
    another command or a form only the full parser handles (``--help``, ``--``, unknown options)."""
    args = hoist_global_flags(argv)
    verbose, quiet, no_color = 0, False, False
    i = 0
    while i < len(args) and args[i] != "explain":
        arg = args[i]
        if is_verbose_flag(arg):
            verbose += 1 if arg == "--verbose" else len(arg) - 1
        elif arg in ("-q", "--quiet"):
            quiet = True
        elif arg == "--no-color":
            no_color = True
        else:
            return None
        i += 1
    if i == len(args):
        return None
    files: list[str] = []
    as_json = False
    for arg in args[i + 1 :]:
        if arg == "--json":
            as_json = True
        elif arg == "-" or not arg.startswith("-"):
            files.append(arg)
        else:
            return None
    color = not no_color and "NO_COLOR" not in os.environ
    return ExplainArgs(files or ["-"], as_json, verbose, quiet, color)


def run_guarded(fn: Callable[[], int]) -> int:
    """Run ``fn`` and flush stdout; an ``MmfixError`` becomes one line on stderr (and, under
    ``--json``, an ``mmfix.error/1`` document on stdout) and its exit code; Ctrl-C becomes 130
    (a JSON document too under ``--json``); a reader that closed the pipe (``| head``) ends it
    quietly (exit 1); an output that cannot be written (a full disk) is one line, exit 1."""
    from mmfix import render

    try:
        try:
            rc = fn()
            sys.stdout.flush()
            return rc
        except MmfixError as exc:
            render.error_line(exc.one_line())
            if render.options().json:  # a JSON consumer gets a document too, never an empty stdout
                error = {"what": exc.what, "why": exc.why, "fix": exc.fix, "exit_code": exc.exit_code}
                render.emit_json("mmfix.error/1", {"error": error})
            return exc.exit_code
        except KeyboardInterrupt:
            render.error_line("interrupted")
            if render.options().json:
                error = {"what": "interrupted", "why": None, "fix": None, "exit_code": EXIT_INTERRUPTED}
                render.emit_json("mmfix.error/1", {"error": error})
            return EXIT_INTERRUPTED
    except BrokenPipeError:
        _drop_stdout()
        return EXIT_PROBLEMS
    except OSError as exc:  # stdout or stderr cannot be written (ENOSPC, EIO ...)
        _drop_stdout()
        _last_words(f"mmfix: error: cannot write the output: {exc.strerror or exc}")
        return EXIT_PROBLEMS


def _drop_stdout() -> None:
    """Point stdout at the null device, so the interpreter's last flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _last_words(line: str) -> None:
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass


def run_explain(opts: ExplainArgs) -> int:
    """``mmfix explain`` with ``opts``: the exit code. grep starts on the first file before the
    rest of mmfix is imported (``prefilter.try_start``); it is stopped however the run ends."""
    started = None
    try:
        from mmfix.explain import anchors, prefilter

        started = prefilter.try_start(opts.files[0], anchors.ANCHORS)
        from mmfix import render
        from mmfix.commands import explain

        render.configure(render.Options(opts.verbose, opts.quiet or opts.as_json, opts.color, opts.as_json))
        return run_guarded(lambda: explain.run(files=opts.files, as_json=opts.as_json, started=started))
    except KeyboardInterrupt:  # before run_guarded took over
        _last_words("mmfix: error: interrupted")
        return EXIT_INTERRUPTED
    finally:
        if started is not None:
            started.close()


def main(argv: list[str] | None = None) -> None:
    """Console entry point (``mmfix``, ``python -m mmfix``): exits with the command's code."""
    for name, mode in (("stdin", "r"), ("stdout", "w"), ("stderr", "w")):  # a closed stream (`>&-`, `<&-`)
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, mode))  # noqa: SIM115 (lives as long as the process)
    args = list(sys.argv[1:] if argv is None else argv)
    opts = plain_explain(args)
    if opts is not None:
        sys.exit(run_explain(opts))
    from mmfix.cli import main as typer_main

    typer_main(args)
