"""The runner, installer and verifier with real processes: a real ``pip wheel`` of a tiny package
whose setup.py prints ninja-style ``[n/N]`` lines, a real venv for install/restore."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import venv
from pathlib import Path

import pytest

from mmfix.builder.install import install_wheel, last_install_entry, restore_previous, save_install
from mmfix.builder.plan import BuildPlan
from mmfix.builder.runner import build_environment, run_build, stop_group
from mmfix.builder.verify import list_archs, verify_install
from mmfix.errors import OperationFailed, RefusedError
from mmfix.model import Environment, Host, MmcvDist, TargetPython

SETUP = """\
import sys
from setuptools import setup
building = "bdist_wheel" in sys.argv  # setup.py also runs once for the metadata
for i in range(1, 4 if building else 1):
    print(f"[{i}/3] c++ -c file{i}.cpp", flush=True)
if {fail} and building:
    print("file2.cpp:1:1: error: boom", flush=True)
    sys.exit(1)
setup(name="mmcv", version="{version}", packages=["mmcv"])
"""


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MMFIX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def _pkg(root: Path, version: str, fail: bool = False) -> Path:
    (root / "mmcv").mkdir(parents=True)
    (root / "mmcv" / "__init__.py").write_text(f"__version__ = '{version}'\n")
    (root / "setup.py").write_text(SETUP.replace("{fail}", str(fail)).replace("{version}", version))
    return root


def _plan(python: str, **env: str) -> BuildPlan:
    return BuildPlan(python=python, mmcv_version="2.2.0", dist_name="mmcv", cuda=False, arch_list=None,
                     arch_source="-", jobs=1, env={"MMCV_WITH_OPS": "1", **env}, unset=("FORCE_CUDA",),
                     path_prepend=("/opt/x/bin",), patches=(), env_changes=(), blockers=(), notes=())


@pytest.fixture(scope="module")
def target(tmp_path_factory) -> Path:
    """A real venv with pip and setuptools (from this interpreter's wheels)."""
    d = tmp_path_factory.mktemp("venv") / "v"
    venv.create(d, with_pip=True)
    py = d / "bin" / "python"
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", "setuptools", "wheel"], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot install setuptools into a test venv: {r.stderr[-200:]}")
    return py


def test_build_environment():
    env = build_environment(_plan("/p", CUDA_HOME="/c", X="{build}/h"), Path("/b"),
                            {"PATH": "/usr/bin", "FORCE_CUDA": "1"})
    assert env["PATH"] == "/opt/x/bin" + os.pathsep + "/usr/bin"
    assert "FORCE_CUDA" not in env and env["CUDA_HOME"] == "/c" and env["X"] == "/b/h"


def test_run_build_progress_log_and_wheel(tmp_path, target):
    src = _pkg(tmp_path / "src" / "mmcv-2.2.0", "2.2.0")
    steps = []
    res = run_build(_plan(str(target)), src, tmp_path / "log.txt", on_step=lambda n, t: steps.append((n, t)))
    assert res.ok, res.log.read_text()[-2000:]
    assert steps == [(1, 3), (2, 3), (3, 3)]
    assert res.wheel is not None and res.wheel.name.startswith("mmcv-2.2.0")
    log = res.log.read_text()
    assert "--no-build-isolation" in log and "--no-cache-dir" in log and "# MMCV_WITH_OPS=1" in log


def test_run_build_failure_is_reported(tmp_path, target):
    src = _pkg(tmp_path / "src" / "mmcv-2.2.0", "2.2.0", fail=True)
    res = run_build(_plan(str(target)), src, tmp_path / "log.txt")
    assert not res.ok and res.wheel is None and "error: boom" in res.log.read_text()


def test_stop_group_kills_children():
    p = subprocess.Popen(["sh", "-c", "sleep 300 & echo $!; wait"], stdout=subprocess.PIPE, text=True,
                         start_new_session=True)
    assert p.stdout is not None
    child = int(p.stdout.readline())
    stop_group(p, grace=5)  # type: ignore[arg-type]
    assert p.poll() is not None
    time.sleep(0.2)
    stat = Path(f"/proc/{child}/stat")
    # gone, or a zombie waiting for a reaper (containers without an init that reaps)
    assert not stat.exists() or stat.read_text().split(")")[-1].split()[0] == "Z"


