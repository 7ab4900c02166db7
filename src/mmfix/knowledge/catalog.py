"""The problem catalog: every problem id mmfix knows, in one table (shared/CATALOG.md, families A-F).

Doctor's checks, explain's signatures and rules, the JSON output and the tests all use these ids;
the tests check each of them against this table, so an id is added here first, never copied.
Family W holds the Windows developer-shell checks that have no catalog row of their own.
"""

from __future__ import annotations

from typing import NamedTuple


class CatalogEntry(NamedTuple):
    """One problem: its stable id, its catalog family letter and a one-line summary."""

    id: str
    family: str
    summary: str


E = CatalogEntry

CATALOG: tuple[CatalogEntry, ...] = (
    # A. install state and packaging
    E("registry-missing-module", "A", "a config type name is not registered: its module was never imported"),
    E("mmcv-ops-missing", "A", "mmcv has no compiled ops (mmcv._ext)"),
    E("mmcv-lite-and-full", "A", "two mmcv distributions are installed"),
    E("downstream-version-mismatch", "A", "the installed mmcv is outside a downstream package's range"),
    E("mmcv2-removed-1x-api", "A", "code written for mmcv 1.x imports a module mmcv 2.0 moved to mmengine"),
    E("yapf-formatcode-verify", "A", "yapf >= 0.40.2 dropped the verify argument mmcv 1.x / old mmengine pass"),
    E("setuptools-no-pkg-resources", "A", "setuptools >= 82 has no pkg_resources, which mmcv's setup.py imports"),
    E("build-isolation-no-torch", "A", "mmcv was built in pip's isolated env without torch, so without ops"),
    E("setup-py-python313", "A", "mmcv's setup.py get_version() fails on Python >= 3.13"),
    E("pip-cache-stale-wheel", "A", "pip reuses a cached mmcv wheel built without ops"),
    E("git-checkout-ops-off", "A", "an mmcv 1.x git checkout builds without ops unless MMCV_WITH_OPS=1"),
    # B. GPU architecture and kernels
    E("cuda-arch-not-compiled", "B", "mmcv's ops have no kernels for this GPU's architecture"),
    E("threads-per-block", "B", "a kernel launch was rejected (invalid configuration argument)"),
    E("ops-cpu-only", "B", "mmcv's ops were compiled without CUDA"),
    E("arch-list-invalid", "B", "TORCH_CUDA_ARCH_LIST is malformed or names an unknown arch"),
    E("nvcc-arch-unsupported", "B", "nvcc of this CUDA cannot target the requested architecture"),
    E("cuda-args-override-arch", "B", "arch flags in MMCV_CUDA_ARGS replace TORCH_CUDA_ARCH_LIST"),
    E("torch-gpu-unsupported", "B", "the installed torch itself has no kernels for this GPU"),
    # C. toolchain
    E("cuda-home-missing", "C", "no CUDA toolkit found for the build (CUDA_HOME)"),
    E("cuda-headers-missing", "C", "the CUDA toolkit lacks the math-library headers torch includes"),
    E("cuda-version-mismatch", "C", "the CUDA toolkit differs from the CUDA torch was built with"),
    E("gcc-unsupported", "C", "the host gcc is outside the range CUDA / torch accept"),
    E("msvc-unsupported", "C", "this Visual Studio (MSVC) is outside the range the CUDA toolkit accepts"),
    E("msvc-stl-cuda-mismatch", "C", "the VS 2022 17.10+ STL needs CUDA >= 12.4"),
    E("msvc-missing", "C", "no MSVC compiler (cl.exe) for the build"),
    E("msvc-env-no-sdk", "C", "the VC environment is active but DISTUTILS_USE_SDK is not set"),
    E("cxx-standard", "C", "mmcv's setup.py asks for an older C++ standard than torch needs"),
    E("glibc-cuda-math-clash", "C", "glibc >= 2.41 math declarations clash with older CUDA headers"),
    E("msvc-conforming-preprocessor", "C", "CUDA 13 headers need MSVC's conforming preprocessor"),
    E("ninja-missing", "C", "ninja is not installed in the build environment"),
    E("build-out-of-memory", "C", "a compiler was killed: too many parallel jobs for the memory"),
    # D. Windows headers of PyTorch
    E("torch-header-all-slots", "D", "torch 1.5 module.h does not compile with nvcc + MSVC"),
    E("torch-header-constexpr-win-cuda", "D", "torch 1.6 module.h does not compile with nvcc + MSVC"),
    E("torch-header-profile-kind", "D", "torch 1.7 ir.h does not compile with nvcc + MSVC"),
    E("pybind11-cast-complete-type", "D", "torch <= 1.7.0's pybind11 cast.h fails under nvcc + MSVC"),
    E("torch-header-compiled-autograd", "D", "torch >= 2.8 compiled_autograd.h: 'std' is ambiguous under nvcc"),
    # E. run time and loading
    E("ext-undefined-symbol", "E", "mmcv._ext does not load against the installed torch"),
    E("libtorch-cuda-cu-missing", "E", "mmcv was built for a torch with libtorch_cuda_cu"),
    E("import-segfault", "E", "Python crashed while importing torch / mmcv"),
    E("cuda-driver-too-old", "E", "the NVIDIA driver is older than torch's CUDA needs"),
    E("torch-load-weights-only", "E", "torch >= 2.6 loads checkpoints with weights_only=True"),
    E("numpy-abi-mismatch", "E", "a module built against NumPy 1.x runs under NumPy 2"),
    E("mmddp-torch-internals", "E", "this mmcv's MMDistributedDataParallel uses torch internals that changed"),
    # F. training configuration
    E("ddp-unused-parameters", "F", "DDP found parameters that took no part in the loss"),
    E("double-backward-hooks", "F", "two optimizer hooks call backward() on the same loss"),
    # W. Windows developer shell (doctor checks only)
    E("msvc-shell-target-arch", "W", "the developer shell does not target x64"),
    E("win-path-characters", "W", "build paths hold spaces or non-ASCII characters"),
    E("win-long-paths", "W", "build paths exceed 260 characters while long paths are off"),
)

IDS: frozenset[str] = frozenset(e.id for e in CATALOG)
BY_ID: dict[str, CatalogEntry] = {e.id: e for e in CATALOG}
