"""Find, download and check OpenMMLab's prebuilt mmcv wheels (issue 7).

The index is a set of plain HTML pages, one per CUDA tag and torch minor version
(``{base}/{cu118|cpu}/torch{M}.{m}.0/index.html``, as mim computes it; the CUDA tag comes from
the target's ``torch.version.cuda``, never from nvcc; CPU and ROCm torch use ``cpu``). Each page is
a list of ``<a href="...">mmcv-2.0.0-cp38-cp38-manylinux1_x86_64.whl</a>`` links. pip silently
compiles the PyPI sdist when no wheel on the page fits, so this module says which one fits and why
the others do not.

Pipeline (each step a small function, testable alone):
``index_base`` -> ``index_pages`` -> ``fetch_page`` -> ``parse_links`` -> ``classify_links`` ->
``find_wheel`` (choose + neighbours) -> ``download_wheel`` (hash-checked, cached).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

import requests
import urllib3
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import compatible_tags, cpython_tags, mac_platforms
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from mmfix.builder.plan import torch_cuda
from mmfix.errors import OperationFailed, UsageError
from mmfix.knowledge import downstream as kd
from mmfix.knowledge import wheel_index as K
from mmfix.model import Downstream, Environment, TargetPython, TorchInfo

# (connect, read) seconds for one HTTP request; MMFIX_HTTP_TIMEOUT="S" sets both.
DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 30.0)
NEIGHBOUR_TIMEOUT: tuple[float, float] = (3.0, 10.0)
TIMEOUT_ENV = "MMFIX_HTTP_TIMEOUT"
RETRIES = 2
CHUNK = 1 << 16

# --- results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WheelLink:
    """One wheel listed on an index page.

    ``url`` is absolute and without fragment; ``sha256`` is the hash the index gives in the link's
    fragment (``#sha256=...``), None when it gives none (the official index gives none).
    """

    filename: str
    url: str
    project: str  # canonical distribution name: "mmcv" or "mmcv-full"
    version: str
    tags: tuple[str, ...]
    sha256: str | None = None
    page: str = ""  # the index page that listed it


@dataclass(frozen=True)
class Rejected:
    """A link on an index page that is not the choice, and why."""

    filename: str  # the file name, or the raw href when it has none
    reason: str
    url: str | None = None


@dataclass(frozen=True)
class Alternative:
    """A wheel that exists for a nearby combination (another mmcv, torch minor or CUDA tag)."""

    index_url: str
    cuda_tag: str
    torch: str  # "2.0"
    wheel: WheelLink
    note: str  # what it would take to use it


@dataclass(frozen=True)
class PageFetch:
    """One index page fetched: ``status`` "ok" (read, ``links`` links) or "missing" (404/410)."""

    url: str
    status: str
    detail: str = ""
    links: int = 0


@dataclass(frozen=True)
class WheelTarget:
    """What a wheel must fit: index combination, interpreter tags, the mmcv versions wanted."""

    cuda_tag: str  # "cu118", "cpu"
    torch: str  # "2.0"
    python: str  # "3.8"
    platform: str  # sys.platform of the target
    machine: str
    tags: tuple[str, ...]  # supported wheel tags, most preferred first
    requested: str = ""  # SpecifierSet from --mmcv-version ("" = any)
    allowed: str = ""  # SpecifierSet from the installed downstream packages ("" = any)
    allowed_by: tuple[str, ...] = ()  # "mmdet 3.3.0: >=3.0.0rc5,<2.2.0"

    def describe(self) -> str:
        return f"Python {self.python}, {self.platform} {self.machine}"


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


def cuda_tag(torch: TorchInfo) -> str:
    """The index's CUDA tag for a torch build: its CUDA release (``builder.plan.torch_cuda``: the
    probed ``torch.version.cuda``, else torch/version.py, else a ``+cuXYZ`` label) "11.8" ->
    "cu118"; CPU and ROCm (``torch.version.hip``) builds -> "cpu" (mim's rule)."""
    release = torch_cuda(torch)
    return "cu" + "".join(release.split(".")[:2]) if release else "cpu"


def torch_minor(version: str) -> tuple[int, int]:
    """(major, minor) of a torch version string such as "2.0.1+cu118". Raises OperationFailed."""
    try:
        release = Version(version).release
    except InvalidVersion:
        raise OperationFailed(
            f"cannot read the torch version {version!r}",
            fix="reinstall torch in the target environment",
        ) from None
    return release[0], (release[1] if len(release) > 1 else 0)


def index_pages(base: str, tag: str, minor: tuple[int, int]) -> list[str]:
    """The page URLs for one combination, in the order tried: ``torch2.0.0`` then ``torch2.0``."""
    if base.endswith(".html"):
        return [base]
    return [f"{base}/{tag}/" + s.format(major=minor[0], minor=minor[1]) for s in K.PAGE_SPELLINGS]


# --- the target's wheel tags ----------------------------------------------------------------

_LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
_WIN_PLATFORMS = {"amd64": "win_amd64", "x86_64": "win_amd64", "arm64": "win_arm64", "x86": "win32"}


def _linux_platforms(machine: str, glibc: str | None) -> list[str]:
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine.lower(), machine)
    try:
        glibc_minor = int((glibc or "2.17").split(".")[1])
    except (IndexError, ValueError):
        glibc_minor = 17
    out: list[str] = []
    for minor in range(glibc_minor, 4, -1):
        out.append(f"manylinux_2_{minor}_{arch}")
        legacy = _LEGACY_MANYLINUX.get(minor)
        if legacy and (minor == 17 or arch in ("x86_64", "i686")):
            out.append(f"{legacy}_{arch}")
    return [*out, f"linux_{arch}"]


