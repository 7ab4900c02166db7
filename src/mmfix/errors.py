"""Every user-facing error of mmfix, each with its exit code (DESIGN.md, "Exit codes").

An error is rendered as one line: what went wrong, why, and what to do next. Raise these from
anywhere; ``mmfix.cli.run_guarded`` catches them, prints the line on stderr and exits with ``exit_code``.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_INTERRUPTED = 130


class MmfixError(Exception):
    """Base class: an operation failed (exit 1).

    ``what``: what failed; ``why``: the cause, when known; ``fix``: the next step for the user.
    """

    exit_code = EXIT_PROBLEMS

    def __init__(self, what: str, why: str | None = None, fix: str | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.why = why
        self.fix = fix

    def one_line(self) -> str:
        """The error as one line: ``what: why; fix``."""
        text = self.what
        if self.why:
            text += f": {self.why}"
        if self.fix:
            text += f"; {self.fix}"
        return text


class OperationFailed(MmfixError):
    """A build, install, download or other operation did not succeed (exit 1)."""


class UsageError(MmfixError):
    """Bad command-line input: unknown id, malformed arch list, bad --python (exit 2)."""

    exit_code = EXIT_USAGE


class RefusedError(MmfixError):
    """Refused for safety or because the request cannot work here: unknown file contents, a dirty
    journal, an arch the toolkit cannot target, an unsupported combination (exit 3)."""

    exit_code = EXIT_REFUSED
