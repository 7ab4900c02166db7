"""File access that stays inside one tree: no ``..``, no absolute paths, no symlink on the way.

Everything the patch engine reads or writes goes through these helpers, because a tree can arrive
with a ``.mmfix/journal.json`` written by someone else (a downloaded mmcv source tree or tarball,
a shared torch folder), and the journal names the files to restore and their backups:

- ``tree_path(root, rel)``: the path of ``rel`` under ``root`` after checking that ``rel`` is a
  plain relative path and that no folder between ``root`` and the file is a symlink;
- ``read_regular(path)``: the bytes of a regular file, never following a symlink, never blocking
  on a FIFO or device, at most ``MAX_FILE_BYTES``;
- ``link_target(root, path)``: where a symlinked file points, as a path relative to ``root``
  (``UnsafePath`` when it points outside the tree);
- ``sweep_tmp(folders)``: remove the ``*.mmfix-tmp`` files an interrupted atomic write left.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path, PurePosixPath, PureWindowsPath

# The largest file mmfix reads as a header, source file or backup (torch's largest header is
# about 0.3 MB; a multi-GB "backup" planted in a tree must not be read into memory).
MAX_FILE_BYTES = 16 * 1024 * 1024
TMP_SUFFIX = ".mmfix-tmp"  # atomic_write's temp files: ".<name>.<random>.mmfix-tmp"


class UnsafePath(ValueError):
    """A path that would leave the tree, cross a symlink, or is no regular file. ``str()`` says why."""


def check_relative(rel: object) -> str:
    """``rel`` when it is a relative path of plain names separated by ``/``; else UnsafePath.

    Refused: non-strings, empty names, ``.`` and ``..``, absolute paths, Windows drives and UNC
    paths, backslashes, NUL and other control characters.
    """
    if not isinstance(rel, str) or not rel:
        raise UnsafePath(f"{rel!r} is not a path")
    if any(ord(c) < 32 or c == "\x7f" for c in rel):
        raise UnsafePath(f"{rel!r} has a control character")
    if "\\" in rel or PureWindowsPath(rel).drive or PurePosixPath(rel).is_absolute():
        raise UnsafePath(f"'{rel}' is absolute or not a '/'-separated relative path")
    parts = rel.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise UnsafePath(f"'{rel}' has an empty, '.' or '..' part")
    return rel


def tree_path(root: Path, rel: str) -> Path:
    """``root / rel`` after checking ``rel`` (``check_relative``) and that every folder between
    ``root`` and the file exists and is a real folder, not a symlink. The last part may be missing,
    a file or a symlink (the caller decides). Raises UnsafePath."""
    check_relative(rel)
    path = Path(root)
    parts = rel.split("/")
    for i, part in enumerate(parts[:-1]):
        path = path / part
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            raise UnsafePath(f"folder {'/'.join(parts[: i + 1])} does not exist") from None
        if stat.S_ISLNK(st.st_mode):
            raise UnsafePath(f"folder {'/'.join(parts[: i + 1])} is a symlink (to {os.readlink(path)})")
        if not stat.S_ISDIR(st.st_mode):
            raise UnsafePath(f"{'/'.join(parts[: i + 1])} is not a folder")
    return path / parts[-1]


def is_link(path: Path) -> bool:
    """True when ``path`` itself is a symlink (never follows it)."""
    try:
        return stat.S_ISLNK(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


def read_regular(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of the regular file ``path``, opened without following a symlink and without
    blocking (a FIFO or device is refused, not read). Raises FileNotFoundError when it is missing,
    UnsafePath for a symlink, a non-regular file or one larger than ``limit`` bytes."""
    st = os.lstat(path)  # FileNotFoundError propagates: "missing" is the caller's message
    if stat.S_ISLNK(st.st_mode):
        raise UnsafePath(f"{path} is a symlink (to {os.readlink(path)})")
    if not stat.S_ISREG(st.st_mode):
        raise UnsafePath(f"{path} is not a regular file")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a symlink that appeared since the lstat
            raise UnsafePath(f"{path} became a symlink") from None
        raise
    with os.fdopen(fd, "rb") as f:
        fst = os.fstat(f.fileno())
        if not stat.S_ISREG(fst.st_mode):
            raise UnsafePath(f"{path} is not a regular file")
        if fst.st_size > limit:
            raise UnsafePath(f"{path} is {fst.st_size} bytes, more than the {limit} mmfix reads")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise UnsafePath(f"{path} is more than the {limit} bytes mmfix reads")
    return data


def link_target(root: Path, path: Path) -> str:
    """For the symlink ``path`` in ``root``: the file it points to, relative to ``root``, with
    ``/``. Raises UnsafePath when the target (after every link in the chain) lies outside ``root``
    or is not a regular file."""
    real_root = Path(os.path.realpath(root))
    real = Path(os.path.realpath(path))
    try:
        rel = real.relative_to(real_root)
    except ValueError:
        raise UnsafePath(f"it is a symlink to {real}, outside the tree {real_root}") from None
    if not real.is_file():
        raise UnsafePath(f"it is a symlink to {real}, which is no regular file")
    return rel.as_posix()


def sweep_tmp(folders: Iterable[Path]) -> list[Path]:
    """Remove the ``.<name>.<random>.mmfix-tmp`` files that an atomic write interrupted by a
    crash or ``kill -9`` left in ``folders`` (symlinked or missing folders are skipped). Call it
    under the tree's lock: then no such file belongs to a running mmfix. Returns what was removed."""
    removed: list[Path] = []
    for folder in dict.fromkeys(Path(f) for f in folders):
        if is_link(folder) or not folder.is_dir():
            continue
        with suppress(OSError):
            for entry in os.scandir(folder):
                if entry.name.startswith(".") and entry.name.endswith(TMP_SUFFIX) and not entry.is_dir(follow_symlinks=False):
                    with suppress(FileNotFoundError):
                        os.unlink(entry.path)
                        removed.append(Path(entry.path))
    return removed
