"""Host facts: OS, resources, CUDA toolkits and nvcc, GPUs (nvidia-smi), host compilers, tools.

Each ``parse_*`` function is pure (recorded tool output in, model value out) so it is tested on
recorded real outputs; each ``find_*`` function runs the tool through ``mmfix.proc``. A missing tool
is ``None``, never an error.
"""

from __future__ import annotations

import glob
import json
import os
import platform
import re
from collections.abc import Mapping
from pathlib import Path

from mmfix import proc
from mmfix.builder.toolkit import resolve_toolkit_root
from mmfix.knowledge.cuda import CUDA_MATH_HEADERS
from mmfix.knowledge.gpus import cc_for_name
from mmfix.model import Compiler, CudaToolkit, Gpu, Nvcc

# Variables that change how mmcv/torch build (catalog "mmcv build switches"; torch cpp_extension).
BUILD_VARIABLES = (
    "CUDA_HOME", "CUDA_PATH", "CUDA_ROOT", "TORCH_CUDA_ARCH_LIST", "MMCV_WITH_OPS", "FORCE_CUDA",
    "MMCV_CUDA_ARGS", "MAX_JOBS", "CC", "CXX", "CFLAGS", "CXXFLAGS", "CPATH", "LIBRARY_PATH",
    "LD_LIBRARY_PATH", "DISTUTILS_USE_SDK", "VSCMD_VER", "VCToolsInstallDir", "VCToolsVersion",
    "VSCMD_ARG_TGT_ARCH", "VSINSTALLDIR", "VIRTUAL_ENV", "CONDA_PREFIX", "PIP_NO_BUILD_ISOLATION",
    "PIP_CONSTRAINT", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "CUDA_VISIBLE_DEVICES",
    "FORCE_MLU", "FORCE_MPS", "FORCE_NPU",
)

_NVCC_RELEASE = re.compile(r"release (\d+\.\d+)")
_NVCC_BUILD = re.compile(r"Build (cuda_\S+)")


def build_variables(environ: Mapping[str, str], extra: tuple[str, ...] = ()) -> dict[str, str]:
    """The build-relevant subset of ``environ`` (plus every CUDA_PATH_V*_* variable).

    Names match case-insensitively (Python on Windows upper-cases environment names); the
    spelling kept is the one in ``BUILD_VARIABLES``/``extra``.
    """
    folded = {k.upper(): v for k, v in environ.items()}
    out = {k: folded[k.upper()] for k in (*BUILD_VARIABLES, *extra) if k.upper() in folded}
    out.update({k: v for k, v in environ.items() if k.upper().startswith("CUDA_PATH_V")})
    return out


def parse_nvcc_version(text: str) -> tuple[str | None, str | None]:
    """``nvcc --version`` output -> ("13.0", "cuda_13.0.r13.0/compiler.36424714_0")."""
    rel = _NVCC_RELEASE.search(text)
    build = _NVCC_BUILD.search(text)
    return (rel.group(1) if rel else None, build.group(1) if build else None)


def parse_list_gpu_arch(text: str) -> tuple[str, ...]:
    """``nvcc --list-gpu-arch`` output -> ("compute_75", ...) (CUDA >= 11.0 has the flag)."""
    return tuple(w for w in text.split() if re.fullmatch(r"compute_\d+[a-z]?", w))


def find_nvcc(environ: Mapping[str, str]) -> Nvcc | None:
    """The nvcc torch would use: $CUDA_HOME/bin/nvcc, $CUDA_PATH/bin/nvcc, then PATH."""
    candidates = []
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if environ.get(var):
            candidates.append(os.path.join(environ[var], "bin", "nvcc"))
    found = proc.which("nvcc", path=environ.get("PATH"))
    if found:
        candidates.append(found)
    path = next((c for c in candidates if os.path.isfile(c)), None)
    if path is None:
        return None
    # the toolkit behind links and exec-wrapper scripts (the rebuild plan uses the same resolver)
    found_root = resolve_toolkit_root(path)
    root = str(found_root) if found_root else None
    real = str(found_root / "bin" / "nvcc") if found_root else None
    is_wrapper = root is not None and os.path.dirname(os.path.dirname(path)) != root
    out = proc.run([path, "--version"], timeout=30)
    version, build = parse_nvcc_version(out.stdout) if out.ok else (None, None)
    archs: tuple[str, ...] = ()
    if out.ok:
        la = proc.run([path, "--list-gpu-arch"], timeout=30)
        archs = parse_list_gpu_arch(la.stdout) if la.ok else ()
    return Nvcc(path, real, version, build, archs, is_wrapper, root)


