"""The wheelhouse: every verified mmcv build kept with its record, laid out so plain pip can use it.

Layout (a folder, or the same served over HTTP by any static web server)::

    index.html                           links to each combination's page
    cpu/torch2.13.0/index.html           find-links page: one <a> per wheel and per record,
                                         each with #sha256=<hex>
    cpu/torch2.13.0/<sha16>/mmcv-2.2.0-cp311-cp311-linux_x86_64.whl
    cpu/torch2.13.0/<sha16>/mmcv-2.2.0-cp311-cp311-linux_x86_64.whl.json   (the build record)

One page per torch build and release (``{cpu|cu130|rocm6.2}/torch{2.13.0}``, OpenMMLab's spelling
for x.y.0 releases), so ``pip install mmcv==2.2.0 -f URL/cpu/torch2.13.0/index.html`` never mixes
builds for another torch; ``<sha16>`` (the wheel's sha256, first 16 hex digits) keeps two builds of
the same file name (another arch list) apart. Newest first: plain pip takes the first of equal
candidates. The pages are the index: mmfix reads them as pip does, and checks every wheel and record
against the sha256 its page gives.

Writers (``store``, ``prune``) hold a file lock on the wheelhouse (``filelock``; a soft lock where
the file system has no ``flock``) and replace files atomically (a ``.<name>.<random>.mmfix-tmp`` file
+ rename in the same folder; one left by a killed writer is swept by the next, under the lock), so readers see the old or the new page, never half of one, and concurrent builds leave a
consistent index, on a local disk or a shared folder (NFS).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

from mmfix.errors import OperationFailed
from mmfix.patching.journal import atomic_write
from mmfix.patching.safefs import TMP_SUFFIX, sweep_tmp
from mmfix.wheels.choose import Rejected, WheelLink, link_from_href
from mmfix.wheels.pages import fetch_page, render_page
from mmfix.wheels.records import RECORD_SUFFIX, RecordError, WheelRecord, load_record

ENV = "MMFIX_WHEELHOUSE"
PAGE = "index.html"
LOCK = ".mmfix-wheelhouse.lock"
LOCK_TIMEOUT = 600.0  # seconds to wait for another writer
_URL_OR_PATH = re.compile(r"(?:https?|file)://[^:/]*(?::\d+)?[^:]*|[^:]+")


# --- where the wheelhouses are --------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """This run's wheelhouses: ``extra`` from ``--wheelhouse`` (in order), ``enabled`` False for
    ``--no-wheelhouse``. Set once by the CLI, like the output options."""

    extra: tuple[str, ...] = ()
    enabled: bool = True


_settings = Settings()


def configure(extra: Sequence[str] = (), enabled: bool = True) -> None:
    """Set the wheelhouses of this run (``--wheelhouse``, ``--no-wheelhouse``)."""
    global _settings
    _settings = Settings(tuple(extra), enabled)


def settings() -> Settings:
    return _settings


def default_location() -> Path:
    """``<mmfix cache>/wheelhouse``: platformdirs' user cache, or ``$MMFIX_CACHE_DIR`` (not created
    here: ``store`` creates it)."""
    import platformdirs

    return Path(os.environ.get("MMFIX_CACHE_DIR") or platformdirs.user_cache_dir("mmfix")) / "wheelhouse"


def split_env(value: str) -> list[str]:
    """``MMFIX_WHEELHOUSE``: locations separated by ``os.pathsep``; on POSIX the ``:`` inside
    ``http://host:8000/...`` does not split."""
    if os.pathsep != ":":
        return [p.strip() for p in value.split(os.pathsep) if p.strip()]
    return [p.strip() for p in _URL_OR_PATH.findall(value) if p.strip()]


