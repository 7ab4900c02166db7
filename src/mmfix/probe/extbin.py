"""Facts about a built ``mmcv/_ext*.so``: GPU code (SASS/PTX), linked libraries, undefined symbols.

Sources, in order of preference:

* SASS / PTX archs: ``cuobjdump --list-elf`` / ``--list-ptx`` (CUDA toolkit; PyPI
  ``nvidia-cuda-cuobjdump``); without it, the ``.nv_fatbin`` section is read directly (the fatbin
  container: magic ``0xBA55ED50``, entries of kind 1 = PTX, 2 = ELF/SASS, arch at byte 28 of each
  entry header; checked against cuobjdump 13.2 on nvcc 13.0 output).
* needed libraries: the ELF dynamic section (DT_NEEDED, DT_RPATH/RUNPATH), read in Python;
  resolution by ``ldd`` with torch's lib folder on ``LD_LIBRARY_PATH`` (as ``import torch`` has
  loaded them by the time mmcv loads), else by searching the usual folders.
* undefined symbols: the ELF ``.dynsym`` entries with no section; those in the c10/at/torch/caffe2
  namespaces that none of torch's own libraries defines are reported. ``__cxx11`` in such a name
  means the extension was built with the new C++ ABI (``_GLIBCXX_USE_CXX11_ABI=1``).

Nothing here raises for a file that is not ELF (a Windows ``.pyd``): what cannot be read stays
empty.
"""

from __future__ import annotations

import mmap
import os
import re
import struct
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mmfix import proc
from mmfix.model import ExtBinary

FATBIN_READER = "mmfix-fatbin-reader"  # ExtBinary.cuobjdump when the built-in reader was used
_FATBIN_MAGIC = 0xBA55ED50
_FATBIN_KIND = {1: "ptx", 2: "sass"}
_DT_NEEDED, _DT_RPATH, _DT_RUNPATH = 1, 15, 29
_SHT_DYNSYM = 11
_TORCH_SYMBOL = re.compile(r"^_Z(?:T[VIS])?N?K?(?:3c10|2at|5torch|6caffe2)")
_SYSTEM_LIB_DIRS = (
    "/lib", "/usr/lib", "/lib64", "/usr/lib64", "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
)


# --- a minimal ELF64 little-endian reader ----------------------------------------------------


@dataclass
class _Elf:
    data: mmap.mmap | bytes
    # name -> (type, offset, size, link)
    sections: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)
    by_index: list[tuple[str, int, int, int, int]] = field(default_factory=list)

    def cstr(self, off: int) -> str:
        end = self.data.find(b"\0", off)
        return bytes(self.data[off:end]).decode("utf-8", "replace")


@contextmanager
def _open_elf(path: str) -> Iterator[_Elf | None]:
    """Map ``path`` and index its sections; None for anything but 64-bit little-endian ELF."""
    try:
        with open(path, "rb") as fh:
            try:
                data: mmap.mmap | bytes = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            except (ValueError, OSError):  # empty file, or a filesystem without mmap
                data = fh.read()
    except OSError:
        yield None
        return
    try:
        yield _index(data)
    finally:
        if isinstance(data, mmap.mmap):
            data.close()


def _index(data: mmap.mmap | bytes) -> _Elf | None:
    if len(data) < 64 or data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None
    elf = _Elf(data)
    try:
        shoff = struct.unpack_from("<Q", data, 0x28)[0]
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
        raw = [
            struct.unpack_from("<IIQQQQI", data, shoff + i * shentsize) for i in range(shnum)
        ]
        stroff = raw[shstrndx][4] if shstrndx < len(raw) else 0
        for name, typ, _flags, _addr, off, size, link in raw:
            sname = elf.cstr(stroff + name) if stroff else ""
            elf.sections[sname] = (typ, off, size, link)
            elf.by_index.append((sname, typ, off, size, link))
    except (struct.error, IndexError):
        return None
    return elf


def _dynamic_entries(elf: _Elf) -> list[tuple[int, str]]:
    """(tag, string) for the DT_NEEDED / DT_RPATH / DT_RUNPATH entries."""
    if ".dynamic" not in elf.sections:
        return []
    _, off, size, link = elf.sections[".dynamic"]
    strtab = elf.by_index[link][2]
    out = []
    for pos in range(off, off + size, 16):
        tag, val = struct.unpack_from("<qQ", elf.data, pos)
        if tag == 0:
            break
        if tag in (_DT_NEEDED, _DT_RPATH, _DT_RUNPATH):
            out.append((tag, elf.cstr(strtab + val)))
    return out


