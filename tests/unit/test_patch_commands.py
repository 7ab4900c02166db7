"""Commands, checks and shipped patch data (small files written here; real files are e2e)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from mmfix import patching
from mmfix.checks import headers
from mmfix.checks.base import CheckContext
from mmfix.errors import UsageError
from mmfix.model import Environment, Host, Status, TargetPython, TorchInfo
from mmfix.patching import catalog, textdiff

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).parent))
from test_patching_engine import FAQ, GOOD, ORIG, REL, sha  # noqa: E402


def mmfix(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="mmfix-state-") as state:  # not the user's own records
        env = {"PYTHONPATH": str(REPO / "src"), "NO_COLOR": "1", "PATH": "/usr/bin:/bin", "XDG_STATE_HOME": state}
        return subprocess.run(
            [sys.executable, "-m", "mmfix", *args], capture_output=True, text=True, env=env, cwd=cwd
        )


@pytest.mark.parametrize("value", [0, 16, 31, 100, 512 + 1, 2048, -256])
def test_threads_value_must_be_power_of_two_32_to_1024(value: int) -> None:
    with pytest.raises(UsageError):
        patching.validate_threads(value)


@pytest.mark.parametrize("value", [32, 64, 128, 256, 512, 1024])
def test_threads_values_allowed(value: int) -> None:
    assert patching.validate_threads(value) == str(value)


def test_patch_threads_cli_bad_value_exits_2(tmp_path: Path) -> None:
    r = mmfix("patch-threads", "--value", "300", "--source", str(tmp_path))
    assert r.returncode == 2 and "power of two" in r.stderr


def test_patch_threads_cli_not_a_source_tree_exits_2(tmp_path: Path) -> None:
    r = mmfix("patch-threads", "--value", "256", "--source", str(tmp_path))
    assert r.returncode == 2 and "not an mmcv source tree" in r.stderr


def test_revert_with_nothing_recorded_says_so(tmp_path: Path) -> None:
    r = mmfix("revert", "--source", str(tmp_path))
    assert r.returncode == 0 and "nothing recorded" in r.stdout


def test_revert_unknown_id_exits_2(tmp_path: Path) -> None:
    r = mmfix("revert", "no-such-patch", "--source", str(tmp_path))
    assert r.returncode == 2


def fake_torch(tmp_path: Path, version: str) -> Path:
    root = tmp_path / "torch"
    (root / "include").mkdir(parents=True)
    (root / "version.py").write_text(f"__version__ = '{version}'\ncuda = '10.2'\n")
    return root


@pytest.mark.parametrize("version", ["1.8.0", "2.3.1+cu121", "2.7.1"])
def test_patch_torch_headers_nothing_to_patch(tmp_path: Path, version: str) -> None:
    r = mmfix("patch-torch-headers", "--torch-dir", str(fake_torch(tmp_path, version)))
    assert r.returncode == 0 and "nothing to patch" in r.stdout


def test_patch_torch_headers_off_windows_changes_nothing(tmp_path: Path) -> None:
    root = fake_torch(tmp_path, "1.6.0")
    r = mmfix("patch-torch-headers", "--torch-dir", str(root))
    assert r.returncode == 0 and "nothing changed" in r.stdout and "--force" in r.stdout
    assert not (root / ".mmfix").exists()


def test_patch_torch_headers_unknown_file_exits_3(tmp_path: Path) -> None:
    root = fake_torch(tmp_path, "1.6.0")
    mod = root / "include/torch/csrc/jit/api/module.h"
    mod.parent.mkdir(parents=True)
    mod.write_text("// not the released module.h\n")
    cast = root / "include/pybind11/cast.h"
    cast.parent.mkdir(parents=True)
    cast.write_text("// not the released cast.h\n")
    r = mmfix("patch-torch-headers", "--torch-dir", str(root), "--force")
    assert r.returncode == 3 and "not a file mmfix knows" in r.stderr
    assert mod.read_text() == "// not the released module.h\n"


def test_torch_version_of_reads_version_py(tmp_path: Path) -> None:
    assert patching.torch_version_of(fake_torch(tmp_path, "1.7.1+cu110")) == "1.7.1+cu110"


@pytest.mark.parametrize(
    ("torch", "std"), [("1.13.1", None), ("2.0.1", None), ("2.1.0", "17"), ("2.13.0+cpu", "17"),
                       ("2.14.1+cu130", "20")],
)  # fmt: skip
def test_cxx_standard_for_torch(torch: str, std: str | None) -> None:
    assert patching.cxx_standard_for_torch(torch) == std


# --- shipped data ------------------------------------------------------------------------------


def test_shipped_patches_cover_every_family_d_id_and_parse() -> None:
    ids = {p.id for p in catalog.load_all()}
    assert set(headers.TITLES) <= ids
    assert {"setuptools-no-pkg-resources", "setup-py-python313", "cxx-standard"} <= ids
    assert {p.path for p in catalog.load_all() if p.id == "threads-per-block"} == set(
        patching.THREADS_HEADERS
    )
    for p in catalog.load_all():
        assert p.variants, p.id
        for v in p.variants:
            if v.diff:
                textdiff.parse_diff(v.diff_for(p.param, "256" if p.param else None))
            assert len(v.original) == 64 and all(len(h) == 64 for h in v.patched.values())
        for e in p.hand_edits:
            textdiff.parse_diff(e.diff)


def test_threads_patch_results_differ_per_value() -> None:
    for p in catalog.load_all():
        if p.id == "threads-per-block":
            for v in p.variants:
                assert set(v.patched) == {str(1 << k) for k in range(5, 11)}
                assert len(set(v.patched.values())) == 6
                assert v.patched["512"] == v.original  # every release ships 512


def test_faq_hand_edits_are_known_for_torch_15_and_17() -> None:
    labels = {e.label for p in catalog.load_all() for e in p.hand_edits}
    assert any("static bool" in x for x in labels)
    assert any("(type*)" in x for x in labels)
    assert any("Kind" in x for x in labels)


# --- checks ------------------------------------------------------------------------------------


def env_for(platform: str, torch_dir: Path, version: str, cuda: str | None = "10.2") -> Environment:
    return Environment(
        target=TargetPython(executable="C:/env/python.exe", version="3.8.10", platform=platform),
        host=Host(os="Windows" if platform == "win32" else "Linux"),
        torch=TorchInfo(version=version, location=str(torch_dir), cuda=cuda),
    )


def check(id_: str):  # type: ignore[no-untyped-def]
    return next(c for c in headers.CHECKS if c.id == id_)


def test_checks_skip_off_windows_and_for_cpu_torch(tmp_path: Path) -> None:
    root = fake_torch(tmp_path, "1.5.0")
    for c in headers.CHECKS:
        f = c.run(CheckContext(env_for("linux", root, "1.5.0")))
        assert f.status == Status.SKIP and "Windows" in f.evidence[0]
    f = check("torch-header-all-slots").run(CheckContext(env_for("win32", root, "1.5.0", None)))
    assert f.status == Status.SKIP and "no CUDA" in f.evidence[0]
    f = check("torch-header-profile-kind").run(CheckContext(env_for("win32", root, "1.5.0")))
    assert f.status == Status.SKIP and "not affected" in f.evidence[0]


def test_check_states_on_windows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from test_patching_engine import demo_patch

    patch = dataclasses.replace(demo_patch(), id="torch-header-all-slots")
    monkeypatch.setattr(catalog, "load_all", lambda *a: (patch,))
    root = fake_torch(tmp_path, "1.5.0")
    f_path = root / REL
    f_path.parent.mkdir(parents=True, exist_ok=True)
    c = check("torch-header-all-slots")
    env = env_for("win32", root, "1.5.0+cu101")
    expected = {ORIG: Status.FAIL, FAQ: Status.FAIL, GOOD: Status.OK, "// other\n": Status.WARN}
    for text, status in expected.items():
        f_path.write_text(text)
        f = c.run(CheckContext(env))
        assert f.status == status, (text, f)
        if status == Status.FAIL:
            assert f.fix == "mmfix patch-torch-headers --python C:/env/python.exe"
    # a hand edit that compiles (like the FAQ's C-style cast in cast.h) is fine as it is
    works = dataclasses.replace(patch.hand_edits[0], compiles=True)
    monkeypatch.setattr(
        catalog, "load_all", lambda *a: (dataclasses.replace(patch, hand_edits=(works,)),)
    )
    f_path.write_text(FAQ)
    f = c.run(CheckContext(env))
    assert f.status == Status.OK and "hand edit" in f.evidence[0]
    assert sha(GOOD) != sha(ORIG)
    assert patch.versions == SpecifierSet(">=1.5,<1.6")


# --- the install journal (shared with mmfix rebuild) --------------------------------------------


def test_install_journal_records_in_state_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    j = patching.install_journal(str(tmp_path / "env"))
    assert str(j.dir).startswith(str(tmp_path / "state"))
    with j.locked():
        e = j.record("install", patch_id="rebuild", saved=str(tmp_path / "old.whl"),
                     python="/env/bin/python", previous=[])
    [got] = j.entries()
    assert got == e and got["kind"] == "install" and got["mmfix_version"] and got["time"]
    assert patching.install_journal(str(tmp_path / "env")).entries() == [got]  # same folder


def test_revert_install_without_restore_helper_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    from mmfix.commands import patch as cmd
    from mmfix.errors import MmfixError

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    env = dataclasses.replace(
        env_for("linux", tmp_path, "2.2.0"),
        target=TargetPython(executable="/env/bin/python", version="3.11.7", prefix=str(tmp_path)),
    )
    monkeypatch.setattr(cmd, "_probe", lambda python: env)
    j = patching.install_journal(str(tmp_path))
    j.record("install", patch_id="rebuild", saved="old.whl", python="/env/bin/python", previous=[])
    real_import = builtins.__import__

    def no_build(name: str, *a, **k):  # type: ignore[no-untyped-def]
        if name.startswith("mmfix.builder"):
            raise ImportError("No module named 'mmfix.builder'")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_build)
    with pytest.raises(MmfixError) as err:
        cmd.run_revert([], None, None, None, True, False, False, False)
    assert err.value.exit_code == 1 and "not available" in err.value.what
    assert len(j.entries()) == 1  # nothing dropped


def test_patch_build_source_refuses_unknown_setup_py(tmp_path: Path) -> None:
    from mmfix.errors import RefusedError

    setup = tmp_path / "setup.py"
    setup.write_text("from pkg_resources import get_distribution\nprint('not a release')\n")
    with pytest.raises(RefusedError) as err:
        patching.patch_build_source(tmp_path, "2.2.0", "2.14.1", "3.13.0")
    assert "setup.py" in err.value.what and "setuptools-no-pkg-resources" in err.value.what
    assert setup.read_text().startswith("from pkg_resources import")
    assert not (tmp_path / ".mmfix" / "journal.json").exists()


def test_patch_build_source_bad_threads_value_is_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        patching.patch_build_source(tmp_path, "2.2.0", "2.14.1", "3.12.1", threads_per_block=48)
