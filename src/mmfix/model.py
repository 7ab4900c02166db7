"""The facts mmfix works on: one frozen ``Environment`` per probe, and ``Finding`` per check.

Everything here is plain data (DESIGN.md, "One direction of flow"): the probe fills it, checks and
plans read it, the renderer turns it into text or JSON. A missing tool or package is ``None`` or an
empty tuple, never an exception. ``to_dict`` gives the JSON form used by ``--json`` output.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mmfix.jsonable import to_jsonable

__all__ = ["to_jsonable"]  # re-exported: the JSON form of every dataclass here


# --- the target interpreter ---------------------------------------------------------------


@dataclass(frozen=True)
class TargetPython:
    """The Python environment mmcv is (to be) installed in, as its own interpreter reports it."""

    executable: str
    version: str  # "3.11.7"
    implementation: str = "cpython"
    platform: str = "linux"  # sys.platform of the target: linux, win32, darwin
    machine: str = "x86_64"
    prefix: str = ""
    is_venv: bool = False
    conda_prefix: str | None = None
    site_packages: tuple[str, ...] = ()
    # Build-relevant tools installed in the target: setuptools, pip, ninja, wheel, numpy ...
    packages: Mapping[str, str] = field(default_factory=dict)
    # Supported wheel tags of the target, most preferred first (packaging.tags.sys_tags order),
    # when the probe could compute them; else empty.
    wheel_tags: tuple[str, ...] = ()

    @property
    def version_tuple(self) -> tuple[int, ...]:
        return tuple(int(p) for p in self.version.split(".")[:3] if p.isdigit())


@dataclass(frozen=True)
class TorchInfo:
    """The installed torch, read from ``torch/version.py`` and its dist-info (never imported)."""

    version: str  # "2.13.0+cpu", as torch.__version__
    location: str  # the torch package folder (holds version.py and include/)
    cuda: str | None = None  # torch.version.cuda, "13.0"; None for CPU and ROCm builds
    hip: str | None = None  # torch.version.hip
    cxx11_abi: bool | None = None  # torch._C._GLIBCXX_USE_CXX11_ABI when known
    include_dir: str | None = None
    lib_dir: str | None = None
    # CUDA math-library include folders shipped by torch's nvidia-* wheels (cuda-headers-missing)
    nvidia_include_dirs: tuple[str, ...] = ()
    nvidia_lib_dirs: tuple[str, ...] = ()
    libraries: tuple[str, ...] = ()  # file names in torch/lib (libtorch_cuda.so, ...)
    # the archs torch's own kernels were built for ("sm_50", ..., "compute_90"), from
    # torch._C._cuda_getArchFlags() in a subprocess (no GPU needed); None when not read
    arch_list: tuple[str, ...] | None = None


@dataclass(frozen=True)
class MmcvDist:
    """One installed mmcv-family distribution: ``mmcv``, ``mmcv-full`` or ``mmcv-lite``."""

    name: str
    version: str
    location: str  # site-packages folder holding the dist-info
    package_dir: str | None  # the ``mmcv`` package folder it installed, when found
    wheel_tag: str | None  # from the WHEEL file: "py2.py3-none-any", "cp311-cp311-linux_x86_64"
    installer: str | None = None
    ext_files: tuple[str, ...] = ()  # absolute paths of mmcv/_ext*.so / .pyd
    editable: bool = False

    @property
    def has_ext(self) -> bool:
        return bool(self.ext_files)


@dataclass(frozen=True)
class Downstream:
    """An installed OpenMMLab package and the mmcv range its ``__init__.py`` asserts (read by ast)."""

    name: str  # mmdet, mmseg, ...
    version: str
    location: str | None = None
    init_file: str | None = None
    mmcv_min: str | None = None
    mmcv_max: str | None = None
    max_inclusive: bool | None = None  # True when its assertion is ``<= max``
    # the first import of an mmcv 1.x module that mmcv 2.0 moved to mmengine, "file:line: text"
    # (looked for only while an mmcv >= 2.0 is installed)
    mmcv1x_import: str | None = None


@dataclass(frozen=True)
class ExtImport:
    """Result of ``import mmcv._ext`` (and ``mmcv.ops`` version queries) in its own subprocess."""

    attempted: bool
    ok: bool = False
    returncode: int | None = None
    timed_out: bool = False
    crashed: bool = False  # killed by a signal (negative return code) or 0xC0000005 on Windows
    error_type: str | None = None  # "ModuleNotFoundError", "ImportError", "OSError", ...
    error: str | None = None  # the exact error text
    compiling_cuda_version: str | None = None  # mmcv.ops.get_compiling_cuda_version()
    compiler_version: str | None = None  # mmcv.ops.get_compiler_version()
    torch_import_ok: bool | None = None  # import torch alone, when the mmcv import crashed
    duration_s: float | None = None


@dataclass(frozen=True)
class ExtBinary:
    """What the built ``mmcv/_ext`` binary contains (issue 8): archs, linked libraries, symbols."""

    path: str
    sass_archs: tuple[str, ...] = ()  # "sm_75", from cuobjdump --list-elf
    ptx_archs: tuple[str, ...] = ()  # "compute_75", from cuobjdump --list-ptx
    cuobjdump: str | None = None  # the tool used, None when unavailable
    needed_libs: tuple[str, ...] = ()  # DT_NEEDED entries
    missing_libs: tuple[str, ...] = ()  # needed libs that do not resolve
    undefined_symbols: tuple[str, ...] = ()  # of interest: torch/c10 symbols not found


# --- the host -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Nvcc:
    """An nvcc found on PATH or under CUDA_HOME, with its release and targets."""

    path: str  # as found
    real_path: str | None  # the binary the wrapper/link leads to, when it could be resolved
    version: str | None  # "13.0"
    build: str | None = None  # "cuda_13.0.r13.0/compiler.36424714_0"
    gpu_archs: tuple[str, ...] = ()  # from --list-gpu-arch: "compute_75", ...
    is_wrapper: bool = False  # a script or link outside the toolkit (cuda-home-missing)
    toolkit_root: str | None = None  # the real toolkit folder, when resolved


@dataclass(frozen=True)
class CudaToolkit:
    """A CUDA toolkit found on disk."""

    root: str
    version: str | None
    source: str  # "CUDA_HOME", "CUDA_PATH", "CUDA_PATH_V12_4", "PATH", "standard", "conda"
    has_nvcc: bool = True
    # math-library headers present in <root>/include (cusparse.h, cublas_v2.h, ...)
    math_headers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Gpu:
    """A GPU as nvidia-smi (or torch) reports it."""

    index: int
    name: str
    compute_capability: str | None  # "8.6"
    driver_version: str | None = None
    memory_mib: int | None = None


@dataclass(frozen=True)
class Compiler:
    """A host C/C++ compiler."""

    path: str
    kind: str  # "gcc", "g++", "clang", "cl"
    version: str | None  # "12.2.0"; for cl the product version "19.29.30133"
    banner: str | None = None  # first line of its version output


@dataclass(frozen=True)
class VsInstance:
    """A Visual Studio instance (vswhere) with its MSVC toolsets."""

    path: str
    version: str  # installationVersion: "17.9.34607.119"
    display_name: str | None = None
    toolsets: tuple[str, ...] = ()  # VC\Tools\MSVC\<ver> folders: "14.39.33519"


@dataclass(frozen=True)
class WindowsFacts:
    """Windows build facts (issue 6). Filled only when the target platform is win32."""

    dev_shell: bool = False
    vscmd_ver: str | None = None
    vc_tools_version: str | None = None
    target_arch: str | None = None  # VSCMD_ARG_TGT_ARCH
    cl: Compiler | None = None
    msc_ver: int | None = None  # _MSC_VER, 1929
    vs_instances: tuple[VsInstance, ...] = ()
    long_paths_enabled: bool | None = None
    code_page: str | None = None


@dataclass(frozen=True)
class Host:
    """The machine: OS, resources, CUDA toolkits, GPUs, compilers, build-relevant variables."""

    os: str  # platform.system(): Linux, Windows, Darwin
    os_release: str = ""
    machine: str = ""
    cpu_count: int = 1
    memory_total_bytes: int | None = None
    memory_available_bytes: int | None = None
    glibc: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)  # build-relevant variables only
    nvcc: Nvcc | None = None
    toolkits: tuple[CudaToolkit, ...] = ()
    gpus: tuple[Gpu, ...] = ()
    nvidia_smi: str | None = None  # path, None when absent
    nvidia_smi_error: str | None = None
    driver_version: str | None = None
    gcc: Compiler | None = None
    gxx: Compiler | None = None
    other_gccs: tuple[Compiler, ...] = ()  # gcc-11, g++-10 ... found on PATH
    ninja: str | None = None
    ccache: str | None = None
    cuobjdump: str | None = None
    windows: WindowsFacts | None = None


@dataclass(frozen=True)
class Environment:
    """One probe of a target Python environment and the host it runs on."""

    target: TargetPython
    host: Host
    torch: TorchInfo | None = None
    mmcv: tuple[MmcvDist, ...] = ()
    downstream: tuple[Downstream, ...] = ()
    ext_import: ExtImport | None = None
    ext_binary: ExtBinary | None = None
    pip_cached_mmcv_wheels: tuple[str, ...] = ()  # `pip cache list mmcv` entries
    probe_errors: tuple[str, ...] = ()  # parts of the probe that failed, as facts
    probe_seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)  # type: ignore[no-any-return]

    @property
    def active_mmcv(self) -> MmcvDist | None:
        """The mmcv-family distribution ``import mmcv`` resolves to: the one with ops first."""
        if not self.mmcv:
            return None
        with_ext = [d for d in self.mmcv if d.has_ext]
        return (with_ext or list(self.mmcv))[0]


# --- findings -----------------------------------------------------------------------------


class Status(str, enum.Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"
    ERROR = "error"  # the check itself crashed


@dataclass(frozen=True)
class Finding:
    """What one check concluded. ``id`` is the catalog id (shared/CATALOG.md).

    ``evidence``: the facts behind the status ("found X, need Y"), one line each;
    ``fix``: the exact command or change that fixes it (None when nothing needs doing);
    ``facts``: structured values for JSON consumers (arch lists, versions).
    """

    id: str
    status: Status
    title: str
    evidence: tuple[str, ...] = ()
    fix: str | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)
    family: str = ""
    auto_fix: str | None = None  # the action kind mmfix can apply itself: "rebuild", "patch", ...
    action: Any = None  # mmfix.plan.actions.Action: the remedy as data (``fix`` is rendered from it)

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)  # type: ignore[no-any-return]