def _installed(py: Path) -> MmcvDist | None:
    code = ("import importlib.metadata as m, json, sys; d = m.distribution('mmcv'); "
            "print(json.dumps([d.version, str(d.locate_file(''))]))")
    r = subprocess.run([str(py), "-c", code], capture_output=True, text=True)
    if r.returncode:
        return None
    import json

    ver, loc = json.loads(r.stdout)
    return MmcvDist("mmcv", ver, loc, str(Path(loc) / "mmcv"), None)


def _wheel(tmp: Path, py: Path, version: str) -> Path:
    src = _pkg(tmp / f"w{version}" / f"mmcv-{version}", version)
    res = run_build(_plan(str(py)), src, tmp / f"log{version}.txt")
    assert res.ok and res.wheel
    return res.wheel


def test_install_replaces_and_restore_puts_back(tmp_path, target):
    old = _wheel(tmp_path, target, "2.1.0")
    subprocess.run([str(target), "-m", "pip", "install", "-q", "--no-deps", str(old)], check=True)
    before = _installed(target)
    assert before and before.version == "2.1.0"
    init = Path(before.location) / "mmcv" / "__init__.py"
    original = init.read_bytes()
    env = Environment(TargetPython(str(target), "3.11"), Host("Linux"), mmcv=(before,))
    new = _wheel(tmp_path, target, "2.2.0")
    with pytest.raises(RefusedError, match="without confirmation"):  # stdin is no terminal here
        install_wheel(str(target), new, yes=False, env=env)
    assert _installed(target).version == "2.1.0"  # type: ignore[union-attr]
    res = install_wheel(str(target), new, yes=True, env=env)
    assert res.removed == ("mmcv 2.1.0",)
    assert _installed(target).version == "2.2.0"  # type: ignore[union-attr]
    entry = last_install_entry(str(target))
    assert entry is not None and entry["previous"][0]["version"] == "2.1.0"
    from mmfix.patching import install_journal

    assert install_journal(str(target)).entries()[-1]["entry"] == entry["entry"]
    assert restore_previous(entry) == ["mmcv 2.1.0"]
    assert _installed(target).version == "2.1.0"  # type: ignore[union-attr]
    assert init.read_bytes() == original


def test_install_killed_half_way_leaves_revert_a_way_back(tmp_path, target, monkeypatch):
    """Killed after pip removed the old mmcv and before the new one is in: the journal entry was
    written first, so restore_previous (what `mmfix revert --install` runs) brings 2.1.0 back."""
    from mmfix import proc
    from mmfix.builder import install as install_mod
    from mmfix.patching import install_journal

    old = _wheel(tmp_path, target, "2.1.0")
    subprocess.run([str(target), "-m", "pip", "install", "-q", "--no-deps", str(old)], check=True)
    before = _installed(target)
    assert before is not None
    env = Environment(TargetPython(str(target), "3.11"), Host("Linux"), mmcv=(before,))
    new = _wheel(tmp_path, target, "2.2.0")
    journal = install_journal(str(target))
    known = {e["entry"] for e in journal.entries()} if journal.file.exists() else set()
    real_run = proc.run

    def killed_at_install(cmd, **kw):
        if "install" in cmd and "uninstall" not in cmd:
            raise KeyboardInterrupt  # the kill arrives while pip installs the new wheel
        return real_run(cmd, **kw)

    monkeypatch.setattr(install_mod.proc, "run", killed_at_install)
    with pytest.raises(KeyboardInterrupt):
        install_wheel(str(target), new, yes=True, env=env)
    monkeypatch.setattr(install_mod.proc, "run", real_run)
    assert _installed(target) is None  # the old one is gone, the new one never arrived
    entries = [e for e in journal.entries() if e.get("kind") == "install" and e["entry"] not in known]
    assert len(entries) == 1 and entries[0]["previous"][0]["version"] == "2.1.0"
    assert restore_previous(entries[0]) == ["mmcv 2.1.0"]
    journal.remove({entries[0]["entry"]})
    assert _installed(target).version == "2.1.0"  # type: ignore[union-attr]


