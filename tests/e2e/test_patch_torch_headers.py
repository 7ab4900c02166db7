"""e2e: the family-D header patches on the headers of real torch wheels from PyPI.

Wheels are cached in ~/.cache/mmfix-tests/torch (the macOS ones: smallest; headers are the same on
every OS); only ``torch/include`` and ``torch/version.py`` are unpacked. Each tree is compiled with
``g++ -fsyntax-only`` before and after patching, patched twice (second run: no change), and
reverted to byte-identical files.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urljoin

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("MMFIX_TEST_CACHE", Path.home() / ".cache" / "mmfix-tests")) / "torch"
PYENV = Path.home() / ".pyenv" / "versions"

# torch version -> (platform tag part, python tag part) of the wheel taken from PyPI
WHEELS = {
    "1.5.0": "cp38-none-macosx_10_9_x86_64",
    "1.6.0": "cp38-none-macosx_10_9_x86_64",
    "1.7.0": "cp38-none-macosx_10_9_x86_64",
    "1.7.1": "cp38-none-macosx_10_9_x86_64",
    "1.8.0": "cp38-none-macosx_11_1_arm64",
    "2.9.0": "cp311-none-macosx_11_0_arm64",
    "2.14.1": "cp311-cp311-macosx_14_0_arm64",
}
# the lines each release must have after patching (and must not have before)
FIXED = {
    "1.5.0": {
        "include/torch/csrc/jit/api/module.h": "  static const bool all_slots = false;",
        "include/pybind11/cast.h": "return *(static_cast<type *>(this->value)); }",
    },
    "1.6.0": {
        "include/torch/csrc/jit/api/module.h": "  static const bool all_slots = true;",
        "include/pybind11/cast.h": "return *(static_cast<type *>(this->value)); }",
    },
    "1.7.0": {
        "include/pybind11/cast.h": "return *(static_cast<type *>(this->value)); }",
    },
    "1.7.1": {},
    "2.9.0": {
        "include/torch/csrc/dynamo/compiled_autograd.h": "defined(USE_ROCM) || defined(__NVCC__))",
    },
    "2.14.1": {
        "include/torch/csrc/dynamo/compiled_autograd.h": "defined(USE_ROCM) || defined(__NVCC__))",
    },
}
GONE = {
    "1.7.0": {"include/torch/csrc/jit/ir/ir.h": "Kind = ::c10::prim::profile_optional;"},
    "1.7.1": {"include/torch/csrc/jit/ir/ir.h": "Kind = ::c10::prim::profile_optional;"},
}


def wheel(version: str) -> Path:
    """The cached wheel of torch ``version``, downloaded from PyPI's JSON API when missing."""
    found = sorted(CACHE.glob(f"torch-{version}-*{WHEELS[version]}.whl"))
    if found:
        return found[0]
    requests = pytest.importorskip("requests")
    api = "https://pypi.org/pypi/torch/json"
    files = requests.get(api, timeout=60).json()["releases"][version]
    f = next(f for f in files if f["filename"].endswith(f"{WHEELS[version]}.whl"))
    CACHE.mkdir(parents=True, exist_ok=True)
    dest, part = CACHE / f["filename"], CACHE / (f["filename"] + ".part")
    with requests.get(urljoin(api, f["url"]), stream=True, timeout=900) as r:
        r.raise_for_status()
        with open(part, "wb") as out:
            for chunk in r.iter_content(1 << 20):
                out.write(chunk)
    part.rename(dest)
    return dest


def unpack(version: str, dest: Path) -> Path:
    """``torch/include`` and ``torch/version.py`` of the wheel, under ``dest``; the torch folder."""
    with zipfile.ZipFile(wheel(version)) as z:
        for name in z.namelist():
            if name.startswith("torch/include/") or name == "torch/version.py":
                z.extract(name, dest)
    return dest / "torch"


def tree_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (root / "include").rglob("*")
        if p.is_file()
    }


def syntax_check(torch_dir: Path, version: str) -> subprocess.CompletedProcess[str]:
    """g++ -fsyntax-only of a TU including the patched headers (Python headers from pyenv)."""
    old = version.startswith("1.")
    py = (
        PYENV / ("3.8.18" if old else "3.11.7") / "include" / ("python3.8" if old else "python3.11")
    )
    if not py.is_dir():
        pytest.skip(f"Python headers {py} not present")
    tu = torch_dir / "mmfix_tu.cpp"
    includes = (
        ["torch/extension.h", "torch/csrc/jit/api/module.h", "torch/csrc/jit/ir/ir.h"]
        if old
        else ["torch/csrc/dynamo/compiled_autograd.h"]
    )
    tu.write_text("".join(f"#include <{h}>\n" for h in includes))
    std = "-std=c++14" if old else ("-std=c++17" if version < "2.14" else "-std=c++20")
    argv = ["g++", std, "-fsyntax-only", f"-I{torch_dir / 'include'}",
            f"-I{torch_dir / 'include/torch/csrc/api/include'}", f"-I{py}", str(tu)]  # fmt: skip
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=600)
    finally:
        tu.unlink()