def locations() -> list[str]:
    """The wheelhouses to read, in order: ``--wheelhouse`` as given, then ``$MMFIX_WHEELHOUSE``, then
    the default folder. Empty with ``--no-wheelhouse``."""
    if not _settings.enabled:
        return []
    found: list[str] = []
    for loc in [*_settings.extra, *split_env(os.environ.get(ENV, "")), str(default_location())]:
        if loc not in found:
            found.append(loc)
    return found


def is_remote(location: str) -> bool:
    return urlsplit(location).scheme in ("http", "https")


def folder_of(location: str) -> Path | None:
    """The local folder of a wheelhouse (a path or ``file://`` URL); None for http(s)."""
    parts = urlsplit(location)
    if parts.scheme in ("http", "https"):
        return None
    if parts.scheme == "file":
        from mmfix.wheels.net import file_path

        return file_path(location)
    return Path(location).expanduser().resolve()


def base_url(location: str) -> str:
    """The URL the wheelhouse is read through (``file://`` for a folder), ending in ``/``."""
    folder = folder_of(location)
    url = folder.as_uri() if folder else location
    return url if url.endswith("/") else url + "/"


# --- writing --------------------------------------------------------------------------------


@contextmanager
def locked(house: Path) -> Iterator[None]:
    """Hold the wheelhouse's writer lock. Raises OperationFailed after ``LOCK_TIMEOUT`` seconds."""
    from filelock import FileLock, SoftFileLock, Timeout

    path = str(house / LOCK)
    try:
        try:
            lock: FileLock | SoftFileLock = FileLock(path, timeout=LOCK_TIMEOUT)
            lock.acquire()
        except NotImplementedError:  # older filelock on a file system without flock
            lock = SoftFileLock(path, timeout=LOCK_TIMEOUT)
            lock.acquire()
    except Timeout:
        raise OperationFailed(f"the wheelhouse {house} is locked by another writer", f"waited {LOCK_TIMEOUT:.0f} s",
                              f"retry later; a lock left by a crashed process on a shared folder is {path}") from None
    try:
        yield
    finally:
        lock.release()


