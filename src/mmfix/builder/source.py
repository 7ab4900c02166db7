"""Where the mmcv source comes from: a directory, a git repository, or the PyPI sdist.

The sdist is fetched through the package index's JSON API (PEP 691; ``PIP_INDEX_URL`` honoured) with
requests and checked against the sha256 the index lists. Not ``pip download``: pip prepares the
sdist's metadata by running its ``setup.py``, which imports ``pkg_resources`` and fails in a build
environment with setuptools >= 82 (isolated) or in the target env once it has setuptools >= 82
(``--no-build-isolation``) - the very problem mmfix is there to fix (catalog
``setuptools-no-pkg-resources``). Package name: ``mmcv-full`` for 1.x, ``mmcv`` for 2.x.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from packaging.version import Version

from mmfix.errors import MmfixError, OperationFailed, RefusedError, UsageError

PYPI_SIMPLE = "https://pypi.org/simple/"
JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"


def cache_dir(*parts: str) -> Path:
    """mmfix's cache folder (platformdirs; ``MMFIX_CACHE_DIR`` overrides) joined with ``parts``,
    created on demand. Raises MmfixError (one line naming the folder) when it cannot be created."""
    base = Path(os.environ.get("MMFIX_CACHE_DIR") or platformdirs.user_cache_dir("mmfix"))
    path = base.joinpath(*parts)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MmfixError(f"cannot create mmfix's cache folder {path}", exc.strerror or str(exc),
                         "set MMFIX_CACHE_DIR to a folder you can write") from None
    return path


def dist_name(mmcv_version: str) -> str:
    """``mmcv-full`` for 1.x, ``mmcv`` for 2.x (the 1.x ``mmcv`` is the lite package)."""
    return "mmcv-full" if Version(mmcv_version).major < 2 else "mmcv"


@dataclass(frozen=True)
class SourceTree:
    """An mmcv source tree ready to copy into the build folder."""

    path: Path
    version: str
    origin: str  # "dir", "git <url>@<ref> (<sha>)", "sdist <url> sha256=<hex>"


def read_source_version(path: Path) -> str | None:
    """The version in ``mmcv/version.py`` (``__version__ = '2.2.0'``), read as text; None when absent."""
    vfile = path / "mmcv" / "version.py"
    if not vfile.is_file():
        return None
    m = re.search(r"""^__version__\s*=\s*['"]([^'"]+)['"]""", vfile.read_text(errors="replace"), re.M)
    return m.group(1) if m else None


def from_dir(path: Path) -> SourceTree:
    """A user's checkout or unpacked sdist. Raises UsageError when it is no mmcv source tree."""
    path = path.expanduser().resolve()
    if not (path / "setup.py").is_file() or not (path / "mmcv").is_dir():
        raise UsageError(f"{path} is not an mmcv source tree", "it has no setup.py and mmcv/ folder",
                         "pass the folder of an mmcv checkout or unpacked sdist")
    version = read_source_version(path)
    if not version:
        raise UsageError(f"no version in {path / 'mmcv' / 'version.py'}", fix="pass an mmcv source tree")
    return SourceTree(path, version, "dir")


# --- sdist from the index -----------------------------------------------------------------


def index_url() -> str:
    """The package index's simple API root: ``PIP_INDEX_URL`` or PyPI."""
    url = os.environ.get("PIP_INDEX_URL") or PYPI_SIMPLE
    return url if url.endswith("/") else url + "/"


def index_files(project: str, session: object | None = None) -> list[dict[str, object]]:
    """The files the index lists for ``project`` (PEP 691 JSON). Raises OperationFailed."""
    import requests

    sess = session or requests.Session()
    url = f"{index_url()}{project}/"
    try:
        resp = sess.get(url, headers={"Accept": JSON_ACCEPT}, timeout=60)  # type: ignore[attr-defined]
    except requests.RequestException as exc:
        raise OperationFailed(f"cannot reach the package index at {url}", str(exc), "check the network or PIP_INDEX_URL") from None
    if resp.status_code != 200:
        raise OperationFailed(f"the package index answered {resp.status_code} for {url}", fix="check PIP_INDEX_URL")
    data = resp.json()
    files: list[dict[str, object]] = data.get("files", [])
    return files


