# ruff: noqa: E501  (a data table: regexes and fix texts read best unbroken)
"""Log signatures: one row per catalog id that leaves text behind (shared/CATALOG.md, families A-F).

Data only. Each ``Signature`` names a catalog id, the regular expressions that recognise its key
text (named groups become facts), a rank (lower = closer to the root cause), the fix (a format
string over the facts) and the FAQ entry where the seed FAQ has one. ``CONSEQUENCES`` are the lines
a failed build prints *because* something else failed; they are shown last and never named alone.

Every pattern must contain one of ``ANCHORS`` (checked by the tests): the reader only runs the
patterns on lines holding an anchor, which keeps scanning a 100 MB log cheap.

Sources of the texts: torch ``utils/cpp_extension.py`` (arch flags, CUDA mismatch, ninja, MSVC
activation), CUDA ``crt/host_config.h`` (gcc / MSVC limits), nvcc, MSVC ``yvals_core.h`` (STL1002),
CCCL ``__cccl/preprocessor.h``, mmcv ``setup.py`` / ``ops`` / ``utils/ext_loader.py``, the
downstream ``__init__.py`` assertions, the mmcv FAQ (shared/seed/mmcv-faq.md) and the issue
threads of open-mmlab/mmcv and mmdetection.
"""

from __future__ import annotations

from typing import NamedTuple

from mmfix.explain.anchors import ANCHORS, ANCHORS_STR, REPORT_ANCHORS, REPORT_ANCHORS_STR
from mmfix.knowledge.buildtools import GCC_FAQ_RULE, SETUPTOOLS_FIX, SETUPTOOLS_WITHOUT_PKG_RESOURCES

__all__ = ["ANCHORS", "ANCHORS_STR", "REPORT_ANCHORS", "REPORT_ANCHORS_STR"]  # and the tables below

# Ranks: the lower, the closer to the root cause.
ROOT = 10  # the build or run stops because of it
CAUSE = 20  # a cause, but often itself explained by a ROOT row in the same log
SYMPTOM = 30  # what the user sees at run time; the cause may be elsewhere


class Signature(NamedTuple):
    """One catalog id's recognisable text."""

    id: str
    family: str  # catalog family letter
    title: str
    patterns: tuple[str, ...]  # Python regexes (searched, not anchored); named groups -> facts
    # format string over the facts (missing facts render as "<fact>"); or a tuple of them: the
    # first whose facts are all known is used
    fix: str | tuple[str, ...]
    rank: int = ROOT
    faq: str | None = None  # the FAQ entry title (shared/seed/mmcv-faq.md)
    collect: tuple[str, ...] = ()  # facts gathered over all occurrences into lists
    # A pattern that must be seen within ``context_lines`` lines before the match (else no match).
    requires_before: str | None = None
    context_lines: int = 0


class Consequence(NamedTuple):
    """A line printed because an earlier step failed (never a root cause)."""

    key: str
    pattern: str


# Lines that only echo an error printed just before (gcc's source excerpt "  132 | #error ...").
ECHO_LINE = r"^\s*\d+\s+\|"

CONSEQUENCES: tuple[Consequence, ...] = (
    Consequence("ninja-stopped", r"ninja: build stopped"),
    Consequence("called-process-error", r"CalledProcessError: Command .{0,4000}returned non-zero exit status"),
    Consequence("error-compiling-objects", r"Error compiling objects for extension"),
    Consequence("failed-building-wheel", r"Failed (?:building wheel|to build)"),
    Consequence(
        "subprocess-exited",
        r"error: subprocess-exited-with-error|Command errored out with exit status",
    ),
    Consequence("errors-detected", r"\d+ errors? detected in the compilation of"),
    Consequence("getting-requirements", r"Getting requirements to build wheel did not run successfully"),
    Consequence(
        "pip-step-error",
        r"\.\.\. error\s*$|finished with status 'error'|note: This error originates from a subprocess",
    ),
    Consequence(
        "legacy-install-failure",
        r"error: legacy-install-failure|Running setup\.py install for .{0,300} error",
    ),
)

S = Signature

