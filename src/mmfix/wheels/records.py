"""The build record kept beside each wheelhouse wheel (``<wheel>.json``): what it was built from and
for, what its ``_ext`` really holds, how it was verified.

Facts come from where they were measured: torch's version, CUDA/HIP release and C++11 ABI from the
probe (torch's ``version.py`` and ``TorchConfig.cmake``); Python, platform and glibc from the target
interpreter and the host; the compiler from the probe (``g++ --version``, ``nvcc --version``); the
SASS/PTX from the wheel's own ``_ext`` (``cuobjdump`` when found, else mmfix's fatbin reader,
``mmfix.probe.extbin``); the wheel's sha256 from its bytes.

A record is data, never code: it is read as JSON and every field is type-checked
(``load_record``); a record that does not parse, or that disagrees with its wheel
(``check_against_wheel``), is refused (exit 3).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from email.parser import HeaderParser
from pathlib import Path
from typing import Any, ClassVar

from packaging.utils import canonicalize_name, parse_wheel_filename

from mmfix import __version__
from mmfix.errors import RefusedError
from mmfix.jsonable import to_jsonable
from mmfix.model import Environment
from mmfix.wheels.download import file_sha256
from mmfix.wheels.tags import torch_build, torch_cxx11_abi, torch_release

RECORD_SCHEMA = "mmfix.wheel-record/1"
RECORD_SUFFIX = ".json"  # the record of ``x.whl`` is ``x.whl.json``
_SKIP_IN_TREE = (".git", "__pycache__", "build", "dist")


class RecordError(RefusedError):
    """A record that does not parse or does not match its wheel (exit 3)."""


# --- the record -----------------------------------------------------------------------------
# Each section lists its JSON fields and their kinds: str, str?, int, num?, bool, bool?, strs.


@dataclass(frozen=True)
class WheelFacts:
    FIELDS: ClassVar[dict[str, str]] = {"filename": "str", "sha256": "str", "size": "int", "tags": "strs"}
    filename: str
    sha256: str
    size: int
    tags: tuple[str, ...]  # "cp311-cp311-linux_x86_64", from the file name


@dataclass(frozen=True)
class SourceFacts:
    FIELDS: ClassVar[dict[str, str]] = {"project": "str", "version": "str", "origin": "str",
                                        "sha256": "str?", "patches": "strs"}
    project: str  # "mmcv" / "mmcv-full"
    version: str
    origin: str  # "sdist mmcv-2.2.0.tar.gz sha256=...", "git URL@REF (sha)", "dir PATH"
    sha256: str | None  # the sdist's sha256, the git commit, or a hash of the source tree
    patches: tuple[str, ...]  # mmfix source patches applied to the build copy


@dataclass(frozen=True)
class TorchFacts:
    FIELDS: ClassVar[dict[str, str]] = {"version": "str", "build": "str", "cuda": "str?", "hip": "str?",
                                        "cxx11_abi": "bool?"}
    version: str  # torch.__version__: "2.13.0+cpu"
    build: str  # "cpu", "cu130", "rocm6.2"
    cuda: str | None  # torch.version.cuda
    hip: str | None
    cxx11_abi: bool | None  # _GLIBCXX_USE_CXX11_ABI of torch (None: unknown / not gcc)


@dataclass(frozen=True)
class TargetFacts:
    FIELDS: ClassVar[dict[str, str]] = {"python": "str", "python_tag": "str", "system": "str",
                                        "machine": "str", "glibc": "str?"}
    python: str  # "3.11.7"
    python_tag: str  # "cp311"
    system: str  # sys.platform: linux, win32, darwin
    machine: str
    glibc: str | None


@dataclass(frozen=True)
class BuildFacts:
    FIELDS: ClassVar[dict[str, str]] = {"ops": "str", "arch_requested": "str?", "sass": "strs", "ptx": "strs",
                                        "kernels_read_by": "str?", "compiler": "str?", "nvcc": "str?",
                                        "seconds": "num?", "built_at": "str", "mmfix_version": "str"}
    ops: str  # "cpu" or "cuda"
    arch_requested: str | None  # TORCH_CUDA_ARCH_LIST of the build
    sass: tuple[str, ...]  # "sm_86", in _ext
    ptx: tuple[str, ...]  # "compute_90", in _ext
    kernels_read_by: str | None  # the cuobjdump used, or "mmfix-fatbin-reader"
    compiler: str | None  # "g++ 12.2.0", "cl 19.39.33523"
    nvcc: str | None  # "13.0"
    seconds: float | None  # wall time of the build
    built_at: str  # UTC, ISO 8601
    mmfix_version: str


@dataclass(frozen=True)
class VerifiedFacts:
    FIELDS: ClassVar[dict[str, str]] = {"how": "str", "cpu_nms": "bool", "gpu_nms": "bool?", "gpus": "strs"}
    how: str  # "installed in the target env" or "a scratch copy (--wheel-only)"
    cpu_nms: bool
    gpu_nms: bool | None  # None: no GPU was visible
    gpus: tuple[str, ...]  # compute capabilities visible where it was verified


@dataclass(frozen=True)
class WheelRecord:
    """Everything mmfix knows about one wheelhouse wheel. ``combo`` is its folder:
    ``{torch build}/torch{torch release}`` (``cpu/torch2.13.0``, ``cu130/torch2.14.1``)."""

    wheel: WheelFacts
    mmcv: SourceFacts
    torch: TorchFacts
    target: TargetFacts
    build: BuildFacts
    verified: VerifiedFacts
    schema: str = field(default=RECORD_SCHEMA)

    @property
    def combo(self) -> str:
        return combo_of(self.torch.build, self.torch.version)

    def identity(self) -> str:
        """What makes two records the same build (a newer one replaces the older): the wheel name,
        its source and patches, torch, ABI, platform and kernels. Hex sha256."""
        key = [self.wheel.filename, self.mmcv.sha256, list(self.mmcv.patches), torch_release(self.torch.version),
               self.torch.build, self.torch.cxx11_abi, self.target.python_tag, self.target.system,
               self.target.machine, self.target.glibc, self.build.ops, self.build.arch_requested,
               sorted(self.build.sass), sorted(self.build.ptx)]
        return hashlib.sha256(json.dumps(key).encode()).hexdigest()

    def to_json(self) -> str:
        """The record as JSON text, ``schema`` first."""
        data = to_jsonable(self)
        return json.dumps({"schema": data.pop("schema"), **data}, indent=2) + "\n"


_SECTIONS: dict[str, Any] = {"wheel": WheelFacts, "mmcv": SourceFacts, "torch": TorchFacts,
                             "target": TargetFacts, "build": BuildFacts, "verified": VerifiedFacts}


def combo_of(build: str, version: str) -> str:
    """The folder of a torch combination: ``cpu/torch2.13.0`` (OpenMMLab's spelling for x.y.0)."""
    return f"{build}/torch{torch_release(version)}"


def _check(value: Any, kind: str) -> bool:
    optional = kind.endswith("?")
    if value is None:
        return optional
    base = kind.rstrip("?")
    if base == "strs":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if base == "num":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if base == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, {"str": str, "bool": bool}[base])