def sdist_versions(files: Sequence[dict[str, object]], project: str) -> list[str]:
    """Versions with an sdist (``<name>-<version>.tar.gz``) among index ``files``."""
    stem = project.replace("-", "[-_]")
    pat = re.compile(rf"^{stem}-(.+)\.tar\.gz$", re.IGNORECASE)
    out = []
    for f in files:
        m = pat.match(str(f.get("filename", "")))
        if m and not f.get("yanked"):
            out.append(m.group(1))
    return out


def fetch_sdist(version: str, *, dest: Path | None = None, session: object | None = None) -> Path:
    """Download the sdist of mmcv ``version`` (sha256 checked, cached); return the archive's path.

    Raises OperationFailed when the index has no sdist for it or the hash does not match.
    """
    import requests

    project = dist_name(version)
    files = index_files(project, session)
    want = {f"{project}-{version}.tar.gz", f"{project.replace('-', '_')}-{version}.tar.gz"}
    entry = next((f for f in files if f.get("filename") in want), None)
    if entry is None:
        raise OperationFailed(f"the index has no sdist of {project} {version}", f"looked at {index_url()}{project}/",
                              "pass --mmcv-version with a released version, or --source DIR")
    hashes = entry.get("hashes") or {}
    sha = str(hashes.get("sha256", "")) if isinstance(hashes, dict) else ""
    folder = dest or cache_dir("sdists")
    target = folder / str(entry["filename"])
    if target.is_file() and sha and _sha256(target) == sha:
        return target
    sess = session or requests.Session()
    url = str(entry["url"])
    if not url.startswith(("http://", "https://")):
        url = requests.compat.urljoin(f"{index_url()}{project}/", url)
    part = target.with_suffix(".part")
    try:
        with sess.get(url, stream=True, timeout=120) as resp:  # type: ignore[attr-defined]
            resp.raise_for_status()
            with open(part, "wb") as fh:
                for chunk in resp.iter_content(1 << 16):
                    fh.write(chunk)
    except requests.RequestException as exc:
        raise OperationFailed(f"download of {url} failed", str(exc), "retry, or pass --source DIR") from None
    got = _sha256(part)
    if sha and got != sha:
        part.unlink()
        raise OperationFailed(f"sha256 mismatch for {target.name}", f"index says {sha}, got {got}", "retry the download")
    part.replace(target)
    return target


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def unpack_sdist(archive: Path, into: Path) -> Path:
    """Unpack ``archive`` into ``into`` (replaced); return the source root (the single top folder)."""
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)
    with tarfile.open(archive) as tf:
        if hasattr(tarfile, "data_filter"):
            tf.extractall(into, filter="data")
        else:  # pragma: no cover - Python < 3.9.17
            for m in tf.getmembers():
                if m.name.startswith("/") or ".." in Path(m.name).parts:
                    raise RefusedError(f"unsafe path {m.name} in {archive.name}")
            tf.extractall(into)
    tops = [p for p in into.iterdir() if p.is_dir()]
    return tops[0] if len(tops) == 1 else into


def from_sdist(version: str, session: object | None = None) -> SourceTree:
    """Fetch and unpack the sdist of ``version`` into the cache; return its tree."""
    archive = fetch_sdist(version, session=session)
    sha = _sha256(archive)
    root = unpack_sdist(archive, cache_dir("src") / archive.name.removesuffix(".tar.gz"))
    return SourceTree(root, read_source_version(root) or version, f"sdist {archive.name} sha256={sha}")


# --- git ----------------------------------------------------------------------------------


def split_git_spec(spec: str) -> tuple[str, str | None]:
    """``URL[@REF]`` -> (url, ref). The '@' of ``git@host:`` or ``user@host`` is not a ref."""
    at = spec.rfind("@")
    if at > 0 and "/" not in spec[at:] and ":" not in spec[at:] and at > max(spec.rfind("/"), spec.find(":")):
        return spec[:at], spec[at + 1 :] or None
    return spec, None


# git transports mmfix lets --git use: gitpython's default allow-list (it refuses ``<helper>::``
# remote helpers such as ``ext::``, which runs a command). Also passed to git as
# GIT_ALLOW_PROTOCOL, so redirects and submodules are held to the same list.
GIT_TRANSPORTS = ("https", "ssh", "git", "file")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_SCP = re.compile(r"^(?:[^@/:]+@)?[^@/:]+:(?!:)")  # [user@]host:path (ssh)


