# ruff: noqa: E501  (a data table: regexes and texts read best unbroken)
"""Context rules: facts seen anywhere in an input that turn a symptom into its evidenced cause.

Data only. ``FACTS`` are lines that are no error themselves but say how something was built or
set up (an ``MMCV_CUDA_ARGS`` in a Dockerfile, an ``export`` line or a CI file; the wheel pip just
built). ``RULES`` name a cause when its symptom was matched and every fact it needs was seen; the
cause is ranked first and points at the fact's line as its evidence. The symptom stays, after it.
``REPORT_*`` are the tables for pasted environment reports (``report.py``).

Sources: mmcv ``setup.py`` (``MMCV_CUDA_ARGS`` is passed to nvcc after torch's own arch flags,
and nvcc keeps only the last ``-gencode``/``-arch`` set: torch ignores TORCH_CUDA_ARCH_LIST then,
catalog B); pip's ``Created wheel for <name>: filename=<wheel> size=<bytes>`` line (a wheel built
without compiled code is tagged ``py2.py3-none-any``); torch's traceback frames.
"""

from __future__ import annotations

from typing import NamedTuple

from mmfix.explain.signatures import ROOT
from mmfix.knowledge import buildtools


class Fact(NamedTuple):
    """A context line: named groups become the fact's values, its line the evidence."""

    name: str
    pattern: str


class Rule(NamedTuple):
    """``cause`` is named when ``symptom`` was matched and every fact in ``needs`` was seen.

    A need is a context fact (``FACTS``) or a fact of the symptom's own match (``symptom.x``).
    ``evidence``: the need whose line is shown as the evidence. ``title``/``fix``: for causes
    without a signature of their own (format strings over the facts).
    """

    cause: str
    symptom: str
    needs: tuple[str, ...]
    evidence: str
    family: str = ""
    title: str = ""
    fix: str | tuple[str, ...] = ""
    rank: int = ROOT


FACTS: tuple[Fact, ...] = (
    # ENV MMCV_CUDA_ARGS="-gencode=arch=compute_61,code=sm_61"; export MMCV_CUDA_ARGS='-arch=sm_80';
    # MMCV_CUDA_ARGS: -gencode=... (CI yaml); $env:MMCV_CUDA_ARGS = "..."; set MMCV_CUDA_ARGS=...
    Fact(
        "cuda_args_arch",
        r"MMCV_CUDA_ARGS[\"']?\s*[=:]\s*[\"']?(?P<cuda_args>[^\"'\n]*?(?:-gencode|--generate-code|-arch[= ]|--gpu-architecture|arch=)[^\"'\n]*)",
    ),
    Fact(
        "ops_less_wheel_built",
        r"Created wheel for (?P<dist>mmcv[\w-]*): filename=(?P<wheel>mmcv[\w.+-]*-py2(?:\.py3)?-none-any\.whl)(?:\s+size=(?P<size>\d+))?",
    ),
)

RULES: tuple[Rule, ...] = (
    Rule(
        "cuda-args-override-arch",
        "cuda-arch-not-compiled",
        ("cuda_args_arch",),
        "cuda_args_arch",
        family="B",
        title="Arch flags in MMCV_CUDA_ARGS replaced TORCH_CUDA_ARCH_LIST, so _ext lacks this GPU's arch",
        fix=(
            "drop the arch flags from MMCV_CUDA_ARGS ({cuda_args}) and rebuild for this GPU: "
            "`mmfix rebuild --arch {cc}`",
            "drop the arch flags from MMCV_CUDA_ARGS ({cuda_args}) and rebuild for this GPU: "
            "`mmfix rebuild --arch <compute capability>`",
        ),
    ),
    Rule(
        "build-isolation-no-torch",
        "mmcv-ops-missing",
        ("ops_less_wheel_built",),
        "ops_less_wheel_built",
    ),
    Rule(
        "torch-gpu-unsupported",
        "cuda-arch-not-compiled",
        ("symptom.torch_frame",),
        "symptom.torch_frame",
    ),
)

# ---------------------------------------------------------------- pasted environment reports

# Literals that start a report: mmcv / mmdet / mmengine collect_env ("sys.platform: linux", also as
# an OrderedDict or a JSON object) and `python -m torch.utils.collect_env` ("PyTorch version: ...").
REPORT_STARTS: tuple[str, ...] = ("sys.platform", "PyTorch version")

# report key -> fact name
REPORT_KEYS: dict[str, str] = {
    "sys.platform": "platform",
    "Python": "python",
    "Python version": "python",
    "CUDA available": "cuda_available",
    "Is CUDA available": "cuda_available",
    "CUDA_HOME": "cuda_home",
    "NVCC": "nvcc",
    "CUDA runtime version": "nvcc",
    "GCC": "gcc",
    "GCC version": "gcc",
    "MSVC": "msvc",
    "PyTorch": "torch",
    "PyTorch version": "torch",
    "CUDA used to build PyTorch": "torch_cuda",
    "TorchVision": "torchvision",
    "OpenCV": "opencv",
    "MMCV": "mmcv",
    "MMCV Compiler": "mmcv_compiler",
    "MMCV CUDA Compiler": "mmcv_cuda",
    "MMEngine": "mmengine",
    "Nvidia driver version": "driver",
    "OS": "os",
    "Libc version": "libc",
    "GPU models and configuration": "gpu_models",
}