def _mac_version(os_release: str, machine: str) -> tuple[int, int]:
    """macOS version from the Darwin kernel release (20 -> 11, 23 -> 14; 19 -> 10.15)."""
    m = re.match(r"(\d+)", os_release or "")
    if not m:
        return (11, 0) if machine == "arm64" else (10, 15)
    darwin = int(m.group(1))
    return (darwin - 9, 0) if darwin >= 20 else (10, max(darwin - 4, 9))


def target_tags(
    target: TargetPython, glibc: str | None = None, os_release: str = ""
) -> tuple[str, ...]:
    """Wheel tags the target interpreter installs, most preferred first.

    The probe's ``target.wheel_tags`` (``packaging.tags.sys_tags`` run in the target) when present;
    else computed with ``packaging.tags`` for the target's Python version and platform: manylinux
    down from ``glibc`` (default 2.17) on Linux, ``win_amd64``/``win_arm64``/``win32`` on Windows,
    ``macosx_*`` from the Darwin release on macOS.
    """
    if target.wheel_tags:
        return tuple(target.wheel_tags)
    major, minor = (list(target.version_tuple) + [0, 0])[:2]
    if target.platform.startswith("linux"):
        platforms = _linux_platforms(target.machine, glibc)
    elif target.platform == "win32":
        platforms = [_WIN_PLATFORMS.get(target.machine.lower(), "win_amd64")]
    elif target.platform == "darwin":
        arch = "arm64" if target.machine.lower() in ("arm64", "aarch64") else "x86_64"
        platforms = list(mac_platforms(_mac_version(os_release, arch), arch))
    else:
        platforms = [f"{target.platform}_{target.machine}".replace("-", "_").replace(".", "_")]
    abi = f"cp{major}{minor}" + ("m" if (major, minor) < (3, 8) else "")
    tags = list(cpython_tags(python_version=(major, minor), abis=[abi], platforms=platforms))
    tags += compatible_tags(
        python_version=(major, minor), interpreter=f"cp{major}{minor}", platforms=platforms
    )
    return tuple(str(t) for t in tags)


# --- the mmcv versions wanted ---------------------------------------------------------------


def requested_spec(mmcv_version: str | None) -> SpecifierSet:
    """``--mmcv-version``: "2.1.0" means ==2.1.0; a specifier (">=2.0,<2.2") is taken as is.

    Raises UsageError for text that is neither.
    """
    if not mmcv_version:
        return SpecifierSet()
    text = mmcv_version.strip()
    try:
        Version(text)
        return SpecifierSet(f"=={text}")
    except InvalidVersion:
        pass
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        raise UsageError(
            f"bad --mmcv-version {mmcv_version!r}",
            why="neither a version nor a version specifier",
            fix="for example --mmcv-version 2.1.0 or --mmcv-version '>=2.0,<2.2'",
        ) from None


def downstream_spec(downstream: tuple[Downstream, ...]) -> tuple[SpecifierSet, tuple[str, ...]]:
    """The mmcv range every installed downstream package allows (their ``__init__.py`` bounds), and
    one "name version: range" line per package that has bounds. An unknown ``max_inclusive`` is
    taken as exclusive (``<``), the form of every 2.x package's assertion."""
    bounded = [d for d in downstream if kd.bound_specs(d)]  # knowledge.downstream builds every range
    return kd.allowed(bounded), tuple(f"{d.name} {d.version}: {kd.spec_for(d)}" for d in bounded)


