#!/usr/bin/env python3
"""Helpers of ``scripts/gpu-check.sh``, the prepared device check of mmfix's CUDA path.

Standard library only, Python 3.9+: the same file runs here (``prepare``, tests) and under the
device machine's Python 3.12 (``check-carry``, ``summary``, ``get``), where nothing can be
downloaded.

  prepare      gather what the device cannot download into one git-ignored folder (needs network)
  check-carry  is that folder complete and unchanged? one error line and exit 2 when not
  summary      the run's summary JSON from the step outputs recorded so far (gpu_check_summary.py)
  get          one value of a JSON file by a dotted path (for the shell script)

The carried folder (``.gpucheck/`` at the repository root):

  manifest.json        what prepare gathered: file names, sizes, sha256, where each came from
  mmcv-2.2.0.tar.gz    the sdist from PyPI (sha256 checked against the index's)
  wheels/*.whl         the Python packages the device's image lacks (CARRY_WHEELS)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gpu_check_summary import dig, make_summary, read_json, summary_lines, write_json_atomic

MANIFEST_SCHEMA = "mmfix.gpu-check-carry/1"
MMCV_VERSION = "2.2.0"
PYPI_SIMPLE = "https://pypi.org/simple/"
JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"
CARRY_LIMIT_BYTES = 64 * 1024 * 1024  # the device tool's limit for the tree and carried paths together

# Packages the device's image lacks (device README's KINDS.md, "Python packages already there", read
# on 2026-11-17: it has torch 2.11.0+cu130, typer, rich, requests, packaging, ninja, filelock, numpy,
# opencv-python-headless, pillow, pyyaml, matplotlib, setuptools, wheel but none of these).
# Pinned to the releases checked here; all are pure-Python wheels (py3-none-any).
CARRY_WHEELS: tuple[tuple[str, str], ...] = (
    ("addict==2.4.0", "mmcv 2.2.0 and mmengine require it"),
    ("mmengine==0.10.7", "mmcv 2.x imports it (mmcv.ops registries, logging)"),
    ("yapf==0.43.0", "mmcv 2.2.0 and mmengine require it"),
    ("termcolor==3.3.0", "mmengine requires it"),
    ("platformdirs==4.14.9", "mmfix and yapf require it"),
    ("GitPython==3.2.1", "mmfix requires it (rebuild --git)"),
    ("gitdb==4.0.12", "GitPython requires it"),
    ("smmap==5.0.3", "gitdb requires it"),
)
DEVICE_PYTHON = "3.12"
DEVICE_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")


class CarryError(Exception):
    """The carried folder is missing, incomplete or changed: one line, what and what next."""


# --- small utilities -------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB pieces."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def human_bytes(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KiB"


# --- prepare: the carried folder -------------------------------------------------------------


def sdist_entry(project: str, version: str, index: str | None = None) -> dict[str, Any]:
    """The index's file entry (PEP 691 JSON: filename, url, hashes) for ``project``'s sdist.

    Raises CarryError when the index cannot be read or lists no such sdist.
    """
    base = index or os.environ.get("PIP_INDEX_URL") or PYPI_SIMPLE
    url = base.rstrip("/") + f"/{project}/"
    req = urllib.request.Request(url, headers={"Accept": JSON_ACCEPT})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            files = json.load(resp).get("files", [])
    except (OSError, ValueError) as exc:
        raise CarryError(f"cannot read the package index at {url}: {exc}; check the network or PIP_INDEX_URL") from None
    name = f"{project}-{version}.tar.gz"
    entry = next((f for f in files if f.get("filename") == name), None)
    if entry is None:
        raise CarryError(f"the index {url} lists no {name}")
    return dict(entry)


def fetch_sdist(folder: Path, version: str = MMCV_VERSION, index: str | None = None) -> dict[str, Any]:
    """Download mmcv ``version``'s sdist into ``folder`` (kept when its sha256 already matches the
    index's). Returns its manifest entry. Raises CarryError on a hash mismatch or a failed download."""
    entry = sdist_entry("mmcv", version, index)
    want = str((entry.get("hashes") or {}).get("sha256", ""))
    target = folder / str(entry["filename"])
    if not (target.is_file() and want and sha256_of(target) == want):
        part = target.with_name(target.name + ".part")
        try:
            with urllib.request.urlopen(str(entry["url"]), timeout=120) as resp, open(part, "wb") as fh:
                shutil.copyfileobj(resp, fh)
        except OSError as exc:
            raise CarryError(f"download of {entry['url']} failed: {exc}; retry") from None
        got = sha256_of(part)
        if want and got != want:
            part.unlink()
            raise CarryError(f"sha256 of {target.name} is {got}, the index says {want}; retry the download")
        part.replace(target)
    return {"file": target.name, "sha256": sha256_of(target), "size": target.stat().st_size, "source": str(entry["url"])}


def pip_download_command(dest: Path, requirements: Sequence[str], python: str = sys.executable) -> list[str]:
    """The pip command that fetches ``requirements`` as wheels for the device's CPython 3.12 on
    x86-64 Linux, without their dependencies (the device README's recipe)."""
    cmd = [python, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version", DEVICE_PYTHON,
           "--implementation", "cp"]
    for plat in DEVICE_PLATFORMS:
        cmd += ["--platform", plat]
    return [*cmd, "-d", str(dest), *requirements]


def wheel_project(filename: str) -> str:
    """The normalised project name of a wheel file name (``GitPython-3.2.1-py3-none-any.whl`` -> ``gitpython``)."""
    return re.sub(r"[-_.]+", "-", filename.split("-", 1)[0]).lower()


