"""Installing a checked wheel into the target env and verifying it, as ``mmfix rebuild`` does after a
build (``mmfix.builder.install.install_wheel``: the old mmcv saved, replaced, restorable;
``mmfix.builder.verify.verify_install``: import ``mmcv.ops`` and run nms). Shared by wheels from the
official index and from wheelhouses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from mmfix.errors import OperationFailed
from mmfix.model import Environment
from mmfix.wheels.choose import WheelLink
from mmfix.wheels.download import download_wheel, file_sha256


@dataclass(frozen=True)
class WheelInstall:
    """A chosen wheel downloaded, checked, installed and verified."""

    wheel: Path
    sha256: str
    install: Any = None  # what mmfix.builder.install.install_wheel returned
    verify: Any = None  # what mmfix.builder.verify.verify_install returned

    @property
    def ok(self) -> bool:
        """False when the install or the verification reports failure (``ok`` or ``installed``
        False, or a non-zero int), True otherwise."""
        for result in (self.install, self.verify):
            flag = getattr(result, "ok", getattr(result, "installed", result))
            if flag is False or (
                isinstance(flag, int) and not isinstance(flag, bool) and flag != 0
            ):
                return False
        return True

    @property
    def declined(self) -> bool:
        """True when the user said no at the prompt: nothing changed."""
        return getattr(self.install, "installed", True) is False


def install_checked(path: Path, sha256: str, env: Environment, *, yes: bool) -> WheelInstall:
    """Install the already checked wheel ``path`` into ``env``'s target with the target's pip, then
    verify it (``install_wheel`` replaces the old mmcv, asking first unless ``yes``).

    Raises OperationFailed when the install helpers are missing, and what ``install_wheel`` raises
    (RefusedError when it cannot ask, OperationFailed when pip fails: the old mmcv is restored).
    """
    python = env.target.executable
    try:
        from mmfix.builder.install import install_wheel
        from mmfix.builder.verify import verify_install
    except ImportError:
        raise OperationFailed(
            f"downloaded and checked {path}, but this mmfix cannot install it",
            why="mmfix.builder (the rebuild helpers) is missing",
            fix=f"install it yourself: {python} -m pip install --force-reinstall --no-deps {path}",
        ) from None
    installed = install_wheel(python, path, yes=yes, env=env)
    if getattr(installed, "installed", True) is False:  # declined at the prompt: nothing changed
        return WheelInstall(path, sha256, installed, None)
    verified = verify_install(python, archs=None)
    return WheelInstall(path, sha256, installed, verified)


def install_from_index(
    link: WheelLink,
    env: Environment,
    *,
    yes: bool,
    cache_dir: Path | None = None,
    session: requests.Session | None = None,
) -> WheelInstall:
    """Download ``link`` (hash-checked, ``download_wheel``), then ``install_checked``.

    Raises what ``download_wheel`` and ``install_checked`` raise.
    """
    path = download_wheel(link, cache_dir, session)
    return install_checked(path, file_sha256(path), env, yes=yes)
