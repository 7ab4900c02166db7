"""The wheel lookup against a real local HTTP server laid out like the official mmcv index."""

from __future__ import annotations

import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from packaging.tags import sys_tags
from pytest_httpserver import HTTPServer
from test_wheels_support import PYTHONS, WheelIndex, cp, linux, make_env, win
from werkzeug.wrappers import Request, Response

from mmfix import wheels
from mmfix.errors import OperationFailed, UsageError
from mmfix.knowledge import wheel_index as K
from mmfix.model import Downstream, TargetPython, TorchInfo


@pytest.fixture
def index(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> WheelIndex:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv(K.INDEX_URL_ENV, raising=False)
    monkeypatch.delenv(wheels.TIMEOUT_ENV, raising=False)
    return WheelIndex(httpserver)


def cu118_torch20(index: WheelIndex) -> str:
    """cu118/torch2.0.0 as the official index has it: mmcv 2.0.0 and 2.0.1, cp38-cp311, Linux and
    Windows wheels."""
    wheels_ = [
        ("mmcv", v, tag(py))
        for v in ("2.0.0", "2.0.1")
        for py in ("3.8", "3.9", "3.10", "3.11")
        for tag in (linux, win)
    ]
    return index.add_page("cu118/torch2.0.0", wheels_)


# --- the URL and the target -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("cuda", "hip", "tag"),
    [
        ("11.8", None, "cu118"),
        ("10.2", None, "cu102"),
        ("12.1", None, "cu121"),
        ("9.2", None, "cu92"),
        (None, None, "cpu"),
        (None, "6.0.32830", "cpu"),
    ],
)
def test_cuda_tag_comes_from_torch_version_cuda(
    cuda: str | None, hip: str | None, tag: str
) -> None:
    torch = TorchInfo(version="2.0.1", location="/t", cuda=cuda, hip=hip)
    assert wheels.cuda_tag(torch) == tag


@pytest.mark.parametrize(
    ("version", "tag"), [("2.14.1+cu130", "cu130"), ("2.13.0+cpu", "cpu"), ("2.4.0", "cpu")]
)
def test_cuda_tag_from_local_label_when_cuda_unknown(version: str, tag: str) -> None:
    assert wheels.cuda_tag(TorchInfo(version=version, location="/t")) == tag


def test_index_pages_both_spellings() -> None:
    base = K.OFFICIAL_BASE
    assert wheels.index_pages(base, "cu118", (2, 0)) == [
        f"{base}/cu118/torch2.0.0/index.html",
        f"{base}/cu118/torch2.0/index.html",
    ]
    assert wheels.torch_minor("2.13.0+cpu") == (2, 13)
    assert wheels.torch_minor("1.7.1") == (1, 7)


def test_index_base_override_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(K.INDEX_URL_ENV, raising=False)
    assert wheels.index_base() == K.OFFICIAL_BASE
    monkeypatch.setenv(K.INDEX_URL_ENV, "https://mirror.example/mmcv/dist/")
    assert wheels.index_base() == "https://mirror.example/mmcv/dist"
    assert wheels.index_base("http://other.example/d") == "http://other.example/d"
    with pytest.raises(UsageError) as err:
        wheels.index_base("download.openmmlab.com/mmcv/dist")
    assert "--index-url needs an http(s):// URL with a host" in err.value.one_line()


def test_computed_tags_match_packaging_for_this_interpreter() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("compares Linux tags")
    target = TargetPython(
        executable=sys.executable,
        version=platform.python_version(),
        platform="linux",
        machine=platform.machine(),
    )
    glibc = platform.libc_ver()[1]
    assert set(wheels.target_tags(target, glibc)) == {str(t) for t in sys_tags()}


def _pyenv(version_prefix: str) -> Path | None:
    root = Path.home() / ".pyenv" / "versions"
    found = sorted(root.glob(f"{version_prefix}.*")) if root.is_dir() else []
    return found[-1] / "bin" / "python" if found else None


