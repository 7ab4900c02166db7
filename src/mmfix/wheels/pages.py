"""Index pages: reading the ``<a href>`` lists of OpenMMLab's index and of wheelhouses, and writing
the pages of a wheelhouse.

A page is plain HTML with one ``<a href="...">`` per file, the format pip reads with
``--find-links`` (and the PEP 503 project-page format): ``#sha256=<hex>`` after an href is the
file's hash, which pip and mmfix check before installing.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import requests

from mmfix.errors import OperationFailed
from mmfix.knowledge import wheel_index as K
from mmfix.wheels.net import NETWORK_FIX, get, make_session, timeout_or_default


@dataclass(frozen=True)
class PageFetch:
    """One index page fetched: ``status`` "ok" (read, ``links`` links) or "missing" (404/410)."""

    url: str
    status: str
    detail: str = ""
    links: int = 0


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href"))


def parse_links(text: str) -> list[str | None]:
    """The ``href`` of every ``<a>`` in an index page, in page order (None for an ``<a>`` without).

    Uses the stdlib ``html.parser``; entities are decoded, percent-encoding is kept.
    """
    parser = _LinkParser()
    parser.feed(text)
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
    timeout = timeout_or_default(timeout)
    resp = get(session, url, timeout)
    if resp.status_code in (404, 410):
        return PageFetch(url, "missing", f"HTTP {resp.status_code}"), []
    if resp.status_code != 200:
        raise OperationFailed(
            f"the wheel index {url} answered HTTP {resp.status_code} {resp.reason or ''}".rstrip(),
            fix=NETWORK_FIX,
        )
    hrefs = parse_links(resp.text)
    if not hrefs:
        raise OperationFailed(
            f"the wheel index page {url} has no links",
            why="not a wheel index (an error or login page from a proxy, or a wrong --index-url?)",
            fix=f"check --index-url / {K.INDEX_URL_ENV} (the official base is {K.OFFICIAL_BASE})",
        )
    return PageFetch(url, "ok", links=len(hrefs)), hrefs


def render_page(title: str, links: Iterable[tuple[str, str]], lines: Iterable[str] = ()) -> str:
    """An index page: ``title``, optional text ``lines``, then one ``<a href>`` per (href, text),
    each on its own line (what pip's ``--find-links`` and PEP 503 clients read)."""
    esc = html.escape
    body = [f"<p>{esc(line)}</p>" for line in lines]
    body += [f'<a href="{esc(href, quote=True)}">{esc(text)}</a><br>' for href, text in links]
    return (
        "<!DOCTYPE html>\n<html>\n<head>\n"
        '<meta name="pypi:repository-version" content="1.0">\n'
        f"<title>{esc(title)}</title>\n</head>\n<body>\n<h1>{esc(title)}</h1>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
