"""e2e: real trees that arrive with a planted ``.mmfix/`` (the real mmcv 2.2.0 sdist, and a folder
with the real torch 2.13.0 ``compiled_autograd.h`` and ``version.py``), driven through the real CLI
as a user would. Nothing may be written or read outside the tree, every refusal is one line with
exit 3, and the legitimate flows (patch, revert, symlinked header) still work.

Cost: about 40 CLI runs of under a second each, plus the cached sdist and ops-less venv (~30 s)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mmfix.builder.source import from_sdist

pytestmark = pytest.mark.e2e

THREADS = "mmcv/ops/csrc/common/cuda/common_cuda_helper.hpp"
AUTOGRAD = "include/torch/csrc/dynamo/compiled_autograd.h"


def snapshot(folder: Path) -> dict[str, bytes | str]:
    out: dict[str, bytes | str] = {}
    for p in sorted(folder.rglob("*")):
        if p.is_symlink():
            out[str(p)] = os.readlink(p)
        elif p.is_file():
            out[str(p)] = p.read_bytes()
    return out


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    state = tmp_path / "state"

    def mmfix(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, NO_COLOR="1", XDG_STATE_HOME=str(state), MMFIX_CACHE_DIR=str(tmp_path / "cache"))
        return subprocess.run([sys.executable, "-m", "mmfix", *args], capture_output=True, text=True, env=env,
                              cwd=cwd or tmp_path, stdin=subprocess.DEVNULL, timeout=300)

    return mmfix


def one_error(r: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in r.stderr, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("mmfix: error:")]
    assert len(errors) == 1, r.stderr
    print(f"    exit {r.returncode}: {errors[0]}")
    return errors[0]


@pytest.fixture
def mmcv_tree(tmp_path: Path) -> Path:
    dest = tmp_path / "mmcv-2.2.0"
    shutil.copytree(from_sdist("2.2.0").path, dest, ignore=shutil.ignore_patterns(".mmfix"))
    return dest


@pytest.fixture
def torch_tree(tmp_path: Path, opsless_env: Path) -> Path:
    code = "import importlib.util as u; print(u.find_spec('torch').submodule_search_locations[0])"
    real = Path(subprocess.run([str(opsless_env), "-c", code], capture_output=True, text=True, check=True).stdout.strip())
    dest = tmp_path / "torch"
    (dest / AUTOGRAD).parent.mkdir(parents=True)
    shutil.copy2(real / "version.py", dest / "version.py")
    shutil.copy2(real / AUTOGRAD, dest / AUTOGRAD)
    return dest


def plant(root: Path, entries: list[dict[str, object]], backup: bytes = b'import os; os.system("id")\n') -> None:
    (root / ".mmfix" / "backups").mkdir(parents=True, exist_ok=True)
    (root / ".mmfix" / "backups" / "x").write_bytes(backup)
    for e in entries:
        e.setdefault("before_bytes_sha256", hashlib.sha256(backup).hexdigest())
    doc = {"schema": "mmfix.journal/1", "root": "/home/someone/mmcv", "writer": {"user": "someone", "host": "x"},
           "entries": entries}
    (root / ".mmfix" / "journal.json").write_text(json.dumps(doc))


def entry(path: str, backup: str = "backups/x", after: str = "0" * 64) -> dict[str, object]:
    return {"entry": "a1", "kind": "file", "path": path, "patch_id": "threads-per-block",
            "after_bytes_sha256": after, "backup": backup}


@pytest.mark.parametrize("how", ["absolute", "dotdot", "backup-absolute", "backup-dotdot", "symlinked-folder"])
def test_planted_journal_in_a_downloaded_mmcv_tree(run, tmp_path: Path, mmcv_tree: Path, how: str) -> None:  # type: ignore[no-untyped-def]
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (site / "keep.txt").write_text("keep\n")
    secret = tmp_path / "secret.txt"
    secret.write_text("secret\n")
    evil = site / "evil.pth"
    rel_site = os.path.relpath(site, mmcv_tree)
    entries = {
        "absolute": entry(str(evil)),
        "dotdot": entry(f"{rel_site}/evil.pth"),
        "backup-absolute": entry("README.md", backup=str(secret)),
        "backup-dotdot": entry("README.md", backup=f"backups/../../{os.path.relpath(secret, mmcv_tree)}"),
        "symlinked-folder": entry("sp/evil.pth"),
    }[how]
    if how == "symlinked-folder":
        (mmcv_tree / "sp").symlink_to(site)
    plant(mmcv_tree, [entries])
    outside = snapshot(tmp_path / "venv") | {str(secret): secret.read_bytes()}
    tree_before = snapshot(mmcv_tree)
    print(f"\n  {how}:")
    for args, cwd in ((("revert",), mmcv_tree), (("revert", "--source", str(mmcv_tree)), tmp_path),
                      (("revert", "--source", str(mmcv_tree), "--force"), tmp_path),
                      (("patch-threads", "--value", "256", "--source", str(mmcv_tree)), tmp_path)):
        r = run(*args, cwd=cwd)
        line = one_error(r)
        assert r.returncode == 3
        assert "journal" in line or "not reverting" in line
    assert not evil.exists()
    assert snapshot(tmp_path / "venv") | {str(secret): secret.read_bytes()} == outside
    after = snapshot(mmcv_tree)
    after.pop(str(mmcv_tree / ".mmfix" / "lock"), None)  # the (empty) lock file is all that may appear
    assert after == tree_before


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        ("[]", "it is a JSON list, not an object"),
        ('{"entries": "abc"}', "its schema is None"),
        ('{"schema": "mmfix.journal/1", "entries": "abc"}', "'entries' is a str, not a list"),
        ('{"schema": "mmfix.journal/1", "entries": [{"entry": "e1", "kind": "file"}]}', "entry 1 (id e1)"),
        ("[" * 50_000 + "]" * 50_000, "nested deeper than 8 levels"),
    ],
)
def test_malformed_journals_in_a_torch_tree(run, torch_tree: Path, doc: str, words: str) -> None:  # type: ignore[no-untyped-def]
    (torch_tree / ".mmfix").mkdir()
    (torch_tree / ".mmfix" / "journal.json").write_text(doc)
    header = (torch_tree / AUTOGRAD).read_bytes()
    print()
    for args in (("patch-torch-headers", "--force", "--torch-dir", str(torch_tree)),
                 ("revert", "--torch-dir", str(torch_tree))):
        r = run(*args)
        line = one_error(r)
        assert r.returncode == 3 and words in line and str(torch_tree / ".mmfix" / "journal.json") in line
    assert (torch_tree / ".mmfix" / "journal.json").read_text() == doc
    assert (torch_tree / AUTOGRAD).read_bytes() == header


def test_missing_target_and_missing_backup_in_a_torch_tree(run, torch_tree: Path) -> None:  # type: ignore[no-untyped-def]
    header = torch_tree / AUTOGRAD
    released = header.read_bytes()
    assert run("patch-torch-headers", "--force", "--torch-dir", str(torch_tree)).returncode == 0
    patched = header.read_bytes()
    header.unlink()
    r = run("revert", "--torch-dir", str(torch_tree))
    print()
    assert r.returncode == 3 and "the file is missing" in one_error(r) and not header.exists()
    header.write_bytes(patched)
    [backup] = (torch_tree / ".mmfix" / "backups").iterdir()
    backup.unlink()
    r = run("revert", "--torch-dir", str(torch_tree))
    assert r.returncode == 3 and f"the backup {backup} of {AUTOGRAD} is missing" in one_error(r)
    assert header.read_bytes() == patched
    r = run("revert", "--torch-dir", str(torch_tree), "--force")
    assert r.returncode == 3 and "is missing" in one_error(r)
    assert released != patched


def test_symlinked_headers_and_state_in_a_real_mmcv_tree(run, tmp_path: Path, mmcv_tree: Path) -> None:  # type: ignore[no-untyped-def]
    header = mmcv_tree / THREADS
    released = header.read_bytes()
    # a header that links inside the tree: patched through the link, which stays a link
    real = mmcv_tree / "mmcv" / "real_helper.hpp"
    header.rename(real)
    header.symlink_to(os.path.relpath(real, header.parent))
    r = run("patch-threads", "--value", "256", "--source", str(mmcv_tree))
    assert r.returncode == 0, r.stderr
    assert header.is_symlink() and b"#define THREADS_PER_BLOCK 256" in real.read_bytes()
    r = run("revert", "--source", str(mmcv_tree))
    assert r.returncode == 0 and header.is_symlink() and real.read_bytes() == released
    # a header that links outside the tree: refused, the outside file untouched
    outside = tmp_path / "outside_helper.hpp"
    outside.write_bytes(released)
    header.unlink()
    header.symlink_to(outside)
    r = run("patch-threads", "--value", "256", "--source", str(mmcv_tree))
    print()
    assert r.returncode == 3 and "outside the tree" in one_error(r) and outside.read_bytes() == released
    # .mmfix itself a symlink: refused, nothing written where it points
    header.unlink()
    real.rename(header)
    shutil.rmtree(mmcv_tree / ".mmfix", ignore_errors=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (mmcv_tree / ".mmfix").symlink_to(elsewhere)
    r = run("patch-threads", "--value", "256", "--source", str(mmcv_tree))
    assert r.returncode == 3 and ".mmfix is a symlink" in one_error(r)
    assert list(elsewhere.iterdir()) == [] and header.read_bytes() == released


def test_stale_temp_files_are_swept_by_a_real_run(run, mmcv_tree: Path) -> None:  # type: ignore[no-untyped-def]
    header = mmcv_tree / THREADS
    stale = header.parent / f".{header.name}.k2j3x9q1.mmfix-tmp"
    stale.write_text("half a header from a kill -9\n")
    (mmcv_tree / ".mmfix" / "backups").mkdir(parents=True)
    stale_journal = mmcv_tree / ".mmfix" / ".journal.json.a1b2c3.mmfix-tmp"
    stale_journal.write_text("{")
    assert run("patch-threads", "--value", "256", "--source", str(mmcv_tree)).returncode == 0
    assert not stale.exists() and not stale_journal.exists()
    stale.write_text("again\n")
    assert run("revert", "--source", str(mmcv_tree)).returncode == 0
    assert not stale.exists()
