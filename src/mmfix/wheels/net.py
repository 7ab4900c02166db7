"""HTTP for wheel indexes and wheelhouses: one requests session with retries and proxies, timeouts,
``file://`` URLs read from disk, and network errors turned into one line (what, why, fix)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from mmfix.errors import OperationFailed

# (connect, read) seconds for one HTTP request; MMFIX_HTTP_TIMEOUT="S" sets both.
DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 30.0)
NEIGHBOUR_TIMEOUT: tuple[float, float] = (3.0, 10.0)
TIMEOUT_ENV = "MMFIX_HTTP_TIMEOUT"
RETRIES = 2
CHUNK = 1 << 16

NETWORK_FIX = (
    "check the network and the proxy settings (HTTPS_PROXY/HTTP_PROXY), use a mirror with "
    "--index-url or MMFIX_INDEX_URL, or build from source with `mmfix rebuild`"
)


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


def timeout_or_default(timeout: Any) -> Any:
    """``timeout`` when given, else ``$MMFIX_HTTP_TIMEOUT`` (seconds), else ``DEFAULT_TIMEOUT``."""
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


def network_error(url: str, exc: requests.RequestException, timeout: Any) -> OperationFailed:
    """The one-line error for a failed request to ``url``: timeout, proxy, TLS or no connection."""
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
    return OperationFailed(f"cannot reach the wheel index {url}", why=why, fix=NETWORK_FIX)


def get(session: requests.Session, url: str, timeout: Any, stream: bool = False) -> requests.Response:
    """GET ``url`` (http, https, or file: read from disk). Raises OperationFailed on network errors."""
    if url.startswith("file:"):
        return get_file(url)
    try:
        return session.get(url, timeout=timeout, stream=stream)
    except requests.RequestException as exc:
        raise network_error(url, exc, timeout) from None


def file_path(url: str) -> Path:
    """The local path of a ``file://`` URL (percent-decoded)."""
    return Path(unquote(urlsplit(url).path))


def get_file(url: str) -> requests.Response:
    """A local mirror or wheelhouse (``file:///srv/mmcv/dist``): read it as a 200 or a 404 response."""
    resp = requests.Response()
    resp.url = url
    path = file_path(url)
    if path.is_file():
        resp.status_code, resp.reason = 200, "OK"
        resp._content = path.read_bytes()
    else:
        resp.status_code, resp.reason = 404, "Not Found"
        resp._content = b""
    resp._content_consumed = True  # type: ignore[attr-defined]  # iter_content reads _content (no raw stream)
    return resp