SIGNATURES: tuple[Signature, ...] = (
    # ---------------------------------------------------------------- A. install state
    S(
        "registry-missing-module",
        "A",
        "A type name is not registered (its module was never imported)",
        (r"KeyError: [\"'](?:(?P<parent>\w+): )?[\"']?(?P<name>[\w.]+) is not in the (?P<registry>[\w: ]+?) registry",),
        "import the module that registers '{name}': add custom_imports=dict(imports=['<your.module>']) to "
        "the config, or remove a site-packages install that shadows your project's own tree",
        faq="KeyError: \"xxx: 'yyy is not in the zzz registry'\"",
    ),
    S(
        "downstream-version-mismatch",
        "A",
        "The installed mmcv is outside the range the downstream package accepts",
        (
            r"AssertionError: MMCV==(?P<mmcv>[\w.+]+) is used but incompatible\. Please install "
            r"mmcv(?:-full)?\s*>=\s*(?P<min>[\w.+]+),\s*(?P<max_op><=?)\s*(?P<max>[\w.+]*\w)",
            r"KeyError: [\"']?(?P<duplicate>ConvWS) is already registered in conv layer",
        ),
        "install an mmcv inside the range (mmcv>={min}, {max_op}{max}): `mmfix wheels --mmcv-version <v>` "
        'or `pip install "mmcv>={min},{max_op}{max}"`; see `mmfix doctor --check downstream-version-mismatch`',
        faq='Compatibility issue between MMCV and MMDetection; "ConvWS is already registered in conv layer"',
    ),
    S(
        "setuptools-no-pkg-resources",
        "A",
        f"setuptools >= {SETUPTOOLS_WITHOUT_PKG_RESOURCES} has no pkg_resources, which mmcv's setup.py imports",
        (r"(?:ModuleNotFoundError|ImportError): No module named '?pkg_resources'?",),
        SETUPTOOLS_FIX,
    ),
    S(
        "build-isolation-no-torch",
        "A",
        "mmcv was built in pip's isolated env without torch, so without ops",
        (r"Skip building ext ops due to the absence of torch",),
        "`mmfix rebuild` (builds with --no-build-isolation in the target env), or "
        "`pip install --no-build-isolation --no-cache-dir mmcv`",
        rank=CAUSE,
    ),
    S(
        "setup-py-python313",
        "A",
        "mmcv's setup.py get_version() fails on Python >= 3.13 (PEP 667)",
        (r"KeyError: '__version__'",),
        "`mmfix rebuild` applies the versioned setup.py patch; or build on Python <= 3.12",
        requires_before=r"setup\.py|get_version",
        context_lines=12,
    ),
    S(
        "pip-cache-stale-wheel",
        "A",
        "pip reuses a cached mmcv wheel built without ops",
        (r"Using cached (?P<wheel>mmcv(?:_full|-full)?-[\w.+]+-py\d?(?:\.py\d)?-none-any\.whl)",),
        "`pip cache remove mmcv` and rebuild with `--no-cache-dir` (`mmfix rebuild` does both)",
        rank=CAUSE,
    ),
    S(
        "mmcv-ops-missing",
        "A",
        "mmcv has no compiled ops (mmcv._ext)",
        (r"No module named '(?P<module>mmcv\._ext|mmcv\.ops)'",),
        "`mmfix wheels --install` for a prebuilt wheel matching torch/CUDA, or `mmfix rebuild`",
        rank=SYMPTOM,
        faq="\"No module named 'mmcv.ops'\"; \"No module named 'mmcv._ext'\"",
    ),
    # ---------------------------------------------------------------- B. GPU arch
    S(
        "nvcc-arch-unsupported",
        "B",
        "nvcc of this CUDA cannot target the requested GPU architecture",
        (r"nvcc fatal\s*:\s*Unsupported gpu architecture '(?P<arch>compute_\d+\w?|sm_\d+\w?)'",),
        (
            "CUDA {cuda} cannot target {cc}: build with CUDA >= {min_cuda} (CUDA_HOME), or with this "
            "toolkit for its newest arch plus PTX: `mmfix rebuild --arch {fallback_arch}`",
            "this nvcc cannot target {cc}: build with CUDA >= {min_cuda} (CUDA_HOME), or for the newest "
            "arch this nvcc supports plus PTX (`mmfix rebuild --arch <X.Y>+PTX`)",
        ),
        collect=("arch",),
    ),
    S(
        "arch-list-invalid",
        "B",
        "TORCH_CUDA_ARCH_LIST is malformed or names an arch this torch does not know",
        (
            r"ValueError: Unknown CUDA arch \((?P<arch>[^)]{0,200})\) or GPU not supported",
            r"IndexError: list index out of range",
        ),
        "separate arches with ';' or spaces, only known names (e.g. TORCH_CUDA_ARCH_LIST=\"7.5;8.6+PTX\"); "
        "`mmfix rebuild --arch <cc>` sets it for you",
        requires_before=r"_get_cuda_arch_flags|Unknown CUDA arch",
        context_lines=8,
    ),
    S(
        "cuda-arch-not-compiled",
        "B",
        "mmcv's ops have no kernels for this GPU's architecture",
        (
            r"your gpu arch \((?P<major>\d+), (?P<minor>\d+)\) isn't compiled in prebuilt"
            r"(?:.*available: \{(?P<available>[^}]*)\})?",
            r"no kernel image is available for execution on the device",
            r"invalid device function",
        ),
        (
            "`mmfix rebuild --arch {cc}`",
            "`mmfix rebuild --arch <compute capability>` (nvidia-smi --query-gpu=compute_cap --format=csv)",
        ),
        rank=SYMPTOM,
        faq='"invalid device function" or "no kernel image is available for execution"',
    ),
    S(
        "threads-per-block",
        "B",
        "A kernel launch was rejected (invalid configuration argument)",
        (r"CUDA error: invalid configuration argument",),
        "`mmfix patch-threads --value 256` then `mmfix rebuild`; some of these are kernel bugs fixed "
        "only by a newer mmcv",
        rank=SYMPTOM,
        faq='"RuntimeError: CUDA error: invalid configuration argument"',
    ),
    S(
        "ops-cpu-only",
        "B",
        "mmcv's ops were compiled without CUDA",
        (
            r"(?P<op>\w+) is not compiled with GPU support",
            r"(?P<op>\w+)_impl: implementation for device (?P<device>cuda(?::\d+)?) not found",
        ),
        "`mmfix rebuild` (sets FORCE_CUDA=1 and an explicit arch list)",
        rank=SYMPTOM,
        faq='"RuntimeError: nms is not compiled with GPU support"',
    ),
    # ---------------------------------------------------------------- C. toolchain
    S(
        "cuda-home-missing",
        "C",
        "No CUDA toolkit found for the build (CUDA_HOME)",
        (
            r"CUDA_HOME environment variable is not set",
            r"fatal error: (?P<header>cuda_runtime(?:_api)?\.h|cuda\.h): No such file or directory",
            r"Cannot open include file: '(?P<header>cuda_runtime(?:_api)?\.h|cuda\.h)'",
        ),
        "point CUDA_HOME at the real toolkit for the build (e.g. /usr/local/cuda-X.Y or "
        "C:\\Program Files\\NVIDIA GPU Computing Toolkit\\CUDA\\vX.Y); `mmfix rebuild` resolves it",
    ),
    S(
        "cuda-headers-missing",
        "C",
        "The CUDA toolkit lacks the math-library headers torch includes",
        (
            r"fatal error: (?P<header>cusparse\.h|cublas_v2\.h|cublas\.h|cusolverDn\.h|curand\.h|cufft\.h|"
            r"cusparseLt\.h|cudnn\.h): No such file or directory",
            r"Cannot open include file: '(?P<header>cusparse\.h|cublas_v2\.h|cusolverDn\.h|curand\.h|cufft\.h)'",
        ),
        "add torch's nvidia-* wheel include folders to CPATH for the build (`mmfix rebuild` does), or "
        "install the toolkit's dev packages",
        collect=("header",),
    ),
    S(
        "cuda-version-mismatch",
        "C",
        "The CUDA toolkit differs from the CUDA torch was built with",
        (
            r"The detected CUDA version \((?P<nvcc_cuda>[\d.]+)\) mismatches the version that was used to "
            r"compile(?:\s*PyTorch \((?P<torch_cuda>[\d.]+)\))?",
            r"The detected CUDA version \((?P<nvcc_cuda>[\d.]+)\) has a minor version mismatch with the "
            r"version that was used to compile PyTorch \((?P<torch_cuda>[\d.]+)\)",
        ),
        "build with a CUDA {torch_cuda_major}.x toolkit (CUDA_HOME), or install the prebuilt mmcv wheel "
        "for torch's CUDA: `mmfix wheels --install`",
    ),
    S(
        "gcc-unsupported",
        "C",
        "The host gcc is outside the range this CUDA / torch accepts",
        (
            r"unsupported GNU version! gcc versions later than (?P<gcc_max>\d+) are not supported",
            r"You're running a too old version of GCC\. We need GCC (?P<gcc_min>\d+) or later",
        ),
        (
            "build with a supported gcc: CC=gcc-{gcc_max} CXX=g++-{gcc_max} `mmfix rebuild` "
            "(-allow-unsupported-compiler only on request)",
            "build with gcc >= {gcc_min} (" + GCC_FAQ_RULE + "): CC=gcc-<v> CXX=g++-<v> `mmfix rebuild`",
        ),
        faq='"Segmentation fault"',
    ),
    S(
        "msvc-unsupported",
        "C",
        "This Visual Studio (MSVC) is newer than the CUDA toolkit accepts",
        (
            r"C1189: #error:\s+-- unsupported Microsoft Visual Studio version!"
            r"(?: Only the versions (?P<supported>[^!]+?) (?:\(inclusive\) )?are supported)?",
        ),
        (
            "CUDA {cuda} accepts _MSC_VER {msc_min}-{msc_max}: pick a VS toolset in that range "
            "(`vcvarsall.bat x64 -vcvars_ver=14.xx`), or a CUDA release that supports this VS",
            "pick a VS toolset the CUDA in use accepts (`vcvarsall.bat x64 -vcvars_ver=14.xx`), or a "
            "CUDA release that supports this VS",
        ),
        faq='"fatal error C1189: #error:  -- unsupported Microsoft Visual Studio version!"',
    ),
    S(
        "msvc-stl-cuda-mismatch",
        "C",
        "The VS 2022 17.10+ STL needs CUDA >= 12.4",
        (r"STL1002: Unexpected compiler version, expected CUDA (?P<cuda_min>[\d.]+)(?: Update \d+)? or newer",),
        "use an older MSVC toolset (`vcvarsall.bat x64 -vcvars_ver=14.39`) or CUDA >= {cuda_min}",
    ),
    S(
        "msvc-conforming-preprocessor",
        "C",
        "CUDA 13 headers need MSVC's conforming preprocessor",
        (r"MSVC/cl\.exe with traditional preprocessor is used",),
        "add -Xcompiler /Zc:preprocessor to the nvcc flags (MMCV_CUDA_ARGS; `mmfix rebuild` does)",
    ),
    S(
        "msvc-missing",
        "C",
        "No MSVC compiler (cl.exe) for the build",
        (
            r"Microsoft Visual C\+\+ (?P<vc_version>[\d.]+) or greater is required",
            r"Cannot find compiler 'cl\.exe' in PATH",
            r"'cl(?:\.exe)?' is not recognized as an internal or external command",
        ),
        "open an x64 Native Tools prompt (or let `mmfix rebuild` activate a VS instance); else install "
        "VS Build Tools with the C++ workload",
    ),
    S(
        "msvc-env-no-sdk",
        "C",
        "The VC environment is active but DISTUTILS_USE_SDK is not set",
        (r"VC environment is activated but DISTUTILS_USE_SDK is not set",),
        "set DISTUTILS_USE_SDK=1 for the build (`set DISTUTILS_USE_SDK=1`)",
    ),
    S(
        "cxx-standard",
        "C",
        "mmcv's setup.py compiles with an older C++ standard than this torch needs",
        (
            r"#error (?:\"?)C\+\+(?P<std>\d+) or later compatible compiler is required",
            r"'if constexpr' only available with '-std=(?:c|gnu)\+\+(?P<std>\d+)'",
        ),
        "`mmfix rebuild` applies the versioned mmcv patch raising -std to c++{std}",
    ),
    S(
        "glibc-cuda-math-clash",
        "C",
        "glibc's C23 math declarations (cospi, sinpi, rsqrt) clash with this CUDA's math headers",
        (
            r"exception specification is incompatible with that of previous function "
            r"\"(?P<function>cospi|sinpi|rsqrt|cospif|sinpif|rsqrtf)\"",
        ),
        "`mmfix rebuild` force-includes a header that hides glibc's C23 math declarations; or a newer CUDA",
        collect=("function",),
    ),
    S(
        "ninja-missing",
        "C",
        "ninja is not installed in the build environment",
        (
            r"we could not find ninja",
            r"Ninja is required to load C\+\+ extensions",
        ),
        "`pip install ninja` into the target env (`mmfix rebuild` checks it first)",
        rank=CAUSE,
    ),
    S(
        "build-out-of-memory",
        "C",
        "A compiler was killed (out of memory: too many parallel jobs)",
        (
            r"Killed signal terminated program (?P<program>cc1plus|cc1|cicc|ptxas)",
            r"'(?P<program>cicc|ptxas|cudafe\+\+)' died due to signal (?P<signal>\d+)",
        ),
        "fewer parallel jobs: `mmfix rebuild --jobs 2` (sets MAX_JOBS)",
    ),
    # ---------------------------------------------------------------- D. Windows torch headers
    S(
        "torch-header-all-slots",
        "D",
        "torch 1.5 module.h does not compile with nvcc + MSVC",
        (
            r"module\.h\((?P<header_line>\d+)\): error: member \"torch::jit::detail::(?P<policy>\w+)::all_slots\" "
            r"may not be initialized",
        ),
        "`mmfix patch-torch-headers` (static constexpr bool all_slots -> static const bool)",
        faq='"error: member "torch::jit::detail::ModulePolicy::all_slots" may not be initialized"',
        collect=("header_line",),
    ),
    S(
        "torch-header-constexpr-win-cuda",
        "D",
        "torch 1.6 module.h does not compile with nvcc + MSVC",
        (r"module\.h\((?P<header_line>\d+)\): error: a member with an in-class initializer must be const",),
        "`mmfix patch-torch-headers` (CONSTEXPR_EXCEPT_WIN_CUDA -> const in module.h)",
        faq='"error: a member with an in-class initializer must be const"',
        collect=("header_line",),
    ),
    S(
        "torch-header-profile-kind",
        "D",
        "torch 1.7 ir.h does not compile with nvcc + MSVC",
        (r"ir\.h\((?P<header_line>\d+)\): error: member \"torch::jit::(?P<cls>\w+)::Kind\" may not be initialized",),
        "`mmfix patch-torch-headers` (removes the in-class initializer of ProfileOptionalOp::Kind)",
        faq='"error: member "torch::jit::ProfileOptionalOp::Kind" may not be initialized"',
        collect=("header_line",),
    ),
    S(
        "pybind11-cast-complete-type",
        "D",
        "torch <= 1.7.0's bundled pybind11 cast.h fails under nvcc + MSVC",
        (r"cast\.h\((?P<header_line>\d+)\): error: expression must be a pointer to a complete object type",),
        "`mmfix patch-torch-headers` (cast through static_cast<type*>(this->value))",
        collect=("header_line",),
    ),
    S(
        "torch-header-compiled-autograd",
        "D",
        "torch >= 2.8 compiled_autograd.h: 'std' is ambiguous under nvcc",
        (
            r"compiled_autograd\.h\((?P<header_line>\d+)\)[^\n]*?'std': ambiguous symbol",
            r"'std': ambiguous symbol.{0,1000}compiled_autograd\.h",
        ),
        "`mmfix patch-torch-headers` (guard compiled_autograd.h against __NVCC__)",
        collect=("header_line",),
    ),
    # ---------------------------------------------------------------- E. run time
    S(
        "libtorch-cuda-cu-missing",
        "E",
        "mmcv was built for a torch with libtorch_cuda_cu (another torch)",
        (r"libtorch_cuda_cu\.so: cannot open shared object file",),
        "`mmfix wheels --install` for the installed torch, or `mmfix rebuild`",
        faq='"libtorch_cuda_cu.so: cannot open shared object file"',
    ),
    S(
        "ext-undefined-symbol",
        "E",
        "mmcv._ext does not load against the installed torch",
        (
            r"(?P<library>[\w./\\-]*_ext[\w.-]*\.(?:so|pyd)): undefined symbol: (?P<symbol>\S+)",
            # the CUDA / torch libraries mmcv._ext links (not any library: libGL.so.1 is OpenCV's)
            r"(?P<library>(?:_ext[\w.-]*|lib(?:cudart|torch\w*|c10\w*|cublas\w*|cudnn\w*|nvrtc\w*|"
            r"cusparse\w*|curand\w*|cufft\w*|nvToolsExt\w*))\.so(?:\.[\d.]+)?): cannot open shared object file",
            r"DLL load failed while importing (?P<module>_ext)",
        ),
        "`mmfix rebuild` against the installed torch, or `mmfix wheels --install` for its torch/CUDA",
        rank=CAUSE,
        faq='"undefined symbol" or "cannot open xxx.so"',
    ),
    S(
        "import-segfault",
        "E",
        "Python crashed (segmentation fault) while importing torch / mmcv",
        (
            r"Segmentation fault",
            r"0xC0000005",
        ),
        'check `python -c "import torch"` alone; then `mmfix rebuild` with a supported gcc (' + GCC_FAQ_RULE + ")",
        rank=SYMPTOM,
        faq='"Segmentation fault"',
    ),
    S(
        "cuda-driver-too-old",
        "E",
        "The NVIDIA driver is older than torch's CUDA needs",
        (
            r"CUDA driver version is insufficient for CUDA runtime version",
            r"The NVIDIA driver on your system is too old \(found version (?P<driver>\d+)\)",
        ),
        "update the NVIDIA driver, or install a torch built for an older CUDA",
    ),
    S(
        "numpy-abi-mismatch",
        "E",
        "A module built against NumPy 1.x runs under NumPy 2",
        (
            r"compiled using NumPy 1\.x cannot be run in",
            r"_ARRAY_API not found",
            r"numpy\.core\.multiarray failed to import",
        ),
        '`pip install "numpy<2"` in the target env',
    ),
    S(
        "mmddp-torch-internals",
        "E",
        "This mmcv's MMDistributedDataParallel uses torch internals that changed",
        (
            r"rebuilt parameter indices size is not same as original model parameters size",
            r"'MMDistributedDataParallel' object has no attribute '(?P<attribute>_sync_params\w*|_use_replicated_tensor_module)'",
        ),
        "upgrade mmcv(-full) to a release with the fix (mmcv-full >= 1.4.2 for torch 1.11)",
    ),
    # ---------------------------------------------------------------- F. training config
    S(
        "ddp-unused-parameters",
        "F",
        "DDP found parameters that did not take part in the loss",
        (r"Expected to have finished reduction in the prior iteration before starting a new one",),
        "set find_unused_parameters = True in the config, or find the unused parameters",
        faq='"RuntimeError: Expected to have finished reduction in the prior iteration before starting a new one"',
    ),
    S(
        "double-backward-hooks",
        "F",
        "Two optimizer hooks call backward() on the same loss",
        (r"Trying to backward through the graph a second time",),
        "keep one hook: make GradientCumulativeOptimizerHook the optimizer_config (mmcv), or "
        "optim_wrapper=dict(accumulative_counts=N) (mmengine)",
        faq='"RuntimeError: Trying to backward through the graph a second time"',
    ),
)

# Catalog ids that leave no text of their own (found only in a live environment by doctor).
NO_TEXT_IDS: tuple[str, ...] = ("git-checkout-ops-off", "cuda-args-override-arch")

# Catalog ids named only from the facts of a pasted environment report (see ``report.py``).
REPORT_ONLY_IDS: tuple[str, ...] = ("mmcv-lite-and-full",)

BY_ID: dict[str, Signature] = {s.id: s for s in SIGNATURES}
