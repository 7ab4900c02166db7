"""``--git`` URLs: only the https, ssh, git and file transports; everything else is one refusal line
(exit 3), never gitpython's UnsafeProtocolError traceback, and nothing runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_build_source import _repo

from mmfix.builder import source as s
from mmfix.errors import RefusedError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMFIX_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.parametrize(
    ("url", "transport"),
    [
        ("https://github.com/open-mmlab/mmcv.git", "https"),
        ("ssh://git@github.com/open-mmlab/mmcv.git", "ssh"),
        ("git@github.com:open-mmlab/mmcv.git", "ssh"),
        ("git://example.org/mmcv.git", "git"),
        ("file:///srv/mmcv.git", "file"),
        ("/srv/mmcv", "file"),
        ("../mmcv", "file"),
    ],
)
def test_allowed_transports(url: str, transport: str) -> None:
    assert s.check_git_url(url) == transport


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ext::sh -c touch% /tmp/x", "'ext' is a git remote helper"),
        ("EXT::sh -c id", "remote helper"),
        ("fd::3", "'fd' is a git remote helper"),
        ("ext://sh", "remote helper"),
        ("::sh", "remote helper"),
        ("http://github.com/open-mmlab/mmcv", "'http' transport is not one of https, ssh, git, file"),
        ("ftp://example.org/x", "'ftp' transport"),
        ("git+ssh+evil://x/y", "transport"),
        ("--upload-pack=touch /tmp/x", "starts with '-'"),
        ("-u/tmp/x", "starts with '-'"),
    ],
)
def test_other_transports_are_refused(url: str, why: str) -> None:
    with pytest.raises(RefusedError) as err:
        s.check_git_url(url)
    line = err.value.one_line()
    assert err.value.exit_code == 3 and why in line and "https://" in line


def test_from_git_refuses_ext_before_git_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    with pytest.raises(RefusedError):
        s.from_git(f"ext::sh -c touch% {marker}", None)
    assert not marker.exists()
    assert not any((tmp_path / "cache").rglob("*.git"))


def test_file_transport_still_clones(tmp_path: Path) -> None:
    up = _repo(tmp_path)
    assert s.from_git(f"file://{up}@v2.1.0", None).version == "2.1.0"


def test_cli_refusal_is_one_line_without_traceback(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    env = {"PYTHONPATH": str(REPO / "src"), "NO_COLOR": "1", "PATH": os.environ["PATH"],
           "MMFIX_CACHE_DIR": str(tmp_path / "cache"), "MMFIX_OFFLINE": "1", "HOME": str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "mmfix", "rebuild", "--python", sys.executable, "--cpu",
                        "--git", f"ext::sh -c touch% {marker}", "--dry-run"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 3, r.stderr
    assert "Traceback" not in r.stderr and "UnsafeProtocolError" not in r.stderr
    [line] = [ln for ln in r.stderr.splitlines() if ln.startswith("mmfix: error:")]
    assert "is refused: 'ext' is a git remote helper" in line
    assert not marker.exists()