def mmfix(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "mmfix", *args], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if shutil.which("g++") is None:
        pytest.skip("g++ not found")
    base = tmp_path_factory.mktemp("torch-trees")
    return {v: unpack(v, base / v) for v in WHEELS}


@pytest.mark.parametrize("version", [v for v in WHEELS if v != "1.8.0"])
def test_real_headers_patched_compiled_idempotent_reverted(
    trees: dict[str, Path], version: str
) -> None:
    root = trees[version]
    before = tree_hashes(root)
    with ThreadPoolExecutor(1) as pool:  # compile the released tree while patching a copy
        copy = root.parent / "released"
        shutil.copytree(root / "include", copy / "include")
        first = pool.submit(syntax_check, copy, version)
        # Linux: the problem does not occur, so nothing changes without --force
        r = mmfix("patch-torch-headers", "--torch-dir", str(root))
        assert r.returncode == 0 and "nothing changed" in r.stdout, r
        assert tree_hashes(root) == before
        dry = mmfix("patch-torch-headers", "--torch-dir", str(root), "--force", "--dry-run")
        assert dry.returncode == 0 and tree_hashes(root) == before
        r = mmfix("patch-torch-headers", "--torch-dir", str(root), "--force")
        assert r.returncode == 0, r.stderr
        compiled_before = first.result()
    assert compiled_before.returncode == 0, compiled_before.stderr[-3000:]
    after = tree_hashes(root)
    changed = {k for k in after if after[k] != before.get(k)}
    expected = set(FIXED[version]) | set(GONE.get(version, {}))
    assert changed == expected
    assert set(after) == set(before)  # no stray files under include/
    for rel, line in FIXED[version].items():
        assert line in (root / rel).read_text() and line in dry.stdout
    for rel, line in GONE.get(version, {}).items():
        assert line not in (root / rel).read_text()
    compiled_after = syntax_check(root, version)
    assert compiled_after.returncode == 0, compiled_after.stderr[-3000:]
    again = mmfix("patch-torch-headers", "--torch-dir", str(root), "--force")
    assert again.returncode == 0 and "already patched" in again.stdout
    assert tree_hashes(root) == after
    back = mmfix("revert", "--torch-dir", str(root))
    assert back.returncode == 0, back.stderr
    assert tree_hashes(root) == before  # byte-identical
    assert "nothing recorded" in mmfix("revert", "--torch-dir", str(root)).stdout


def test_torch_180_untouched(trees: dict[str, Path]) -> None:
    root = trees["1.8.0"]
    before = tree_hashes(root)
    r = mmfix("patch-torch-headers", "--torch-dir", str(root), "--force")
    assert r.returncode == 0 and "nothing to patch" in r.stdout
    assert tree_hashes(root) == before and not (root / ".mmfix").exists()
    compiled = syntax_check(root, "1.8.0")
    assert compiled.returncode == 0, compiled.stderr[-3000:]


def test_faq_hand_edits_repaired_on_real_files(trees: dict[str, Path], tmp_path: Path) -> None:
    """The FAQ's edits of real 1.5.0 module.h / 1.7.0 cast.h (CRLF copies, as on Windows) become
    exactly the patched form; the FAQ's 1.5 edit itself does not compile."""
    all_slots = [
        ("static constexpr bool all_slots = false;", "static const bool all_slots = false;"),
        ("static constexpr bool all_slots = true;", "static const bool all_slots = true;"),
    ]
    cast = [("return *(this->value); }", "return *(static_cast<type *>(this->value)); }")]
    cases = [  # version, file, (FAQ's old, FAQ's new), the correct replacements
        ("1.5.0", "include/torch/csrc/jit/api/module.h",
         ("static constexpr bool all_slots = false;", "static bool all_slots = false;"), all_slots),
        ("1.7.0", "include/pybind11/cast.h",
         ("return *(this->value); }", "return *((type*)this->value); }"), cast),
    ]  # fmt: skip
    for version, rel, (old, faq), good in cases:
        root = tmp_path / version / "torch"
        shutil.copytree(trees[version], root)
        f = root / rel
        released = f.read_text()
        f.write_bytes(released.replace(old, faq).replace("\n", "\r\n").encode())
        if version == "1.5.0":
            broken = syntax_check(root, version)
            assert broken.returncode != 0 and "in-class initialization" in broken.stderr
        r = mmfix("patch-torch-headers", "--torch-dir", str(root), "--force")
        assert r.returncode == 0 and "repaired" in r.stdout, r
        fixed = f.read_bytes()
        assert fixed.count(b"\n") == fixed.count(b"\r\n")  # still CRLF throughout
        expected = released
        for a, b in good:
            expected = expected.replace(a, b)
        assert fixed.replace(b"\r\n", b"\n") == expected.encode()  # the form compiled above
        assert mmfix("revert", "--torch-dir", str(root)).returncode == 0
        assert faq.encode() in f.read_bytes()  # revert gives the user's own file back