# report key of a downstream package -> its distribution name
REPORT_DOWNSTREAM_KEYS: dict[str, str] = {
    "MMDetection": "mmdet",
    "MMSegmentation": "mmseg",
    "MMPretrain": "mmpretrain",
    "MMClassification": "mmcls",
    "MMDetection3D": "mmdet3d",
    "MMPose": "mmpose",
    "MMOCR": "mmocr",
    "MMAction2": "mmaction2",
    "MMRotate": "mmrotate",
}

# Doctor checks that can judge a report's facts, each run only when the report holds every fact it
# reads (an mmcv seen only in a pip list: whether it has _ext is unknown, so it is not judged).
REPORT_CHECKS: dict[str, tuple[str, ...]] = {
    "mmcv-ops-missing": ("mmcv_compiler",),
    "mmcv-lite-and-full": ("mmcv_compiler",),
    "ops-cpu-only": ("mmcv_cuda", "torch"),
    "cuda-version-mismatch": ("nvcc", "torch"),
    "gcc-unsupported": ("gcc", "nvcc"),
    "msvc-unsupported": ("msvc", "nvcc"),
    "cuda-driver-too-old": ("driver", "torch"),
}


class ReportRule(NamedTuple):
    """What a report finding (named by ``report.derive_findings``) means: id, family, title, fix."""

    id: str
    family: str
    title: str
    fix: str


REPORT_RANK = 15  # between a ROOT line of the log and a CAUSE

REPORT_RULES: dict[str, ReportRule] = {
    "ops-not-imported": ReportRule(
        "mmcv-ops-missing", "A", "mmcv's compiled ops (mmcv._ext) did not import",
        "`mmfix wheels --install` for a prebuilt wheel matching torch/CUDA, or `mmfix rebuild`",
    ),
    "ops-without-cuda": ReportRule(
        "ops-cpu-only", "B", "mmcv's ops were compiled without CUDA while torch has CUDA",
        "`mmfix rebuild --arch {cc}` (sets FORCE_CUDA=1), or `mmfix wheels --install`",
    ),
    "gpu-beyond-torch": ReportRule(
        "torch-gpu-unsupported", "B", "The installed torch has no kernels for this GPU's architecture",
        "install a torch built with CUDA >= {min_cuda} whose arch list has {cc}, then `mmfix rebuild --arch {cc}`",
    ),
    "mmcv-cuda-not-torch-cuda": ReportRule(
        "cuda-version-mismatch", "C", "mmcv's ops were compiled with another CUDA than torch's",
        "install the mmcv wheel for torch {torch} (index cu{torch_cuda_tag}/torch{torch_minor}.0): "
        "`mmfix wheels --install`; or `mmfix rebuild --arch {cc}`",
    ),
    "nvcc-major-not-torch-cuda": ReportRule(
        "cuda-version-mismatch", "C", "nvcc's CUDA major differs from the CUDA torch was built with",
        "build with a CUDA {torch_cuda} toolkit (CUDA_HOME), or `mmfix wheels --install` for a prebuilt mmcv (no build needed)",
    ),
    "gcc-beyond-nvcc": ReportRule(
        "gcc-unsupported", "C", "The host gcc is newer than this CUDA accepts",
        "build with a supported gcc: CC=gcc-{gcc_max} CXX=g++-{gcc_max} `mmfix rebuild`",
    ),
    "gcc-faq": ReportRule(
        "gcc-unsupported", "C", f"mmcv's FAQ links {buildtools.GCC_FAQ_CAUSES} to segfaults",
        f"build with {buildtools.GCC_FAQ_RULE}: CC=gcc-<v> CXX=g++-<v> `mmfix rebuild`",
    ),
    "msvc-beyond-nvcc": ReportRule(
        "msvc-unsupported", "C", "This Visual Studio (MSVC) is outside the range the CUDA toolkit accepts",
        "CUDA {nvcc_cuda} accepts _MSC_VER {msc_min}-{msc_max}, cl is {msc_ver}: pick a toolset in range "
        "(`vcvarsall.bat x64 -vcvars_ver=14.xx`), or a CUDA release that accepts {msc_ver}",
    ),
    "numpy2-old-torch": ReportRule(
        "numpy-abi-mismatch", "E", "torch < 2.3 (built against NumPy 1) with NumPy 2 installed",
        '`pip install "numpy<2"` in the target env',
    ),
    "two-mmcv": ReportRule("mmcv-lite-and-full", "A", "Two mmcv distributions are installed", "{uninstall}"),
}

# Which of two installed mmcv distributions to remove: "mmcv-lite" beside another, mmcv 1.x (the
# lite package) beside mmcv-full, or "" for mmcv 2.x beside mmcv-full 1.x.
TWO_MMCV_FIXES: dict[str, str] = {
    "mmcv-lite": "uninstall the one without ops: `pip uninstall mmcv-lite`",
    "mmcv-1.x": "uninstall the one without ops: `pip uninstall mmcv` (mmcv 1.x is the lite package)",
    "": "keep the one your downstream needs: `pip uninstall mmcv-full` for mmdet 3.x / mmengine projects, "
        "`pip uninstall mmcv` for mmdet 2.x projects",
}

# Catalog ids that leave no text of their own and no rule names (found only by doctor).
NO_TEXT_IDS: tuple[str, ...] = ("git-checkout-ops-off", "msvc-shell-target-arch", "win-path-characters", "win-long-paths")
