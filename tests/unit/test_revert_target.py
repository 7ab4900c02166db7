"""``mmfix revert`` without --torch-dir/--source: it names the journal it found and reverts only a
journal mmfix wrote for this user on this machine; any other is asked about or refused (real CLI
runs in real folders)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_patching_engine import GOOD, ORIG, REL, demo_patch, tree

from mmfix.patching import engine

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(d))
    return d


def mmfix(*args: str, cwd: Path, state: Path) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(REPO / "src"), "NO_COLOR": "1", "PATH": os.environ["PATH"],
           "XDG_STATE_HOME": str(state), "HOME": str(state.parent)}
    return subprocess.run([sys.executable, "-m", "mmfix", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, stdin=subprocess.DEVNULL)


def test_a_journal_mmfix_wrote_here_is_named_and_reverted(tmp_path: Path, state: Path) -> None:
    root = tmp_path / "tree"
    f = tree(root, ORIG)
    engine.apply(root, [engine.Request(demo_patch())])
    r = mmfix("revert", cwd=root, state=state)
    assert r.returncode == 0, r.stderr
    assert f"under {root} (the current folder holds an mmfix journal" in r.stderr
    assert f"{REL}: restored" in r.stdout and f.read_text() == ORIG


def test_a_planted_journal_in_the_current_folder_is_refused(tmp_path: Path, state: Path) -> None:
    mine = tmp_path / "mine"
    tree(mine, ORIG)
    engine.apply(mine, [engine.Request(demo_patch())])
    planted = tmp_path / "downloaded"
    shutil.copytree(mine, planted)  # the same bytes, journal included: still not written here
    r = mmfix("revert", cwd=planted, state=state)
    assert r.returncode == 3 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in r.stderr
    assert f"revert: 1 recorded change(s) under {planted}" in lines[0]
    assert lines[1].startswith(f"mmfix: error: not reverting {planted} without being told to")
    assert f"mmfix revert --source {planted}" in lines[1]
    assert (planted / REL).read_text() == GOOD
    # named explicitly, it is reverted (its paths are still confined to the tree)
    r = mmfix("revert", "--source", str(planted), cwd=tmp_path, state=state)
    assert r.returncode == 0 and (planted / REL).read_text() == ORIG


def test_a_journal_edited_by_hand_is_no_longer_trusted(tmp_path: Path, state: Path) -> None:
    root = tmp_path / "tree"
    tree(root, ORIG)
    engine.apply(root, [engine.Request(demo_patch())])
    j = root / ".mmfix" / "journal.json"
    doc = json.loads(j.read_text())
    doc["writer"] = {"user": "someone", "host": "elsewhere"}
    j.write_text(json.dumps(doc))
    r = mmfix("revert", cwd=root, state=state)
    assert r.returncode == 3 and "it says it was written by someone@elsewhere" in r.stderr
    assert (root / REL).read_text() == GOOD


@pytest.mark.parametrize(("answer", "code"), [("y", 0), ("n", 3)])
def test_on_a_terminal_it_asks(tmp_path: Path, state: Path, answer: str, code: int) -> None:
    import pty

    mine = tmp_path / "mine"
    tree(mine, ORIG)
    engine.apply(mine, [engine.Request(demo_patch())])
    planted = tmp_path / "downloaded"
    shutil.copytree(mine, planted)
    master, slave = pty.openpty()
    env = {"PYTHONPATH": str(REPO / "src"), "NO_COLOR": "1", "PATH": os.environ["PATH"],
           "XDG_STATE_HOME": str(state), "HOME": str(state.parent)}
    p = subprocess.Popen([sys.executable, "-m", "mmfix", "revert"], stdin=slave, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env, cwd=planted)
    os.close(slave)
    os.write(master, f"{answer}\n".encode())
    out, err = p.communicate(timeout=60)
    os.close(master)
    assert p.returncode == code, err
    assert "was not written by mmfix for" in out and f"Revert the files it names under {planted}?" in out
    assert (planted / REL).read_text() == (ORIG if answer == "y" else GOOD)


def test_the_target_torch_journal_is_trusted_only_when_written_here(
    tmp_path: Path, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from mmfix.commands import patch as cmd
    from mmfix.errors import RefusedError
    from mmfix.model import Environment, Host, TargetPython, TorchInfo

    torch_dir = tmp_path / "site-packages" / "torch"
    f = tree(torch_dir, ORIG)
    engine.apply(torch_dir, [engine.Request(demo_patch())])
    env = Environment(TargetPython("/env/bin/python", "3.11.7", platform="linux"), Host("Linux"),
                      torch=TorchInfo(version="2.13.0", location=str(torch_dir)))
    monkeypatch.setattr(cmd, "_probe", lambda python: env)
    monkeypatch.chdir(tmp_path)  # no journal here: the target's torch is chosen
    shared = tmp_path / "shared-torch"
    shutil.copytree(torch_dir, shared)
    monkeypatch.setattr(cmd, "_probe", lambda python: dataclasses.replace(
        env, torch=TorchInfo(version="2.13.0", location=str(shared))))
    with pytest.raises(RefusedError) as err:
        cmd.run_revert([], None, None, None, False, False, False, False)
    assert f"mmfix revert --torch-dir {shared}" in err.value.one_line()
    assert (shared / REL).read_text() == GOOD
    monkeypatch.setattr(cmd, "_probe", lambda python: env)
    assert cmd.run_revert([], None, None, None, False, False, False, False) == 0
    assert f.read_text() == ORIG