def _file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` by a temporary file in the same folder and a rename, readable by
    whoever serves the folder (``_file_mode``)."""
    atomic_write(path, data, mode=_file_mode())


def copy_atomic(src: Path, dest: Path) -> str:
    """Copy ``src`` to ``dest`` atomically; returns the sha256 of the bytes written."""
    h = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=TMP_SUFFIX, dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
            while block := inp.read(1 << 20):
                h.update(block)
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, _file_mode())
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return h.hexdigest()


@dataclass(frozen=True)
class PageEntry:
    """One wheel on a combination page: ``href`` relative to the page, its and its record's sha256."""

    href: str  # "<sha16>/mmcv-2.2.0-cp311-cp311-linux_x86_64.whl"
    sha256: str
    record_sha256: str

    @property
    def filename(self) -> str:
        return self.href.rsplit("/", 1)[-1]


def page_entries(hrefs: Sequence[str | None]) -> tuple[list[PageEntry], list[str]]:
    """The wheel entries of a wheelhouse page (a wheel link and its record link, both with
    ``#sha256=``), and the hrefs that are neither or have no partner."""
    hashes: dict[str, str] = {}
    odd: list[str] = []
    for href in hrefs:
        url, frag = urldefrag(href or "")
        m = re.fullmatch(r"sha256=([0-9a-f]{64})", frag)
        if m and (url.endswith(".whl") or url.endswith(".whl" + RECORD_SUFFIX)):
            hashes[url] = m.group(1)
        else:
            odd.append(href or "")
    entries = [PageEntry(u, h, hashes[u + RECORD_SUFFIX]) for u, h in hashes.items()
               if u.endswith(".whl") and u + RECORD_SUFFIX in hashes]
    paired = {e.href for e in entries} | {e.href + RECORD_SUFFIX for e in entries}
    return entries, odd + [u for u in hashes if u not in paired]


def _read_local_page(page: Path) -> list[PageEntry]:
    from mmfix.wheels.pages import parse_links

    if not page.is_file():
        return []
    return page_entries(parse_links(page.read_text(encoding="utf-8", errors="replace")))[0]


def _combo_page(combo: str, entries: Sequence[PageEntry]) -> str:
    build, torch = combo.split("/")
    title = f"mmcv wheels for {torch.replace('torch', 'torch ')} ({build})"
    lines = ["Built and verified by mmfix. Install with: pip install mmcv==VERSION -f <this page's URL>",
             "Each .whl.json is the build record of the wheel above it."]
    links: list[tuple[str, str]] = []
    for e in entries:
        links.append((f"{e.href}#sha256={e.sha256}", e.filename))
        links.append((f"{e.href}{RECORD_SUFFIX}#sha256={e.record_sha256}", e.filename + RECORD_SUFFIX))
    return render_page(title, links, lines)


def _combos(house: Path) -> list[str]:
    return sorted(p.parent.relative_to(house).as_posix() for p in house.glob(f"*/torch*/{PAGE}"))


def _write_top(house: Path) -> None:
    combos = _combos(house)
    page = house / PAGE
    if not combos:
        page.unlink(missing_ok=True)
        return
    text = render_page("mmcv wheelhouse", [(f"{c}/{PAGE}", c) for c in combos],
                       ["One page per torch build and release; pass that page to pip -f."])
    write_atomic(page, text.encode())


def _identity_at(record_path: Path) -> str | None:
    try:
        return load_record(record_path.read_bytes(), str(record_path)).identity()
    except (OSError, RecordError):
        return None


def store(house: Path, wheel: Path, record: WheelRecord) -> Path:
    """Keep ``wheel`` and its ``record`` in the wheelhouse folder ``house``; returns the stored wheel.

    Under the writer lock: the wheel and the record are written atomically into
    ``{combo}/{sha16}/``, an older entry of the same build (``WheelRecord.identity``) and entries
    whose files are gone are dropped, and the combination page and the top page are rewritten
    (newest first). Raises OperationFailed when the wheel's bytes are not the record's (it changed
    while being stored) or the lock cannot be had; OSError for a folder that cannot be written.
    """
    combo_dir = house / record.combo
    folder = combo_dir / record.wheel.sha256[:16]
    house.mkdir(parents=True, exist_ok=True)
    with locked(house):
        sweep_tmp([house, combo_dir, folder])  # left by a writer killed mid-write (we hold the lock)
        folder.mkdir(parents=True, exist_ok=True)
        dest = folder / record.wheel.filename
        if copy_atomic(wheel, dest) != record.wheel.sha256:
            dest.unlink(missing_ok=True)
            raise OperationFailed(f"{wheel} changed while it was stored", fix="build again")
        data = record.to_json().encode()
        write_atomic(folder / (record.wheel.filename + RECORD_SUFFIX), data)
        new = PageEntry(f"{folder.name}/{record.wheel.filename}", record.wheel.sha256, hashlib.sha256(data).hexdigest())
        kept: list[PageEntry] = []
        for e in _read_local_page(combo_dir / PAGE):
            if e.href == new.href or not (combo_dir / e.href).is_file():
                continue
            if e.filename == new.filename and _identity_at(combo_dir / (e.href + RECORD_SUFFIX)) == record.identity():
                shutil.rmtree(combo_dir / e.href.rsplit("/", 1)[0], ignore_errors=True)  # the older same build
                continue
            kept.append(e)
        write_atomic(combo_dir / PAGE, _combo_page(record.combo, [new, *kept]).encode())
        _write_top(house)
    return dest


def prune(house: Path, keep: set[str]) -> list[str]:
    """Drop from ``house`` every combination (``cpu/torch2.13.0``) not in ``keep``, and folders no page
    lists (left by an interrupted store). Returns the removed paths, relative to ``house``."""
    removed: list[str] = []
    with locked(house):
        sweep_tmp([house, *(p for p in house.glob("*/torch*") if p.is_dir()), *house.glob("*/torch*/*")])
        for combo in _combos(house):
            combo_dir = house / combo
            if combo not in keep:
                shutil.rmtree(combo_dir)
                removed.append(combo)
                continue
            listed = {e.href.rsplit("/", 1)[0] for e in _read_local_page(combo_dir / PAGE)}
            for sub in sorted(p for p in combo_dir.iterdir() if p.is_dir() and p.name not in listed):
                shutil.rmtree(sub)
                removed.append(f"{combo}/{sub.name}")
        for build in [p for p in house.iterdir() if p.is_dir()]:
            if not any(build.iterdir()):
                build.rmdir()
        _write_top(house)
    return removed


# --- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class HouseEntry:
    """A wheel of a wheelhouse with its checked record."""

    house: str  # the location as given
    link: WheelLink  # absolute URL and the page's sha256
    record: WheelRecord
    record_url: str


def read_entry(location: str, page_url: str, entry: PageEntry, session: object = None) -> HouseEntry:
    """The wheel and record of ``entry`` on ``page_url``: the record is fetched, its bytes checked
    against the page's sha256 and parsed, and it must name the wheel's file and sha256.

    Raises RecordError (exit 3) for a record that was changed, does not parse or names another wheel;
    OperationFailed when it cannot be fetched.
    """
    from mmfix.wheels.net import get, make_session, timeout_or_default

    link = link_from_href(page_url, f"{entry.href}#sha256={entry.sha256}")
    if isinstance(link, Rejected):
        raise RecordError(f"the wheelhouse page {page_url} lists {entry.href}: {link.reason}")
    record_url = urljoin(page_url, entry.href + RECORD_SUFFIX)
    resp = get(session or make_session(), record_url, timeout_or_default(None))  # type: ignore[arg-type]
    if resp.status_code != 200:
        raise OperationFailed(f"cannot read the build record {record_url}", f"HTTP {resp.status_code}")
    digest = hashlib.sha256(resp.content).hexdigest()
    if digest != entry.record_sha256:
        raise RecordError(f"the build record {record_url} does not match the sha256 its page gives",
                          f"page {entry.record_sha256}, record {digest}",
                          "the entry was changed after mmfix wrote it: delete its folder, or pass --no-wheelhouse")
    record = load_record(resp.content, record_url)
    if (record.wheel.filename, record.wheel.sha256) != (link.filename, entry.sha256):
        raise RecordError(f"the build record {record_url} describes {record.wheel.filename} "
                          f"({record.wheel.sha256[:16]}…), not {link.filename} ({entry.sha256[:16]}…)",
                          fix="delete the entry's folder, or pass --no-wheelhouse")
    return HouseEntry(location, link, record, record_url)


def combo_page_url(location: str, combo: str) -> str:
    return base_url(location) + f"{combo}/{PAGE}"


def read_combo(location: str, combo: str, session: object = None) -> tuple[str, str, list[PageEntry]]:
    """Read one combination page of a wheelhouse: (page URL, "ok" or "missing", its entries).
    Raises OperationFailed when the wheelhouse cannot be reached."""
    url = combo_page_url(location, combo)
    fetched, hrefs = fetch_page(url, session)  # type: ignore[arg-type]
    if fetched.status != "ok":
        return url, "missing", []
    return url, "ok", page_entries(hrefs)[0]


def list_combos(location: str, session: object = None) -> list[str]:
    """The combinations a wheelhouse holds, from its top page (none when it has no page yet)."""
    fetched, hrefs = fetch_page(base_url(location) + PAGE, session)  # type: ignore[arg-type]
    if fetched.status != "ok":
        return []
    combos = []
    for href in hrefs:
        m = re.fullmatch(r"([^/]+/torch[^/]+)/index\.html", href or "")
        if m:
            combos.append(m.group(1))
    return combos
