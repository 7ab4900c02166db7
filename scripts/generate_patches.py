#!/usr/bin/env python3
"""Maintainer script: regenerate patches/*.json from the real released files.

Inputs (nothing here is committed; everything is cached outside the repository):
- mmcv: every tag of a git clone of open-mmlab/mmcv (``--mmcv-git``) and every sdist of ``mmcv``
  and ``mmcv-full`` on PyPI (``--sdists``, downloaded with ``--download`` from PyPI's JSON API);
- torch: wheels in ``--torch-wheels`` (``torch-<version>-*.whl``; the macOS wheels are the
  smallest and their headers are the same on every OS), downloaded with ``--download``.

For each distinct original file (sha256 of the LF-normalised text) the rule below produces the
patched text; the script records the unified diff and both hashes. At run time mmfix only applies
these diffs to files whose hash it knows: the rules here are never run on a user's file.

    python scripts/generate_patches.py --download \
        --mmcv-git /path/to/mmcv.git --sdists ~/.cache/mmfix-tests/sdists \
        --torch-wheels ~/.cache/mmfix-tests/torch
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import urljoin

from packaging.version import InvalidVersion, Version

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from mmfix.patching.catalog import PLACEHOLDER  # noqa: E402
from mmfix.patching.textdiff import make_diff, normalise, sha256_text  # noqa: E402

PATCHES = REPO / "patches"
THREADS_VALUES = [str(1 << k) for k in range(5, 11)]  # 32 ... 1024
CXX_VALUES = ["17", "20"]
SETUP = "setup.py"
HELPERS = (
    "mmcv/ops/csrc/common_cuda_helper.hpp",  # mmcv-full <= 1.3.10
    "mmcv/ops/csrc/common/cuda/common_cuda_helper.hpp",  # 1.3.11 and later
)
TORCH_VERSIONS_OLD = ["1.5.0", "1.5.1", "1.6.0", "1.7.0", "1.7.1"]
TORCH_VERSIONS_NEW = [
    "2.8.0", "2.9.0", "2.9.1", "2.10.0", "2.11.0", "2.12.0", "2.12.1", "2.13.0", "2.14.0",
    "2.14.1", "2.15.0",
]  # fmt: skip


# --- the rules ---------------------------------------------------------------------------------

PKG_IMPORT = re.compile(r"^from pkg_resources import ([\w, ]+)\n", re.M)
PKG_META = (
    "try:  # mmfix setuptools-no-pkg-resources: setuptools >= 82 has no pkg_resources",
    "    from importlib.metadata import PackageNotFoundError as DistributionNotFound",
    "    from importlib.metadata import distribution as get_distribution",
    "except ImportError:  # Python < 3.8",
    "    from pkg_resources import DistributionNotFound, get_distribution",
)
PKG_PARSE = (
    "try:  # mmfix setuptools-no-pkg-resources",
    "    from packaging.version import parse as parse_version",
    "except ImportError:",
    "    try:",
    "        from pkg_resources import parse_version",
    "    except ImportError:",
    "        from setuptools._vendor.packaging.version import parse as parse_version",
)


def rule_no_pkg_resources(text: str) -> str:
    """setup.py without pkg_resources (gone in setuptools 82): importlib.metadata and packaging,
    falling back to pkg_resources only where those are missing (Python < 3.8, no packaging)."""
    m = PKG_IMPORT.search(text)
    if not m:
        if "pkg_resources" in text:
            raise ValueError("pkg_resources used in an unknown way")
        return text
    names = [n.strip() for n in m.group(1).split(",")]
    if sorted(names) not in (
        ["DistributionNotFound", "get_distribution"],
        ["DistributionNotFound", "get_distribution", "parse_version"],
    ):
        raise ValueError(f"unknown pkg_resources names {names}")
    if text.count("pkg_resources") != 1:
        raise ValueError("pkg_resources used in an unknown way")
    new = list(PKG_META) + (list(PKG_PARSE) if "parse_version" in names else [])
    return text[: m.start()] + "\n".join(new) + "\n" + text[m.end() :]


GET_VERSION = re.compile(
    r"^( +)exec\(compile\(f\.read\(\), version_file, 'exec'\)\)\n"
    r"( +)return locals\(\)\['__version__'\]\n",
    re.M,
)


def rule_python313(text: str) -> str:
    """get_version() that works on Python >= 3.13 (PEP 667: exec no longer writes locals())."""
    m = GET_VERSION.search(text)
    if not m:
        raise ValueError("get_version() not in the known form")
    a, b = m.group(1), m.group(2)
    new = (
        f"{a}namespace = {{}}  # mmfix setup-py-python313: exec into a dict (PEP 667)\n"
        f"{a}exec(compile(f.read(), version_file, 'exec'), namespace)\n"
        f"{b}return namespace['__version__']\n"
    )
    return text[: m.start()] + new + text[m.end() :]


STD = re.compile(r"(['\"])(-std=c\+\+|/std:c\+\+)(\d\d)\1")


def rule_cxx(text: str, std: str) -> str:
    """Every hard-coded -std=c++NN / /std:c++NN lower than ``std`` raised to ``std``."""
    return STD.sub(
        lambda m: (
            f"{m.group(1)}{m.group(2)}{std}{m.group(1)}"
            if int(m.group(3)) < int(std)
            else m.group(0)
        ),
        text,
    )


THREADS = re.compile(r"^#define THREADS_PER_BLOCK 512$", re.M)


def rule_threads(text: str) -> str:
    if len(THREADS.findall(text)) != 1:
        raise ValueError("THREADS_PER_BLOCK is not '#define THREADS_PER_BLOCK 512' exactly once")
    return THREADS.sub("#define THREADS_PER_BLOCK " + PLACEHOLDER.format("THREADS_PER_BLOCK"), text)


def sub_exact(old: str, new: str, count: int) -> Callable[[str], str]:
    def rule(text: str) -> str:
        if text.count(old) != count:
            raise ValueError(f"expected {count} x {old!r}, found {text.count(old)}")
        return text.replace(old, new)

    return rule


def chain(*rules: Callable[[str], str]) -> Callable[[str], str]:
    def rule(text: str) -> str:
        for r in rules:
            text = r(text)
        return text

    return rule


def delete_line(line: str) -> Callable[[str], str]:
    return sub_exact(line + "\n", "", 1)


COMPILED_AUTOGRAD_GUARD = "#if defined(_WIN32) && (defined(USE_CUDA) || defined(USE_ROCM))\n"
COMPILED_AUTOGRAD_FIXED = (
    "#if defined(_WIN32) && (defined(USE_CUDA) || defined(USE_ROCM) || defined(__NVCC__))\n"
)
TORCH_RULES: list[dict] = [
    {
        "id": "torch-header-all-slots",
        "versions": ">=1.5,<1.6",
        "path": "include/torch/csrc/jit/api/module.h",
        "title": "module.h: 'static constexpr bool all_slots' -> 'static const bool' (nvcc+MSVC)",
        "rule": chain(
            sub_exact(
                "  static constexpr bool all_slots = false;",
                "  static const bool all_slots = false;",
                3,
            ),
            sub_exact(
                "  static constexpr bool all_slots = true;",
                "  static const bool all_slots = true;",
                1,
            ),
        ),
        "hand_edits": {
            "FAQ: static bool all_slots = ...; (ill-formed C++)": chain(
                sub_exact(
                    "  static constexpr bool all_slots = false;",
                    "  static bool all_slots = false;",
                    3,
                ),
                sub_exact(
                    "  static constexpr bool all_slots = true;",
                    "  static bool all_slots = true;",
                    1,
                ),
            ),
            "all 'static constexpr bool all_slots' made 'static bool' (ill-formed C++)": sub_exact(
                "  static constexpr bool all_slots = ", "  static bool all_slots = ", 5
            ),
            "FAQ: the '= false' lines made 'static bool' (ill-formed C++)": sub_exact(
                "  static constexpr bool all_slots = false;", "  static bool all_slots = false;", 3
            ),
        },
    },
    {
        "id": "torch-header-constexpr-win-cuda",
        "versions": ">=1.6,<1.7",
        "path": "include/torch/csrc/jit/api/module.h",
        "title": "module.h: CONSTEXPR_EXCEPT_WIN_CUDA -> const (nvcc+MSVC)",
        "rule": sub_exact(
            "static CONSTEXPR_EXCEPT_WIN_CUDA bool all_slots", "static const bool all_slots", 4
        ),
        "hand_edits": {},
    },
    {
        "id": "torch-header-profile-kind",
        "versions": ">=1.7,<1.8",
        "path": "include/torch/csrc/jit/ir/ir.h",
        "title": "ir.h: drop ProfileOptionalOp::Kind's in-class initializer (as 1.8 did)",
        "rule": delete_line("  static constexpr Symbol Kind = ::c10::prim::profile_optional;"),
        "hand_edits": {
            "FAQ: both 'static constexpr Symbol Kind' lines deleted": lambda t: delete_line(
                "  static constexpr Symbol Kind = ::c10::prim::profile;"
            )(delete_line("  static constexpr Symbol Kind = ::c10::prim::profile_optional;")(t)),
        },
    },
    {
        "id": "pybind11-cast-complete-type",
        "versions": ">=1.5,<1.7.1",
        "path": "include/pybind11/cast.h",
        "title": "pybind11 cast.h: cast through static_cast<type *> (as torch 1.7.1's pybind11)",
        "rule": sub_exact(
            "explicit operator type&() { return *(this->value); }",
            "explicit operator type&() { return *(static_cast<type *>(this->value)); }",
            1,
        ),
        "hand_edits": {
            "FAQ: *((type*)this->value)": sub_exact(
                "explicit operator type&() { return *(this->value); }",
                "explicit operator type&() { return *((type*)this->value); }",
                1,
            ),
        },
    },
    {
        "id": "torch-header-compiled-autograd",
        "versions": ">=2.8",
        "path": "include/torch/csrc/dynamo/compiled_autograd.h",
        "title": "compiled_autograd.h: the Windows CUDA guard also covers nvcc (__NVCC__)",
        "rule": lambda t: (
            t
            if "#ifdef _WIN32\n    // NB: the if-constexpr" in t
            else sub_exact(
                COMPILED_AUTOGRAD_GUARD,
                COMPILED_AUTOGRAD_FIXED,
                1,
            )(t)
        ),
        "hand_edits": {},
    },
]


# --- collecting the real files -----------------------------------------------------------------


def sdist_version(name: str) -> tuple[str, str] | None:
    m = re.match(r"^(mmcv-full|mmcv)-(\d[^-]*)\.tar\.gz$", name)
    return (m.group(1), m.group(2)) if m else None


def mmcv_files(
    git_dir: Path | None, sdists: Path | None
) -> dict[str, dict[str, tuple[str, list[str]]]]:
    """path -> {sha256: (LF text, [source labels])} for setup.py and both helper layouts."""
    out: dict[str, dict[str, tuple[str, list[str]]]] = {p: {} for p in (SETUP, *HELPERS)}

    def add(path: str, data: bytes, label: str) -> None:
        text = normalise(data).decode("utf-8")
        entry = out[path].setdefault(sha256_text(data), (text, []))
        entry[1].append(label)

    if git_dir:
        tags = subprocess.run(
            ["git", "-C", str(git_dir), "tag"], capture_output=True, text=True, check=True
        ).stdout.split()
        for tag in tags:
            for path in out:
                r = subprocess.run(
                    ["git", "-C", str(git_dir), "show", f"{tag}:{path}"], capture_output=True
                )
                if r.returncode == 0:
                    add(path, r.stdout, f"git {tag}")
    if sdists:
        for f in sorted(sdists.glob("*.tar.gz")):
            nv = sdist_version(f.name)
            if not nv:
                continue
            with tarfile.open(f) as tar:
                for m in tar.getmembers():
                    parts = m.name.split("/", 1)
                    if len(parts) == 2 and parts[1] in out and m.isfile():
                        data = tar.extractfile(m).read()  # type: ignore[union-attr]
                        add(parts[1], data, f"{nv[0]} {nv[1]} sdist")
    return out


def label_version(label: str) -> Version | None:
    token = label.split()[1].lstrip("v")
    try:
        return Version(token)
    except InvalidVersion:
        return None


def spec_of(labels: Iterable[str]) -> str:
    vs = sorted(v for v in (label_version(x) for x in labels) if v is not None)
    return f">={vs[0]},<={vs[-1]}" if vs else ">=0"


def variant(
    orig: str,
    new: str,
    path: str,
    sources: list[str],
    value: str | None = None,
    values: list[str] | None = None,
    param: str | None = None,
) -> dict:
    """A variant record; with ``values``, ``new`` holds PLACEHOLDER and hashes are per value."""
    if path.endswith(".py"):
        compile(new, path, "exec")  # every patched setup.py must stay valid Python
    diff = make_diff(orig, new, path) if new != orig else ""
    rec: dict = {"original": sha256_text(orig.encode())}
    if values is not None and param is not None:
        rec["patched"] = {
            v: sha256_text(new.replace(PLACEHOLDER.format(param), v).encode()) for v in values
        }
    else:
        rec["patched"] = {value or "": sha256_text(new.encode())}
    if value is not None:
        rec["value"] = value
    rec["diff"] = diff
    rec["sources"] = sorted(set(sources), key=lambda s: (label_version(s) or Version("0"), s))
    return rec


def build_mmcv(files: dict[str, dict[str, tuple[str, list[str]]]]) -> list[dict]:
    setups = files[SETUP]
    all_labels = [x for _, (_, labels) in setups.items() for x in labels]
    p1: list[dict] = []
    p2: list[dict] = []
    p3: list[dict] = []
    problems: list[str] = []
    for _sha, (text, labels) in sorted(setups.items()):
        try:
            t1 = rule_no_pkg_resources(text)
        except ValueError as exc:
            problems.append(f"setup.py {labels[0]}: no-pkg-resources: {exc}")
            continue
        p1.append(variant(text, t1, SETUP, labels))
        inputs2 = {text, t1}
        outs2 = []
        for src in inputs2:
            try:
                t2 = rule_python313(src)
            except ValueError as exc:
                problems.append(f"setup.py {labels[0]}: python313: {exc}")
                continue
            p2.append(variant(src, t2, SETUP, labels))
            outs2.append(t2)
        for src in {text, t1, *outs2}:
            for std in CXX_VALUES:
                p3.append(variant(src, rule_cxx(src, std), SETUP, labels, value=std))
    helpers: list[dict] = []
    helper_labels: list[str] = []
    for path in HELPERS:
        for _sha, (text, labels) in sorted(files[path].items()):
            try:
                new = rule_threads(text)
            except ValueError as exc:
                problems.append(f"{path} {labels[0]}: {exc}")
                continue
            helper_labels += labels
            helpers.append(
                (
                    path,
                    variant(
                        text, new, path, labels, values=THREADS_VALUES, param="THREADS_PER_BLOCK"
                    ),
                )
            )
    for p in problems:
        print("not covered:", p, file=sys.stderr)
    docs = [
        {
            "id": "setuptools-no-pkg-resources",
            "order": 10,
            "title": "setup.py: importlib.metadata/packaging, not pkg_resources (setuptools >= 82)",
            "variants": p1,
        },
        {
            "id": "setup-py-python313",
            "order": 20,
            "title": "setup.py: get_version() execs into a dict (Python >= 3.13, PEP 667)",
            "variants": p2,
        },
        {
            "id": "cxx-standard",
            "order": 30,
            "param": "std",
            "values": CXX_VALUES,
            "title": "setup.py: the C++ standard the installed torch requires",
            "variants": p3,
        },
    ]
    for d in docs:
        d.update(target="mmcv", path=SETUP, versions=spec_of(all_labels))
    for path in HELPERS:
        vs = [v for p, v in helpers if p == path]
        labels = [s for v in vs for s in v["sources"]]
        docs.append(
            {
                "id": "threads-per-block",
                "target": "mmcv",
                "path": path,
                "order": 0,
                "versions": spec_of(labels),
                "param": "THREADS_PER_BLOCK",
                "values": THREADS_VALUES,
                "title": "THREADS_PER_BLOCK (512 in every release) set to the value asked for",
                "variants": vs,
            }
        )
    return docs


def torch_header(wheel: Path, path: str) -> bytes | None:
    with zipfile.ZipFile(wheel) as z:
        try:
            return z.read(f"torch/{path}")
        except KeyError:
            return None


def build_torch(wheels: Path) -> list[dict]:
    docs = []
    for r in TORCH_RULES:
        seen: dict[str, tuple[str, list[str]]] = {}
        versions = (
            TORCH_VERSIONS_NEW
            if r["id"] == "torch-header-compiled-autograd"
            else TORCH_VERSIONS_OLD
        )
        for v in versions:
            if (
                not __import__("packaging.specifiers")
                .specifiers.SpecifierSet(r["versions"])
                .contains(v)
            ):
                continue
            found = sorted(wheels.glob(f"torch-{v}-*.whl"))
            if not found:
                print(f"missing wheel torch {v}", file=sys.stderr)
                continue
            data = torch_header(found[0], r["path"])
            if data is None:
                continue
            text = normalise(data).decode("utf-8")
            seen.setdefault(sha256_text(data), (text, []))[1].append(f"torch {v} wheel")
        variants, edits = [], []
        for _sha, (text, labels) in seen.items():
            variants.append(variant(text, r["rule"](text), r["path"], labels))
            for label, edit in r["hand_edits"].items():
                edited = edit(text)
                edits.append(
                    {
                        "sha256": sha256_text(edited.encode()),
                        "label": label,
                        "compiles": "ill-formed" not in label,
                        "variant": len(variants) - 1,
                        "diff": make_diff(text, edited, r["path"]),
                    }
                )
        docs.append(
            {
                "id": r["id"],
                "target": "torch",
                "versions": r["versions"],
                "path": r["path"],
                "title": r["title"],
                "variants": variants,
                "hand_edits": edits,
            }
        )
    return docs


# --- downloads ---------------------------------------------------------------------------------


def download(sdists: Path, wheels: Path) -> None:
    """Fetch every mmcv/mmcv-full sdist and the small macOS torch wheels from PyPI's JSON API."""
    import requests

    sdists.mkdir(parents=True, exist_ok=True)
    wheels.mkdir(parents=True, exist_ok=True)
    jobs: list[tuple[str, Path]] = []
    for name in ("mmcv-full", "mmcv"):
        api = f"https://pypi.org/pypi/{name}/json"
        for files in requests.get(api, timeout=60).json()["releases"].values():
            jobs += [
                (urljoin(api, f["url"]), sdists / f["filename"])
                for f in files
                if f["packagetype"] == "sdist"
            ]
    api = "https://pypi.org/pypi/torch/json"
    rel = requests.get(api, timeout=60).json()["releases"]
    for v in TORCH_VERSIONS_OLD + ["1.8.0"] + TORCH_VERSIONS_NEW:
        mac = [
            f
            for f in rel.get(v, ())
            if "macosx" in f["filename"] and ("cp38" in f["filename"] or "cp311-" in f["filename"])
        ]
        if mac:
            f = min(mac, key=lambda f: f["size"])
            jobs.append((urljoin(api, f["url"]), wheels / f["filename"]))
    for url, dest in jobs:
        if dest.exists():
            continue
        part = dest.with_suffix(dest.suffix + ".part")
        with requests.get(url, stream=True, timeout=600) as r:
            r.raise_for_status()
            with open(part, "wb") as out:
                for chunk in r.iter_content(1 << 20):
                    out.write(chunk)
        part.rename(dest)
        print("downloaded", dest.name)