# --- HTTP -----------------------------------------------------------------------------------


def make_session(retries: int = RETRIES) -> requests.Session:
    """A requests session with retries (urllib3 ``Retry``: connection errors, read timeouts and
    429/5xx answers, with backoff) that honours proxy settings from the environment
    (``HTTPS_PROXY``, ``HTTP_PROXY``, ``NO_PROXY``: ``trust_env`` stays on)."""
    session = requests.Session()
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=0.5,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD"}),
        raise_on_status=False,
    )
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "mmfix (wheel index lookup)"
    return session


def _timeout(timeout: Any) -> Any:
    if timeout is not None:
        return timeout
    env = os.environ.get(TIMEOUT_ENV)
    if env:
        try:
            return float(env)
        except ValueError:
            pass
    return DEFAULT_TIMEOUT


def _seconds(timeout: Any) -> str:
    return f"{max(timeout) if isinstance(timeout, tuple) else timeout:g}"


_NETWORK_FIX = (
    "check the network and the proxy settings (HTTPS_PROXY/HTTP_PROXY), use a mirror with "
    "--index-url or MMFIX_INDEX_URL, or build from source with `mmfix rebuild`"
)


def _timed_out(exc: BaseException) -> bool:
    """True when a requests error was a timeout: requests reports a read timeout that ran out of
    retries as a ConnectionError wrapping urllib3's MaxRetryError(ReadTimeoutError)."""
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, urllib3.exceptions.NewConnectionError):
            return False  # refused / unresolvable: urllib3 derives it from ConnectTimeoutError
        if isinstance(e, (requests.Timeout, TimeoutError, urllib3.exceptions.TimeoutError)):
            return True
        if isinstance(e, BaseException):
            todo += [*e.args, getattr(e, "reason", None), e.__cause__, e.__context__]
    return False


def _network_error(url: str, exc: requests.RequestException, timeout: Any) -> OperationFailed:
    if _timed_out(exc):
        why = f"no answer within {_seconds(timeout)} s (offline? behind a proxy?)"
    elif isinstance(exc, requests.exceptions.ProxyError):
        why = "the proxy refused or could not connect"
    elif isinstance(exc, requests.exceptions.SSLError):
        why = "TLS failed (a proxy that rewrites HTTPS? set REQUESTS_CA_BUNDLE)"
    elif isinstance(exc, requests.ConnectionError):
        why = "cannot connect (offline, or the host name does not resolve)"
    else:
        why = type(exc).__name__
    return OperationFailed(f"cannot reach the wheel index {url}", why=why, fix=_NETWORK_FIX)


def _get(
    session: requests.Session, url: str, timeout: Any, stream: bool = False
) -> requests.Response:
    if url.startswith("file:"):
        return _get_file(url)
    try:
        return session.get(url, timeout=timeout, stream=stream)
    except requests.RequestException as exc:
        raise _network_error(url, exc, timeout) from None


def _get_file(url: str) -> requests.Response:
    """A local mirror (``file:///srv/mmcv/dist``): read it as a 200 or a 404 response."""
    resp = requests.Response()
    resp.url = url
    path = Path(unquote(urlsplit(url).path))
    if path.is_file():
        resp.status_code, resp.reason = 200, "OK"
        resp._content = path.read_bytes()
        resp._content_consumed = True  # type: ignore[attr-defined,unused-ignore]  # iter_content() reads _content
    else:
        resp.status_code, resp.reason = 404, "Not Found"
        resp._content = b""
    return resp


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href"))


def parse_links(html: str) -> list[str | None]:
    """The ``href`` of every ``<a>`` in an index page, in page order (None for an ``<a>`` without).

    Uses the stdlib ``html.parser``; entities are decoded, percent-encoding is kept.
    """
    parser = _LinkParser()
    parser.feed(html)
    parser.close()
    return parser.hrefs


def fetch_page(
    url: str, session: requests.Session | None = None, timeout: Any = None
) -> tuple[PageFetch, list[str | None]]:
    """GET one index page. Returns its ``PageFetch`` and its hrefs; a 404/410 is ``missing``.

    Raises OperationFailed (one line: what, why, fix) when the index cannot be reached (offline,
    timeout, proxy, TLS), answers another HTTP error, or answers a page without links (not an index:
    an error or login page from a proxy).
    """
    session = session or make_session()
    timeout = _timeout(timeout)
    resp = _get(session, url, timeout)
    if resp.status_code in (404, 410):
        return PageFetch(url, "missing", f"HTTP {resp.status_code}"), []
    if resp.status_code != 200:
        raise OperationFailed(
            f"the wheel index {url} answered HTTP {resp.status_code} {resp.reason or ''}".rstrip(),
            fix=_NETWORK_FIX,
        )
    hrefs = parse_links(resp.text)
    if not hrefs:
        raise OperationFailed(
            f"the wheel index page {url} has no links",
            why="not a wheel index (an error or login page from a proxy, or a wrong --index-url?)",
            fix=f"check --index-url / {K.INDEX_URL_ENV} (the official base is {K.OFFICIAL_BASE})",
        )
    return PageFetch(url, "ok", links=len(hrefs)), hrefs


