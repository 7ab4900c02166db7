"""Downloading and verifying a chosen wheel: hash against the index (or two agreeing downloads),
a real zip, kept in mmfix's cache under its checked hash. Shared by the official index and the
wheelhouses (a wheelhouse page always gives the hash)."""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import requests

from mmfix.errors import OperationFailed, RefusedError
from mmfix.wheels.choose import WheelLink
from mmfix.wheels.net import CHUNK, get, make_session, network_error, timeout_or_default


def default_cache_dir() -> Path:
    """``<user cache>/mmfix/wheels`` (platformdirs), or ``$MMFIX_CACHE_DIR/wheels``."""
    root = os.environ.get("MMFIX_CACHE_DIR")
    if root:
        return Path(root) / "wheels"
    import platformdirs

    return Path(platformdirs.user_cache_dir("mmfix")) / "wheels"


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _download(
    session: requests.Session, link: WheelLink, folder: Path, timeout: Any
) -> tuple[Path, str]:
    """Stream one download into a temporary file in ``folder``; (path, sha256)."""
    resp = get(session, link.url, timeout, stream=True)
    if resp.status_code != 200:
        raise OperationFailed(
            f"cannot download {link.filename}",
            why=f"HTTP {resp.status_code} {resp.reason or ''} from {link.url}".rstrip(),
            fix="the index lists a file it does not serve: retry later or use another --index-url",
        )
    h = hashlib.sha256()
    fd, name = tempfile.mkstemp(prefix=".part-", suffix=".whl", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            for block in resp.iter_content(CHUNK):
                h.update(block)
                out.write(block)
    except requests.RequestException as exc:
        Path(name).unlink(missing_ok=True)
        raise network_error(link.url, exc, timeout) from None
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name), h.hexdigest()


def download_wheel(
    link: WheelLink,
    cache_dir: Path | None = None,
    session: requests.Session | None = None,
    *,
    timeout: Any = None,
) -> Path:
    """Download ``link`` into the cache (``default_cache_dir()``) and return the file's path.

    The file is checked before it gets its final name: against the sha256 the index gives in the
    link's ``#sha256=`` fragment; when it gives none, the file is downloaded twice and both
    sha256 must agree (catches truncated or altered transfers, not a consistently wrong mirror); and
    it must be a zip (a wheel), not an HTML error page. A cached file is reused only when it still
    matches the index's hash, or the hash recorded when it was first checked (``<file>.sha256``).

    Raises RefusedError (exit 3) when the bytes do not match the index's hash; OperationFailed on
    two differing downloads, a non-zip file, HTTP or network errors. Nothing unchecked is left under the final name.
    """
    from filelock import FileLock

    session = session or make_session()
    timeout = timeout_or_default(timeout)
    folder = Path(cache_dir) if cache_dir else default_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / link.filename
    record = folder / (link.filename + ".sha256")
    with FileLock(str(folder / (link.filename + ".lock"))):
        if dest.is_file():
            expected = link.sha256 or (record.read_text().strip() if record.is_file() else None)
            if expected and file_sha256(dest) == expected:
                return dest
        first, digest = _download(session, link, folder, timeout)
        try:
            if link.sha256 and digest != link.sha256:
                raise RefusedError(
                    f"{link.filename} does not match the sha256 the index gives",
                    why=f"index {link.sha256}, downloaded {digest}",
                    fix="the file was altered after its hash was published, or cut short on the way "
                    "(proxy, mirror): retry, or use another index or wheelhouse",
                )
            if not link.sha256:
                second, digest2 = _download(session, link, folder, timeout)
                second.unlink(missing_ok=True)
                if digest2 != digest:
                    raise OperationFailed(
                        f"two downloads of {link.filename} differ",
                        why=f"sha256 {digest} then {digest2}; the index gives no hash to check",
                        fix="the transfer is unreliable (proxy, mirror): retry, or use another "
                        "--index-url",
                    )
            if not zipfile.is_zipfile(first):
                raise OperationFailed(
                    f"{link.filename} from {link.url} is not a wheel (zip) file",
                    why="the server sent something else (an error or login page?)",
                    fix="check --index-url / the proxy",
                )
            os.replace(first, dest)
            record.write_text(digest + "\n")
        finally:
            first.unlink(missing_ok=True)
    return dest