def write(docs: list[dict]) -> None:
    for d in docs:
        sub = PATCHES / d["target"]
        sub.mkdir(parents=True, exist_ok=True)
        stem = (
            d["id"]
            if d["id"] != "threads-per-block"
            else (
                "threads-per-block-old-layout" if d["path"] == HELPERS[0] else "threads-per-block"
            )
        )
        (sub / f"{stem}.json").write_text(json.dumps(d, indent=1) + "\n", encoding="utf-8")
        print(f"{sub.name}/{stem}.json: {len(d['variants'])} variants")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    cache = Path.home() / ".cache" / "mmfix-tests"
    ap.add_argument(
        "--mmcv-git", type=Path, help="a clone (bare is fine) of open-mmlab/mmcv with its tags"
    )
    ap.add_argument("--sdists", type=Path, default=cache / "sdists")
    ap.add_argument("--torch-wheels", type=Path, default=cache / "torch")
    ap.add_argument(
        "--download", action="store_true", help="download missing sdists and wheels first"
    )
    ap.add_argument("--only", choices=["mmcv", "torch"], help="regenerate only these patches")
    args = ap.parse_args()
    if args.download:
        download(args.sdists, args.torch_wheels)
    docs = []
    if args.only in (None, "mmcv"):
        docs += build_mmcv(mmcv_files(args.mmcv_git, args.sdists))
    if args.only in (None, "torch"):
        docs += build_torch(args.torch_wheels)
    write(docs)


if __name__ == "__main__":
    main()
