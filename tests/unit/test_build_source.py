"""Source resolution: real git repositories made here, a real local HTTP index (pytest-httpserver)."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import git
import pytest

from mmfix.builder import source as s
from mmfix.builder.toolkit import missing_math_headers, resolve_toolkit_root
from mmfix.errors import OperationFailed, RefusedError, UsageError


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MMFIX_CACHE_DIR", str(tmp_path / "cache"))


def _mmcv_tree(root: Path, version: str) -> Path:
    (root / "mmcv").mkdir(parents=True, exist_ok=True)
    (root / "setup.py").write_text("from setuptools import setup\nsetup()\n")
    (root / "mmcv" / "version.py").write_text(f"__version__ = '{version}'\n")
    return root


def _repo(tmp_path: Path) -> Path:
    path = _mmcv_tree(tmp_path / "upstream", "2.1.0")
    repo = git.Repo.init(path)
    repo.index.add(["setup.py", "mmcv/version.py"])
    repo.index.commit("2.1.0")
    repo.create_tag("v2.1.0")
    (path / "mmcv" / "version.py").write_text("__version__ = '2.2.0'\n")
    repo.index.add(["mmcv/version.py"])
    repo.index.commit("2.2.0")
    repo.create_tag("v2.2.0")
    return path


def test_git_checks_out_the_version_tag(tmp_path):
    up = _repo(tmp_path)
    tree = s.from_git(str(up), "2.1.0")
    assert tree.version == "2.1.0" and "@v2.1.0" in tree.origin
    assert s.from_git(f"{up}@v2.2.0", None).version == "2.2.0"


def test_git_refuses_a_dirty_cached_clone(tmp_path):
    up = _repo(tmp_path)
    tree = s.from_git(str(up), "2.2.0")
    (tree.path / "mmcv" / "version.py").write_text("__version__ = 'hacked'\n")
    with pytest.raises(RefusedError, match="local changes"):
        s.from_git(str(up), "2.2.0")


def test_git_unknown_ref_is_usage_error(tmp_path):
    up = _repo(tmp_path)
    with pytest.raises(UsageError, match="no ref 'v9.9.9'"):
        s.from_git(str(up), "9.9.9")


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        ("https://github.com/open-mmlab/mmcv.git@v2.2.0", ("https://github.com/open-mmlab/mmcv.git", "v2.2.0")),
        ("git@github.com:open-mmlab/mmcv.git", ("git@github.com:open-mmlab/mmcv.git", None)),
        ("git@github.com:open-mmlab/mmcv.git@main", ("git@github.com:open-mmlab/mmcv.git", "main")),
        ("/srv/mmcv", ("/srv/mmcv", None)),
    ],
)
def test_split_git_spec(spec, want):
    assert s.split_git_spec(spec) == want


def test_from_dir_rejects_non_mmcv(tmp_path):
    with pytest.raises(UsageError):
        s.from_dir(tmp_path)
    assert s.from_dir(_mmcv_tree(tmp_path / "t", "1.7.2")).version == "1.7.2"


def test_copy_for_build_is_clean(tmp_path):
    tree = s.from_dir(_mmcv_tree(tmp_path / "t", "2.2.0"))
    (tree.path / "build").mkdir()
    (tree.path / "mmcv" / "build").mkdir()
    dest = s.copy_for_build(tree, tmp_path / "b")
    assert not (dest / "build").exists() and (dest / "mmcv" / "build").exists()


def _sdist_bytes(version: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, text in (("setup.py", "setup()\n"), ("mmcv/version.py", f"__version__ = '{version}'\n")):
            data = text.encode()
            info = tarfile.TarInfo(f"mmcv-{version}/{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_sdist_from_pep691_index(httpserver, monkeypatch):
    data = _sdist_bytes("2.2.0")
    files = [{"filename": "mmcv-2.2.0.tar.gz", "url": "/files/mmcv-2.2.0.tar.gz",
              "hashes": {"sha256": hashlib.sha256(data).hexdigest()}},
             {"filename": "mmcv-2.1.0.tar.gz", "url": "/files/x", "hashes": {}}]
    httpserver.expect_request("/simple/mmcv/").respond_with_json({"files": files})
    httpserver.expect_request("/files/mmcv-2.2.0.tar.gz").respond_with_data(data)
    monkeypatch.setenv("PIP_INDEX_URL", httpserver.url_for("/simple"))
    tree = s.from_sdist("2.2.0")
    assert tree.version == "2.2.0" and (tree.path / "setup.py").is_file()
    assert s.sdist_versions(files, "mmcv") == ["2.2.0", "2.1.0"]


def test_sdist_hash_mismatch_fails(httpserver, monkeypatch):
    files = [{"filename": "mmcv-2.2.0.tar.gz", "url": "/f.tgz", "hashes": {"sha256": "0" * 64}}]
    httpserver.expect_request("/simple/mmcv/").respond_with_json({"files": files})
    httpserver.expect_request("/f.tgz").respond_with_data(_sdist_bytes("2.2.0"))
    monkeypatch.setenv("PIP_INDEX_URL", httpserver.url_for("/simple/"))
    with pytest.raises(OperationFailed, match="sha256 mismatch"):
        s.fetch_sdist("2.2.0")


def test_mmcv_full_for_1x(httpserver, monkeypatch):
    httpserver.expect_request("/simple/mmcv-full/").respond_with_json({"files": []})
    monkeypatch.setenv("PIP_INDEX_URL", httpserver.url_for("/simple/"))
    with pytest.raises(OperationFailed, match="no sdist of mmcv-full 1.7.2"):
        s.fetch_sdist("1.7.2")


def test_wrapper_script_leads_to_toolkit(tmp_path):
    root = tmp_path / "cuda-13.0"
    (root / "bin").mkdir(parents=True)
    (root / "include").mkdir()
    (root / "include" / "cuda_runtime.h").write_text("")
    (root / "include" / "cusparse.h").write_text("")
    (root / "bin" / "nvcc").write_text("\x7fELF")
    wrap = tmp_path / "usr" / "bin" / "nvcc"
    wrap.parent.mkdir(parents=True)
    wrap.write_text(f'#!/bin/sh\nexec "{root}/bin/nvcc" "$@"\n')
    link = tmp_path / "nvcc-link"
    link.symlink_to(wrap)
    assert resolve_toolkit_root(link) == root
    assert resolve_toolkit_root(root / "bin" / "nvcc") == root
    # a wrapper script in <prefix>/bin with <prefix>/include present is no toolkit
    (tmp_path / "usr" / "include").mkdir()
    (tmp_path / "usr" / "include" / "cuda_runtime.h").write_text("")
    assert resolve_toolkit_root(wrap) == root
    assert missing_math_headers(root) == ["cublas_v2.h", "cusolverDn.h", "curand.h", "cufft.h"]
    (tmp_path / "junk").write_text("not a script")
    assert resolve_toolkit_root(tmp_path / "junk") is None


def test_real_nvcc_wrapper_if_present():
    wrapper = Path("/usr/local/bin/nvcc")
    if not wrapper.is_file():
        pytest.skip("no /usr/local/bin/nvcc on this machine")
    root = resolve_toolkit_root(wrapper)
    assert root is not None and (root / "bin" / "nvcc").is_file() and root != Path("/usr/local")