# --- reading the links ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    link: WheelLink
    rank: int  # position of its best tag in the target's tag list (0 = most preferred)

    @property
    def key(self) -> tuple[Version, int]:
        return Version(self.link.version), -self.rank


def _link_from_href(page: str, href: str | None) -> WheelLink | Rejected:
    """Resolve one href against its page: a WheelLink for a well-formed wheel, else Rejected."""
    raw = (href or "").strip()
    if not raw:
        return Rejected(href or "<a> without href", "malformed href: empty")
    try:
        absolute = urljoin(page, raw)
        url, fragment = urldefrag(absolute)
        parts = urlsplit(url)
    except ValueError as exc:
        return Rejected(raw, f"malformed href: {exc}")
    if parts.scheme not in ("http", "https", "file"):
        return Rejected(raw, f"malformed href: scheme {parts.scheme!r} is not http(s)")
    filename = unquote(parts.path.rsplit("/", 1)[-1])
    if not filename.endswith(".whl"):
        return Rejected(filename or raw, "not a wheel file", url)
    try:
        name, version, _build, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename as exc:
        return Rejected(filename, f"malformed wheel file name: {exc}", url)
    sha256 = None
    m = re.fullmatch(r"sha256=([0-9a-fA-F]{64})", fragment or "")
    if m:
        sha256 = m.group(1).lower()
    return WheelLink(
        filename=filename,
        url=url,
        project=str(canonicalize_name(name)),
        version=str(version),
        tags=tuple(sorted(str(t) for t in tags)),
        sha256=sha256,
        page=page,
    )


def classify_links(
    page: str, hrefs: list[str | None], target: WheelTarget
) -> tuple[list[_Candidate], list[_Candidate], list[Rejected]]:
    """Sort a page's links into wheels that install in the target and satisfy every version
    constraint, wheels that install but miss ``--mmcv-version`` while inside the downstream ranges
    (alternatives), and the rest with a reason each."""
    rank = {t: i for i, t in enumerate(target.tags)}
    requested, allowed = SpecifierSet(target.requested), SpecifierSet(target.allowed)
    fitting: list[_Candidate] = []
    other_versions: list[_Candidate] = []
    rejected: list[Rejected] = []
    for href in hrefs:
        item = _link_from_href(page, href)
        if isinstance(item, Rejected):
            rejected.append(item)
            continue
        reason = _reject_reason(item, rank, target)
        if reason:
            rejected.append(Rejected(item.filename, reason, item.url))
            continue
        cand = _Candidate(item, min(rank[t] for t in item.tags if t in rank))
        version = Version(item.version)
        if not allowed.contains(version, prereleases=True):
            rejected.append(
                Rejected(item.filename, f"mmcv {version} is outside {_ranges(target)}", item.url)
            )
        elif not requested.contains(version, prereleases=True):
            other_versions.append(cand)
            rejected.append(
                Rejected(item.filename, f"not the requested mmcv {requested}", item.url)
            )
        else:
            fitting.append(cand)
    return fitting, other_versions, rejected


def _ranges(target: WheelTarget) -> str:
    return "the installed packages' ranges (" + "; ".join(target.allowed_by) + ")"


def _reject_reason(link: WheelLink, rank: dict[str, int], target: WheelTarget) -> str | None:
    ops_range = K.OPS_PACKAGES.get(link.project)
    if ops_range is None:
        return f"not mmcv (distribution {link.project})"
    if not SpecifierSet(ops_range).contains(Version(link.version), prereleases=True):
        return f"{link.project} {link.version} has no compiled ops (only {link.project}{ops_range})"
    if all(t.endswith("-any") for t in link.tags):
        return "a pure-Python wheel: no compiled ops"
    if not any(t in rank for t in link.tags):
        return (
            f"its tags ({', '.join(link.tags)}) do not install in the target ({target.describe()})"
        )
    return None


