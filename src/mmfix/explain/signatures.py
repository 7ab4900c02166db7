# ruff: noqa: E501  (a data table: regexes and fix texts read best unbroken)
"""Log signatures: one row per catalog id that leaves text behind (``mmfix.knowledge.catalog``).

Data only. Each ``Signature`` names a catalog id, the regular expressions that recognise its
message (named groups become facts), a rank (lower = closer to the root cause), the fix (a format
string over the facts) and the FAQ entry where the seed FAQ has one. ``CONSEQUENCES`` are lines a
failed build prints *because* something else failed; they are shown last and never named alone.

A pattern is written for the message, not for one sample line: the distinctive words of the
message, with any file/line prefix optional (``module.h(474): error:`` or none), both path
separators, straight or curly quotes, and ``\\s+`` where a pasted message may wrap. Every pattern
holds a literal (found by ``literal.required_literals``, tested) that the scan looks for first.

Sources of the messages: torch ``utils/cpp_extension.py`` (arch list, CUDA mismatch, compiler
bounds, ninja, CUDA_HOME) and ``cuda/__init__.py`` (GPU capability warnings), torch
``serialization.py`` (weights_only), CUDA ``crt/host_config.h`` (gcc / MSVC limits), nvcc, MSVC
``yvals_core.h`` (STL1002), CCCL, torch ``c10/util/C++17.h`` and ``torch/all.h``, mmcv ``setup.py``
(``Skip building ext ops``), ``utils/ext_loader.py``, ``parallel/distributed.py``,
``utils/config.py`` (yapf's ``FormatCode(verify=True)``), the downstream ``__init__.py``
assertions, pip's own output, the seed FAQ and the issue threads of open-mmlab projects.
"""

from __future__ import annotations

from typing import NamedTuple

from mmfix.knowledge.buildtools import GCC_FAQ_RULE, SETUPTOOLS_FIX, SETUPTOOLS_WITHOUT_PKG_RESOURCES

# Ranks: the lower, the closer to the root cause.
ROOT = 10  # the build or run stops because of it
CAUSE = 20  # a cause, but often itself explained by a ROOT row in the same log
SYMPTOM = 30  # what the user sees at run time; the cause may be elsewhere

Q = "['‘’\"“”]"  # a quote as users paste it: straight, curly, single or double
P = r"[/\\]"  # a path separator, POSIX or Windows


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
    # A pattern that must be seen on the line or within ``context_lines`` lines before it.
    requires_before: str | None = None
    context_lines: int = 0
    given: tuple[tuple[str, str], ...] = ()  # facts the message itself implies (the torch release)


class ConsequencePattern(NamedTuple):
    """A line printed because an earlier step failed (never a root cause)."""

    key: str
    pattern: str


# Lines that only echo an error printed just before (gcc's source excerpt "  132 | #error ...").
ECHO_LINE = r"^\s*\d+\s+\|"

CONSEQUENCES: tuple[ConsequencePattern, ...] = (
    ConsequencePattern("ninja-stopped", r"ninja: build stopped"),
    ConsequencePattern("called-process-error", r"CalledProcessError: Command .{0,4000}returned non-zero exit status"),
    ConsequencePattern("error-compiling-objects", r"Error compiling objects for extension"),
    ConsequencePattern("failed-building-wheel", r"Failed (?:building wheel|to build)"),
    ConsequencePattern("subprocess-exited", r"error: subprocess-exited-with-error|Command errored out with exit status"),
    ConsequencePattern("errors-detected", r"\d+ errors? detected in the compilation of"),
    ConsequencePattern("getting-requirements", r"Getting requirements to build wheel did not run successfully"),
    ConsequencePattern("pip-step-error", r"\.\.\. error\s*$|finished with status 'error'|note: This error originates from a subprocess"),
    ConsequencePattern("legacy-install-failure", r"error: legacy-install-failure|Running setup\.py install for .{0,300} error"),
)

S = Signature

