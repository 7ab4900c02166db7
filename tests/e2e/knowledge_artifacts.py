"""Real artifacts for the knowledge-table tests (tests/e2e/test_knowledge_artifacts_*.py).

PyPI's release lists (its JSON API) and single members of wheels, read with HTTP range requests
(remotezip: the zip's end record, its central directory and the one member; ~1.3 MB for a torch wheel
instead of 60-120 MB). Everything is cached under ~/.cache/mmfix-tests/knowledge/ (MMFIX_TEST_CACHE
moves it): a member is downloaded once, a release list again after a day. Nothing goes in the repo.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urljoin

import requests
from filelock import FileLock
from packaging.version import InvalidVersion, Version
from remotezip import RemoteZip
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

CACHE = Path(os.environ.get("MMFIX_TEST_CACHE", Path.home() / ".cache" / "mmfix-tests")) / "knowledge"
PYPI_JSON = "https://pypi.org/pypi/{project}/json"
LIST_MAX_AGE_S = 24 * 3600
TIMEOUT_S = 120
ABSENT = b"\0mmfix: no such member\0"  # cached marker: the wheel has no such member
# Writing an executable while another thread forks leaves the child holding it open for writing, and
# running it then fails with ETXTBSY ("Text file busy"): writes and runs take turns.
_RUN_LOCK = threading.Lock()
T = TypeVar("T")
R = TypeVar("R")


def _session() -> requests.Session:
    """A session that retries a dropped connection or a 5xx answer (one per call: threads share none)."""
    session = requests.Session()
    retry = Retry(total=4, backoff_factor=1, status_forcelist=(429, 500, 502, 503, 504))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    return session


def _zip(project: str, version: str, prefer: Iterable[str]) -> RemoteZip:
    return RemoteZip(wheel_url(project, version, prefer), session=_session(), timeout=TIMEOUT_S)


def _locked_write(path: Path, make: Callable[[], bytes], max_age_s: float | None = None) -> bytes:
    """The bytes cached at ``path``, made by ``make()`` when missing (or older than ``max_age_s``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        if path.exists() and (max_age_s is None or time.time() - path.stat().st_mtime < max_age_s):
            return path.read_bytes()
        data = make()
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        return data


def releases(project: str) -> dict[str, list[dict[str, Any]]]:
    """PyPI's files of each release of ``project`` (version -> file dicts with absolute ``url``),
    yanked files left out."""
    url = PYPI_JSON.format(project=project)

    def get() -> bytes:
        r = _session().get(url, timeout=TIMEOUT_S)
        r.raise_for_status()
        return r.content

    data = json.loads(_locked_write(CACHE / "pypi" / f"{project}.json", get, LIST_MAX_AGE_S))
    out = {}
    for version, files in data["releases"].items():
        kept = [dict(f, url=urljoin(url, f["url"])) for f in files if not f.get("yanked")]
        if kept:
            out[version] = kept
    return out


def final_versions(project: str, since: str = "0") -> list[str]:
    """``project``'s final releases from ``since`` on, oldest first."""
    out = []
    for v in releases(project):
        try:
            parsed = Version(v)
        except InvalidVersion:
            continue
        if not parsed.is_prerelease and not parsed.is_devrelease and parsed >= Version(since):
            out.append(v)
    return sorted(out, key=Version)


def wheel_url(project: str, version: str, prefer: Iterable[str] = ()) -> str:
    """A wheel of ``project`` ``version``: the smallest whose name contains the first of ``prefer``
    that any has, else the smallest. Raises LookupError when the release has no wheel."""
    wheels = [f for f in releases(project).get(version, []) if f["filename"].endswith(".whl")]
    if not wheels:
        raise LookupError(f"{project} {version} has no wheel on PyPI")
    for word in prefer:
        fitting = [f for f in wheels if word in f["filename"]]
        if fitting:
            wheels = fitting
            break
    return min(wheels, key=lambda f: f["size"])["url"]


def _cache_name(member: str) -> str:
    return member.strip("/").replace("/", "__")


def wheel_members(project: str, version: str, members: Iterable[str], prefer: Iterable[str] = ()) -> list[bytes | None]:
    """The bytes of each of ``members`` (a path inside the wheel, or its ending after a "/") in a wheel
    of ``project`` ``version``, None for a member the wheel lacks. Those not cached yet are read in one
    pass over the zip (one central directory); each is cached after its first read."""
    members = list(members)
    paths = [CACHE / project / version / _cache_name(m) for m in members]
    missing = [m for m, p in zip(members, paths) if not p.exists()]
    if missing:
        with _zip(project, version, prefer) as zf:
            names = zf.namelist()
            for member in missing:
                found = [n for n in names if n == member or n.endswith("/" + member)]
                data = zf.read(found[0]) if found else ABSENT
                _locked_write(CACHE / project / version / _cache_name(member), lambda d=data: d)
    datas = [p.read_bytes() for p in paths]
    return [None if d == ABSENT else d for d in datas]


def wheel_member(project: str, version: str, member: str, prefer: Iterable[str] = ()) -> bytes | None:
    """One member of a wheel (see ``wheel_members``)."""
    return wheel_members(project, version, [member], prefer)[0]


def wheel_member_has(project: str, version: str, member: str, needle: bytes, prefer: Iterable[str] = ()) -> bool | None:
    """Whether ``member`` of a wheel of ``project`` ``version`` contains ``needle``; None when the wheel
    has no such member. Only the answer is cached (for large members: a library, a binary)."""

    def read() -> bytes:
        with _zip(project, version, prefer) as zf:
            names = [n for n in zf.namelist() if n == member or n.endswith("/" + member)]
            return (b"1" if needle in zf.read(names[0]) else b"0") if names else ABSENT

    key = f"{_cache_name(member)}.has-{needle.hex()[:32]}"
    data = _locked_write(CACHE / project / version / key, read)
    return None if data == ABSENT else data == b"1"


def wheel_names(project: str, version: str, prefer: Iterable[str] = ()) -> list[str]:
    """The member names of a wheel of ``project`` ``version`` (its central directory only)."""

    def read() -> bytes:
        with _zip(project, version, prefer) as zf:
            return "\n".join(zf.namelist()).encode()

    return _locked_write(CACHE / project / version / "NAMES", read).decode().splitlines()


def tool_output(project: str, version: str, member: str, args: list[str], prefer: Iterable[str] = ()) -> str:
    """What the executable ``member`` of a wheel prints for ``args`` (e.g. ``ptxas --help``), run
    once from a temporary copy; only the text is cached."""

    def run() -> bytes:
        with _zip(project, version, prefer) as zf:
            names = [n for n in zf.namelist() if n.endswith("/" + member)]
            if not names:
                return ABSENT
            binary = zf.read(names[0])
        with _RUN_LOCK, tempfile.TemporaryDirectory() as tmp:
            exe = Path(tmp) / Path(member).name
            exe.write_bytes(binary)
            exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
            cp = subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=TIMEOUT_S)
            return (cp.stdout + cp.stderr).encode()

    key = _cache_name(member) + "_" + "_".join(a.strip("-") for a in args) + ".txt"
    data = _locked_write(CACHE / project / version / key, run)
    return "" if data == ABSENT else data.decode()


def fetch_all(func: Callable[[T], R], items: Iterable[T], workers: int = 4) -> list[R]:
    """``func`` over ``items`` on a few threads (the downloads wait on the network, not the CPU)."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(func, items))
