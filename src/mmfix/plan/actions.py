"""A finding's remedy as data (DESIGN.md, "plan"): one frozen value per kind of action, with the
parameters it means. Checks return these; the fix line doctor prints (``Action.command``), a plan
step's title (``Action.title``), the JSON form (``to_dict``) and what ``doctor --fix`` applies all
come from the same value, so they never disagree.

Kinds, in the order the planner applies them:
- ``Uninstall``: remove conflicting distributions (``mmcv-lite`` beside ``mmcv``).
- ``EnvChange``: ``pip install`` requirements into the target env (ninja, ``numpy<2``, ``yapf==0.40.1``);
  asks first unless ``--yes``.
- ``PatchHeaders``: mmfix's versioned torch header patches (Windows, torch 1.5-1.7, >= 2.9).
- ``Rebuild``: build (or install a fitting prebuilt / wheelhouse wheel of) mmcv with ops.
- ``PurgePipCache``: drop pip's cached ops-less mmcv wheel.
- ``Manual``: what only a person can do (install a toolkit, edit a config line); never applied.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any, Union


def _q(text: str) -> str:
    return shlex.quote(text)


@dataclass(frozen=True)
class Uninstall:
    """``pip uninstall -y`` of the named distributions in the target env (e.g. ``("mmcv-lite",)``)."""

    dists: tuple[str, ...]
    note: str = ""
    kind: str = field(default="uninstall", init=False)

    def command(self, python: str) -> str:
        return _with_note(f"{_q(python)} -m pip uninstall -y {' '.join(self.dists)}", self.note)

    def title(self) -> str:
        return "uninstall " + " ".join(self.dists)


@dataclass(frozen=True)
class EnvChange:
    """``pip install`` of requirement specifiers into the target env (``("ninja",)``, ``("numpy<2",)``).

    ``needs_consent``: asked before it runs unless ``--yes`` (an env change the user did not ask for).
    """

    requirements: tuple[str, ...]
    needs_consent: bool = True
    note: str = ""
    pip_options: tuple[str, ...] = ()  # e.g. ("--force-reinstall", "--no-deps")
    kind: str = field(default="env-change", init=False)

    def command(self, python: str) -> str:
        args = " ".join([*self.pip_options, *(_q(r) for r in self.requirements)])
        return _with_note(f"{_q(python)} -m pip install {args}", self.note)

    def title(self) -> str:
        return f"pip install {' '.join(self.requirements)} into the target env"


@dataclass(frozen=True)
class PatchHeaders:
    """``mmfix patch-torch-headers`` on the torch package folder ``torch_dir``."""

    torch_dir: str
    note: str = ""
    kind: str = field(default="patch-headers", init=False)

    def command(self, python: str) -> str:
        return _with_note(f"mmfix patch-torch-headers --python {_q(python)}", self.note)

    def title(self) -> str:
        return f"patch torch's headers in {self.torch_dir}"


@dataclass(frozen=True)
class Rebuild:
    """``mmfix rebuild``: mmcv with ops for the target env.

    ``mmcv_version``: an exact release (``"2.1.0"``) or a specifier (``">=2.0.0rc4,<2.2.0"``): a
    constraint the planner (``mmfix.plan.version``) solves with every other one; None: no constraint
    (the planner keeps the installed version when it fits, else the newest that does). ``arch``: a
    ``TORCH_CUDA_ARCH_LIST`` (``"8.6;9.0"``), None for the default (visible GPUs, else portable);
    ``cpu``: CPU ops only (a CPU torch); ``threads_per_block``: patch ``THREADS_PER_BLOCK`` first;
    ``source``: build from this mmcv source tree (``--source``) instead of the sdist.
    """

    mmcv_version: str | None = None
    arch: str | None = None
    cpu: bool = False
    threads_per_block: int | None = None
    source: str | None = None
    note: str = ""
    kind: str = field(default="rebuild", init=False)

    def command(self, python: str) -> str:
        parts = ["mmfix rebuild", f"--python {_q(python)}"]
        if self.cpu:
            parts.append("--cpu")
        elif self.arch:
            parts.append(f"--arch {_q(self.arch)}")
        if self.source:
            parts.append(f"--source {_q(self.source)}")
        if self.mmcv_version:
            parts.append(f"--mmcv-version {_q(self.mmcv_version)}")
        if self.threads_per_block:
            parts.append(f"--threads-per-block {self.threads_per_block}")
        return _with_note(" ".join(parts), self.note)

    def title(self) -> str:
        ops = "CPU ops" if self.cpu else f"CUDA ops for {self.arch}" if self.arch else "ops for the visible GPUs"
        what = f"mmcv {self.mmcv_version}" if self.mmcv_version else "mmcv"
        return f"rebuild {what} with {ops} (a fitting prebuilt wheel first)"


@dataclass(frozen=True)
class PurgePipCache:
    """``pip cache remove <project>`` in the target env: pip would reuse an ops-less cached wheel."""

    project: str = "mmcv"
    note: str = ""
    kind: str = field(default="purge-pip-cache", init=False)

    def command(self, python: str) -> str:
        return _with_note(f"{_q(python)} -m pip cache remove {_q(self.project)}", self.note)

    def title(self) -> str:
        return f"remove the {self.project} wheels from pip's cache"


@dataclass(frozen=True)
class Manual:
    """A step only a person can take; ``text`` is shown as it is and never applied."""

    text: str
    kind: str = field(default="manual", init=False)

    def command(self, python: str) -> str:
        return self.text

    def title(self) -> str:
        return "by hand: " + self.text


Action = Union[Uninstall, EnvChange, PatchHeaders, Rebuild, PurgePipCache, Manual]

# The order in which one plan applies its steps (issue 12: uninstall conflicts, env changes,
# header patches, one rebuild or wheel install, cache purge). Manual steps are listed, not run.
APPLY_ORDER: tuple[str, ...] = ("uninstall", "env-change", "patch-headers", "rebuild", "purge-pip-cache", "manual")


def is_automatic(action: Action) -> bool:
    """True when ``doctor --fix`` can apply the action itself (everything but ``Manual``)."""
    return not isinstance(action, Manual)


def to_dict(action: Action) -> dict[str, Any]:
    """The JSON form: ``{<parameters>, "kind": ...}`` (tuples as lists)."""
    from mmfix.jsonable import to_jsonable

    return to_jsonable(action)  # type: ignore[no-any-return]


def _with_note(command: str, note: str) -> str:
    return f"{command}  ({note})" if note else command