def _dynsyms(elf: _Elf) -> Iterator[tuple[str, bool]]:
    """(name, defined) for each dynamic symbol (``st_shndx != 0`` means defined here)."""
    for _name, typ, off, size, link in elf.by_index:
        if typ != _SHT_DYNSYM:
            continue
        strtab = elf.by_index[link][2]
        for pos in range(off + 24, off + size, 24):  # entry 0 is the null symbol
            st_name, _info, _other, shndx = struct.unpack_from("<IBBH", elf.data, pos)
            if st_name:
                yield elf.cstr(strtab + st_name), shndx != 0


def dynamic_symbols(path: str) -> list[tuple[str, bool]]:
    """(name, defined here) of each dynamic symbol of the ELF file ``path``; empty for a file that is
    not 64-bit little-endian ELF (a ``.pyd``, a ``.dylib``) or cannot be read."""
    with _open_elf(path) as elf:
        return list(_dynsyms(elf)) if elf is not None else []


# --- GPU code ----------------------------------------------------------------------------------


def _fatbin_archs(elf: _Elf) -> tuple[list[str], list[str]]:
    """SASS ("sm_75") and PTX ("compute_75") archs from the ``.nv_fatbin`` section."""
    sass: list[str] = []
    ptx: list[str] = []
    if ".nv_fatbin" not in elf.sections:
        return sass, ptx
    _, off, size, _ = elf.sections[".nv_fatbin"]
    pos, end_all = off, off + size
    while pos + 16 <= end_all:
        magic, _ver, hsize, fsize = struct.unpack_from("<IHHQ", elf.data, pos)
        if magic != _FATBIN_MAGIC:
            pos += 8  # containers are 8-byte aligned
            continue
        entry, end = pos + hsize, pos + hsize + fsize
        while entry + 32 <= end:
            kind, _v, ehs, psize = struct.unpack_from("<HHIQ", elf.data, entry)
            arch = struct.unpack_from("<I", elf.data, entry + 28)[0]
            if _FATBIN_KIND.get(kind) == "sass":
                sass.append(f"sm_{arch}")
            elif _FATBIN_KIND.get(kind) == "ptx":
                ptx.append(f"compute_{arch}")
            if ehs == 0:
                break
            entry += ehs + psize
        pos = end
    return sass, ptx


def _sort_archs(archs: Iterable[str]) -> tuple[str, ...]:
    def key(a: str) -> tuple[int, str]:
        digits = re.sub(r"\D", "", a)
        return (int(digits) if digits else 0, a)

    return tuple(sorted(set(archs), key=key))


