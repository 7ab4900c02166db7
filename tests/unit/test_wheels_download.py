"""Downloading a chosen wheel: hash from the index, repeated download, zip check, cache."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from test_wheels_support import BASE_PATH, WheelIndex, linux, make_env, page_html, wheel_bytes

from mmfix import wheels
from mmfix.errors import OperationFailed, RefusedError

NAME = "mmcv-2.0.1-cp38-cp38-manylinux1_x86_64.whl"
WHEEL_PATH = f"{BASE_PATH}/cu118/torch2.0.0/{NAME}"
PAGE_PATH = f"{BASE_PATH}/cu118/torch2.0.0/index.html"


@pytest.fixture
def index(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> WheelIndex:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "MMFIX_INDEX_URL"):
        monkeypatch.delenv(var, raising=False)
    return WheelIndex(httpserver)


def _chosen(index: WheelIndex) -> wheels.WheelLink:
    chosen = wheels.find_wheel(make_env(), index.base).chosen
    assert chosen is not None
    return chosen


def _wheel_requests(index: WheelIndex) -> int:
    return sum(1 for req, _ in index.server.log if req.path == WHEEL_PATH)


def test_index_hash_verified_and_cached(index: WheelIndex, tmp_path: Path) -> None:
    index.add_page("cu118/torch2.0.0", [("mmcv", "2.0.1", linux("3.8"))], sha256=True)
    link = _chosen(index)
    original = index.files[WHEEL_PATH]
    assert link.sha256 == hashlib.sha256(original).hexdigest()
    path = wheels.download_wheel(link, tmp_path)
    assert path == tmp_path / NAME
    assert path.read_bytes() == original
    assert _wheel_requests(index) == 1  # the index's hash is enough: one download
    again = wheels.download_wheel(link, tmp_path)
    assert again == path and _wheel_requests(index) == 1  # served from the cache
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == [
        NAME,
        NAME + ".sha256",
    ]


def test_tampered_wheel_rejected(index: WheelIndex, tmp_path: Path) -> None:
    original = wheel_bytes("mmcv", "2.0.1", linux("3.8"))
    tampered = bytearray(original)
    tampered[40] ^= 0xFF  # one byte inside the first member's data: still a zip file
    digest = hashlib.sha256(original).hexdigest()
    page = page_html([(f"{NAME}#sha256={digest}", NAME)])
    index.server.expect_request(PAGE_PATH).respond_with_data(page, content_type="text/html")
    index.serve(WHEEL_PATH, bytes(tampered))
    link = _chosen(index)
    with pytest.raises(RefusedError) as err:  # exit 3: refused for safety, as a tampered wheelhouse wheel
        wheels.download_wheel(link, tmp_path)
    assert err.value.exit_code == 3
    line = err.value.one_line()
    assert line.startswith(f"{NAME} does not match the sha256 the index gives")
    assert digest in line and hashlib.sha256(bytes(tampered)).hexdigest() in line
    assert not (tmp_path / NAME).exists()
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".whl"] == []


def test_no_hash_two_downloads_agree(index: WheelIndex, tmp_path: Path) -> None:
    index.add_page("cu118/torch2.0.0", [("mmcv", "2.0.1", linux("3.8"))])
    link = _chosen(index)
    assert link.sha256 is None
    path = wheels.download_wheel(link, tmp_path)
    assert _wheel_requests(index) == 2
    digest = hashlib.sha256(index.files[WHEEL_PATH]).hexdigest()
    assert (tmp_path / (NAME + ".sha256")).read_text().strip() == digest
    assert wheels.file_sha256(path) == digest


def test_no_hash_two_downloads_differ(index: WheelIndex, tmp_path: Path) -> None:
    page = page_html([(NAME, NAME)])
    index.server.expect_request(PAGE_PATH).respond_with_data(page, content_type="text/html")
    index.server.expect_oneshot_request(WHEEL_PATH).respond_with_data(b"first")
    index.serve(WHEEL_PATH, wheel_bytes("mmcv", "2.0.1", linux("3.8")))
    with pytest.raises(OperationFailed) as err:
        wheels.download_wheel(_chosen(index), tmp_path)
    assert err.value.one_line().startswith(f"two downloads of {NAME} differ")
    assert not (tmp_path / NAME).exists()


def test_html_instead_of_wheel(index: WheelIndex, tmp_path: Path) -> None:
    page = page_html([(NAME, NAME)])
    index.server.expect_request(PAGE_PATH).respond_with_data(page, content_type="text/html")
    index.serve(WHEEL_PATH, b"<html>Please log in</html>")
    with pytest.raises(OperationFailed, match="is not a wheel"):
        wheels.download_wheel(_chosen(index), tmp_path)
    assert not (tmp_path / NAME).exists()


def test_listed_but_missing_wheel(index: WheelIndex, tmp_path: Path) -> None:
    page = page_html([(NAME, NAME)])
    index.server.expect_request(PAGE_PATH).respond_with_data(page, content_type="text/html")
    with pytest.raises(OperationFailed) as err:
        wheels.download_wheel(_chosen(index), tmp_path)
    assert f"cannot download {NAME}: HTTP 404" in err.value.one_line()


def test_cache_changed_on_disk_is_downloaded_again(index: WheelIndex, tmp_path: Path) -> None:
    index.add_page("cu118/torch2.0.0", [("mmcv", "2.0.1", linux("3.8"))])
    link = _chosen(index)
    path = wheels.download_wheel(link, tmp_path)
    path.write_bytes(b"changed")
    assert wheels.download_wheel(link, tmp_path).read_bytes() == index.files[WHEEL_PATH]
    assert _wheel_requests(index) == 4


def test_default_cache_dir_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MMFIX_CACHE_DIR", str(tmp_path))
    assert wheels.default_cache_dir() == tmp_path / "wheels"