def toolkit_version(root: str) -> str | None:
    """CUDA release of a toolkit folder from version.json (>= 11.1) or version.txt (older)."""
    vj = Path(root, "version.json")
    try:
        data = json.loads(vj.read_text(encoding="utf-8"))
        ver = data.get("cuda", {}).get("version") or data.get("cuda_nvcc", {}).get("version")
        if ver:
            return ".".join(str(ver).split(".")[:2])
    except (OSError, ValueError, AttributeError):
        pass
    try:
        m = re.search(r"(\d+\.\d+)", Path(root, "version.txt").read_text(encoding="utf-8"))
        if m:
            return m.group(1)
    except OSError:
        pass
    m = re.search(r"cuda-?(\d+\.\d+)$", os.path.realpath(root).rstrip("/\\"))
    if m:
        return m.group(1)
    nvcc = Path(root, "bin", "nvcc.exe" if os.name == "nt" else "nvcc")
    if nvcc.is_file():
        out = proc.run([str(nvcc), "--version"], timeout=30)
        return parse_nvcc_version(out.stdout)[0] if out.ok else None
    return None


def toolkit_math_headers(root: str) -> tuple[str, ...]:
    """Which of the CUDA math-library headers torch's ATen/cuda headers need exist in the toolkit."""
    dirs = [Path(root, "include"), *map(Path, glob.glob(os.path.join(root, "targets", "*", "include")))]
    return tuple(h for h in CUDA_MATH_HEADERS if any((d / h).is_file() for d in dirs))


def find_toolkits(environ: Mapping[str, str], windows: bool = False) -> tuple[CudaToolkit, ...]:
    """CUDA toolkits under CUDA_HOME, CUDA_PATH, CUDA_PATH_V*_*, conda and the standard folders."""
    seen: dict[str, CudaToolkit] = {}
    cands: list[tuple[str, str]] = []
    for var in sorted(environ):
        if var in ("CUDA_HOME", "CUDA_PATH", "CUDA_ROOT") or var.startswith("CUDA_PATH_V"):
            cands.append((environ[var], var))
    if environ.get("CONDA_PREFIX"):
        cands.append((environ["CONDA_PREFIX"], "conda"))
    if windows:
        base = os.path.join(environ.get("ProgramFiles", r"C:\Program Files"), "NVIDIA GPU Computing Toolkit", "CUDA")
        cands.extend((p, "standard") for p in sorted(glob.glob(os.path.join(base, "v*"))))
    else:
        std = ["/usr/local/cuda", *sorted(glob.glob("/usr/local/cuda-*")), "/opt/cuda"]
        cands.extend((p, "standard") for p in std)
    exe = "nvcc.exe" if windows else "nvcc"
    for root, source in cands:
        if not root or not os.path.isdir(root):
            continue
        key = os.path.realpath(root)
        has_nvcc = os.path.isfile(os.path.join(root, "bin", exe))
        if key in seen or (source == "conda" and not has_nvcc):
            continue
        seen[key] = CudaToolkit(root, toolkit_version(root), source, has_nvcc, toolkit_math_headers(root))
    return tuple(seen.values())


def parse_nvidia_smi(text: str) -> tuple[Gpu, ...]:
    """CSV rows of ``nvidia-smi --query-gpu=index,name,compute_cap,driver_version,memory.total
    --format=csv,noheader,nounits`` -> GPUs. Without a compute_cap column (drivers before 510) the
    capability comes from the GPU name table."""
    gpus = []
    for line in text.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 2 or not parts[0].isdigit():
            continue
        if len(parts) >= 5:
            idx, name, cc, driver, mem = parts[:5]
        else:
            idx, name, driver, mem = (parts + ["", "", ""])[:4]
            cc = ""
        if not re.fullmatch(r"\d+\.\d+", cc):
            cc = cc_for_name(name) or ""
        gpus.append(
            Gpu(int(idx), name, cc or None, driver or None, int(float(mem)) if re.fullmatch(r"[\d.]+", mem) else None)
        )
    return tuple(gpus)


