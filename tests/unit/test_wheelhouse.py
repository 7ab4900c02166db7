"""The wheelhouse folder: layout plain pip reads, locked atomic stores (also from concurrent
processes), pruning, choosing across wheelhouses (folders and HTTP), and refusing changed entries."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from wheelhouse_support import env_311, prebuilt_210, record_of, small_wheel, with_build

from mmfix.errors import RefusedError
from mmfix.wheels import house
from mmfix.wheels.download import file_sha256
from mmfix.wheels.lookup import fetch_checked, find_in_wheelhouses
from mmfix.wheels.match import need_for
from mmfix.wheels.pages import parse_links
from mmfix.wheels.records import RecordError, load_record


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MMFIX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(house.ENV, raising=False)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(var, raising=False)
    house.configure()
    yield
    house.configure()


def _store(root: Path, wheel: Path, **kw: object) -> Path:
    return house.store(root, wheel, record_of(wheel, **kw))  # type: ignore[arg-type]


def _page(root: Path, combo: str = "cpu/torch2.13.0") -> list[str]:
    return [h or "" for h in parse_links((root / combo / "index.html").read_text())]


def test_layout_pages_and_hashes(tmp_path: Path) -> None:
    root = tmp_path / "wh"
    wheel = small_wheel(tmp_path / "built")
    stored = _store(root, wheel)
    sha = file_sha256(wheel)
    assert stored == root / "cpu" / "torch2.13.0" / sha[:16] / wheel.name
    assert stored.read_bytes() == wheel.read_bytes()
    record_file = stored.with_name(wheel.name + ".json")
    rec = load_record(record_file.read_bytes(), "stored")
    assert rec.wheel.sha256 == sha
    assert _page(root) == [
        f"{sha[:16]}/{wheel.name}#sha256={sha}",
        f"{sha[:16]}/{wheel.name}.json#sha256={hashlib.sha256(record_file.read_bytes()).hexdigest()}",
    ]
    assert parse_links((root / "index.html").read_text()) == ["cpu/torch2.13.0/index.html"]
    assert not [p for p in root.rglob("*.mmfix-tmp")]


def test_plain_pip_reads_the_page(tmp_path: Path) -> None:
    """pip itself (no mmfix) finds the wheel through the find-links page, checks its #sha256= and
    skips the record links."""
    root = tmp_path / "wh"
    wheel = small_wheel(tmp_path / "built", "2.1.0", "py3-none-any")
    _store(root, wheel)
    page = root / "cpu" / "torch2.13.0" / "index.html"
    out = tmp_path / "dl"
    cp = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-index", "--disable-pip-version-check",
                         "-f", page.as_uri(), "-d", str(out), "mmcv==2.1.0"], capture_output=True, text=True, timeout=300)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert (out / wheel.name).read_bytes() == wheel.read_bytes()


def test_same_build_replaces_the_older_other_builds_stay(tmp_path: Path) -> None:
    root = tmp_path / "wh"
    first = _store(root, small_wheel(tmp_path / "a"))
    time.sleep(0.01)
    # the same build again (another byte stream: zip timestamps differ)
    again_wheel = small_wheel(tmp_path / "b")
    with open(again_wheel, "ab") as fh:
        fh.write(b"\0")  # trailing bytes: still a zip, another sha256
    again = _store(root, again_wheel)
    assert not first.exists() and again.exists()
    assert len([h for h in _page(root) if ".whl#" in h]) == 1
    # another mmcv version and a build from git: kept beside it, newest first
    other = _store(root, small_wheel(tmp_path / "c", "2.2.0"))
    git = _store(root, small_wheel(tmp_path / "d"), origin="git https://example/mmcv@main (abc123)")
    wheels = [h.split("#")[0] for h in _page(root) if ".whl#" in h]
    assert wheels == [f"{p.parent.name}/{p.name}" for p in (git, other, again)]


def _store_many(root: str, folder: str, versions: list[str], start: float) -> None:
    while time.time() < start:
        time.sleep(0.001)
    for v in versions:
        w = small_wheel(Path(folder) / v, v)
        house.store(Path(root), w, record_of(w))


def test_concurrent_writers_leave_a_consistent_index(tmp_path: Path) -> None:
    """Two processes store 8 wheels each into one wheelhouse at the same time: every wheel is on the
    page once, every hash on the page is the file's, no temporary file is left."""
    root = tmp_path / "wh"
    ctx = multiprocessing.get_context("spawn")
    start = time.time() + 3
    procs = [ctx.Process(target=_store_many, args=(str(root), str(tmp_path / f"w{i}"),
                                                   [f"2.{i}.{n}" for n in range(8)], start)) for i in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    entries, odd = house.page_entries(_page(root))
    assert odd == [] and len(entries) == 16
    assert sorted(e.filename for e in entries) == sorted(
        f"mmcv-2.{i}.{n}-cp311-cp311-linux_x86_64.whl" for i in (1, 2) for n in range(8))
    combo = root / "cpu" / "torch2.13.0"
    for e in entries:
        assert file_sha256(combo / e.href) == e.sha256
        assert hashlib.sha256((combo / (e.href + ".json")).read_bytes()).hexdigest() == e.record_sha256
    assert not [p for p in root.rglob("*.mmfix-tmp")]


def test_prune_keeps_the_torch_combinations_named(tmp_path: Path) -> None:
    root = tmp_path / "wh"
    _store(root, small_wheel(tmp_path / "a"))
    _store(root, small_wheel(tmp_path / "b"), env=env_311(torch="2.12.0+cpu"))
    (root / "cpu" / "torch2.13.0" / "0123456789abcdef").mkdir()  # left by an interrupted store
    stale = root / "cpu" / "torch2.13.0" / ".index.html.k3j2.mmfix-tmp"  # a writer killed mid-write
    stale.write_text("half a page")
    removed = house.prune(root, {"cpu/torch2.13.0"})
    assert removed == ["cpu/torch2.12.0", "cpu/torch2.13.0/0123456789abcdef"]
    assert not stale.exists()
    assert parse_links((root / "index.html").read_text()) == ["cpu/torch2.13.0/index.html"]
    assert len(house.page_entries(_page(root))[0]) == 1


def test_locations_order_and_env_splitting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(house.ENV, f"http://team:8000/wh{os.pathsep}/shared/wh{os.pathsep}https://h/x")
    house.configure(["/mine"])
    assert house.locations() == ["/mine", "http://team:8000/wh", "/shared/wh", "https://h/x",
                                 str(tmp_path / "cache" / "wheelhouse")]
    house.configure(["/mine"], enabled=False)
    assert house.locations() == []


# --- choosing across wheelhouses -----------------------------------------------------------


def test_chooses_the_fitting_wheel_and_says_why_others_were_passed_over(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    _store(a, small_wheel(tmp_path / "w1", "2.2.0"), env=env_311(abi=False))  # another ABI
    _store(a, small_wheel(tmp_path / "w2", "2.2.0", "cp310-cp310-linux_x86_64"))  # another Python
    fits = _store(b, small_wheel(tmp_path / "w3", "2.2.0"))
    env = env_311()
    search = find_in_wheelhouses(env, need_for(env), "2.2.0", where=[str(a), str(b)])
    assert search.chosen is not None and search.chosen.house == str(b)
    assert search.chosen.link.url == fits.as_uri()
    reasons = sorted(r.reason for r in search.passed_over)
    assert reasons[0] == f"built with _GLIBCXX_USE_CXX11_ABI=0, torch here uses 1 [{a}]"
    assert reasons[1].startswith("its tags (cp310-cp310-linux_x86_64) do not install in the target")
    path = fetch_checked(search.chosen)
    assert path.read_bytes() == fits.read_bytes() and path.is_relative_to(tmp_path / "cache")


def test_version_rules_are_the_official_indexes(tmp_path: Path) -> None:
    root = tmp_path / "wh"
    for v in ("2.1.0", "2.2.0"):
        _store(root, small_wheel(tmp_path / v, v))
    env = env_311()
    assert find_in_wheelhouses(env, need_for(env), None, where=[str(root)]).chosen.link.version == "2.2.0"
    pinned = find_in_wheelhouses(env, need_for(env), "2.1.0", where=[str(root)])
    assert pinned.chosen.link.version == "2.1.0"
    assert [r.reason for r in pinned.passed_over] == [f"not the requested mmcv ==2.1.0 [{root}]"]


def test_missing_and_unreachable_wheelhouses_are_skipped(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = env_311()
    search = find_in_wheelhouses(env, need_for(env), None, where=[str(tmp_path / "none"), f"http://127.0.0.1:{port}/"])
    assert [p.status for p in search.pages] == ["missing", "unreachable"]
    assert search.chosen is None


def test_a_changed_record_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "wh"
    stored = _store(root, small_wheel(tmp_path / "w"))
    rec_file = stored.with_name(stored.name + ".json")
    data = json.loads(rec_file.read_text())
    data["torch"]["version"] = "2.14.1+cpu"  # someone makes it "fit" another torch
    rec_file.write_text(json.dumps(data))
    env = env_311()
    with pytest.raises(RecordError) as err:
        find_in_wheelhouses(env, need_for(env), None, where=[str(root)])
    assert "does not match the sha256 its page gives" in err.value.what and err.value.exit_code == 3


def test_a_changed_wheel_is_refused_before_install(tmp_path: Path) -> None:
    root = tmp_path / "wh"
    stored = _store(root, small_wheel(tmp_path / "w"))
    env = env_311()
    search = find_in_wheelhouses(env, need_for(env), None, where=[str(root)])
    data = bytearray(stored.read_bytes())
    data[40] ^= 0xFF
    stored.write_bytes(bytes(data))
    with pytest.raises(RefusedError) as err:
        fetch_checked(search.chosen)
    assert "does not match the sha256 the index gives" in err.value.what


def test_a_record_for_another_wheel_is_refused(tmp_path: Path) -> None:
    """A page whose record hash is right but whose record describes another wheel."""
    root = tmp_path / "wh"
    stored = _store(root, small_wheel(tmp_path / "w"))
    rec = record_of(stored)
    other = dataclasses.replace(rec, wheel=dataclasses.replace(rec.wheel, sha256="0" * 64))
    rec_file = stored.with_name(stored.name + ".json")
    rec_file.write_text(other.to_json())
    page = root / "cpu" / "torch2.13.0" / "index.html"
    old = hashlib.sha256(rec.to_json().encode()).hexdigest()
    text = page.read_text()
    assert old in text
    page.write_text(text.replace(old, hashlib.sha256(rec_file.read_bytes()).hexdigest()))
    env = env_311()
    with pytest.raises(RecordError, match="describes mmcv-2.1.0-cp311-cp311-linux_x86_64.whl"):
        find_in_wheelhouses(env, need_for(env), None, where=[str(root)])


def test_a_wheelhouse_served_over_http(tmp_path: Path, httpserver: HTTPServer) -> None:
    root = tmp_path / "wh"
    _store(root, small_wheel(tmp_path / "w"))
    for path in root.rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            httpserver.expect_request("/wh/" + path.relative_to(root).as_posix()).respond_with_data(path.read_bytes())
    httpserver.no_handler_status_code = 404
    env = env_311()
    url = httpserver.url_for("/wh/")
    search = find_in_wheelhouses(env, need_for(env), None, where=[url])
    assert search.chosen is not None and search.chosen.link.url.startswith(url + "cpu/torch2.13.0/")
    assert house.list_combos(url) == ["cpu/torch2.13.0"]
    assert fetch_checked(search.chosen).read_bytes() == (tmp_path / "w" / search.chosen.link.filename).read_bytes()


def test_prebuilt_wheel_round_trip(tmp_path: Path) -> None:
    """The real 32 MB mmcv 2.1.0 CPU wheel: stored, chosen for its torch, refused for another,
    fetched with its _ext checked against its record."""
    wheel = prebuilt_210()
    root = tmp_path / "wh"
    _store(root, wheel)
    env = env_311()
    search = find_in_wheelhouses(env, need_for(env), "2.1.0", where=[str(root)])
    assert search.chosen is not None
    assert fetch_checked(search.chosen).stat().st_size == wheel.stat().st_size
    newer = env_311(torch="2.14.1+cpu")
    none = find_in_wheelhouses(newer, need_for(newer), "2.1.0", where=[str(root)])
    assert none.chosen is None and [p.status for p in none.pages] == ["missing"]


def test_kernel_claims_are_checked_on_fetch(tmp_path: Path) -> None:
    """A record that claims SASS its wheel lacks, written with a consistent page by a writer that
    lies, is still refused: the wheel's own _ext is read before install."""
    root = tmp_path / "wh"
    wheel = small_wheel(tmp_path / "w")
    env = env_311(torch="2.14.1+cu130", cuda="13.0", gpus=("8.6",))
    lie = with_build(record_of(wheel, env, ops="cuda", arch="8.6"), sass=("sm_86",))
    house.store(root, wheel, lie)
    search = find_in_wheelhouses(env, need_for(env), None, where=[str(root)])
    assert search.chosen is not None  # the record says it fits
    with pytest.raises(RecordError, match="lists SASS sm_86 / PTX none, its _ext holds SASS none"):
        fetch_checked(search.chosen)
