"""The wheelhouse in ``mmfix rebuild`` (lookup before building, --wheel-only, --force-build, keeping a
verified build), ``mmfix wheels`` (wheelhouse first, --list, --prune) and the CLI options that reach
them (also from ``doctor``)."""

from __future__ import annotations

import json
import socket
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner
from wheelhouse_support import env_311, record_of, small_wheel

import mmfix.probe
from mmfix import cli, render
from mmfix.builder.runner import BuildResult
from mmfix.builder.source import SourceTree
from mmfix.builder.verify import VerifyResult
from mmfix.commands import rebuild, wheelhouse
from mmfix.commands import wheels as wheels_cmd
from mmfix.errors import UsageError
from mmfix.wheels import house


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.setenv("MMFIX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(house.ENV, raising=False)
    with socket.socket() as s:  # the official index: nothing answers (it must not be needed)
        s.bind(("127.0.0.1", 0))
        monkeypatch.setenv("MMFIX_INDEX_URL", f"http://127.0.0.1:{s.getsockname()[1]}/mmcv/dist")
    house.configure()
    yield
    house.configure()
    render.configure(render.Options())


@pytest.fixture
def stocked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A wheelhouse with an mmcv 2.2.0 for torch 2.13.0+cpu / cp311; rebuild probes ``env_311()``."""
    root = tmp_path / "team-wh"
    wheel = small_wheel(tmp_path / "built", "2.2.0")
    house.store(root, wheel, record_of(wheel))
    monkeypatch.setattr(rebuild, "_probe", lambda python: env_311())
    return root


def _rebuild(**kw: Any) -> int:
    args: dict[str, Any] = dict(python=None, arch=None, cpu=False, source=None, git=None, mmcv_version=None, jobs=None,
                                threads_per_block=None, prefer_wheel=False, allow_unsupported_compiler=False,
                                dry_run=True, yes=True, log=None, as_json=False)
    args.update(kw)
    return rebuild.run(**args)


def test_dry_run_names_the_wheelhouse_wheel_and_builds_nothing(stocked: Path, capsys: pytest.CaptureFixture[str]) -> None:
    house.configure([str(stocked)])
    assert _rebuild() == 0
    captured = capsys.readouterr()
    assert "✓ wheelhouse wheel: mmcv-2.2.0-cp311-cp311-linux_x86_64.whl" in captured.err
    assert "fits: torch 2.13.0+cpu (cpu); C++11 ABI 1; cp311 linux x86_64 glibc 2.36; CPU ops" in captured.err
    assert "would install it" in captured.err
    assert "MMCV_WITH_OPS" not in captured.out  # no build plan


def test_wheel_only_stops_when_the_build_is_there(stocked: Path, capsys: pytest.CaptureFixture[str]) -> None:
    house.configure([str(stocked)])
    assert _rebuild(dry_run=False, wheel_only=True, as_json=True) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["result"] == "in-wheelhouse" and doc["wheelhouse"]["house"] == str(stocked)
    assert doc["wheelhouse"]["record"]["torch"]["version"] == "2.13.0+cpu"


def test_force_build_and_source_options_skip_the_lookup(stocked: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    house.configure([str(stocked)])
    tree = tmp_path / "src"
    (tree / "mmcv").mkdir(parents=True)
    (tree / "setup.py").write_text("from setuptools import setup\nsetup()\n")
    (tree / "mmcv" / "version.py").write_text("__version__ = '2.2.0'\n")
    monkeypatch.setattr(rebuild, "_source", lambda *a: SourceTree(tree, "2.2.0", "dir"))
    assert _rebuild(force_build=True) == 0
    captured = capsys.readouterr()
    assert "wheelhouse" not in captured.err and "MMCV_WITH_OPS=1" in captured.out
    assert _rebuild(threads_per_block=256) == 0
    assert "wheelhouse" not in capsys.readouterr().err


def test_wheel_only_needs_a_wheelhouse() -> None:
    house.configure(enabled=False)
    with pytest.raises(UsageError, match="--wheel-only keeps the build in a wheelhouse"):
        _rebuild(wheel_only=True)


def _fake_install(monkeypatch: pytest.MonkeyPatch, verify_ok: bool = True) -> list[tuple[Any, ...]]:
    """Stand-ins for the target-env steps (pip into a real env is the e2e test's job)."""
    calls: list[tuple[Any, ...]] = []
    inst = types.ModuleType("mmfix.builder.install")
    ver = types.ModuleType("mmfix.builder.verify")

    def install_wheel(python: str, wheel: Path, *, yes: bool, env: Any) -> Any:
        calls.append(("install", python, wheel.read_bytes()))
        return types.SimpleNamespace(wheel=str(wheel), installed=True, removed=("mmcv 2.2.0",),
                                     pip_output="Processing x\nSuccessfully installed mmcv-2.2.0")

    def verify_install(python: str, archs: Any = None) -> Any:
        calls.append(("verify", python))
        return VerifyResult(verify_ok, "2.2.0", cpu_nms_ok=verify_ok)

    inst.install_wheel = install_wheel  # type: ignore[attr-defined]
    ver.verify_install = verify_install  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "mmfix.builder.install", inst)
    monkeypatch.setitem(sys.modules, "mmfix.builder.verify", ver)
    return calls


def test_installs_from_the_wheelhouse_and_logs_no_compile(stocked: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(house.ENV, str(stocked))
    calls = _fake_install(monkeypatch)
    log = tmp_path / "r.log"
    assert _rebuild(dry_run=False, log=log) == 0
    stored = next(stocked.rglob("*.whl"))
    assert calls == [("install", "/envs/w/bin/python", stored.read_bytes()), ("verify", "/envs/w/bin/python")]
    text = log.read_text()
    assert text.startswith("# mmfix rebuild: mmcv from the wheelhouse; nothing was compiled\n")
    assert "Successfully installed mmcv-2.2.0" in text and "[1/" not in text


def test_a_failed_verification_exits_1(stocked: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    house.configure([str(stocked)])
    _fake_install(monkeypatch, verify_ok=False)
    assert _rebuild(dry_run=False) == 1


def test_keep_build_stores_everywhere_it_can(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    shared, readonly = tmp_path / "shared", tmp_path / "ro"
    readonly.write_text("a file where a folder should be: it cannot be written into (even as root)")
    house.configure([str(shared), str(readonly), "http://team.example/wh"])
    wheel = small_wheel(tmp_path / "built", "2.2.0")
    plan = types.SimpleNamespace(cuda=False, arch_list=None, toolkit_root=None)
    tree = SourceTree(tmp_path, "2.2.0", "sdist mmcv-2.2.0.tar.gz sha256=" + "a" * 64)
    result = BuildResult(True, 0, tmp_path / "b.log", tmp_path, wheel, 900.0, 1800.0)
    ver = VerifyResult(True, "2.2.0", cpu_nms_ok=True)
    stored = wheelhouse.keep_build(env_311(), plan, tree, ["setuptools-no-pkg-resources (setup.py)"], result, ver,
                                   "installed in the target env")
    default = tmp_path / "cache" / "wheelhouse"
    assert [Path(p).parents[3] for p in stored] == [shared, default]
    err = capsys.readouterr().err
    assert f"could not keep the build in the wheelhouse {readonly}" in err
    rec = json.loads(Path(stored[0] + ".json").read_text())
    assert rec["mmcv"]["sha256"] == "a" * 64 and rec["build"]["seconds"] == 900.0
    assert rec["verified"] == {"how": "installed in the target env", "cpu_nms": True, "gpu_nms": None, "gpus": []}


# --- mmfix wheels -------------------------------------------------------------------------


def test_wheels_takes_the_wheelhouse_first(stocked: Path, capsys: pytest.CaptureFixture[str]) -> None:
    house.configure([str(stocked)])
    assert wheels_cmd.run_env(env_311(), as_json=True) == 0  # the unreachable official index is not read
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "mmfix.wheels/1"
    assert doc["wheel"]["source"] == "wheelhouse" and doc["wheel"]["filename"] == "mmcv-2.2.0-cp311-cp311-linux_x86_64.whl"
    assert doc["wheelhouse"]["chosen"]["record"]["target"]["python_tag"] == "cp311"


def test_wheels_falls_through_to_the_index(stocked: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mmfix.errors import OperationFailed

    house.configure([str(stocked)])
    with pytest.raises(OperationFailed, match="cannot reach the wheel index"):
        wheels_cmd.run_env(env_311(torch="2.14.1+cpu"))
    assert "✗ no wheelhouse wheel fits torch 2.14.1+cpu (cpu), CPU ops" in capsys.readouterr().out


def test_cli_list_and_prune(stocked: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mmfix.probe, "probe", lambda python=None: env_311(torch="2.14.1+cpu"), raising=False)
    result = CliRunner().invoke(cli.app, ["wheels", "--list", "--wheelhouse", str(stocked), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["schema"] == "mmfix.wheels-list/1"
    first = doc["wheelhouses"][0]
    assert first["location"] == str(stocked) and first["wheels"][0]["combo"] == "cpu/torch2.13.0"
    result = CliRunner().invoke(cli.app, ["wheels", "--prune", "--yes", "--wheelhouse", str(stocked), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["keep"] == ["cpu/torch2.14.1"] and doc["removed"][str(stocked)] == ["cpu/torch2.13.0"]
    assert not (stocked / "cpu" / "torch2.13.0").exists()


def test_list_reports_a_changed_entry_exit_3(stocked: Path) -> None:
    rec = next(stocked.rglob("*.whl.json"))
    rec.write_text(rec.read_text().replace("2.13.0+cpu", "2.14.1+cpu"))
    house.configure([str(stocked)])
    assert wheels_cmd.run_list() == 3


def test_doctor_options_reach_the_rebuild(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[tuple[str, ...]] = []
    from mmfix.commands import doctor

    monkeypatch.setattr(doctor, "run", lambda **kw: seen.append(tuple(house.locations())) or 0)
    result = CliRunner().invoke(cli.app, ["doctor", "--fix", "--wheelhouse", "/team/wh", "--wheelhouse", "http://h/wh"])
    assert result.exit_code == 0, result.output
    assert seen[0][:2] == ("/team/wh", "http://h/wh")
    result = CliRunner().invoke(cli.app, ["doctor", "--no-wheelhouse"])
    assert seen[1] == ()


def test_wheel_only_keeps_nothing_that_failed_verification(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The scratch copy of a wheel without ops cannot run nms in this interpreter (no torch): the
    real verification fails, nothing is kept, exit 1."""
    house.configure([str(tmp_path / "wh")])
    wheel = small_wheel(tmp_path / "built", "2.2.0")
    plan = types.SimpleNamespace(python=sys.executable, cuda=False, arch_list=None, toolkit_root=None)
    tree = SourceTree(tmp_path, "2.2.0", "sdist mmcv-2.2.0.tar.gz sha256=" + "a" * 64)
    result = BuildResult(True, 0, tmp_path / "b.log", tmp_path, wheel, 900.0, 1800.0)
    payload: dict[str, Any] = {}
    assert wheelhouse.finish_wheel_only(env_311(), plan, tree, [], result, None, payload, False) == 1
    assert "verified a scratch copy: nms FAILED" in capsys.readouterr().err
    assert payload["wheelhouse"] == {"stored": []} and not (tmp_path / "wh").exists()
