"""The journal: every change mmfix made under one target root, with a backup of what was there.

Where it lives: ``<root>/.mmfix/`` (``journal.json``, ``backups/``, ``lock``), i.e. inside the
torch package folder or the mmcv source tree that was changed. Why there and not in a per-user
state folder: the backup is then on the same filesystem as the file (a restore is a local copy +
``os.replace``), ``revert --torch-dir``/``--source`` finds it from the tree alone, and it goes
away with the tree. Installs replaced by ``mmfix rebuild`` are journaled in a per-user state folder
(``install_journal``), because a site-packages tree is not ours to write into.

Entries are plain dicts kept in a JSON list; ``kind`` is ``"file"`` (a patched file) or
``"install"`` (a replaced mmcv install, written and restored by ``mmfix.builder``); the schema is
in ``journal_schema``. Because a tree can arrive with a journal someone else wrote, mmfix also
keeps, per user, a record of each journal it wrote (its sha256, in the state folder):
``Journal.written_here`` tells a journal of this user on this machine from any other.
"""

from __future__ import annotations

import datetime as _dt
import getpass
import hashlib
import json
import os
import re
import socket
import stat
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from mmfix import __version__
from mmfix.errors import MmfixError, RefusedError
from mmfix.patching import journal_schema, safefs

STATE_DIR = ".mmfix"
LOCK_TIMEOUT_S = 600.0