@pytest.mark.parametrize("py", ["3.7", "3.8", "3.13"])
def test_computed_tags_match_pip_of_real_interpreters(py: str) -> None:
    """The tags computed for a target equal what the target's own pip accepts (`pip debug`)."""
    exe = _pyenv(py)
    if exe is None or not sys.platform.startswith("linux"):
        pytest.skip(f"no Python {py} interpreter here")
    out = subprocess.run(
        [str(exe), "-m", "pip", "debug", "--verbose"], capture_output=True, text=True, timeout=60
    ).stdout
    if "Compatible tags:" not in out:
        pytest.skip(f"the pip of {exe} has no `pip debug`")
    pip_tags = [
        ln.strip()
        for ln in out.split("Compatible tags:")[1].splitlines()[1:]
        if ln.startswith("  ")
    ]
    version = subprocess.run(
        [str(exe), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    target = TargetPython(
        executable=str(exe), version=version, platform="linux", machine=platform.machine()
    )
    ours = wheels.target_tags(target, platform.libc_ver()[1])
    assert set(ours) == set(pip_tags)
    assert ours[0].startswith(f"{cp(py)}-{cp(py)}{'m' if py == '3.7' else ''}-")


def test_probe_wheel_tags_win_over_computed() -> None:
    target = TargetPython(
        executable="x", version="3.10.4", wheel_tags=("cp310-cp310-linux_x86_64",)
    )
    assert wheels.target_tags(target) == ("cp310-cp310-linux_x86_64",)


# --- choosing ------------------------------------------------------------------------------


def test_cu118_torch20_linux_py38(index: WheelIndex) -> None:
    page = cu118_torch20(index)
    search = wheels.find_wheel(make_env(), index.base)
    assert search.index_url == page
    assert search.chosen is not None
    assert search.chosen.filename == "mmcv-2.0.1-cp38-cp38-manylinux1_x86_64.whl"
    assert search.chosen.url == index.server.url_for(
        "/mmcv/dist/cu118/torch2.0.0/mmcv-2.0.1-cp38-cp38-manylinux1_x86_64.whl"
    )
    assert search.chosen.sha256 is None
    reasons = {r.filename: r.reason for r in search.rejected}
    assert (
        "do not install in the target (Python 3.8, linux x86_64)"
        in reasons["mmcv-2.0.1-cp39-cp39-manylinux1_x86_64.whl"]
    )
    assert "do not install" in reasons["mmcv-2.0.1-cp38-cp38-win_amd64.whl"]
    assert reasons["mmcv-2.0.0-cp38-cp38-manylinux1_x86_64.whl"] == "older than mmcv 2.0.1"
    assert [a.wheel.filename for a in search.alternatives] == [
        "mmcv-2.0.0-cp38-cp38-manylinux1_x86_64.whl"
    ]


@pytest.mark.parametrize("py", ["3.8", "3.9", "3.10", "3.11"])
def test_cu118_torch20_windows(index: WheelIndex, py: str) -> None:
    cu118_torch20(index)
    env = make_env(python=f"{py}.2", platform="win32", machine="AMD64", glibc=None)
    search = wheels.find_wheel(env, index.base)
    assert search.chosen is not None
    assert search.chosen.filename == f"mmcv-2.0.1-{win(py)}.whl"


@pytest.mark.parametrize("py", PYTHONS)
@pytest.mark.parametrize(
    ("plat", "machine", "tag"), [("linux", "x86_64", linux), ("win32", "AMD64", win)]
)
def test_cpu_torch213_short_spelling(
    index: WheelIndex, py: str, plat: str, machine: str, tag: Any
) -> None:
    """cpu/torch2.13: only the ``torch2.13`` spelling exists; each of cp38-cp313, on Linux and on
    Windows, finds its own wheel."""
    page = index.add_page(
        "cpu/torch2.13", [("mmcv", "2.2.0", t(p)) for p in PYTHONS for t in (linux, win)]
    )
    env = make_env(python=f"{py}.1", platform=plat, machine=machine, torch="2.13.0+cpu", cuda=None)
    search = wheels.find_wheel(env, index.base)
    assert [p.status for p in search.pages] == ["missing", "ok"]
    assert search.index_url == page
    assert search.chosen is not None and search.chosen.filename == f"mmcv-2.2.0-{tag(py)}.whl"
    assert len(search.rejected) == 2 * len(PYTHONS) - 1


def test_file_url_mirror(tmp_path: Path) -> None:
    folder = tmp_path / "cu118" / "torch2.0.0"
    folder.mkdir(parents=True)
    name = "mmcv-2.0.1-cp38-cp38-manylinux1_x86_64.whl"
    (folder / name).write_bytes(b"PK")
    (folder / "index.html").write_text(f'<a href="{name}">{name}</a>')
    search = wheels.find_wheel(make_env(), tmp_path.as_uri())
    assert search.chosen is not None and search.chosen.url == (folder / name).as_uri()


def test_wrong_python_and_platform_rejected(index: WheelIndex) -> None:
    index.add_page(
        "cu118/torch2.0.0",
        [
            ("mmcv", "2.0.1", linux("3.9")),
            ("mmcv", "2.0.1", win("3.8")),
            ("mmcv", "2.0.1", "cp38-cp38-macosx_10_9_x86_64"),
            ("mmcv", "2.0.1", "py2.py3-none-any"),
            ("mmcv-full", "1.7.1", linux("3.8")),
            ("mmcv", "1.7.1", linux("3.8")),
            ("mmdet", "3.3.0", "py3-none-any"),
        ],
    )
    search = wheels.find_wheel(make_env(), index.base, neighbours=False)
    # the one link left is a real 1.x ops wheel for this Python and platform
    assert search.chosen is not None
    assert search.chosen.filename == "mmcv_full-1.7.1-cp38-cp38-manylinux1_x86_64.whl"
    reasons = {r.filename: r.reason for r in search.rejected}
    assert len(reasons) == 6
    assert "do not install" in reasons["mmcv-2.0.1-cp39-cp39-manylinux1_x86_64.whl"]
    assert "do not install" in reasons["mmcv-2.0.1-cp38-cp38-win_amd64.whl"]
    assert "do not install" in reasons["mmcv-2.0.1-cp38-cp38-macosx_10_9_x86_64.whl"]
    assert reasons["mmcv-2.0.1-py2.py3-none-any.whl"] == "a pure-Python wheel: no compiled ops"
    assert "no compiled ops" in reasons["mmcv-1.7.1-cp38-cp38-manylinux1_x86_64.whl"]
    assert reasons["mmdet-3.3.0-py3-none-any.whl"] == "not mmcv (distribution mmdet)"


def test_mmcv_full_1x_chosen(index: WheelIndex) -> None:
    index.add_page(
        "cu111/torch1.9.0",
        [
            ("mmcv-full", "1.3.9", linux("3.8")),
            ("mmcv-full", "1.7.0", linux("3.8")),
            ("mmcv-full", "1.7.0", "cp37-cp37m-manylinux1_x86_64"),
        ],
    )
    env = make_env(torch="1.9.0+cu111", cuda="11.1")
    search = wheels.find_wheel(env, index.base)
    assert search.chosen is not None and search.chosen.filename == (
        "mmcv_full-1.7.0-cp38-cp38-manylinux1_x86_64.whl"
    )
    env37 = make_env(python="3.7.16", torch="1.9.0+cu111", cuda="11.1")
    chosen37 = wheels.find_wheel(env37, index.base).chosen
    assert chosen37 is not None and chosen37.filename == (
        "mmcv_full-1.7.0-cp37-cp37m-manylinux1_x86_64.whl"
    )


def test_requested_version_and_downstream_range(index: WheelIndex) -> None:
    index.add_page(
        "cu118/torch2.1.0",
        [("mmcv", v, linux("3.10")) for v in ("2.0.1", "2.1.0", "2.2.0", "2.0.0rc4")],
    )
    mmdet = Downstream("mmdet", "3.3.0", mmcv_min="2.0.0rc4", mmcv_max="2.2.0", max_inclusive=False)
    env = make_env(python="3.10.13", torch="2.1.2+cu118", downstream=(mmdet,))
    search = wheels.find_wheel(env, index.base)
    assert search.chosen is not None and search.chosen.version == "2.1.0"
    reasons = {r.filename: r.reason for r in search.rejected}
    assert (
        "outside the installed packages' ranges (mmdet 3.3.0: <2.2.0,>=2.0.0rc4)"
        in reasons["mmcv-2.2.0-cp310-cp310-manylinux1_x86_64.whl"]
    )
    assert reasons["mmcv-2.0.0rc4-cp310-cp310-manylinux1_x86_64.whl"] == (
        "a pre-release (a final release fits)"
    )
    assert reasons["mmcv-2.0.1-cp310-cp310-manylinux1_x86_64.whl"] == "older than mmcv 2.1.0"

    pinned = wheels.find_wheel(env, index.base, mmcv_version="2.0.1")
    assert pinned.chosen is not None and pinned.chosen.version == "2.0.1"
    assert {a.wheel.version for a in pinned.alternatives} == {"2.1.0", "2.0.0rc4"}

    missing = wheels.find_wheel(env, index.base, mmcv_version="2.0.0", neighbours=False)
    assert missing.chosen is None
    notes = [a.note for a in missing.alternatives]
    assert notes[0] == "mmcv 2.1.0 instead of the requested ==2.0.0"
    assert all("2.2.0" not in n for n in notes)  # outside mmdet's range: never an alternative


def test_inclusive_upper_bound() -> None:
    spec, lines = wheels.downstream_spec(
        (Downstream("mmdet", "2.28.2", mmcv_min="1.3.17", mmcv_max="1.8.0", max_inclusive=True),)
    )
    assert "1.8.0" in spec and "1.8.1" not in spec and "1.3.16" not in spec
    assert lines == ("mmdet 2.28.2: <=1.8.0,>=1.3.17",)


def test_prerelease_only_when_no_final(index: WheelIndex) -> None:
    index.add_page("cu117/torch1.13.0", [("mmcv", "2.0.0rc4", linux("3.8"))])
    env = make_env(torch="1.13.1+cu117", cuda="11.7")
    chosen = wheels.find_wheel(env, index.base).chosen
    assert chosen is not None and chosen.version == "2.0.0rc4"


def test_bad_mmcv_version_is_usage_error(index: WheelIndex) -> None:
    with pytest.raises(UsageError, match="bad --mmcv-version"):
        wheels.find_wheel(make_env(), index.base, mmcv_version="two point one")


def test_no_torch_is_clear(index: WheelIndex) -> None:
    env = make_env()
    env = type(env)(target=env.target, host=env.host, torch=None)
    with pytest.raises(OperationFailed, match="no torch in the target environment"):
        wheels.find_wheel(env, index.base)


# --- hrefs: relative, absolute, percent-encoded, malformed ----------------------------------


@pytest.mark.parametrize("style", ["relative", "absolute", "encoded"])
def test_href_styles(index: WheelIndex, style: str) -> None:
    index.add_page("cu118/torch2.0.0", [("mmcv", "2.0.1+cu118", linux("3.8"))], href=style)
    chosen = wheels.find_wheel(make_env(), index.base).chosen
    assert chosen is not None
    assert chosen.filename == "mmcv-2.0.1+cu118-cp38-cp38-manylinux1_x86_64.whl"
    assert chosen.version == "2.0.1+cu118"
    assert chosen.url.startswith(index.server.url_for("/mmcv/dist/cu118/torch2.0.0/"))


def test_malformed_hrefs_are_named_and_skipped(index: WheelIndex) -> None:
    extra = [
        ("http://[::1/mmcv-2.0.1-cp38-cp38-manylinux1_x86_64.whl", "broken host"),
        (None, "no href"),
        ("", "empty"),
        ("mmcv-latest-cp38.whl", "not a wheel name"),
        ("javascript:alert(1)", "script"),
        ("../", "parent"),
    ]
    index.add_page("cu118/torch2.0.0", [("mmcv", "2.0.0", linux("3.8"))], extra=extra)
    search = wheels.find_wheel(make_env(), index.base)
    assert search.chosen is not None and search.chosen.version == "2.0.0"
    reasons = [r.reason for r in search.rejected]
    assert any(r.startswith("malformed href: Invalid IPv6 URL") for r in reasons)
    assert reasons.count("malformed href: empty") == 2
    assert any(r.startswith("malformed wheel file name") for r in reasons)
    assert "malformed href: scheme 'javascript' is not http(s)" in reasons
    assert "not a wheel file" in reasons


def test_only_malformed_hrefs_give_no_wheel(index: WheelIndex) -> None:
    index.add_page("cu118/torch2.0.0", [], extra=[("mmcv-2.0.1-cp38.whl", "x")])
    search = wheels.find_wheel(make_env(), index.base, neighbours=False)
    assert search.chosen is None
    assert search.rejected[0].reason.startswith("malformed wheel file name")
    assert any("mmfix rebuild" in n for n in search.notes)


# --- failures ------------------------------------------------------------------------------


def test_404_everywhere_names_pages_and_neighbours(index: WheelIndex) -> None:
    """No page for cu118 + torch 2.2, but torch 2.1 and cu121/torch 2.2 have wheels."""
    index.add_page("cu118/torch2.1.0", [("mmcv", "2.1.0", linux("3.10"))])
    index.add_page(
        "cu121/torch2.2.0", [("mmcv", "2.1.0", linux("3.10")), ("mmcv", "2.1.0", linux("3.11"))]
    )
    env = make_env(python="3.10.13", torch="2.2.1+cu118")
    search = wheels.find_wheel(env, index.base)
    assert search.chosen is None
    assert [p.status for p in search.pages] == ["missing", "missing"]
    assert any("no page for cu118 + torch 2.2" in n and "HTTP 404" in n for n in search.notes)
    found = {(a.cuda_tag, a.torch, a.wheel.filename): a.note for a in search.alternatives}
    assert found == {
        (
            "cu118",
            "2.1",
            "mmcv-2.1.0-cp310-cp310-manylinux1_x86_64.whl",
        ): "needs torch 2.1.x (CUDA 11.8) instead of torch 2.2",
        (
            "cu121",
            "2.2",
            "mmcv-2.1.0-cp310-cp310-manylinux1_x86_64.whl",
        ): "needs a torch 2.2 built for CUDA 12.1 instead of cu118",
    }
    assert search.notes[-1].endswith("`mmfix rebuild` builds mmcv with ops for it")
    probed = [e[0].path for e in index.server.log]
    assert len(probed) <= 2 + K.MAX_NEIGHBOUR_PAGES


def test_neighbours_on_official_index_stop_at_torch_24() -> None:
    def target(tag: str, torch: str) -> wheels.WheelTarget:
        return wheels.WheelTarget(tag, torch, "3.11", "linux", "x86_64", ())

    official = wheels.neighbour_combinations(target("cpu", "2.13"), K.OFFICIAL_BASE)
    assert official == [("cpu", (2, 4)), ("cpu", (2, 3))]
    mirror = wheels.neighbour_combinations(target("cpu", "2.13"), "http://mirror/dist")
    assert mirror == [("cpu", (2, 12)), ("cpu", (2, 4)), ("cpu", (2, 3))]
    cu130 = wheels.neighbour_combinations(target("cu130", "2.14"), K.OFFICIAL_BASE)
    assert cu130 == [
        ("cu130", (2, 4)),
        ("cu130", (2, 3)),
        ("cu124", (2, 4)),
        ("cu121", (2, 4)),
        ("cu118", (2, 4)),
        ("cpu", (2, 4)),
    ]
    cu118 = wheels.neighbour_combinations(target("cu118", "2.0"), "http://mirror/dist")
    assert cu118 == [
        ("cu118", (2, 1)),
        ("cu117", (2, 0)),
        ("cu121", (2, 0)),
        ("cu116", (2, 0)),
        ("cpu", (2, 0)),
    ]


def test_torch_beyond_official_wheels(index: WheelIndex) -> None:
    index.add_page("cpu/torch2.4.0", [("mmcv", "2.2.0", linux("3.11"))])
    env = make_env(python="3.11.7", torch="2.13.0+cpu", cuda=None)
    search = wheels.find_wheel(env, index.base)
    assert search.chosen is None
    assert [(a.torch, a.note) for a in search.alternatives] == [
        ("2.4", "needs torch 2.4.x (CPU-only) instead of torch 2.13")
    ]
    assert any(n.startswith("official mmcv wheels stop at torch 2.4") for n in search.notes)


def test_cuda_torch_beyond_official_wheels(index: WheelIndex) -> None:
    index.add_page("cu121/torch2.4.0", [("mmcv", "2.2.0", linux("3.11"))])
    index.add_page("cpu/torch2.4.0", [("mmcv", "2.2.0", linux("3.11"))])
    env = make_env(python="3.11.7", torch="2.14.1+cu130", cuda="13.0")
    search = wheels.find_wheel(env, index.base)
    assert [(a.cuda_tag, a.torch, a.note) for a in search.alternatives] == [
        ("cu121", "2.4", "needs torch 2.4.x (CUDA 12.1 build)"),
        ("cpu", "2.4", "needs torch 2.4.x (CPU-only build); its ops run on the CPU only"),
    ]


def test_timeout_is_one_clear_error(index: WheelIndex) -> None:
    def slow(_request: Request) -> Response:
        time.sleep(1.0)
        return Response("<a href='x.whl'>x</a>")

    index.server.expect_request("/mmcv/dist/cu118/torch2.0.0/index.html").respond_with_handler(slow)
    session = wheels.make_session(retries=0)
    started = time.monotonic()
    with pytest.raises(OperationFailed) as err:
        wheels.find_wheel(make_env(), index.base, session=session, timeout=0.2)
    assert time.monotonic() - started < 0.9
    line = err.value.one_line()
    assert line.startswith(f"cannot reach the wheel index {index.base}/cu118/torch2.0.0/index.html")
    assert "no answer within 0.2 s" in line and "--index-url" in line and "\n" not in line


def test_offline_connection_refused(index: WheelIndex) -> None:
    import socket

    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(OperationFailed) as err:
        wheels.find_wheel(
            make_env(), f"http://127.0.0.1:{port}/mmcv/dist", session=wheels.make_session(retries=0)
        )
    line = err.value.one_line()
    assert "cannot reach the wheel index" in line and "cannot connect (offline" in line
    assert "mmfix rebuild" in line


def test_page_without_links(index: WheelIndex) -> None:
    index.server.expect_request("/mmcv/dist/cu118/torch2.0.0/index.html").respond_with_data(
        "<html><body><h1>Please log in to the proxy</h1></body></html>", content_type="text/html"
    )
    with pytest.raises(OperationFailed, match="has no links") as err:
        wheels.find_wheel(make_env(), index.base)
    assert "not a wheel index" in err.value.one_line()


def test_http_error_after_retries(index: WheelIndex) -> None:
    index.server.expect_request("/mmcv/dist/cu118/torch2.0.0/index.html").respond_with_data(
        "busy", status=503
    )
    with pytest.raises(OperationFailed, match="answered HTTP 503"):
        wheels.find_wheel(make_env(), index.base, session=wheels.make_session(retries=1))
    assert len(index.server.log) == 2  # one try, one retry


def test_retry_recovers_from_one_503(index: WheelIndex) -> None:
    path = "/mmcv/dist/cu118/torch2.0.0/index.html"
    index.server.expect_oneshot_request(path).respond_with_data("busy", status=503)
    cu118_torch20(index)
    search = wheels.find_wheel(make_env(), index.base)
    assert search.chosen is not None
    assert [e[1].status_code for e in index.server.log] == [503, 200]


# --- overrides and proxies -----------------------------------------------------------------


def test_env_var_overrides_base(index: WheelIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    cu118_torch20(index)
    monkeypatch.setenv(K.INDEX_URL_ENV, index.base)
    search = wheels.find_wheel(make_env())
    assert search.base == index.base
    assert search.chosen is not None


def test_single_page_url(index: WheelIndex) -> None:
    page = cu118_torch20(index)
    search = wheels.find_wheel(make_env(), page)
    assert search.index_urls == (page,)
    assert search.chosen is not None


def test_proxy_from_environment(
    index: WheelIndex, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """HTTP_PROXY is honoured: a request for mirror.invalid reaches the proxy (our server)."""
    cu118_torch20(index)
    monkeypatch.setenv("HTTP_PROXY", index.server.url_for("/"))
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.delenv("no_proxy", raising=False)
    search = wheels.find_wheel(make_env(), "http://mirror.invalid/mmcv/dist")
    assert search.chosen is not None
    assert search.chosen.url == (
        "http://mirror.invalid/mmcv/dist/cu118/torch2.0.0/mmcv-2.0.1-cp38-cp38-manylinux1_x86_64.whl"
    )
    request = index.server.log[0][0]
    assert request.host == "mirror.invalid"
    path = wheels.download_wheel(search.chosen, tmp_path)
    assert {r.host for r, _ in index.server.log} == {"mirror.invalid"}
    assert (
        path.read_bytes()
        == index.files["/mmcv/dist/cu118/torch2.0.0/mmcv-2.0.1-cp38-cp38-manylinux1_x86_64.whl"]
    )


def test_rocm_uses_cpu_page_with_note(index: WheelIndex) -> None:
    index.add_page("cpu/torch2.1.0", [("mmcv", "2.1.0", linux("3.10"))])
    env = make_env(python="3.10.1", torch="2.1.2+rocm5.6", cuda=None, hip="5.6.31061")
    search = wheels.find_wheel(env, index.base)
    assert search.chosen is not None and "/cpu/" in search.chosen.url
    assert any("ROCm" in n for n in search.notes)
