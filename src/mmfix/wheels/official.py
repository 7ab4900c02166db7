"""OpenMMLab's prebuilt mmcv wheels (issue 7): find the one that fits the target, or say why none does.

The index is a set of plain HTML pages, one per CUDA tag and torch minor version
(``{base}/{cu118|cpu}/torch{M}.{m}.0/index.html``, as mim computes it; the CUDA tag comes from
the target's ``torch.version.cuda``, never from nvcc; CPU and ROCm torch use ``cpu``). Each page is
a list of ``<a href="...">mmcv-2.0.0-cp38-cp38-manylinux1_x86_64.whl</a>`` links. pip silently
compiles the PyPI sdist when no wheel on the page fits, so this module says which one fits and why
the others do not.

Pipeline (each step a small function, testable alone):
``index_base`` -> ``index_pages`` -> ``pages.fetch_page`` -> ``choose.classify_links`` ->
``find_wheel`` (choose + neighbours) -> ``download.download_wheel`` (hash-checked, cached).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from mmfix.errors import OperationFailed, UsageError
from mmfix.knowledge import wheel_index as K
from mmfix.model import Environment
from mmfix.wheels.choose import Candidate, Rejected, WheelLink, best_per_version, choose, classify_links
from mmfix.wheels.net import NEIGHBOUR_TIMEOUT, make_session
from mmfix.wheels.pages import PageFetch, fetch_page
from mmfix.wheels.tags import WheelTarget, make_target


@dataclass(frozen=True)
class Alternative:
    """A wheel that exists for a nearby combination (another mmcv, torch minor or CUDA tag)."""

    index_url: str
    cuda_tag: str
    torch: str  # "2.0"
    wheel: WheelLink
    note: str  # what it would take to use it



@dataclass(frozen=True)
class WheelSearch:
    """The outcome of ``find_wheel``.

    ``index_urls``: the pages tried for the target's own combination, in order; ``chosen``: the
    wheel that installs in the target (None when none fits); ``rejected``: every other link with its
    reason;
    ``alternatives``: wheels for nearby combinations; ``notes``: facts the user should know.
    """

    target: WheelTarget
    base: str
    index_urls: tuple[str, ...]
    pages: tuple[PageFetch, ...]
    chosen: WheelLink | None
    rejected: tuple[Rejected, ...] = ()
    alternatives: tuple[Alternative, ...] = ()
    notes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        """True when a wheel was chosen (``if find_wheel(env): ...``)."""
        return self.chosen is not None

    @property
    def index_url(self) -> str:
        """The page that was read (the one holding the choice), else the first one tried."""
        for p in self.pages:
            if p.status == "ok" and p.url in self.index_urls:
                return p.url
        return self.index_urls[0]


# --- the index URL --------------------------------------------------------------------------


def index_base(index_url: str | None = None) -> str:
    """The index base URL: ``index_url`` (``--index-url``), else ``$MMFIX_INDEX_URL``, else the
    official ``https://download.openmmlab.com/mmcv/dist``. A URL ending in ``.html`` names one
    page directly.

    Raises UsageError when the URL has no http/https/file scheme or no host.
    """
    base = index_url or os.environ.get(K.INDEX_URL_ENV) or K.OFFICIAL_BASE
    base = base.strip()
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https", "file") or (
        parts.scheme != "file" and not parts.netloc
    ):
        source = "--index-url" if index_url else K.INDEX_URL_ENV
        raise UsageError(
            f"bad wheel index URL {base!r}",
            why=f"{source} needs an http(s):// URL with a host, or a file:// path",
            fix=f"for example {K.OFFICIAL_BASE}",
        )
    return base if base.endswith(".html") else base.rstrip("/")


def index_pages(base: str, tag: str, minor: tuple[int, int]) -> list[str]:
    """The page URLs for one combination, in the order tried: ``torch2.0.0`` then ``torch2.0``."""
    if base.endswith(".html"):
        return [base]
    return [f"{base}/{tag}/" + s.format(major=minor[0], minor=minor[1]) for s in K.PAGE_SPELLINGS]



# --- the search -----------------------------------------------------------------------------


def find_wheel(
    env: Environment,
    index_url: str | None = None,
    mmcv_version: str | None = None,
    session: requests.Session | None = None,
    *,
    timeout: Any = None,
    neighbours: bool = True,
) -> WheelSearch:
    """Find the one prebuilt mmcv wheel that installs in ``env``'s target interpreter.

    In: the probed ``Environment`` (torch version and ``torch.version.cuda`` from torch's
    ``version.py``; the target's Python, platform and wheel tags; downstream mmcv bounds from their
    ``__init__.py``), an optional base URL (else ``$MMFIX_INDEX_URL``, else the official index), an
    optional ``--mmcv-version``. Tries ``torch{M}.{m}.0`` then ``torch{M}.{m}`` under
    ``{base}/{cuda_tag}/``; picks the newest mmcv inside every constraint, then the most preferred
    tag. When nothing fits and ``neighbours``, reads a few neighbouring pages (other torch minors
    and CUDA tags, at most ``MAX_NEIGHBOUR_PAGES``) for ``alternatives``.

    Out: a ``WheelSearch`` (``chosen`` None when no wheel fits, with the reasons in ``rejected``).
    Raises OperationFailed when the index cannot be read (offline, timeout, HTTP error, a page
    without links), UsageError for a bad URL or version.
    """
    session = session or make_session()
    target = make_target(env, mmcv_version)
    base = index_base(index_url)
    major, minor = (int(x) for x in target.torch.split("."))
    urls = index_pages(base, target.cuda_tag, (major, minor))
    pages: list[PageFetch] = []
    fitting: list[Candidate] = []
    other_versions: list[Candidate] = []
    rejected: list[Rejected] = []
    for url in urls:
        fetched, hrefs = fetch_page(url, session, timeout)
        pages.append(fetched)
        if fetched.status == "ok":
            fitting, other_versions, rejected = classify_links(url, hrefs, target)
            break
    best, also_rejected = choose(fitting)
    chosen = best.link if best else None
    alternatives = [
        _alternative(
            c, target, f"mmcv {c.link.version} instead of the requested {target.requested}"
        )
        for c in best_per_version(other_versions)
    ]
    if best:
        older = [c for c in fitting if c.link.version != best.link.version]
        alternatives += [
            _alternative(c, target, f"mmcv {c.link.version}") for c in best_per_version(older)
        ]
    notes = list(_notes(env, target, pages, chosen))
    if chosen is None and neighbours and not base.endswith(".html"):
        found, probe_notes = _neighbours(base, target, urls, pages, session)
        alternatives += found
        notes += probe_notes
    if chosen is None:
        notes.append(
            "no prebuilt wheel fits this environment: `mmfix rebuild` builds mmcv with ops for it"
        )
    return WheelSearch(
        target=target,
        base=base,
        index_urls=tuple(urls),
        pages=tuple(pages),
        chosen=chosen,
        rejected=tuple(rejected + also_rejected),
        alternatives=tuple(alternatives),
        notes=tuple(notes),
    )


def _alternative(
    c: Candidate, target: WheelTarget, note: str, cuda: str = "", torch: str = ""
) -> Alternative:
    return Alternative(c.link.page, cuda or target.cuda_tag, torch or target.torch, c.link, note)


def _notes(
    env: Environment, target: WheelTarget, pages: list[PageFetch], chosen: WheelLink | None
) -> list[str]:
    notes = []
    if env.torch is not None and env.torch.hip:
        notes.append("ROCm torch: the index has no ROCm wheels; a `cpu` wheel has no GPU ops")
    if all(p.status == "missing" for p in pages):
        notes.append(
            f"the index has no page for {target.cuda_tag} + torch {target.torch} "
            f"({', '.join(p.url + ' ' + p.detail for p in pages)})"
        )
    major, minor = (int(x) for x in target.torch.split("."))
    if (major, minor) > K.LAST_OFFICIAL_TORCH and chosen is None:
        last = ".".join(map(str, K.LAST_OFFICIAL_TORCH))
        notes.append(
            f"official mmcv wheels stop at torch {last} (mmcv 2.2.0): torch {target.torch} has "
            "none, a mirror of them neither"
        )
    return notes


def neighbour_combinations(target: WheelTarget, base: str) -> list[tuple[str, tuple[int, int]]]:
    """Nearby (cuda_tag, (torch major, minor)) pairs to look at, nearest first, at most
    ``MAX_NEIGHBOUR_PAGES``.

    Other torch minors with the same CUDA tag; for a torch newer than ``LAST_OFFICIAL_TORCH`` the
    last two official minors instead (only those on the official index). Then other CUDA tags for
    the same torch (or the last official one): the nearest in the table first, the same CUDA major
    on ties; then ``cpu``.
    """
    major, minor = (int(x) for x in target.torch.split("."))
    own = (major, minor)
    last = K.LAST_OFFICIAL_TORCH
    beyond = own > last
    if beyond:
        torches = [] if base == K.OFFICIAL_BASE else [(major, minor - 1)]
        torches += [last, (last[0], last[1] - 1)]
    else:
        torches = [(major, minor - 1), (major, minor + 1), (major, minor - 2)]
    combos = [(target.cuda_tag, t) for t in torches if t[1] >= 0]
    if target.cuda_tag != "cpu":
        cuda_torch = last if beyond else own
        tags = list(K.KNOWN_CUDA_TAGS)
        here = tags.index(target.cuda_tag) if target.cuda_tag in tags else len(tags)
        same_major = target.cuda_tag[:4]
        others = sorted(
            (t for t in tags if t != target.cuda_tag),
            key=lambda t: (abs(tags.index(t) - here), t[:4] != same_major),
        )
        combos += [(t, cuda_torch) for t in others[:3]]
        combos.append(("cpu", cuda_torch))
    seen: list[tuple[str, tuple[int, int]]] = []
    for c in combos:
        if c not in seen and c != (target.cuda_tag, own):
            seen.append(c)
    return seen[: K.MAX_NEIGHBOUR_PAGES]


def _neighbours(
    base: str,
    target: WheelTarget,
    own_urls: list[str],
    pages: list[PageFetch],
    session: requests.Session,
) -> tuple[list[Alternative], list[str]]:
    """Read the neighbouring pages; the best wheel for the target on each is an alternative.

    Network errors here end the look-around quietly (one note), they do not fail the search.
    """
    ok = [p.url for p in pages if p.status == "ok"]
    spelling = K.PAGE_SPELLINGS[own_urls.index(ok[0])] if ok else K.PAGE_SPELLINGS[0]
    # Neighbours keep the requested version out: any mmcv inside the downstream ranges will do.
    loose = dataclasses.replace(target, requested="")
    found: list[Alternative] = []
    for tag, (major, minor) in neighbour_combinations(target, base):
        url = f"{base}/{tag}/" + spelling.format(major=major, minor=minor)
        try:
            fetched, hrefs = fetch_page(url, session, NEIGHBOUR_TIMEOUT)
        except OperationFailed as exc:
            if "cannot reach" in exc.what:
                return found, [f"stopped looking at neighbouring index pages: {exc.one_line()}"]
            continue
        if fetched.status != "ok":
            continue
        fitting, _, _ = classify_links(url, hrefs, loose)
        best, _ = choose(fitting)
        if best:
            found.append(
                _alternative(
                    best,
                    target,
                    _what_it_takes(tag, f"{major}.{minor}", target),
                    tag,
                    f"{major}.{minor}",
                )
            )
    return found, []


def _what_it_takes(tag: str, torch: str, target: WheelTarget) -> str:
    cuda = "CPU-only" if tag == "cpu" else f"CUDA {tag[2:-1]}.{tag[-1]}"
    if tag == target.cuda_tag:
        text = f"needs torch {torch}.x ({cuda}) instead of torch {target.torch}"
    elif torch == target.torch:
        text = f"needs a torch {torch} built for {cuda} instead of {target.cuda_tag}"
    else:
        text = f"needs torch {torch}.x ({cuda} build)"
    if tag == "cpu" and target.cuda_tag != "cpu":
        text += "; its ops run on the CPU only"
    return text