def atomic_write(path: Path, data: bytes, mode_from: Path | None = None, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder and ``os.replace``.

    The file's mode is ``mode`` when given, else copied from ``mode_from`` (default: ``path``
    itself when it is a regular file; a symlink is never followed for it). ``path`` itself, when a symlink, is replaced, not
    written through. A failure at any step leaves ``path`` as it was and removes the temp file
    (a ``kill -9`` leaves it behind: ``safefs.sweep_tmp`` removes it at the next run).
    """
    src_mode = mode_from if mode_from is not None else path
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=safefs.TMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        else:
            with suppress(FileNotFoundError):
                st = os.lstat(src_mode)
                if stat.S_ISREG(st.st_mode):
                    os.chmod(tmp, st.st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class Journal:
    """The journal of one target root. Use ``with journal.locked():`` around read-modify-write.

    The journal is data from outside (a tree can arrive with one): it is checked against its
    schema (``journal_schema``) before use, every path it names must lie inside ``root`` with no
    symlinked folder on the way, every backup inside its own ``backups/`` folder, and neither the
    state folder nor anything in it may be a symlink. Violations raise RefusedError (exit 3) naming
    the journal and the entry.
    """

    def __init__(self, root: Path, state_dir: Path | None = None) -> None:
        """``root``: the tree whose files are changed (paths are recorded relative to it);
        ``state_dir``: where journal, backups and lock live (default ``root/.mmfix``)."""
        self.root = Path(root)
        self.dir = Path(state_dir) if state_dir is not None else self.root / STATE_DIR
        self.file = self.dir / "journal.json"
        self.backups = self.dir / "backups"

    # --- refusals --------------------------------------------------------------------------
    def refuse(self, reason: str, entry: str | None = None, fix: str | None = None) -> RefusedError:
        """The one-line refusal for this journal: ``journal <file>[, <entry>]: <reason>``."""
        where = f"mmfix's journal {os.path.abspath(self.file)}" + (f", {entry}" if entry else "")
        return RefusedError(
            f"{where}: {reason}",
            "refused, nothing was changed",
            fix or f"if you did not make these changes with mmfix, remove {os.path.abspath(self.dir)}",
        )

    def check_no_links(self) -> None:
        """Refuse when the state folder, the journal, the lock or the backups folder is a symlink
        (they would send mmfix's writes and reads elsewhere)."""
        for path in (self.dir, self.file, self.dir / "lock", self.backups):
            if safefs.is_link(path):
                raise self.refuse(f"{path} is a symlink (to {os.readlink(path)}); mmfix never follows one here")

    # --- locking ---------------------------------------------------------------------------
    @contextmanager
    def locked(self, timeout: float = LOCK_TIMEOUT_S) -> Iterator[Journal]:
        """Hold the root's file lock (``filelock``); raises MmfixError after ``timeout`` seconds,
        RefusedError when the state folder or the lock is a symlink. On taking the lock, stale
        ``*.mmfix-tmp`` files of the state folder are removed (``sweep``)."""
        self.check_no_links()
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MmfixError(
                f"cannot write mmfix's journal folder {self.dir}",
                exc.strerror or str(exc),
                "run with permission to change this tree (it holds the files to patch)",
            ) from exc
        self.check_no_links()
        lock = FileLock(str(self.dir / "lock"))
        try:
            with lock.acquire(timeout=timeout):
                self.sweep()
                yield self
        except Timeout as exc:
            raise MmfixError(
                f"another mmfix is changing {self.root}",
                f"its lock {self.dir / 'lock'} is held",
                "wait for it to finish, then run again",
            ) from exc

    def sweep(self, rels: Iterable[str] = ()) -> list[Path]:
        """Remove stale ``*.mmfix-tmp`` files (left by a crash or ``kill -9`` in an atomic write)
        from the state folder, its backups and the folders of ``rels`` and of every recorded
        path. Call it holding the lock. Returns the removed files."""
        folders = [self.dir, self.backups]
        recorded: list[str] = []
        with suppress(RefusedError):
            recorded = [str(e[k]) for e in self.entries() for k in ("path", "link_target") if e.get(k)]
        for rel in [*rels, *recorded]:
            with suppress(safefs.UnsafePath):
                folders.append(safefs.tree_path(self.root, rel).parent)
        return safefs.sweep_tmp(folders)

    # --- entries ---------------------------------------------------------------------------
    def exists(self) -> bool:
        """True when a journal file is there (a symlink counts: it is refused when read)."""
        return os.path.lexists(self.file)

    def document(self) -> dict[str, Any] | None:
        """The whole journal document after the schema check; None when there is no journal."""
        self.check_no_links()
        try:
            data = safefs.read_regular(self.file, journal_schema.MAX_JOURNAL_BYTES)
        except FileNotFoundError:
            return None
        except safefs.UnsafePath as exc:
            raise self.refuse(str(exc)) from None
        except OSError as exc:
            raise self.refuse(f"it cannot be read ({exc.strerror or exc})", fix="check its permissions") from None
        try:
            return journal_schema.parse(data)
        except journal_schema.JournalInvalid as exc:
            raise self.refuse(f"not a valid journal: {exc}", exc.entry) from None

    def entries(self) -> list[dict[str, Any]]:
        """All recorded entries, oldest first (empty when nothing was recorded). Raises
        RefusedError for a journal that fails the schema check."""
        doc = self.document()
        return list(doc["entries"]) if doc else []

    def checked_entries(self) -> list[dict[str, Any]]:
        """``entries()`` after also checking that every path they name lies inside the tree with
        no symlinked folder on the way (``target``). Raises RefusedError naming the entry."""
        entries = self.entries()
        for e in entries:
            if e["kind"] == "file":
                self.target(e)
                if e.get("link_target") is not None:
                    self.target(e, "link_target")
        return entries

    def label(self, entry: dict[str, Any]) -> str:
        """"entry 3 (id 1a2b3c)" for ``entry`` of this journal."""
        entries = self.entries()
        index = next((i for i, e in enumerate(entries, 1) if e is entry or e == entry), 0)
        return journal_schema.entry_label(entry, index)

    def _write(self, entries: list[dict[str, Any]]) -> None:
        self.check_no_links()
        self.dir.mkdir(parents=True, exist_ok=True)
        doc = {"schema": journal_schema.SCHEMA, "root": str(self.root), "writer": writer(), "entries": entries}
        data = (json.dumps(doc, indent=2) + "\n").encode()
        atomic_write(self.file, data, mode_from=self.file)
        _remember(self.file, data)

    def backup(self, data: bytes, name: str) -> str:
        """Save ``data`` as a backup; returns its path relative to the journal folder. A file of
        that name with other bytes (planted, or damaged) is replaced."""
        self.check_no_links()
        self.backups.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(data).hexdigest()[:16]
        safe_name = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name).name)
        rel = f"backups/{digest}-{safe_name}"
        target = self.dir / rel
        try:
            same = safefs.read_regular(target) == data
        except (OSError, safefs.UnsafePath):
            same = False
        if not same:
            if safefs.is_link(target) or target.is_dir():
                raise self.refuse(f"{target} is a symlink or a folder; mmfix never follows one here")
            atomic_write(target, data)
        return rel

    def read_backup(self, entry: dict[str, Any]) -> bytes:
        """The backup bytes of ``entry``, checked against its ``before_bytes_sha256``. Raises
        RefusedError (exit 3) when the backup is missing, no regular file, or holds other bytes."""
        rel = str(entry["backup"])
        path = self.dir / rel
        what = f"the backup {path} of {entry.get('path')}"
        try:
            data = safefs.read_regular(path)
        except FileNotFoundError:
            raise self.refuse(f"{what} is missing, so it cannot be restored", self.label(entry),
                              f"reinstall the package to get the released {entry.get('path')} back") from None
        except safefs.UnsafePath as exc:
            raise self.refuse(f"{what}: {exc}", self.label(entry)) from None
        except OSError as exc:
            raise self.refuse(f"{what} cannot be read ({exc.strerror or exc})", self.label(entry)) from None
        if hashlib.sha256(data).hexdigest() != entry["before_bytes_sha256"]:
            raise self.refuse(f"{what} does not hold the bytes the entry recorded (sha256 differs)",
                              self.label(entry))
        return data

    def target(self, entry: dict[str, Any], key: str = "path") -> Path:
        """The path ``entry[key]`` names inside the tree (checked: no symlinked folder on the way).
        Raises RefusedError naming the journal and the entry otherwise."""
        try:
            return safefs.tree_path(self.root, str(entry[key]))
        except safefs.UnsafePath as exc:
            raise self.refuse(f"its path {entry[key]!r} does not lie inside {self.root}: {exc}",
                              self.label(entry)) from None

    def record(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Append one entry of ``kind`` ("file", "install", ...) and return it.

        Added automatically: ``entry`` (a unique id), ``kind``, ``mmfix_version``, ``time`` (UTC
        ISO 8601). For ``kind="install"`` pass e.g. ``patch_id="rebuild"``, ``target_prefix``,
        ``saved`` (path of the saved previous wheel/files) and whatever
        ``mmfix.builder.install.restore_previous(entry)`` needs to restore it. Raises RefusedError
        when the existing journal is not valid (it is never overwritten then).
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
        try:
            journal_schema.check_entry(entry, len(entries))
        except journal_schema.JournalInvalid as exc:
            raise MmfixError(f"mmfix would write an invalid journal entry: {exc}", None,
                             "report this to mmfix; nothing was changed") from None
        self._write(entries)
        return entry

    def remove(self, entry_ids: set[str]) -> None:
        """Drop the entries with these ids (after a successful revert) and the backups no
        remaining entry needs; with no entry left the journal file goes too."""
        keep = [e for e in self.entries() if e.get("entry") not in entry_ids]
        if keep:
            self._write(keep)
        elif os.path.lexists(self.file):
            self.file.unlink()
            _forget(self.file)
        needed = {e.get("backup") for e in keep}
        if self.backups.is_dir() and not safefs.is_link(self.backups):
            for f in self.backups.iterdir():
                if f"backups/{f.name}" not in needed and not f.is_dir():
                    f.unlink()

    # --- who wrote it ----------------------------------------------------------------------
    def written_here(self) -> bool:
        """True when this journal is, byte for byte, the one mmfix last wrote for this user on
        this machine (a record in the per-user state folder). A journal that came with a tree,
        or one changed since by anything but mmfix, is not."""
        try:
            data = safefs.read_regular(self.file, journal_schema.MAX_JOURNAL_BYTES)
            record = json.loads(safefs.read_regular(_record_file(self.file)))
        except (OSError, ValueError, safefs.UnsafePath):
            return False
        return isinstance(record, dict) and record.get("sha256") == hashlib.sha256(data).hexdigest()

    def writer(self) -> str:
        """"user@host" as the journal itself says (informational: anyone can write it)."""
        with suppress(RefusedError):
            doc = self.document()
            w = doc.get("writer") if doc else None
            if isinstance(w, dict) and _string_pair(w):
                return f"{w['user']}@{w['host']}"
        return "an unknown user"


def writer() -> dict[str, str]:
    """This process's user and host, recorded in every journal it writes."""
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no USER and no passwd entry (containers)
        user = str(os.getuid()) if hasattr(os, "getuid") else "?"
    return {"user": user, "host": socket.gethostname()}


def _string_pair(w: dict[str, Any]) -> bool:
    return all(isinstance(w.get(k), str) and len(w[k]) < 256 for k in ("user", "host"))


def _record_file(journal_file: Path) -> Path:
    """Where this user's record of ``journal_file`` lives (per-user state folder, platformdirs)."""
    from platformdirs import user_state_dir

    key = hashlib.sha256(os.path.normcase(os.path.realpath(journal_file)).encode()).hexdigest()[:24]
    return Path(user_state_dir("mmfix", appauthor=False)) / "journals" / f"{key}.json"


def _remember(journal_file: Path, data: bytes) -> None:
    """Record that mmfix wrote ``data`` as ``journal_file`` (for ``Journal.written_here``). A
    state folder that cannot be written only costs a question at the next ``revert``."""
    rec = _record_file(journal_file)
    doc = {"journal": os.path.realpath(journal_file), "sha256": hashlib.sha256(data).hexdigest()}
    with suppress(OSError):
        rec.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(rec, json.dumps(doc).encode())


def _forget(journal_file: Path) -> None:
    with suppress(OSError):
        _record_file(journal_file).unlink()


def install_journal(target_prefix: str) -> Journal:
    """The journal of installs replaced in the environment at ``target_prefix`` (sys.prefix of the
    target interpreter): in the per-user state folder (platformdirs), one folder per prefix."""
    from platformdirs import user_state_dir

    key = hashlib.sha256(os.path.normcase(os.path.abspath(target_prefix)).encode()).hexdigest()[:16]
    state = Path(user_state_dir("mmfix", appauthor=False)) / "installs" / key
    return Journal(Path(target_prefix), state_dir=state)
