"""e2e: THREADS_PER_BLOCK and the build patches of setup.py on real mmcv sdists from PyPI.

Sdists are cached in ~/.cache/mmfix-tests/sdists (downloaded from PyPI's JSON API when missing).
"""

from __future__ import annotations

import ast
import hashlib
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from mmfix import patching
from mmfix.patching import catalog, textdiff

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("MMFIX_TEST_CACHE", Path.home() / ".cache" / "mmfix-tests")) / "sdists"
PY313 = Path.home() / ".pyenv" / "versions" / "3.13.0" / "bin" / "python"
# (dist, version, header layout) of the sdists used: both THREADS_PER_BLOCK layouts, both families
SDISTS = [
    ("mmcv-full", "1.3.5", "mmcv/ops/csrc/common_cuda_helper.hpp"),
    ("mmcv-full", "1.3.11", "mmcv/ops/csrc/common/cuda/common_cuda_helper.hpp"),
    ("mmcv-full", "1.7.2", "mmcv/ops/csrc/common/cuda/common_cuda_helper.hpp"),
    ("mmcv", "2.0.1", "mmcv/ops/csrc/common/cuda/common_cuda_helper.hpp"),
    ("mmcv", "2.2.0", "mmcv/ops/csrc/common/cuda/common_cuda_helper.hpp"),
]


def sdist(name: str, version: str) -> Path:
    """The real sdist of ``name`` ``version`` from the index (PEP 691, sha256 checked, cached), fetched
    the way ``mmfix rebuild`` fetches it (PyPI's per-release JSON API is not answered everywhere)."""
    from mmfix.builder.source import dist_name, fetch_sdist

    assert dist_name(version) == name, (name, version)
    return fetch_sdist(version)


def unpack(archive: Path, dest: Path) -> Path:
    with tarfile.open(archive) as tar:
        top = tar.getmembers()[0].name.split("/")[0]
        members = [m for m in tar.getmembers() if m.isfile() or m.isdir()]
        tar.extractall(dest, members=members)  # noqa: S202 - PyPI sdist of a known release
    return dest / top


def mmfix(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "mmfix", *args], capture_output=True, text=True, env=env, timeout=120
    )


def digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.mark.parametrize(("name", "version", "header"), SDISTS)
def test_threads_per_block_on_real_sources(
    tmp_path: Path, name: str, version: str, header: str
) -> None:
    src = unpack(sdist(name, version), tmp_path)
    h = src / header
    released = h.read_bytes()
    assert b"#define THREADS_PER_BLOCK 512\n" in released
    same = mmfix("patch-threads", "--value", "512", "--source", str(src))  # the released value
    assert same.returncode == 0 and "already 512" in same.stdout and h.read_bytes() == released
    r = mmfix("patch-threads", "--value", "256", "--source", str(src))
    assert r.returncode == 0, r.stderr
    assert (
        b"#define THREADS_PER_BLOCK 256\n" in h.read_bytes()
        and "+#define THREADS_PER_BLOCK 256" in r.stdout
    )
    assert "already 256" in mmfix("patch-threads", "--value", "256", "--source", str(src)).stdout
    r = mmfix("patch-threads", "--value", "128", "--source", str(src))  # change the value again
    assert r.returncode == 0 and "was THREADS_PER_BLOCK 256" in r.stdout
    assert b"#define THREADS_PER_BLOCK 128\n" in h.read_bytes()
    assert mmfix("patch-threads", "--value", "1000", "--source", str(src)).returncode == 2
    assert mmfix("revert", "--source", str(src)).returncode == 0
    assert h.read_bytes() == released  # byte-identical, through both changes


def test_threads_per_block_crlf_copy_and_tampered(tmp_path: Path) -> None:
    src = unpack(sdist("mmcv", "2.2.0"), tmp_path)
    h = src / SDISTS[-1][2]
    crlf = h.read_bytes().replace(b"\n", b"\r\n")
    h.write_bytes(crlf)
    os.chmod(h, 0o600)
    assert mmfix("patch-threads", "--value", "64", "--source", str(src)).returncode == 0
    out = h.read_bytes()
    assert b"#define THREADS_PER_BLOCK 64\r\n" in out and out.count(b"\n") == out.count(b"\r\n")
    assert h.stat().st_mode & 0o777 == 0o600
    assert mmfix("revert", "--source", str(src)).returncode == 0 and h.read_bytes() == crlf
    h.write_bytes(crlf.replace(b"THREADS_PER_BLOCK 512", b"THREADS_PER_BLOCK 300"))
    before = digest(h)
    r = mmfix("patch-threads", "--value", "64", "--source", str(src))
    assert r.returncode == 3 and "THREADS_PER_BLOCK 300" in r.stderr and digest(h) == before


def _get_version_source(setup_py: str) -> str:
    tree = ast.parse(setup_py)
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "get_version")
    return ast.get_source_segment(setup_py, fn) or ""


@pytest.mark.parametrize(("name", "version", "header"), SDISTS)
def test_build_patches_on_real_sdists(tmp_path: Path, name: str, version: str, header: str) -> None:
    src = unpack(sdist(name, version), tmp_path)
    setup = src / "setup.py"
    released = setup.read_text()
    changes = patching.patch_build_source(
        src, version, "2.14.1+cu130", "3.13.0", threads_per_block=256
    )
    by_id = {c.patch_id: c for c in changes}
    assert by_id["setuptools-no-pkg-resources"].state == "applied"
    assert by_id["setup-py-python313"].state == "applied"
    assert by_id["threads-per-block"].state == "applied"
    text = setup.read_text()
    compile(text, "setup.py", "exec")
    assert "from pkg_resources import" not in text.split("except ImportError")[0]
    assert "-std=c++14'" not in text and "-std=c++17'" not in text
    if "-std=c++" in released:
        assert by_id["cxx-standard"].state == "applied" and "-std=c++20'" in text
    # again: everything already done, nothing written
    again = patching.patch_build_source(
        src, version, "2.14.1+cu130", "3.13.0", threads_per_block=256
    )
    assert all(c.state in ("already", "skipped-not-needed") for c in again)
    if PY313.exists():  # get_version() really works on Python 3.13 now (and did not before)
        for body, ok in ((_get_version_source(text), True), (_get_version_source(released), False)):
            code = body + "\nprint(get_version())\n"
            r = subprocess.run([str(PY313), "-c", code], cwd=src, capture_output=True, text=True)
            assert (r.returncode == 0 and r.stdout.strip() == version) is ok, r.stderr
    assert patching.revert(patching.Journal(src))
    assert setup.read_text() == released


def test_every_cached_sdist_is_known() -> None:
    """Every mmcv/mmcv-full sdist in the cache has a known setup.py and THREADS_PER_BLOCK header."""
    archives = sorted(CACHE.glob("mmcv*.tar.gz"))
    if len(archives) < 10:
        pytest.skip("run scripts/generate_patches.py --download to cache every sdist")
    known: dict[str, set[str]] = {}
    for p in catalog.load_all():
        if p.target == "mmcv":
            known.setdefault(p.path, set()).update(v.original for v in p.variants)
    missing = []
    for a in archives:
        with tarfile.open(a) as tar:
            for m in tar.getmembers():
                rel = m.name.split("/", 1)[-1]
                if rel in known and m.isfile():
                    data = tar.extractfile(m).read()  # type: ignore[union-attr]
                    if textdiff.sha256_text(data) not in known[rel]:
                        missing.append(f"{a.name}:{rel}")
    assert missing == []