def load_record(text: str | bytes, where: str) -> WheelRecord:
    """Parse a record (JSON text) read from ``where``. Raises RecordError naming the first field that
    is missing or of the wrong kind, or a schema mmfix does not know."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise RecordError(f"the build record {where} is not JSON", str(exc), _RECORD_FIX) from None
    if not isinstance(data, dict) or data.get("schema") != RECORD_SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise RecordError(f"the build record {where} has schema {found!r}, not {RECORD_SCHEMA}", fix=_RECORD_FIX)
    sections = {}
    for name, cls in _SECTIONS.items():
        part = data.get(name)
        if not isinstance(part, dict):
            raise RecordError(f"the build record {where} has no '{name}' section", fix=_RECORD_FIX)
        values = {}
        for key, kind in cls.FIELDS.items():
            if key not in part or not _check(part[key], kind):
                raise RecordError(f"the build record {where}: '{name}.{key}' is missing or not {kind}",
                                  fix=_RECORD_FIX)
            values[key] = tuple(part[key]) if kind == "strs" else part[key]
        sections[name] = cls(**values)
    return WheelRecord(**sections)


_RECORD_FIX = "the wheelhouse entry was changed after mmfix wrote it: delete its folder and build again, or pass --no-wheelhouse"


# --- making one after a verified build ------------------------------------------------------


def kernels_of_wheel(wheel: Path, cuobjdump: str | None = None) -> tuple[tuple[str, ...], tuple[str, ...], str | None]:
    """(SASS, PTX, tool) of the ``mmcv/_ext*`` inside ``wheel``: extracted to a temporary file and read
    with ``cuobjdump`` when given, else the built-in fatbin reader (``extbin.inspect_ext``). A wheel
    without ``_ext`` gives ((), (), None). Raises RecordError when ``wheel`` is not a zip."""
    from mmfix.probe.extbin import inspect_ext

    try:
        with zipfile.ZipFile(wheel) as zf:
            names = [n for n in zf.namelist() if re.fullmatch(r"mmcv/_ext[^/]*\.(so|pyd)", n)]
            if not names:
                return (), (), None
            fd, tmp = tempfile.mkstemp(suffix=Path(names[0]).suffix)
            try:
                with os.fdopen(fd, "wb") as out, zf.open(names[0]) as src:
                    while block := src.read(1 << 20):
                        out.write(block)
                ext = inspect_ext(tmp, cuobjdump, None)
            finally:
                os.unlink(tmp)
    except zipfile.BadZipFile:
        raise RecordError(f"{wheel.name} is not a wheel (zip) file", fix=_RECORD_FIX) from None
    return ext.sass_archs, ext.ptx_archs, ext.cuobjdump


def source_sha256(origin: str, tree: Path | None) -> str | None:
    """The source's identity: the sdist's sha256 from ``origin`` ("sdist X sha256=HEX"), the git
    commit ("git URL@REF (SHA)"), else a sha256 over the files of ``tree`` (sorted relative paths and
    bytes, without .git, build, dist, __pycache__ and *.egg-info)."""
    m = re.search(r"sha256=([0-9a-f]{64})", origin) or re.search(r"^git .*\(([0-9a-f]+)\)$", origin)
    if m:
        return m.group(1)
    if tree is None or not tree.is_dir():
        return None
    h = hashlib.sha256()
    for path in sorted(tree.rglob("*")):
        rel = path.relative_to(tree)
        if not path.is_file() or any(p in _SKIP_IN_TREE or p.endswith(".egg-info") for p in rel.parts):
            continue
        h.update(rel.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def compiler_of(env: Environment) -> str | None:
    """The host C++ compiler the build used, as probed: ``cl`` in a Windows developer shell, else
    g++ (or gcc)."""
    win = env.host.windows
    comp = (win.cl if win else None) or env.host.gxx or env.host.gcc
    if comp is None:
        return None
    return f"{comp.kind} {comp.version or '?'}"


def make_record(
    env: Environment,
    wheel: Path,
    *,
    origin: str,
    source_tree: Path | None,
    patches: tuple[str, ...],
    ops: str,
    arch_requested: str | None,
    nvcc: str | None,
    verified: VerifiedFacts,
    build_seconds: float | None,
    cuobjdump: str | None = None,
) -> WheelRecord:
    """The record of ``wheel``, just built for ``env`` from ``origin`` (``SourceTree.origin``) with
    the source ``patches`` applied, and verified as ``verified`` says. Reads the wheel's bytes
    (sha256, size, METADATA) and its ``_ext`` (SASS/PTX). Raises RecordError when ``wheel`` is not a
    readable wheel or ``env`` has no torch."""
    if env.torch is None:
        raise RecordError("cannot record a build for an env without torch")
    name, version, _build, tags = parse_wheel_filename(wheel.name)
    sass, ptx, tool = kernels_of_wheel(wheel, cuobjdump)
    py = env.target.version_tuple
    return WheelRecord(
        wheel=WheelFacts(wheel.name, file_sha256(wheel), wheel.stat().st_size, tuple(sorted(str(t) for t in tags))),
        mmcv=SourceFacts(str(name), str(version), origin, source_sha256(origin, source_tree), tuple(patches)),
        torch=TorchFacts(env.torch.version, torch_build(env.torch), env.torch.cuda, env.torch.hip,
                         torch_cxx11_abi(env.torch)),
        target=TargetFacts(env.target.version, f"cp{py[0]}{py[1]}" if len(py) > 1 else "", env.target.platform,
                           env.target.machine, env.host.glibc),
        build=BuildFacts(ops, arch_requested, tuple(sass), tuple(ptx), tool, compiler_of(env), nvcc,
                         round(build_seconds, 1) if build_seconds is not None else None,
                         time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), __version__),
        verified=verified,
    )


# --- checking one before install ------------------------------------------------------------


def check_against_wheel(record: WheelRecord, wheel: Path, sha256: str) -> None:
    """Refuse (RecordError, exit 3) a record that does not describe ``wheel`` (whose checked sha256 is
    ``sha256``): another sha256, file name, project or version (from the wheel's METADATA), or other
    SASS/PTX than the built-in reader finds in its ``_ext``."""
    where = f"the record of {wheel.name}"
    if record.wheel.sha256 != sha256:
        raise RecordError(f"{where} names sha256 {record.wheel.sha256}, the wheel has {sha256}", fix=_RECORD_FIX)
    if record.wheel.filename != wheel.name:
        raise RecordError(f"{where} is for {record.wheel.filename}", fix=_RECORD_FIX)
    try:
        with zipfile.ZipFile(wheel) as zf:
            meta_name = next(n for n in zf.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n))
            meta = HeaderParser().parsestr(zf.read(meta_name).decode("utf-8", "replace"))
    except (zipfile.BadZipFile, StopIteration, KeyError):
        raise RecordError(f"{wheel.name} has no readable METADATA", fix=_RECORD_FIX) from None
    if (canonicalize_name(meta.get("Name", "")), meta.get("Version")) != (
        canonicalize_name(record.mmcv.project), record.mmcv.version
    ):
        raise RecordError(f"{where} says {record.mmcv.project} {record.mmcv.version}, the wheel holds "
                          f"{meta.get('Name')} {meta.get('Version')}", fix=_RECORD_FIX)
    sass, ptx, _tool = kernels_of_wheel(wheel)
    if (_plain(sass), _plain(ptx)) != (_plain(record.build.sass), _plain(record.build.ptx)):
        raise RecordError(
            f"{where} lists SASS {' '.join(record.build.sass) or 'none'} / PTX {' '.join(record.build.ptx) or 'none'}, "
            f"its _ext holds SASS {' '.join(sass) or 'none'} / PTX {' '.join(ptx) or 'none'}", fix=_RECORD_FIX)


def _plain(archs: tuple[str, ...]) -> set[str]:
    """Arch names without a variant letter: the fatbin reader sees "sm_90" where cuobjdump says
    "sm_90a"."""
    return {re.sub(r"[a-z]$", "", a) for a in archs}