def prepare(carry: Path, index: str | None = None) -> dict[str, Any]:
    """Fill ``carry`` with the mmcv sdist and CARRY_WHEELS; write and return its manifest.

    Wheels of other versions left by an earlier prepare are removed (two versions of one package
    stop pip's install). Raises CarryError when a download fails.
    """
    wheels = carry / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    sdist = fetch_sdist(carry, MMCV_VERSION, index)
    reqs = [r for r, _ in CARRY_WHEELS]
    res = subprocess.run(pip_download_command(wheels, reqs), capture_output=True, text=True)
    if res.returncode != 0:
        last = next((ln for ln in reversed(res.stderr.splitlines()) if ln.strip()), f"exit {res.returncode}")
        raise CarryError(f"pip download of the carried wheels failed: {last.strip()}")
    wanted = {re.sub(r"[-_.]+", "-", r.split("==")[0]).lower(): r.split("==")[1] for r in reqs}
    entries = []
    for whl in sorted(wheels.glob("*.whl")):
        project, version = wheel_project(whl.name), whl.name.split("-")[1]
        if wanted.get(project) != version:
            whl.unlink()
            continue
        why = next(w for r, w in CARRY_WHEELS if re.sub(r"[-_.]+", "-", r.split("==")[0]).lower() == project)
        entries.append({"file": f"wheels/{whl.name}", "sha256": sha256_of(whl), "size": whl.stat().st_size, "why": why})
    missing = sorted(set(wanted) - {wheel_project(Path(e["file"]).name) for e in entries})
    if missing:
        raise CarryError(f"pip download gave no wheel for {', '.join(missing)}")
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "made": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "device_python": DEVICE_PYTHON,
        "mmcv_sdist": sdist,
        "wheels": entries,
    }
    manifest["total_bytes"] = sdist["size"] + sum(e["size"] for e in entries)
    write_json_atomic(carry / "manifest.json", manifest)
    return manifest


def check_carry(carry: Path) -> dict[str, Any]:
    """Check that ``carry`` holds what prepare made, unchanged (sha256 of every file).

    Returns the manifest. Raises CarryError naming the first problem and what to do.
    """
    again = "run scripts/gpu-check-prepare.sh (here, with network) and name the folder in the device call's carry list"
    if not carry.is_dir():
        raise CarryError(f"carried folder {carry} not found: {again}")
    sdist = carry / f"mmcv-{MMCV_VERSION}.tar.gz"
    if not sdist.is_file():
        raise CarryError(f"{sdist.name} is missing from the carried folder {carry}: the device cannot download it; {again}")
    manifest = read_json(carry / "manifest.json")
    if not isinstance(manifest, dict) or manifest.get("schema") != MANIFEST_SCHEMA:
        raise CarryError(f"{carry / 'manifest.json'} is missing or not a gpu-check manifest: {again}")
    entries = [manifest.get("mmcv_sdist") or {}, *(manifest.get("wheels") or [])]
    for e in entries:
        path = carry / str(e.get("file", ""))
        if not e.get("file") or not path.is_file():
            raise CarryError(f"{e.get('file')} listed in the manifest is missing from {carry}: {again}")
        if sha256_of(path) != e.get("sha256"):
            raise CarryError(f"{path} changed since prepare (sha256 differs): {again}")
    listed = {Path(str(e["file"])).name for e in manifest.get("wheels") or []}
    stray = sorted(p.name for p in (carry / "wheels").glob("*.whl") if p.name not in listed)
    if stray:
        raise CarryError(f"{carry / 'wheels'} holds wheels the manifest does not list ({', '.join(stray)}): "
                         f"two versions of one package stop pip; {again}")
    return dict(manifest)


# --- command line ----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gpu_check.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare", help="gather the carried folder (needs network)")
    p.add_argument("--carry", type=Path, required=True)
    p.add_argument("--index", help="simple index for the sdist (default: PIP_INDEX_URL or PyPI)")
    c = sub.add_parser("check-carry", help="is the carried folder complete?")
    c.add_argument("--carry", type=Path, required=True)
    s = sub.add_parser("summary", help="write the summary JSON from the recorded steps")
    s.add_argument("--work", type=Path, required=True)
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--final", action="store_true", help="the run is over: missing steps make it incomplete")
    s.add_argument("--print", dest="show", action="store_true", help="also print a short report")
    g = sub.add_parser("get", help="print one value of a JSON file (dotted path); nothing when absent")
    g.add_argument("file", type=Path)
    g.add_argument("path")
    args = parser.parse_args(argv)

    try:
        if args.cmd == "prepare":
            m = prepare(args.carry, args.index)
            n = 1 + len(m["wheels"])
            print(f"carried folder {args.carry}: {n} files, {human_bytes(m['total_bytes'])} "
                  f"(the device tool carries at most {human_bytes(CARRY_LIMIT_BYTES)} with the working tree)")
            return 0
        if args.cmd == "check-carry":
            m = check_carry(args.carry)
            print(f"carried folder {args.carry}: {m['mmcv_sdist']['file']} and {len(m['wheels'])} wheels, "
                  f"{human_bytes(m['total_bytes'])}, sha256 checked")
            return 0
    except CarryError as exc:
        print(f"gpu-check: error: {exc}", file=sys.stderr)
        return 2
    if args.cmd == "summary":
        summary = make_summary(args.work, args.final)
        write_json_atomic(args.out, summary)
        if args.show:
            print("\n".join(summary_lines(summary)))
        return int(summary["exit_code"])
    value = dig(read_json(args.file), args.path)
    if value is not None:
        print(value if not isinstance(value, (dict, list)) else json.dumps(value))
    return 0


if __name__ == "__main__":
    sys.exit(main())