SIGNATURES: tuple[Signature, ...] = (
    # ---------------------------------------------------------------- A. install state
    S(
        "registry-missing-module",
        "A",
        "A type name is not registered (its module was never imported)",
        (rf"{Q}?(?:(?P<parent>\w+): )?{Q}?(?P<name>[\w.]+) is not in the (?P<registry>[\w:. ]+?) registry",),
        "import the module that registers '{name}': add custom_imports=dict(imports=['<your.module>']) to "
        "the config, or remove a site-packages install that shadows your project's own tree",
        faq="KeyError: \"xxx: 'yyy is not in the zzz registry'\"",
    ),
    S(
        "downstream-version-mismatch",
        "A",
        "The installed mmcv is outside the range the downstream package accepts",
        (
            # mmdet / mmseg / mmpose ... __init__.py: "MMCV==X is used but incompatible. Please
            # install mmcv>=A, <B." (also "<=B", no upper bound, or digit_version lists "[1, 3, 0]")
            r"MMCV==(?P<mmcv>[\w.+]+) is used but incompatible\.\s*Please\s+install\s+mmcv(?:-full)?\s*>=\s*"
            r"(?P<min>\[[\d, ]*\]|[\w.+]*\w)(?:,\s*(?P<max_op><=?)\s*(?P<max>\[[\d, ]*\]|[\w.+]*\w))?",
            rf"{Q}?(?P<duplicate>ConvWS) is already registered in conv layer",
        ),
        (
            "install an mmcv with ops inside the range (mmcv>={min}, {max_op}{max}): `mmfix doctor --fix` in that "
            'env (solves every installed package\'s range), or `mmfix rebuild --mmcv-version ">={min},{max_op}{max}"`; '
            "a plain pip install of that range builds the sdist without ops",
            "install the mmcv release this downstream package names (mmcv>={min}): `mmfix doctor --check "
            "downstream-version-mismatch` solves every installed package's range",
            "install the mmcv version your mmdet/mmseg accepts: `mmfix doctor --check downstream-version-mismatch`",
        ),
        faq='Compatibility issue between MMCV and MMDetection; "ConvWS is already registered in conv layer"',
    ),
    S(
        "mmcv2-removed-1x-api",
        "A",
        "Code written for mmcv 1.x imports what mmcv 2.0 moved to mmengine",
        (
            rf"No module named {Q}(?P<module>mmcv\.(?:runner|parallel|fileio|engine|utils\.config|utils\.registry|cnn\.bricks\.registry|utils\.logging|utils\.progressbar)[\w.]*){Q}",
            rf"cannot import name {Q}(?P<name>Config|ConfigDict|DictAction|Registry|build_from_cfg|get_logger|print_log|ProgressBar|track_progress|track_iter_progress|mkdir_or_exist|scandir|load_checkpoint|load_state_dict|init_dist|get_dist_info|BaseModule|auto_fp16|force_fp32|MMDataParallel|MMDistributedDataParallel|FileClient|is_list_of|is_str){Q} from {Q}(?P<module>mmcv(?:\.(?:utils|runner|cnn|parallel)[\w.]*)?){Q}",
            rf"module {Q}mmcv{Q} has no attribute {Q}(?P<name>runner|parallel|fileio|engine|Config|ConfigDict|load|dump|mkdir_or_exist|ProgressBar|track_progress|FileClient){Q}",
        ),
        "mmcv 2.x moved this to mmengine: install the mmcv-full 1.x your mmdet/mmseg 2.x / 0.x asks for "
        '(`pip install "mmcv-full<2"`, see `mmfix doctor --check downstream-version-mismatch`), or port the '
        "import to mmengine (mmcv.runner -> mmengine.runner, mmcv.Config -> mmengine.Config)",
    ),
    S(
        "yapf-formatcode-verify",
        "A",
        "yapf >= 0.40.2 removed FormatCode(verify=...), which mmcv 1.x / mmengine < 0.8.5 pass",
        (rf"FormatCode\(\) got an unexpected keyword argument {Q}verify{Q}",),
        '`pip install "yapf==0.40.1"` in the target env (or mmengine >= 0.8.5, whose Config no longer passes it)',
    ),
    S(
        "setuptools-no-pkg-resources",
        "A",
        f"setuptools >= {SETUPTOOLS_WITHOUT_PKG_RESOURCES} has no pkg_resources, which mmcv's setup.py (and openmim) import",
        (rf"No module named {Q}?pkg_resources{Q}?",),
        SETUPTOOLS_FIX,
    ),
    S(
        "build-isolation-no-torch",
        "A",
        "mmcv was built in pip's isolated env without torch, so without ops",
        (
            r"Skip building ext ops due to the absence of torch",
            # pip's summary line: an mmcv 2.x / mmcv-full wheel tagged none-any holds no _ext
            # (mmcv 1.x 'mmcv' and mmcv-lite are pure by design: not matched)
            r"Created wheel for mmcv(?:-full)?: filename=(?P<wheel>(?:mmcv_full-[\w.+]+|mmcv-2[\w.+]*)"
            r"-py2(?:\.py3)?-none-any\.whl)(?:\s+size=(?P<size>\d+))?",
        ),
        "`mmfix rebuild` (builds with --no-build-isolation in the target env); by hand: "
        "`pip install \"setuptools<82\"`, then `pip install --no-build-isolation --no-cache-dir --force-reinstall "
        "--no-deps mmcv==<the installed version>`",
        rank=CAUSE,
    ),
    S(
        "setup-py-python313",
        "A",
        "mmcv's setup.py get_version() fails on Python >= 3.13 (PEP 667)",
        (rf"KeyError: {Q}__version__{Q}",),
        "`mmfix rebuild` applies the versioned setup.py patch; or build on Python <= 3.12",
        requires_before=r"setup\.py|get_version",
        context_lines=12,
    ),
    S(
        "pip-cache-stale-wheel",
        "A",
        "pip reuses a cached mmcv wheel built without ops",
        (
            r"Using cached (?P<wheel>mmcv(?:[-_]full)?-[\w.+]+-py2(?:\.py3)?-none-any\.whl)",
            rf"Processing \S*{P}wheels{P}\S*?(?P<wheel>mmcv(?:[-_]full)?-[\w.+]+-py2(?:\.py3)?-none-any\.whl)",
        ),
        "`pip cache remove mmcv` and rebuild with `--no-cache-dir` (`mmfix rebuild` does both)",
        rank=CAUSE,
    ),
    S(
        "mmcv-ops-missing",
        "A",
        "mmcv has no compiled ops (mmcv._ext)",
        (rf"No module named {Q}(?P<module>mmcv\._ext|mmcv\.ops){Q}",),
        "`mmfix wheels --install` for a prebuilt wheel matching torch/CUDA, or `mmfix rebuild`",
        rank=SYMPTOM,
        faq="\"No module named 'mmcv.ops'\"; \"No module named 'mmcv._ext'\"",
    ),
    # ---------------------------------------------------------------- B. GPU arch
    S(
        "torch-gpu-unsupported",
        "B",
        "The installed torch itself has no kernels for this GPU",
        (
            # torch/cuda/__init__.py _check_cubins (1.x - 2.x)
            r"(?:Warning:\s*)?(?P<gpu>[\w][\w .-]*?) with CUDA capability sm_(?P<sm>\d+) is not compatible\s+with\s+the\s+current\s+PyTorch installation",
            r"The current PyTorch install supports CUDA capabilities (?P<torch_archs>[\w ]+?)\.?\s*$",
            # torch < 1.x "PyTorch no longer supports this GPU because it is too old" and torch
            # 2.13's _warn_unsupported_code: "Found GPU0 <name> which is of compute capability (CC) 12.0."
            r"Found GPU\s?(?P<index>\d+) (?P<gpu>.+?) which is of (?:cuda capability|compute capability \(CC\)) (?P<major>\d+)\.(?P<minor>\d+)",
            r"does not include kernels for this GPU",
        ),
        (
            "install a torch build whose arch list has sm_{sm} ({cuda_hint}), then rebuild mmcv against it "
            "(`mmfix rebuild`); rebuilding mmcv alone cannot help",
            "install a torch build whose arch list has this GPU's compute capability (`torch.cuda.get_arch_list()`; "
            "RTX 50-series sm_120 needs a cu128 or newer torch), then `mmfix rebuild`; rebuilding mmcv alone cannot help",
        ),
    ),
    S(
        "nvcc-arch-unsupported",
        "B",
        "nvcc of this CUDA cannot target the requested GPU architecture",
        (
            rf"Unsupported gpu architecture {Q}(?P<arch>compute_\d+\w?|sm_\d+\w?){Q}",
            rf"Value {Q}(?P<arch>sm_\d+\w?|compute_\d+\w?){Q} is not defined for option {Q}gpu-(?:name|architecture){Q}",
        ),
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
            r"Unknown CUDA arch \((?P<arch>[^){]{0,200})\) or GPU not supported",
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
            r"no kernel image is available(?:\s+for\s+execution)?",
            r"invalid device function",
            r"cudaErrorNoKernelImageForDevice",
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
            r"CUDA was not found on the system, please set the CUDA_HOME",
            r"fatal error: (?P<header>cuda_runtime(?:_api)?\.h|cuda\.h): No such file or directory",
            rf"Cannot open include file: {Q}(?P<header>cuda_runtime(?:_api)?\.h|cuda\.h){Q}",
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
            rf"Cannot open include file: {Q}(?P<header>cusparse\.h|cublas_v2\.h|cusolverDn\.h|curand\.h|cufft\.h){Q}",
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
            # torch's CUDA_MISMATCH_MESSAGE: "...used to compile\nPyTorch (B)" (1.x) or
            # "...used to compilePyTorch (B)" (2.x, the two strings are joined without a space)
            r"detected CUDA version \((?P<nvcc_cuda>[\d.]+|%s)\) mismatches the version that was used to compile"
            r"(?:\s*PyTorch \((?P<torch_cuda>[\d.]+)\))?",
            r"detected CUDA version \((?P<nvcc_cuda>[\d.]+)\) has a minor version mismatch with the "
            r"version that was used to compile PyTorch \((?P<torch_cuda>[\d.]+)\)",
        ),
        (
            "build with a CUDA {torch_cuda_major}.x toolkit (CUDA_HOME), or install the prebuilt mmcv wheel "
            "for torch's CUDA: `mmfix wheels --install`",
            "build with the CUDA toolkit torch was built with (CUDA_HOME), or `mmfix wheels --install`",
        ),
    ),
    S(
        "gcc-unsupported",
        "C",
        "The host gcc is outside the range this CUDA / torch accepts",
        (
            r"unsupported GNU version! gcc versions later than (?P<gcc_max>\d+) are not supported",
            r"You're running a too old version of GCC\. We need GCC (?P<gcc_min>\d+) or later",
            # torch >= 2.x cpp_extension._check_cuda_version
            r"The current installed version of (?P<compiler>[\w+-]+) \((?P<gcc>[\d.]+)\) is (?:greater than the maximum|less than the minimum) required version by CUDA (?P<cuda>\d+(?:\.\d+)*)",
        ),
        (
            "build with a supported gcc: CC=gcc-{gcc_max} CXX=g++-{gcc_max} `mmfix rebuild` "
            "(-allow-unsupported-compiler only on request)",
            "build with gcc >= {gcc_min} (" + GCC_FAQ_RULE + "): CC=gcc-<v> CXX=g++-<v> `mmfix rebuild`",
            "build with a gcc CUDA {cuda} accepts: CC=gcc-<v> CXX=g++-<v> `mmfix rebuild`",
        ),
        faq='"Segmentation fault"',
    ),
    S(
        "msvc-unsupported",
        "C",
        "This Visual Studio (MSVC) is newer than the CUDA toolkit accepts",
        (
            r"unsupported Microsoft Visual Studio version!"
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
            rf"Cannot find compiler {Q}cl\.exe{Q} in PATH",
            rf"{Q}cl(?:\.exe)?{Q} is not recognized as an internal or external command",
            r"MSVC is required to load C\+\+ extensions",
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
            # torch/all.h, ATen/ATen.h, c10/util/C++17.h; gcc "#error", MSVC "error C1189: #error:"
            r"C\+\+(?P<std>\d+) or later compatible compiler is required",
            r"#error:?\s+You need C\+\+(?P<std>\d+) to compile PyTorch",
            rf"{Q}if constexpr{Q} only available with {Q}-std=(?:c|gnu)\+\+(?P<std>\d+){Q}",
        ),
        "`mmfix rebuild` applies the versioned mmcv patch raising -std to c++{std}",
    ),
    S(
        "glibc-cuda-math-clash",
        "C",
        "glibc's C23 math declarations (cospi, sinpi, rsqrt) clash with this CUDA's math headers",
        (
            r"exception specification is incompatible with that of previous function "
            r"[\"“]?(?P<function>cospi|sinpi|rsqrt|cospif|sinpif|rsqrtf)",
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
            rf"{Q}(?P<program>cicc|ptxas|cudafe\+\+){Q} died due to signal (?P<signal>\d+)",
        ),
        "fewer parallel jobs: `mmfix rebuild --jobs 2` (sets MAX_JOBS)",
    ),
    # ---------------------------------------------------------------- D. Windows torch headers
    S(
        "torch-header-all-slots",
        "D",
        "torch 1.5 module.h does not compile with nvcc + MSVC",
        (
            # "module.h(474): error: member "torch::jit::detail::ModulePolicy::all_slots" may not be
            # initialized", or pasted without the file prefix / from Visual Studio's error list
            r"(?:module\.h\((?P<header_line>\d+)\):\s*error:\s*)?(?:member\s+[^\n]{0,12}?)?torch\s*:\s*:\s*jit\s*:\s*:\s*detail\s*:\s*:\s*"
            r"(?P<policy>\w+Policy)\s*:\s*:\s*all_slots[\"”]?\s+may not be initialized",
        ),
        "`mmfix patch-torch-headers` (static constexpr bool all_slots -> static const bool)",
        faq='"error: member "torch::jit::detail::ModulePolicy::all_slots" may not be initialized"',
        collect=("header_line",),
        given=(("torch", "1.5"),),
    ),
    S(
        "torch-header-constexpr-win-cuda",
        "D",
        "torch 1.6 module.h does not compile with nvcc + MSVC",
        (r"(?:module\.h\((?P<header_line>\d+)\):\s*error:\s*)?a member with an in-class initializer must be const",),
        "`mmfix patch-torch-headers` (CONSTEXPR_EXCEPT_WIN_CUDA -> const in module.h)",
        faq='"error: a member with an in-class initializer must be const"',
        collect=("header_line",),
        given=(("torch", "1.6"),),
    ),
    S(
        "torch-header-profile-kind",
        "D",
        "torch 1.7 ir.h does not compile with nvcc + MSVC",
        (
            r"(?:ir\.h\((?P<header_line>\d+)\):\s*error:\s*)?(?:member\s+)?[\"“]?torch::jit::(?P<cls>\w+)::Kind[\"”]?\s+may not be initialized",
        ),
        "`mmfix patch-torch-headers` (removes the in-class initializer of ProfileOptionalOp::Kind)",
        faq='"error: member "torch::jit::ProfileOptionalOp::Kind" may not be initialized"',
        collect=("header_line",),
        given=(("torch", "1.7"),),
    ),
    S(
        "pybind11-cast-complete-type",
        "D",
        "torch <= 1.7.0's bundled pybind11 cast.h fails under nvcc + MSVC",
        (r"cast\.h\((?P<header_line>\d+)\):\s*error:\s*expression must be a pointer to a complete object type",),
        "`mmfix patch-torch-headers` (cast through static_cast<type*>(this->value))",
        collect=("header_line",),
        given=(("torch", "<=1.7.0"),),
    ),
    S(
        "torch-header-compiled-autograd",
        "D",
        "torch >= 2.8 compiled_autograd.h: 'std' is ambiguous under nvcc",
        (
            rf"compiled_autograd\.h\((?P<header_line>\d+)\)[^\n]*?{Q}std{Q}: ambiguous symbol",
            rf"{Q}std{Q}: ambiguous symbol.{{0,1000}}compiled_autograd\.h",
        ),
        "`mmfix patch-torch-headers` (guard compiled_autograd.h against __NVCC__)",
        collect=("header_line",),
        given=(("torch", ">=2.8"),),
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
        "torch-load-weights-only",
        "E",
        "torch >= 2.6 loads checkpoints with weights_only=True, and this one pickles other objects",
        (
            r"WeightsUnpickler error: Unsupported global: GLOBAL (?P<global>[\w.]+) was not an allowed global",
            r"Weights only load failed",
        ),
        "not a build problem: for a checkpoint you trust, load it under torch.serialization.safe_globals"
        "([{global}]) (or torch.load(..., weights_only=False)); or use a torch < 2.6; never for untrusted files",
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
            rf"{Q}MMDistributedDataParallel{Q} object has no attribute {Q}(?P<attribute>_sync_params\w*|_use_replicated_tensor_module){Q}",
        ),
        (
            "upgrade mmcv-full to >= {mmcv_fixed}, the first release whose MMDistributedDataParallel fits "
            "torch >= {torch_from} (mmcv/parallel/distributed.py)",
            "upgrade mmcv(-full) to a release whose MMDistributedDataParallel fits the installed torch",
        ),
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

BY_ID: dict[str, Signature] = {s.id: s for s in SIGNATURES}
