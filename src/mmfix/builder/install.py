"""Install a built (or downloaded) mmcv wheel into the target env, keeping the previous install.

Order (issue: "install only after success"): save the installed mmcv-family files (every path in
their dist-info RECORD, zipped byte for byte), then uninstall ``mmcv``/``mmcv-full``/``mmcv-lite``,
then ``pip install --no-deps`` the wheel (and, when ``pip check`` finds them missing, mmcv's own
requirements: an env that never had mmcv has none). If that install fails, the saved files are put back at
once. Each replacement is recorded before the uninstall (an ``entry`` dict in the target's install
journal, also appended to ``installs.jsonl`` in the cache), so ``mmfix revert --install`` can call
``restore_previous(entry)`` even when mmfix was killed half-way through the uninstall or install.
"""

from __future__ import annotations

import contextlib
import csv
import json
import sys
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmfix import proc
from mmfix.builder.source import cache_dir
from mmfix.errors import OperationFailed, RefusedError
from mmfix.model import Environment, MmcvDist

MMCV_FAMILY = ("mmcv", "mmcv-full", "mmcv-lite")


@dataclass(frozen=True)
class InstallResult:
    """What ``install_wheel`` did: the wheel installed, what it replaced, the revert entry."""

    wheel: str
    installed: bool
    removed: tuple[str, ...]  # "mmcv 2.2.0"
    entry: Mapping[str, Any]
    pip_output: str = ""


def _record_files(dist: MmcvDist) -> list[str]:
    """Paths (relative to the dist's site-packages) listed in its RECORD."""
    base = Path(dist.location)
    norm = dist.name.replace("-", "_").lower()
    infos = [p for p in base.glob("*.dist-info") if p.name.lower().startswith(f"{norm}-{dist.version}".lower())]
    if not infos:
        return []
    record = infos[0] / "RECORD"
    if not record.is_file():
        return []
    with open(record, newline="", encoding="utf-8") as fh:
        return [row[0] for row in csv.reader(fh) if row]


def save_install(dist: MmcvDist, into: Path) -> Path | None:
    """Zip every installed file of ``dist`` (paths relative to its site-packages); None if no RECORD."""
    files = _record_files(dist)
    if not files:
        return None
    into.mkdir(parents=True, exist_ok=True)
    archive = into / f"{dist.name}-{dist.version}-installed.zip"
    base = Path(dist.location)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel in files:
            if rel.startswith(("..", "/")):
                continue  # outside site-packages (console scripts): mmcv ships none
            p = (base / rel).resolve()
            if p.is_file() and "__pycache__" not in p.parts:
                zf.write(p, rel)
    return archive


def _confirm(question: str) -> bool:
    if not sys.stdin or not sys.stdin.isatty():
        raise RefusedError("not replacing the installed mmcv without confirmation",
                           "stdin is not a terminal", "pass --yes")
    import typer

    return bool(typer.confirm(question, default=False))


def install_wheel(python: str, wheel: Path, *, yes: bool, env: Environment) -> InstallResult:
    """Install ``wheel`` into the env of ``python``, replacing the mmcv family found in ``env``.

    Asks first unless ``yes`` (RefusedError when it cannot ask). Saves the previous install for
    ``restore_previous``; restores it at once when pip fails (then raises OperationFailed).
    """
    old = [d for d in env.mmcv if d.name in MMCV_FAMILY]
    if old and not yes:
        names = ", ".join(f"{d.name} {d.version}" for d in old)
        if not _confirm(f"Replace {names} with {wheel.name}?"):
            raise RefusedError("install cancelled", fix="the built wheel is kept at " + str(wheel))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    keep = cache_dir("previous", stamp)
    kept_wheel = keep / wheel.name
    kept_wheel.write_bytes(wheel.read_bytes())
    saved = []
    for d in old:
        arch = save_install(d, keep)
        saved.append({"name": d.name, "version": d.version, "location": d.location,
                      "archive": str(arch) if arch else None})
    entry: dict[str, Any] = {"python": python, "time": stamp,
                             "new_wheel": str(kept_wheel), "previous": saved}
    # Recorded before anything changes: killed during the uninstall or install below, the user
    # still has `mmfix revert --install` as the way back.
    prefix = env.target.prefix or python
    entry = _append_journal(entry, prefix)
    if old:
        un = proc.run([python, "-m", "pip", "uninstall", "-y", *sorted({d.name for d in old})], timeout=600)
        if not un.ok:
            restore_previous(entry)
            _drop_journal(entry, prefix)
            raise OperationFailed("pip uninstall of the old mmcv failed; the previous mmcv was restored",
                                  un.output.strip()[-300:])
    res = proc.run([python, "-m", "pip", "install", "--no-deps", "--no-cache-dir", str(wheel)], timeout=1200)
    if not res.ok:
        restore_previous(entry)
        _drop_journal(entry, prefix)
        raise OperationFailed(f"pip install of {wheel.name} failed; the previous mmcv was restored",
                              res.output.strip().splitlines()[-1] if res.output.strip() else None)
    _install_missing_requirements(python, wheel)
    return InstallResult(str(wheel), True, tuple(f"{d.name} {d.version}" for d in old), entry, res.output)


