"""Looking in the wheelhouses before the official index and before compiling.

For each wheelhouse (``house.locations()``), the page of the target's torch combination is read; its
wheels go through the same choosing as the official index (``choose.classify_links``: tags via
``packaging.tags``, ``--mmcv-version`` and the downstream ranges), then each fitting wheel's record
must fit the target (``match.mismatch``). Of those, ``choose.choose`` takes the newest release with
the most preferred tag; on a tie the first wheelhouse, then the newest build.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

from mmfix.errors import OperationFailed
from mmfix.model import Environment
from mmfix.wheels.choose import Candidate, Rejected, choose, classify_links
from mmfix.wheels.download import default_cache_dir, download_wheel
from mmfix.wheels.house import HouseEntry, locations, read_combo, read_entry
from mmfix.wheels.match import Need, mismatch
from mmfix.wheels.net import make_session
from mmfix.wheels.records import check_against_wheel
from mmfix.wheels.tags import WheelTarget, make_target


@dataclass(frozen=True)
class HousePage:
    """One wheelhouse's page for the target: ``status`` "ok", "missing" or "unreachable"."""

    house: str
    url: str
    status: str
    wheels: int = 0
    detail: str = ""


@dataclass(frozen=True)
class HouseSearch:
    """The outcome of ``find_in_wheelhouses``: the pages read, the chosen wheel (None when none
    fits) and every other wheel with the reason it was passed over."""

    need: Need
    target: WheelTarget
    pages: tuple[HousePage, ...]
    chosen: HouseEntry | None
    passed_over: tuple[Rejected, ...] = ()

    def __bool__(self) -> bool:
        return self.chosen is not None


def find_in_wheelhouses(
    env: Environment,
    need: Need,
    mmcv_version: str | None = None,
    where: list[str] | None = None,
    session: object = None,
) -> HouseSearch:
    """Choose the wheelhouse wheel for ``env`` (``need``: what its record must say; ``mmcv_version``:
    a version or specifier, as ``mmfix wheels --mmcv-version``) from ``where`` (default
    ``house.locations()``). A wheelhouse that cannot be read is noted and skipped.

    Raises RecordError (exit 3) when a record of a candidate was changed after it was written, does
    not parse, or names another wheel; UsageError for a bad ``mmcv_version``.
    """
    session = session or make_session()
    target = make_target(env, mmcv_version)
    pages: list[HousePage] = []
    passed: list[Rejected] = []
    fitting: list[Candidate] = []
    entries: dict[int, HouseEntry] = {}
    for loc in locations() if where is None else where:
        try:
            url, status, listed = read_combo(loc, need.combo, session)
        except OperationFailed as exc:
            pages.append(HousePage(loc, loc, "unreachable", detail=exc.one_line()))
            continue
        pages.append(HousePage(loc, url, status, len(listed)))
        by_url = {urljoin(url, e.href): e for e in listed}
        ok, others, rejected = classify_links(url, [f"{e.href}#sha256={e.sha256}" for e in listed], target)
        passed += [Rejected(r.filename, f"{r.reason} [{loc}]", r.url) for r in rejected]
        del others  # another --mmcv-version: listed among the rejected already
        for cand in ok:
            entry = read_entry(loc, url, by_url[cand.link.url], session)
            why = mismatch(entry.record, need)
            if why:
                passed.append(Rejected(cand.link.filename, f"{why} [{loc}]", cand.link.url))
                continue
            fitting.append(cand)
            entries[id(cand)] = entry
    best, also = choose(fitting)
    passed += also
    return HouseSearch(need, target, tuple(pages), entries[id(best)] if best else None, tuple(passed))


def fetch_checked(entry: HouseEntry, session: object = None) -> Path:
    """The chosen wheel, copied into mmfix's cache with its bytes checked against its page's sha256
    (``download_wheel``) and its record checked against the wheel (``records.check_against_wheel``).

    Raises RefusedError (exit 3) for a wheel or record that does not match; OperationFailed when the
    wheel cannot be fetched.
    """
    folder = default_cache_dir() / "wheelhouse" / (entry.link.sha256 or "")[:16]
    path = download_wheel(entry.link, folder, session)  # type: ignore[arg-type]
    check_against_wheel(entry.record, path, entry.link.sha256 or "")
    return path