def find_gpus(environ: Mapping[str, str]) -> tuple[str | None, tuple[Gpu, ...], str | None]:
    """(nvidia-smi path, GPUs, error text) from nvidia-smi; no nvidia-smi -> (None, (), None)."""
    smi = proc.which("nvidia-smi", path=environ.get("PATH"))
    if not smi:
        return None, (), None
    q = "--query-gpu=index,name,compute_cap,driver_version,memory.total"
    res = proc.run([smi, q, "--format=csv,noheader,nounits"], timeout=30)
    if not res.ok:
        res = proc.run([smi, "--query-gpu=index,name,driver_version,memory.total", "--format=csv,noheader,nounits"], timeout=30)
    if not res.ok:
        return smi, (), (res.output.strip().splitlines() or [res.start_error or "failed"])[0]
    return smi, parse_nvidia_smi(res.stdout), None


def parse_gcc_version(text: str) -> str | None:
    """``gcc -dumpfullversion -dumpversion`` or ``gcc --version`` output -> "12.2.0"."""
    m = re.search(r"(?<![\d.])(\d+(?:\.\d+){0,2})\s*$", text.strip().splitlines()[0] if text.strip() else "")
    if m:
        return m.group(1)
    m = re.search(r"\)\s+(\d+\.\d+(?:\.\d+)?)", text)
    return m.group(1) if m else None


def find_compiler(name: str, environ: Mapping[str, str], kind: str | None = None) -> Compiler | None:
    """A gcc-compatible compiler by name (or the value of $CC/$CXX) with its version."""
    path = proc.which(name, path=environ.get("PATH"))
    if not path:
        return None
    v = proc.run([path, "-dumpfullversion", "-dumpversion"], timeout=20)
    b = proc.run([path, "--version"], timeout=20)
    banner = b.stdout.strip().splitlines()[0] if b.ok and b.stdout.strip() else None
    kind = kind or ("clang" if banner and "clang" in banner.lower() else name.split("-")[0])
    return Compiler(path, kind, parse_gcc_version(v.stdout) if v.ok else None, banner)


def find_versioned_gccs(environ: Mapping[str, str]) -> tuple[Compiler, ...]:
    """gcc-N / g++-N found on PATH (alternatives for gcc-unsupported), newest first."""
    names: set[str] = set()
    for d in (environ.get("PATH") or "").split(os.pathsep):
        for f in glob.glob(os.path.join(d, "g++-[0-9]*")) + glob.glob(os.path.join(d, "gcc-[0-9]*")):
            base = os.path.basename(f)
            if re.fullmatch(r"g(cc|\+\+)-\d+", base):
                names.add(base)
    found = [c for c in (find_compiler(n, environ) for n in sorted(names)) if c]
    return tuple(sorted(found, key=lambda c: int(re.sub(r"\D", "", c.path.rsplit("-", 1)[-1]) or 0), reverse=True))


def memory_bytes() -> tuple[int | None, int | None]:
    """(total, available) physical memory in bytes from /proc/meminfo or sysconf; (None, None)."""
    try:
        text = Path("/proc/meminfo").read_text()
        vals = {k: int(v.split()[0]) * 1024 for k, v in (line.split(":", 1) for line in text.splitlines() if ":" in line)}
        return vals.get("MemTotal"), vals.get("MemAvailable")
    except (OSError, ValueError):
        pass
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        return page * os.sysconf("SC_PHYS_PAGES"), page * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None, None


def cpu_count() -> int:
    """CPUs this process may use (affinity where the OS reports it)."""
    try:
        return len(os.sched_getaffinity(0))  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def glibc_version() -> str | None:
    """The C library's version ("2.36") on glibc systems, else None."""
    lib, ver = platform.libc_ver()
    return ver if lib == "glibc" and ver else None