def cuobjdump_archs(path: str, cuobjdump: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """SASS and PTX archs by ``cuobjdump --list-elf/--list-ptx``; None when the tool failed to run.

    A file without device code gives two empty tuples (cuobjdump says "does not contain device
    code" and exits non-zero).
    """
    found: dict[str, list[str]] = {"elf": [], "ptx": []}
    for kind in ("elf", "ptx"):
        res = proc.run([cuobjdump, f"--list-{kind}", path], timeout=120)
        if res.returncode is None:
            return None
        if not res.ok and "does not contain device code" not in res.output:
            return None
        found[kind] = re.findall(r"\.(sm_\d+[a-z]?)\.(?:cubin|ptx)\b", res.stdout)
    sass = _sort_archs(found["elf"])
    ptx = _sort_archs(a.replace("sm_", "compute_") for a in found["ptx"])
    return sass, ptx


def find_cuobjdump(
    env: dict[str, str] | None = None, nvcc: str | None = None, site_packages: Iterable[str] = ()
) -> str | None:
    """Locate ``cuobjdump``: PATH, ``$CUDA_HOME``/``$CUDA_PATH`` bin, next to (the real) nvcc,
    ``/usr/local/cuda*/bin``, then the target's pip ``nvidia`` wheels (``nvidia/cu13/bin``,
    ``nvidia/cuda_cuobjdump/bin``). Returns a path or None."""
    env = dict(os.environ) if env is None else env
    exe = "cuobjdump.exe" if os.name == "nt" else "cuobjdump"
    hit = proc.which("cuobjdump", path=env.get("PATH"))
    if hit:
        return hit
    dirs = [Path(env[v]) / "bin" for v in ("CUDA_HOME", "CUDA_PATH") if env.get(v)]
    if nvcc:
        dirs += [Path(nvcc).parent, Path(os.path.realpath(nvcc)).parent]
    dirs += sorted(Path("/usr/local").glob("cuda*/bin"), reverse=True)
    for sp in site_packages:
        dirs += sorted(Path(sp).glob("nvidia/*/bin"))
    for d in dirs:
        if (d / exe).is_file() and os.access(d / exe, os.X_OK):
            return str(d / exe)
    return None


# --- libraries and symbols ---------------------------------------------------------------------


def _ldd_missing(path: str, lib_dirs: list[str]) -> list[str] | None:
    """Libraries ``ldd`` reports "not found" for; None when ldd is unavailable."""
    env = proc.base_env()
    env["LD_LIBRARY_PATH"] = os.pathsep.join([*lib_dirs, env.get("LD_LIBRARY_PATH", "")]).strip(
        os.pathsep
    )
    res = proc.run(["ldd", path], timeout=60, env=env)
    if res.returncode is None:
        return None
    return re.findall(r"^\s*(\S+)\s+=>\s+not found", res.stdout, re.M)


def _search_missing(needed: Iterable[str], dirs: list[str]) -> list[str]:
    return [n for n in needed if "/" not in n and not any(Path(d, n).exists() for d in dirs)]


def _undefined_torch_symbols(elf: _Elf, torch_lib_dir: str) -> tuple[str, ...]:
    """c10/at/torch symbols ``elf`` needs that no library in ``torch_lib_dir`` defines."""
    wanted = {n for n, defined in _dynsyms(elf) if not defined and _TORCH_SYMBOL.match(n)}
    if not wanted:
        return ()
    for lib in sorted(Path(torch_lib_dir).glob("lib*.so*")):
        with _open_elf(str(lib)) as tl:
            if tl is None:
                continue
            for name, defined in _dynsyms(tl):
                if defined and name in wanted:
                    wanted.discard(name)
        if not wanted:
            break
    return tuple(sorted(wanted))


def inspect_ext(path: str, cuobjdump: str | None, torch_lib_dir: str | None) -> ExtBinary:
    """Read what the built extension ``path`` contains and needs.

    In: the ``_ext`` file, a ``cuobjdump`` to use (None: the built-in fatbin reader), torch's lib
    folder (None: library resolution without it, no symbol comparison). Out: ``ExtBinary`` with
    ``sass_archs`` ("sm_75"), ``ptx_archs`` ("compute_75"), ``needed_libs`` (DT_NEEDED),
    ``missing_libs`` (those that do not resolve) and ``undefined_symbols`` (torch namespace symbols
    torch's libraries do not define). ``cuobjdump`` in the result names the tool used
    (``FATBIN_READER`` for the built-in reader; None when neither could read the file).
    Never raises.
    """
    sass: tuple[str, ...] = ()
    ptx: tuple[str, ...] = ()
    tool: str | None = None
    if cuobjdump:
        listed = cuobjdump_archs(path, cuobjdump)
        if listed is not None:
            (sass, ptx), tool = listed, cuobjdump
    with _open_elf(path) as elf:
        if elf is None:
            return ExtBinary(path, sass, ptx, tool)
        if tool is None:
            s, p = _fatbin_archs(elf)
            sass, ptx, tool = _sort_archs(s), _sort_archs(p), FATBIN_READER
        dyn = _dynamic_entries(elf)
        needed = tuple(v for t, v in dyn if t == _DT_NEEDED)
        origin = str(Path(path).parent)
        rpaths = [
            d.replace("$ORIGIN", origin).replace("${ORIGIN}", origin)
            for t, v in dyn if t in (_DT_RPATH, _DT_RUNPATH) for d in v.split(":") if d
        ]
        lib_dirs = ([torch_lib_dir] if torch_lib_dir else []) + rpaths
        missing = _ldd_missing(path, lib_dirs)
        if missing is None:
            extra = os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep)
            missing = _search_missing(needed, [*lib_dirs, *extra, *_SYSTEM_LIB_DIRS])
        undefined = _undefined_torch_symbols(elf, torch_lib_dir) if torch_lib_dir else ()
    return ExtBinary(path, sass, ptx, tool, needed, tuple(missing), undefined)