def test_failed_pip_install_restores_and_leaves_no_journal_entry(tmp_path, target):
    from mmfix.patching import install_journal

    old = _wheel(tmp_path, target, "2.1.0")
    subprocess.run([str(target), "-m", "pip", "install", "-q", "--no-deps", str(old)], check=True)
    before = _installed(target)
    assert before is not None
    env = Environment(TargetPython(str(target), "3.11"), Host("Linux"), mmcv=(before,))
    journal = install_journal(str(target))
    known = [e["entry"] for e in journal.entries()] if journal.file.exists() else []
    broken = tmp_path / "mmcv-2.2.0-py3-none-any.whl"
    broken.write_bytes(b"not a zip file")
    with pytest.raises(OperationFailed, match="previous mmcv was restored"):
        install_wheel(str(target), broken, yes=True, env=env)
    assert _installed(target).version == "2.1.0"  # type: ignore[union-attr]
    assert ([e["entry"] for e in journal.entries()] if journal.file.exists() else []) == known


def test_save_install_without_record_returns_none(tmp_path):
    assert save_install(MmcvDist("mmcv", "1.0", str(tmp_path), None, None), tmp_path / "k") is None


def test_verify_reports_a_missing_mmcv(tmp_path, target):
    res = verify_install(str(target))
    assert not res.ok and res.error and "Error" in res.error


def test_list_archs_parses_cuobjdump_output(tmp_path):
    fake = tmp_path / "cuobjdump"
    fake.write_text("#!/bin/sh\nif [ \"$1\" = --list-elf ]; then\n"
                    "echo 'ELF file    1: _ext.1.sm_90.cubin'; echo 'ELF file    2: _ext.2.sm_86.cubin'\n"
                    "else echo 'PTX file    1: _ext.1.sm_90.ptx'; fi\n")
    fake.chmod(0o755)
    assert list_archs("/x.so", str(fake)) == (("sm_86", "sm_90"), ("compute_90",))


def test_python_is_real():
    assert Path(sys.executable).exists()


INTERRUPT_SCRIPT = """
import sys
from pathlib import Path
from mmfix.builder.plan import BuildPlan
from mmfix.builder.runner import run_build
plan = BuildPlan(python=sys.argv[1], mmcv_version="2.2.0", dist_name="mmcv", cuda=False, arch_list=None,
                 arch_source="-", jobs=1, env={}, unset=(), path_prepend=(), patches=(), env_changes=(),
                 blockers=(), notes=())
try:
    run_build(plan, Path(sys.argv[2]), Path(sys.argv[3]))
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_interrupt_stops_the_build_group(tmp_path, target, sig):
    import signal

    src = tmp_path / "mmcv-2.2.0"
    (src / "mmcv").mkdir(parents=True)
    marker = tmp_path / "compiler.pid"
    (src / "setup.py").write_text(
        "import os, subprocess, sys, time\n"
        "if 'bdist_wheel' in sys.argv:\n"
        # like ninja: the compiler in its own process group (only the session reaches it)
        f"    p = subprocess.Popen(['sleep', '300'], preexec_fn=os.setpgrp)\n"
        f"    open({str(marker)!r}, 'w').write(str(p.pid))\n"
        "    print('[1/2] c++ -c a.cpp', flush=True); time.sleep(300)\n"
        "from setuptools import setup; setup(name='mmcv', version='2.2.0', packages=['mmcv'])\n"
    )
    script = tmp_path / "drive.py"
    script.write_text(INTERRUPT_SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "src"))
    # restore default SIGINT handling in the child (background shells may ignore it)
    drv = subprocess.Popen([sys.executable, str(script), str(target), str(src), str(tmp_path / "log")],
                           stdout=subprocess.PIPE, text=True, env=env,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.default_int_handler))
    deadline = time.monotonic() + 120
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert marker.exists(), "the fake compiler never started"
    time.sleep(0.5)
    drv.send_signal(getattr(signal, sig))
    out, _ = drv.communicate(timeout=60)
    assert "interrupted" in out
    child = int(marker.read_text())
    stat = Path(f"/proc/{child}/stat")
    time.sleep(0.3)
    assert not stat.exists() or stat.read_text().split(")")[-1].split()[0] == "Z"
    assert "interrupted" in (tmp_path / "log").read_text()


def test_failed_build_is_named_not_dumped(tmp_path):
    from mmfix.commands.rebuild import _explain

    log = tmp_path / "b.log"
    body = [f"  compiling file{i}.cpp" for i in range(2000)]
    body[1500] = "c++: error: unrecognized command-line option '-fmmfix-no-such-flag'"
    log.write_text("# mmfix rebuild\n" + "\n".join(body) + "\nninja: build stopped: subcommand failed.\n")
    named = _explain(log)
    assert 0 < len(named) <= 8
    assert any("-fmmfix-no-such-flag" in ln for ln in named)