def check_git_url(url: str) -> str:
    """The transport git would use for ``url`` ("https", "ssh", "git", "file"); RefusedError
    (exit 3) for any other (``ext::sh -c ...``, ``http://``, ``fd::``, an option such as
    ``--upload-pack=...``). Plain local paths are the file transport."""
    def refuse(why: str) -> RefusedError:
        return RefusedError(f"--git {url!r} is refused", why,
                            "use an https://, ssh://, git:// or file:// URL, user@host:path, or a local folder")

    if url.startswith("-"):
        raise refuse("it starts with '-', which git would read as an option")
    if "::" in url.split("/", 1)[0] or url.lower().startswith("ext:"):
        helper = url.split(":", 1)[0]
        raise refuse(f"'{helper}' is a git remote helper ({helper}::...), which can run any command")
    m = _SCHEME.match(url)
    if m:
        scheme = m.group(1).lower()
        if scheme not in GIT_TRANSPORTS:
            raise refuse(f"the '{scheme}' transport is not one of {', '.join(GIT_TRANSPORTS)}")
        return scheme
    if _SCP.match(url) and not Path(url).exists():
        return "ssh"
    return "file"


def from_git(spec: str, version: str | None) -> SourceTree:
    """Clone or fetch ``URL[@REF]`` into the cache and check out REF, else the tag ``v<version>``.

    Refuses (RefusedError) a URL whose transport is not https, ssh, git or file
    (``check_git_url``) and a cached clone with local changes. Raises OperationFailed when git fails.
    """
    import git

    url, ref = split_git_spec(spec)
    check_git_url(url)
    allow = {"GIT_ALLOW_PROTOCOL": ":".join(GIT_TRANSPORTS)}
    key = hashlib.sha256(url.encode()).hexdigest()[:16]
    path = cache_dir("git") / key
    try:
        if (path / ".git").exists():
            repo = git.Repo(path)
            if repo.is_dirty(untracked_files=True):
                raise RefusedError(f"the cached clone {path} has local changes",
                                   "mmfix will not build from a dirty tree", f"commit or discard them (git -C {path} status)")
            with repo.git.custom_environment(**allow):
                repo.remote("origin").fetch(tags=True, prune=True)
        else:
            if path.exists():
                shutil.rmtree(path)
            repo = git.Repo.clone_from(url, path, env=allow)
        target = ref or (f"v{version}" if version else None)
        if target is None:
            target = "origin/HEAD" if "origin/HEAD" in [r.name for r in repo.remote("origin").refs] else "HEAD"
        try:
            repo.git.checkout("--detach", target)
        except git.GitCommandError:
            raise UsageError(f"no ref '{target}' in {url}", fix="pass URL@REF with an existing tag, branch or commit") from None
        sha = repo.head.commit.hexsha
    except (git.UnsafeProtocolError, git.UnsafeOptionError) as exc:
        raise RefusedError(f"--git {url!r} is refused", str(exc), "use an https://, ssh://, git:// or file:// URL") from None
    except git.GitCommandError as exc:
        why = next((ln.strip() for ln in reversed((exc.stderr or str(exc)).splitlines())
                    if ln.strip() and ln.strip() not in ("'", '"')), "git exited with an error")
        why = why.removeprefix("stderr:").strip().strip("'").strip()
        raise OperationFailed(f"git failed for {url}", why[:200], "check the URL and your network") from None
    tree = from_dir(path)
    return SourceTree(tree.path, tree.version, f"git {url}@{target} ({sha[:12]})")


def copy_for_build(tree: SourceTree, build_root: Path) -> Path:
    """Copy ``tree`` into a clean build folder (patches apply to the copy, never the original)."""
    dest = build_root / f"mmcv-{tree.version}"
    if dest.exists():
        shutil.rmtree(dest)
    top = str(tree.path)

    def ignore(folder: str, names: list[str]) -> set[str]:
        # .mmfix: the tree's own patch journal, which the build copy must not inherit
        skip = {n for n in names if n in (".git", "__pycache__", ".mmfix") or n.endswith(".egg-info")}
        if folder == top:
            skip |= {n for n in names if n in ("build", "dist")}
        return skip

    shutil.copytree(tree.path, dest, ignore=ignore)
    return dest
