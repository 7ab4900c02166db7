"""`mmfix wheels`: the command's text and JSON output, exit codes and --install wiring."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from test_wheels_support import WheelIndex, linux, make_env, win
from typer.testing import CliRunner

import mmfix.probe
from mmfix import cli, render
from mmfix.commands import wheels as cmd
from mmfix.errors import OperationFailed
from mmfix.model import Environment


@pytest.fixture
def index(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> WheelIndex:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "MMFIX_INDEX_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MMFIX_CACHE_DIR", str(tmp_path / "cache"))
    idx = WheelIndex(httpserver)
    idx.add_page(
        "cu118/torch2.0.0",
        [("mmcv", v, t) for v in ("2.0.0", "2.0.1") for t in (linux("3.8"), win("3.8"))],
    )
    return idx


@pytest.fixture(autouse=True)
def _options() -> Any:
    yield
    render.configure(render.Options())


def _probe_returns(monkeypatch: pytest.MonkeyPatch, env: Environment) -> list[str | None]:
    asked: list[str | None] = []

    def probe(python: str | None = None) -> Environment:
        asked.append(python)
        return env

    monkeypatch.setattr(mmfix.probe, "probe", probe, raising=False)
    return asked


def test_json_document(index: WheelIndex, capsys: pytest.CaptureFixture[str]) -> None:
    code = cmd.run_env(make_env(), index_url=index.base, as_json=True)
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert doc["schema"] == "mmfix.wheels/1"
    assert doc["index_url"] == index.server.url_for("/mmcv/dist/cu118/torch2.0.0/index.html")
    name = "mmcv-2.0.1-cp38-cp38-manylinux1_x86_64.whl"
    assert doc["wheel"]["filename"] == name
    assert doc["wheel"]["url"] == index.server.url_for(f"/mmcv/dist/cu118/torch2.0.0/{name}")
    assert doc["wheel"]["sha256"] is None
    assert [a["filename"] for a in doc["alternatives"]] == [
        "mmcv-2.0.0-cp38-cp38-manylinux1_x86_64.whl"
    ]
    assert doc["installed"] is None
    assert {r["filename"] for r in doc["rejected"]} == {
        "mmcv-2.0.0-cp38-cp38-manylinux1_x86_64.whl",
        "mmcv-2.0.0-cp38-cp38-win_amd64.whl",
        "mmcv-2.0.1-cp38-cp38-win_amd64.whl",
    }


def test_json_none_fits(index: WheelIndex, capsys: pytest.CaptureFixture[str]) -> None:
    env = make_env(python="3.12.1")
    code = cmd.run_env(env, index_url=index.base, as_json=True)
    doc = json.loads(capsys.readouterr().out)
    assert code == 1
    assert doc["wheel"] is None
    assert any("mmfix rebuild" in n for n in doc["notes"])


def test_verbose_says_why_each_was_rejected(
    index: WheelIndex, capsys: pytest.CaptureFixture[str]
) -> None:
    render.configure(render.Options(verbose=0))
    cmd.run_env(make_env(), index_url=index.base)
    quiet = capsys.readouterr().out
    assert "✓ wheel: mmcv-2.0.1-cp38-cp38-manylinux1_x86_64.whl" in quiet
    assert "win_amd64" not in quiet
    env = make_env()  # the install hint names the target, so it works from any shell
    assert f"install it: mmfix wheels --install --python {env.target.executable}" in quiet
    render.configure(render.Options(verbose=1))
    cmd.run_env(make_env(), index_url=index.base)
    out = capsys.readouterr().out
    assert (
        "- mmcv-2.0.1-cp38-cp38-win_amd64.whl: its tags (cp38-cp38-win_amd64) do not install" in out
    )
    assert "- mmcv-2.0.0-cp38-cp38-manylinux1_x86_64.whl: older than mmcv 2.0.1" in out


def test_text_when_none_fits_lists_reasons_and_rebuild(
    index: WheelIndex, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cmd.run_env(make_env(python="3.12.1"), index_url=index.base)
    out = capsys.readouterr().out
    assert code == 1
    assert "✗ no wheel on the index fits this environment" in out
    assert "- 4 wheels for other Pythons or platforms than Python 3.12, linux x86_64" in out
    assert "`mmfix rebuild`" in out


def test_cli_json(index: WheelIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    asked = _probe_returns(monkeypatch, make_env())
    result = CliRunner().invoke(
        cli.app, ["wheels", "--python", "/envs/t/bin/python", "--json", "--index-url", index.base]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["schema"] == "mmfix.wheels/1"
    assert doc["wheel"]["filename"] == "mmcv-2.0.1-cp38-cp38-manylinux1_x86_64.whl"
    assert asked == ["/envs/t/bin/python"]


def _main(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["mmfix", *args])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    return int(exit_.value.code or 0)


def test_cli_bad_version_is_usage_error(
    index: WheelIndex, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _probe_returns(monkeypatch, make_env())
    code = _main(monkeypatch, "wheels", "--index-url", index.base, "--mmcv-version", "newest!")
    err = capsys.readouterr().err
    assert code == 2
    assert "bad --mmcv-version 'newest!'" in err and len(err.strip().splitlines()) == 1


def test_cli_offline_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _probe_returns(monkeypatch, make_env())
    monkeypatch.setenv("MMFIX_INDEX_URL", f"http://127.0.0.1:{port}/mmcv/dist")
    code = _main(monkeypatch, "wheels")
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("mmfix: error: cannot reach the wheel index http://127.0.0.1:")
    assert "Traceback" not in err


def test_install_without_rebuild_helpers(
    index: WheelIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mmfix.builder.install", None)
    with pytest.raises(OperationFailed) as err:
        cmd.run_env(make_env(), index_url=index.base, install=True, yes=True)
    line = err.value.one_line()
    assert "downloaded and checked" in line
    assert "/envs/t/bin/python -m pip install --force-reinstall --no-deps" in line


def _fake_build(
    monkeypatch: pytest.MonkeyPatch, verify_ok: bool, installed: bool = True
) -> list[tuple[Any, ...]]:
    """Stand-ins for the rebuild helpers (mmfix.builder.install / verify, written in parallel)."""
    calls: list[tuple[Any, ...]] = []
    install_mod = types.ModuleType("mmfix.builder.install")
    verify_mod = types.ModuleType("mmfix.builder.verify")

    def install_wheel(python: str, wheel: Path, *, yes: bool, env: Environment) -> Any:
        calls.append(("install", python, wheel, yes, env))
        return types.SimpleNamespace(wheel=str(wheel), installed=installed, removed=())

    def verify_install(python: str, archs: Any = None) -> Any:
        calls.append(("verify", python, archs))
        return types.SimpleNamespace(ok=verify_ok)

    install_mod.install_wheel = install_wheel  # type: ignore[attr-defined]
    verify_mod.verify_install = verify_install  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "mmfix.builder", types.ModuleType("mmfix.builder"))
    monkeypatch.setitem(sys.modules, "mmfix.builder.install", install_mod)
    monkeypatch.setitem(sys.modules, "mmfix.builder.verify", verify_mod)
    return calls


@pytest.mark.parametrize(("verify_ok", "code"), [(True, 0), (False, 1)])
def test_install_downloads_installs_verifies(
    index: WheelIndex,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    verify_ok: bool,
    code: int,
) -> None:
    calls = _fake_build(monkeypatch, verify_ok)
    env = make_env()
    assert cmd.run_env(env, index_url=index.base, install=True, yes=True, as_json=True) == code
    doc = json.loads(capsys.readouterr().out)
    wheel = tmp_path / "cache" / "wheels" / "mmcv-2.0.1-cp38-cp38-manylinux1_x86_64.whl"
    assert calls == [
        ("install", "/envs/t/bin/python", wheel, True, env),
        ("verify", "/envs/t/bin/python", None),
    ]
    served = index.files["/mmcv/dist/cu118/torch2.0.0/mmcv-2.0.1-cp38-cp38-manylinux1_x86_64.whl"]
    assert wheel.read_bytes() == served
    assert doc["wheel"]["sha256"] == doc["installed"]["sha256"]
    assert doc["installed"]["ok"] is verify_ok


def test_install_declined_changes_nothing(
    index: WheelIndex, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = _fake_build(monkeypatch, verify_ok=True, installed=False)
    assert cmd.run_env(make_env(), index_url=index.base, install=True, yes=False) == 1
    assert [c[0] for c in calls] == ["install"]  # no verification of an install that did not happen
    assert "not installed (nothing changed)" in capsys.readouterr().out


def test_search_truth_is_whether_a_wheel_was_chosen(index: WheelIndex) -> None:
    from mmfix.wheels import find_wheel

    assert find_wheel(make_env(), index.base)
    assert not find_wheel(make_env(python="3.12.1"), index.base, neighbours=False)
