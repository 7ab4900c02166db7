"""A local wheel index laid out like download.openmmlab.com/mmcv/dist, served by pytest-httpserver.

Pages are plain ``<a href="...">file</a><br>`` lists, one per ``{cuda_tag}/torch{M}.{m}.0`` folder;
the wheels are tiny real zip files (a METADATA, a WHEEL and ``mmcv/__init__.py``) made here.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass, field

from pytest_httpserver import HTTPServer

from mmfix.model import Downstream, Environment, Host, TargetPython, TorchInfo

BASE_PATH = "/mmcv/dist"


def wheel_bytes(project: str, version: str, tag: str) -> bytes:
    """A small, valid wheel (zip) for ``project`` ``version`` with one tag."""
    dist = f"{project.replace('-', '_')}-{version}.dist-info"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("mmcv/__init__.py", f"__version__ = '{version}'\n")
        z.writestr(
            f"{dist}/METADATA", f"Metadata-Version: 2.1\nName: {project}\nVersion: {version}\n"
        )
        z.writestr(f"{dist}/WHEEL", f"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: {tag}\n")
        z.writestr(f"{dist}/RECORD", "")
    return buf.getvalue()


def wheel_name(project: str, version: str, tag: str) -> str:
    return f"{project.replace('-', '_')}-{version}-{tag}.whl"


def page_html(links: list[tuple[str | None, str]]) -> str:
    """An index page: ``<a href=...>text</a><br>`` per link (href None: an ``<a>`` without href)."""
    rows = []
    for href, text in links:
        attr = "" if href is None else f' href="{href}"'
        rows.append(f"<a{attr}>{text}</a><br>")
    return "<html>\n<body>\n" + "\n".join(rows) + "\n</body>\n</html>\n"


@dataclass
class WheelIndex:
    """Pages and wheels on a pytest-httpserver; missing paths answer 404 like a static server."""

    server: HTTPServer
    files: dict[str, bytes] = field(default_factory=dict)  # URL path -> served bytes

    def __post_init__(self) -> None:
        self.server.no_handler_status_code = 404

    @property
    def base(self) -> str:
        return self.server.url_for(BASE_PATH)

    def add_page(
        self,
        folder: str,
        wheels: list[tuple[str, str, str]],
        *,
        href: str = "relative",
        sha256: bool = False,
        extra: list[tuple[str | None, str]] | None = None,
        spelling: str = "torch{}.0",
    ) -> str:
        """Serve ``{base}/{folder}/index.html`` listing ``wheels`` (project, version, tag) and the
        wheels themselves. ``href``: "relative", "absolute" or "encoded" (``%2B`` for ``+``, as the
        old index did); ``sha256``: add ``#sha256=`` fragments. Returns the page URL."""
        path = f"{BASE_PATH}/{folder}/index.html"
        links: list[tuple[str | None, str]] = []
        for project, version, tag in wheels:
            name = wheel_name(project, version, tag)
            data = wheel_bytes(project, version, tag)
            wheel_path = f"{BASE_PATH}/{folder}/{name}"
            self.serve(wheel_path, data)
            ref = {
                "relative": name,
                "absolute": self.server.url_for(wheel_path),
                "encoded": name.replace("+", "%2B"),
            }[href]
            if sha256:
                ref += "#sha256=" + hashlib.sha256(data).hexdigest()
            links.append((ref, name))
        links += extra or []
        self.server.expect_request(path).respond_with_data(
            page_html(links), content_type="text/html"
        )
        return self.server.url_for(path)

    def serve(self, path: str, data: bytes) -> None:
        self.files[path] = data
        self.server.expect_request(path).respond_with_data(
            data, content_type="application/octet-stream"
        )


PYTHONS = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13")


def cp(py: str) -> str:
    return "cp" + py.replace(".", "")


def linux(py: str) -> str:
    return f"{cp(py)}-{cp(py)}-manylinux1_x86_64"


def win(py: str) -> str:
    return f"{cp(py)}-{cp(py)}-win_amd64"


def make_env(
    python: str = "3.8.18",
    platform: str = "linux",
    machine: str = "x86_64",
    torch: str = "2.0.1+cu118",
    cuda: str | None = "11.8",
    hip: str | None = None,
    downstream: tuple[Downstream, ...] = (),
    wheel_tags: tuple[str, ...] = (),
    glibc: str | None = "2.36",
) -> Environment:
    """An Environment as the probe would report it, for the parts the wheel lookup reads."""
    return Environment(
        target=TargetPython(
            executable="/envs/t/bin/python",
            version=python,
            platform=platform,
            machine=machine,
            wheel_tags=wheel_tags,
        ),
        host=Host(
            os={"linux": "Linux", "win32": "Windows", "darwin": "Darwin"}[platform], glibc=glibc
        ),
        torch=TorchInfo(version=torch, location="/envs/t/torch", cuda=cuda, hip=hip),
        downstream=downstream,
    )