def _install_missing_requirements(python: str, wheel: Path) -> None:
    """mmcv's own requirements (mmengine, addict, opencv-python ...) when the env lacks them: an env
    that never had an mmcv installed (a ``pip install mmcv`` that failed to build) has none, and
    ``import mmcv`` then fails. ``pip check`` names them; pip installs only what is missing.
    Raises OperationFailed when pip cannot install them (the new mmcv stays installed)."""
    check = proc.run([python, "-m", "pip", "check"], timeout=300)
    if not any(line.lower().startswith(("mmcv ", "mmcv-full ")) and "which is not installed" in line
               for line in check.stdout.splitlines()):
        return
    res = proc.run([python, "-m", "pip", "install", "--no-cache-dir", str(wheel)], timeout=1200)
    if not res.ok:
        raise OperationFailed(f"mmcv's requirements could not be installed next to {wheel.name}",
                              res.output.strip().splitlines()[-1] if res.output.strip() else None,
                              f"{python} -m pip install {wheel}")


def _append_journal(entry: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Record the replacement in the install journal of ``prefix`` (``mmfix revert --install``
    reads it) and in the cache's installs.jsonl; returns the journal entry."""
    from mmfix.patching import install_journal

    journal = install_journal(prefix)
    with journal.locked():
        recorded = journal.record("install", patch_id="rebuild", target_prefix=prefix,
                                  saved=str(Path(entry["new_wheel"]).parent), **entry)
    with open(cache_dir() / "installs.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(recorded) + "\n")
    return recorded


def _drop_journal(entry: Mapping[str, Any], prefix: str) -> None:
    """Take back the journal entry of an install that was undone at once (pip failed)."""
    from mmfix.patching import install_journal

    journal = install_journal(prefix)
    with journal.locked():
        journal.remove({str(entry["entry"])})


def last_install_entry(python: str | None = None) -> dict[str, Any] | None:
    """The newest recorded replacement (for ``python`` when given), None when there is none."""
    path = cache_dir() / "installs.jsonl"
    if not path.is_file():
        return None
    for line in reversed(path.read_text(encoding="utf-8").splitlines()):
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if python is None or e.get("python") == python:
            return dict(e)
    return None


def restore_previous(entry: Mapping[str, Any]) -> list[str]:
    """Undo one install: uninstall the mmcv family from ``entry['python']`` and put the saved files
    of the previous install back byte for byte. Returns "name version" of what was restored.

    Raises OperationFailed when pip cannot uninstall or a saved archive is missing.
    """
    python = str(entry["python"])
    installed = proc.run([python, "-m", "pip", "list", "--format=json"], timeout=120)
    names: list[str] = []
    with contextlib.suppress(ValueError, KeyError, TypeError):
        names = [p["name"] for p in json.loads(installed.stdout) if p["name"].lower() in MMCV_FAMILY]
    if names:
        un = proc.run([python, "-m", "pip", "uninstall", "-y", *names], timeout=600)
        if not un.ok:
            raise OperationFailed("pip uninstall failed while restoring the previous mmcv", un.output.strip()[-300:])
    restored = []
    for prev in entry.get("previous", []):
        archive = prev.get("archive")
        if not archive or not Path(archive).is_file():
            raise OperationFailed(f"the saved install of {prev['name']} {prev['version']} is missing",
                                  fix=f"reinstall it: pip install {prev['name']}=={prev['version']}")
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(prev["location"])
        restored.append(f"{prev['name']} {prev['version']}")
    return restored