def _choose(fitting: list[_Candidate]) -> tuple[_Candidate | None, list[Rejected]]:
    """Newest final version first (pre-releases only when no final one fits, as pip does), then the
    most preferred tag."""
    if not fitting:
        return None, []
    versions = [c.link.version for c in fitting]
    eligible = set(SpecifierSet().filter(versions))
    ordered = sorted(fitting, key=lambda c: c.key, reverse=True)
    best = next(c for c in ordered if c.link.version in eligible)
    rejected = []
    for c in ordered:
        if c is best:
            continue
        if c.link.version not in eligible:
            why = "a pre-release (a final release fits)"
        elif c.link.version == best.link.version:
            why = f"a less preferred tag than {best.link.filename}"
        else:
            why = f"older than mmcv {best.link.version}"
        rejected.append(Rejected(c.link.filename, why, c.link.url))
    return best, rejected


# --- the search -----------------------------------------------------------------------------


def make_target(env: Environment, mmcv_version: str | None = None) -> WheelTarget:
    """The ``WheelTarget`` of an environment. Raises OperationFailed when it has no torch."""
    if env.torch is None:
        raise OperationFailed(
            "no torch in the target environment",
            why="mmcv wheels are built per torch version and CUDA tag",
            fix=f"install torch into {env.target.executable} first",
        )
    allowed, allowed_by = downstream_spec(env.downstream)
    major, minor = torch_minor(env.torch.version)
    py = env.target.version_tuple
    return WheelTarget(
        cuda_tag=cuda_tag(env.torch),
        torch=f"{major}.{minor}",
        python=f"{py[0]}.{py[1]}" if len(py) > 1 else env.target.version,
        platform=env.target.platform,
        machine=env.target.machine,
        tags=target_tags(env.target, env.host.glibc, env.host.os_release),
        requested=str(requested_spec(mmcv_version)),
        allowed=str(allowed),
        allowed_by=allowed_by,
    )


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
    fitting: list[_Candidate] = []
    other_versions: list[_Candidate] = []
    rejected: list[Rejected] = []
    for url in urls:
        fetched, hrefs = fetch_page(url, session, timeout)
        pages.append(fetched)
        if fetched.status == "ok":
            fitting, other_versions, rejected = classify_links(url, hrefs, target)
            break
    best, also_rejected = _choose(fitting)
    chosen = best.link if best else None
    alternatives = [
        _alternative(
            c, target, f"mmcv {c.link.version} instead of the requested {target.requested}"
        )
        for c in _best_per_version(other_versions)
    ]
    if best:
        older = [c for c in fitting if c.link.version != best.link.version]
        alternatives += [
            _alternative(c, target, f"mmcv {c.link.version}") for c in _best_per_version(older)
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


def _best_per_version(cands: list[_Candidate]) -> list[_Candidate]:
    best: dict[str, _Candidate] = {}
    for c in cands:
        if c.link.version not in best or c.rank < best[c.link.version].rank:
            best[c.link.version] = c
    return sorted(best.values(), key=lambda c: c.key, reverse=True)


def _alternative(
    c: _Candidate, target: WheelTarget, note: str, cuda: str = "", torch: str = ""
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
        best, _ = _choose(fitting)
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


# --- downloading ----------------------------------------------------------------------------


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
    resp = _get(session, link.url, timeout, stream=True)
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
        raise _network_error(link.url, exc, timeout) from None
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

    Raises OperationFailed on a hash mismatch, two differing downloads, a non-zip file, HTTP or
    network errors. Nothing unchecked is left under the final name.
    """
    from filelock import FileLock

    session = session or make_session()
    timeout = _timeout(timeout)
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
                raise OperationFailed(
                    f"{link.filename} does not match the sha256 the index gives",
                    why=f"index {link.sha256}, downloaded {digest}",
                    fix="the file was altered or cut short on the way (proxy, mirror): retry, "
                    "or use another --index-url",
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


# --- installing -----------------------------------------------------------------------------


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


def install_from_index(
    link: WheelLink,
    env: Environment,
    *,
    yes: bool,
    cache_dir: Path | None = None,
    session: requests.Session | None = None,
) -> WheelInstall:
    """Download ``link`` (hash-checked, ``download_wheel``), install it into ``env``'s target with
    the target's pip and verify it as ``mmfix rebuild`` does (``mmfix.builder.install.install_wheel``,
    ``mmfix.builder.verify.verify_install``: replaces the old mmcv, asks first unless ``yes``).

    Raises OperationFailed when the download fails its checks or the install helpers are missing.
    """
    path = download_wheel(link, cache_dir, session)
    digest = file_sha256(path)
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
        return WheelInstall(path, digest, installed, None)
    verified = verify_install(python, archs=None)
    return WheelInstall(path, digest, installed, verified)
