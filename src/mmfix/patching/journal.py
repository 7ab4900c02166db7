"""The journal: every change mmfix made under one target root, with a backup of what was there.

Where it lives: ``<root>/.mmfix/`` (``journal.json``, ``backups/``, ``lock``), i.e. inside the
torch package folder or the mmcv source tree that was changed. Why there and not in a per-user
state folder: the backup is then on the same filesystem as the file (a restore is a local copy +
``os.replace``), ``revert --torch-dir``/``--source`` finds it from the tree alone, and it goes
away with the tree. Installs replaced by ``mmfix rebuild`` are journaled in a per-user state folder
(``install_journal``), because a site-packages tree is not ours to write into.

Entries are plain dicts kept in a JSON list; ``kind`` is ``"file"`` (a patched file) or
``"install"`` (a replaced mmcv install, written and restored by ``mmfix.builder``).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from mmfix import __version__
from mmfix.errors import MmfixError, RefusedError

STATE_DIR = ".mmfix"
LOCK_TIMEOUT_S = 600.0


def atomic_write(path: Path, data: bytes, mode_from: Path | None = None) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder and ``os.replace``.

    The file's mode is copied from ``mode_from`` (default: ``path`` itself when it exists). A
    failure at any step leaves ``path`` as it was and removes the temp file.
    """
    src_mode = mode_from if mode_from is not None else path
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".mmfix-tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if src_mode.exists():
            os.chmod(tmp, src_mode.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class Journal:
    """The journal of one target root. Use ``with journal.locked():`` around read-modify-write."""

    def __init__(self, root: Path, state_dir: Path | None = None) -> None:
        """``root``: the tree whose files are changed (paths are recorded relative to it);
        ``state_dir``: where journal, backups and lock live (default ``root/.mmfix``)."""
        self.root = Path(root)
        self.dir = Path(state_dir) if state_dir is not None else self.root / STATE_DIR
        self.file = self.dir / "journal.json"
        self.backups = self.dir / "backups"

    # --- locking ---------------------------------------------------------------------------
    @contextmanager
    def locked(self, timeout: float = LOCK_TIMEOUT_S) -> Iterator[Journal]:
        """Hold the root's file lock (``filelock``); raises MmfixError after ``timeout`` seconds."""
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MmfixError(
                f"cannot write mmfix's journal folder {self.dir}",
                exc.strerror or str(exc),
                "run with permission to change this tree (it holds the files to patch)",
            ) from exc
        lock = FileLock(str(self.dir / "lock"))
        try:
            with lock.acquire(timeout=timeout):
                yield self
        except Timeout as exc:
            raise MmfixError(
                f"another mmfix is changing {self.root}",
                f"its lock {self.dir / 'lock'} is held",
                "wait for it to finish, then run again",
            ) from exc

    # --- entries ---------------------------------------------------------------------------
    def entries(self) -> list[dict[str, Any]]:
        """All recorded entries, oldest first (empty when nothing was recorded)."""
        if not self.file.exists():
            return []
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RefusedError(
                f"mmfix's journal {self.file} is unreadable",
                str(exc),
                "restore it from a backup or remove the .mmfix folder by hand",
            ) from exc
        return list(data.get("entries", []))

    def _write(self, entries: list[dict[str, Any]]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        doc = {"schema": "mmfix.journal/1", "root": str(self.root), "entries": entries}
        atomic_write(self.file, (json.dumps(doc, indent=2) + "\n").encode(), mode_from=self.file)

    def backup(self, data: bytes, name: str) -> str:
        """Save ``data`` as a backup; returns its path relative to the journal folder."""
        self.backups.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(data).hexdigest()[:16]
        rel = f"backups/{digest}-{Path(name).name}"
        target = self.dir / rel
        if not target.exists():
            atomic_write(target, data, mode_from=target)
        return rel

    def read_backup(self, rel: str) -> bytes:
        return (self.dir / rel).read_bytes()

    def record(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Append one entry of ``kind`` ("file", "install", ...) and return it.

        Added automatically: ``entry`` (a unique id), ``kind``, ``mmfix_version``, ``time`` (UTC
        ISO 8601). For ``kind="install"`` pass e.g. ``patch_id="rebuild"``, ``target_prefix``,
        ``saved`` (path of the saved previous wheel/files) and whatever
        ``mmfix.builder.install.restore_previous(entry)`` needs to restore it.
        """
        entry: dict[str, Any] = {
            "entry": uuid.uuid4().hex[:12],
            "kind": kind,
            "mmfix_version": __version__,
            "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            **fields,
        }
        entries = self.entries()
        entries.append(entry)
        self._write(entries)
        return entry

    def remove(self, entry_ids: set[str]) -> None:
        """Drop the entries with these ids (after a successful revert) and the backups no
        remaining entry needs; with no entry left the journal file goes too."""
        keep = [e for e in self.entries() if e.get("entry") not in entry_ids]
        if keep:
            self._write(keep)
        elif self.file.exists():
            self.file.unlink()
        needed = {e.get("backup") for e in keep}
        if self.backups.is_dir():
            for f in self.backups.iterdir():
                if f"backups/{f.name}" not in needed:
                    f.unlink()


def install_journal(target_prefix: str) -> Journal:
    """The journal of installs replaced in the environment at ``target_prefix`` (sys.prefix of the
    target interpreter): in the per-user state folder (platformdirs), one folder per prefix."""
    from platformdirs import user_state_dir

    key = hashlib.sha256(os.path.normcase(os.path.abspath(target_prefix)).encode()).hexdigest()[:16]
    state = Path(user_state_dir("mmfix", appauthor=False)) / "installs" / key
    return Journal(Path(target_prefix), state_dir=state)
