"""Pasted environment reports -> facts -> ``Environment``, explain matches and doctor findings.

Formats read (all as users paste them into issues):
- mmcv's ``python mmcv/utils/collect_env.py`` / mmdet's ``collect_env`` / mmengine's, one
  ``Key: value`` per line, starting with ``sys.platform:`` (``GPU 0,1: name``, ``NVCC: ...``,
  ``PyTorch compiling details`` with ``- CUDA Runtime 11.3`` and ``- NVCC architecture flags``);
- the same as mmengine's ``OrderedDict([('sys.platform', 'linux'), ...])`` repr;
- ``python -m torch.utils.collect_env`` (``PyTorch version:``, ``CUDA used to build PyTorch:``,
  ``CUDA runtime version:`` = the nvcc found, ``GPU models and configuration:``, ``[pip3] x==v``).

A report gives only part of an ``Environment``; paths it does not name are left empty.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from packaging.version import InvalidVersion, Version

from mmfix.explain.engine import Match, render_fix
from mmfix.knowledge import cuda
from mmfix.knowledge.gpus import cc_for_name
from mmfix.model import (
    Compiler,
    Downstream,
    Environment,
    ExtImport,
    Finding,
    Gpu,
    Host,
    MmcvDist,
    Nvcc,
    Status,
    TargetPython,
    TorchInfo,
)

# report key -> fact name
KEYS: dict[str, str] = {
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
DOWNSTREAM_KEYS: dict[str, str] = {
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

# Doctor checks that can judge a report's facts (run when they exist; see ``run_doctor_checks``).
REPORT_CHECK_IDS: tuple[str, ...] = (
    "mmcv-ops-missing",
    "mmcv-lite-and-full",
    "downstream-version-mismatch",
    "cuda-arch-not-compiled",
    "ops-cpu-only",
    "cuda-version-mismatch",
    "gcc-unsupported",
    "cuda-driver-too-old",
    "numpy-abi-mismatch",
)

_KV = re.compile(r"^\s*(?P<key>[A-Za-z_][\w .()/-]*?)\s*:\s*(?P<value>.*?)\s*$")
_GPU = re.compile(r"GPU (?P<idx>[\d,]+)\s*:\s*(?P<name>.+?)\s*$")
_PAIR = re.compile(
    r"\('(?P<key>[^']+)', (?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[\w.]+)\)"
)
_PIP = re.compile(
    r"^\s*\[(?:pip3?|conda)\]\s+(?P<name>[A-Za-z0-9_.-]+)(?:==|\s+)(?P<version>[\w.+!-]+)"
)
_NVCC_RELEASE = re.compile(r"release (\d+\.\d+)|cuda_(\d+\.\d+)|^(\d+\.\d+)")
_GCC_VERSION = re.compile(r"(\d+\.\d+(?:\.\d+)?)\s*$|GCC (\d+\.\d+(?:\.\d+)?)")
_ARCH_FLAG = re.compile(r"(?:code=)?sm_(\d+)")


@dataclass
class ReportFacts:
    """The facts read from a report (strings as printed), with the line each came from."""

    values: dict[str, str] = field(default_factory=dict)
    gpus: list[tuple[int, str]] = field(default_factory=list)
    torch_archs: list[int] = field(default_factory=list)
    packages: dict[str, str] = field(default_factory=dict)
    downstream: dict[str, str] = field(default_factory=dict)
    line: int = 0  # first line of the report
    lines: dict[str, int] = field(default_factory=dict)

    @property
    def known(self) -> bool:
        """True when enough was read to be a report (torch or mmcv and one more fact)."""
        return ("torch" in self.values or "mmcv" in self.values) and len(self.values) >= 2

    def get(self, key: str) -> str | None:
        return self.values.get(key)


def _set(facts: ReportFacts, key: str, value: str, line: int) -> None:
    value = value.strip()
    if key in KEYS:
        name = KEYS[key]
        if name == "gpu_models":
            m = _GPU.search(value)
            if m:
                _add_gpus(facts, m.group("idx"), m.group("name"))
            return
        if value and name not in facts.values:
            facts.values[name] = value
            facts.lines[name] = line
    elif key in DOWNSTREAM_KEYS and value:
        facts.downstream[DOWNSTREAM_KEYS[key]] = value
    elif key.startswith("GPU ") and value:
        _add_gpus(facts, key[4:], value)
    elif key.startswith("- CUDA Runtime") or key == "- CUDA Runtime":
        pass


def _add_gpus(facts: ReportFacts, idx: str, name: str) -> None:
    for part in idx.split(","):
        if part.strip().isdigit():
            facts.gpus.append((int(part), name.strip()))


def _detail_line(facts: ReportFacts, text: str, line: int) -> None:
    """Read a "PyTorch compiling details" line: "- CUDA Runtime X", "- NVCC architecture flags"."""
    t = text.strip()
    if t.startswith("- CUDA Runtime"):
        facts.values.setdefault("torch_cuda", t.split()[-1])
        facts.lines.setdefault("torch_cuda", line)
    elif t.startswith("- NVCC architecture flags"):
        for sm in _ARCH_FLAG.findall(t):
            if int(sm) not in facts.torch_archs:
                facts.torch_archs.append(int(sm))


def parse_report(lines: Iterable[tuple[int, str]]) -> ReportFacts:
    """Read report facts from ``(line number, text)`` pairs; unknown lines are ignored."""
    facts = ReportFacts()
    for number, text in lines:
        if not facts.line and ("sys.platform" in text or "PyTorch version" in text):
            facts.line = number
        if "OrderedDict([" in text or text.lstrip().startswith("('sys.platform'"):
            for m in _PAIR.finditer(text):
                try:
                    value = ast.literal_eval(m.group("value"))
                except (ValueError, SyntaxError):
                    value = m.group("value")
                for i, part in enumerate(str(value).split("\n")):
                    if i == 0:
                        _set(facts, m.group("key"), part, number)
                    else:
                        _detail_line(facts, part, number)
            continue
        pip = _PIP.match(text)
        if pip:
            facts.packages.setdefault(
                pip.group("name").lower().replace("_", "-"), pip.group("version")
            )
            continue
        if text.strip().startswith("- "):
            _detail_line(facts, text, number)
            continue
        gpu = _GPU.match(text.strip())
        if gpu:
            _add_gpus(facts, gpu.group("idx"), gpu.group("name"))
            continue
        kv = _KV.match(text)
        if kv:
            _set(facts, kv.group("key"), kv.group("value"), number)
    # torch's "[pip3] torch==..." when the header line is missing
    if "torch" not in facts.values and "torch" in facts.packages:
        facts.values["torch"] = facts.packages["torch"]
    return facts


# ---------------------------------------------------------------- facts -> values


def _version(text: str | None) -> Version | None:
    if not text:
        return None
    m = re.match(r"\s*(\d+(?:\.\d+)*)", text)
    if not m:
        return None
    try:
        return Version(m.group(1))
    except InvalidVersion:
        return None


def nvcc_release(text: str | None) -> str | None:
    """The CUDA release of an nvcc banner, or None.

    "Cuda compilation tools, release 11.3, V11.3.109", "Build cuda_11.3.r11.3/...",
    "11.3.109" -> "11.3".
    """
    if not text:
        return None
    m = _NVCC_RELEASE.search(text.strip())
    return next((g for g in m.groups() if g), None) if m else None


def torch_cuda(facts: ReportFacts) -> str | None:
    """torch's CUDA: "CUDA used to build PyTorch", "- CUDA Runtime", or the +cuXYZ local tag."""
    value = facts.get("torch_cuda")
    if value and value[0].isdigit():
        return ".".join(value.split(".")[:2])
    m = re.search(r"\+cu(\d+)(\d)\b", facts.get("torch") or "")
    return f"{m.group(1)}.{m.group(2)}" if m else None


def mmcv_cuda(facts: ReportFacts) -> str | None:
    """The CUDA mmcv's ops were compiled with ("MMCV CUDA Compiler"); None if not known."""
    value = facts.get("mmcv_cuda")
    return nvcc_release(value) if value and value[0].isdigit() else None


def gcc_version(facts: ReportFacts) -> str | None:
    text = facts.get("gcc")
    if not text:
        return None
    m = _GCC_VERSION.search(text)
    return next((g for g in m.groups() if g), None) if m else None


def _mmcv_dist_name(facts: ReportFacts) -> str:
    for name in ("mmcv-full", "mmcv", "mmcv-lite"):
        if name in facts.packages:
            return name
    v = _version(facts.get("mmcv"))
    return "mmcv-full" if v is not None and v.major < 2 and facts.get("mmcv_cuda") else "mmcv"


def to_environment(facts: ReportFacts) -> Environment:
    """A partial ``Environment`` from report facts (paths unknown to the report stay empty)."""
    platform = facts.get("platform") or ("win32" if facts.get("msvc") else "linux")
    python = (facts.get("python") or "").split()[0] if facts.get("python") else ""
    target = TargetPython(
        executable="<from report>",
        version=python,
        platform=platform,
        packages={
            k: v for k, v in facts.packages.items() if k in ("numpy", "setuptools", "ninja", "pip")
        },
    )
    driver = facts.get("driver")
    gpus = tuple(
        Gpu(index=i, name=name, compute_capability=cc_for_name(name), driver_version=driver)
        for i, name in facts.gpus
    )
    release = nvcc_release(facts.get("nvcc"))
    nvcc = None
    if release:
        home = facts.get("cuda_home") or ""
        nvcc = Nvcc(path=f"{home}/bin/nvcc" if home else "nvcc", real_path=None, version=release)
    gcc_ver = gcc_version(facts)
    host = Host(
        os={"win32": "Windows", "darwin": "Darwin"}.get(platform, "Linux"),
        os_release=facts.get("os") or "",
        glibc=(facts.get("libc") or "").replace("glibc-", "") or None,
        env={"CUDA_HOME": facts.get("cuda_home") or ""} if facts.get("cuda_home") else {},
        nvcc=nvcc,
        gpus=gpus,
        driver_version=driver,
        gcc=Compiler(path="gcc", kind="gcc", version=gcc_ver, banner=facts.get("gcc"))
        if gcc_ver
        else None,
    )
    torch = None
    if facts.get("torch"):
        torch = TorchInfo(version=facts.get("torch") or "", location="", cuda=torch_cuda(facts))
    mmcv: tuple[MmcvDist, ...] = ()
    ext = None
    if facts.get("mmcv"):
        mmcv = (MmcvDist(_mmcv_dist_name(facts), facts.get("mmcv") or "", "", None, None),)
        if facts.get("mmcv_cuda") or facts.get("mmcv_compiler"):
            ext = ExtImport(
                attempted=True,
                ok=True,
                compiling_cuda_version=facts.get("mmcv_cuda"),
                compiler_version=facts.get("mmcv_compiler"),
            )
    extra = tuple(
        MmcvDist(name, version, "", None, None)
        for name, version in facts.packages.items()
        if name in ("mmcv", "mmcv-full", "mmcv-lite") and all(d.name != name for d in mmcv)
    )
    downstream = tuple(
        Downstream(name, version.rstrip("+")) for name, version in facts.downstream.items()
    )
    return Environment(
        target=target,
        host=host,
        torch=torch,
        mmcv=mmcv + extra,
        downstream=downstream,
        ext_import=ext,
    )


# ---------------------------------------------------------------- direct findings


@dataclass(frozen=True)
class _Rule:
    id: str
    family: str
    title: str
    fix: str


_RULES = {
    r.id: r
    for r in (
        _Rule(
            "ops-cpu-only",
            "B",
            "mmcv's ops were compiled without CUDA while torch has CUDA",
            "`mmfix rebuild --arch {cc}` (sets FORCE_CUDA=1), or `mmfix wheels --install`",
        ),
        _Rule(
            "cuda-arch-not-compiled",
            "B",
            "torch's CUDA cannot target this GPU's architecture",
            "install a torch built with CUDA >= {min_cuda}, then `mmfix rebuild --arch {cc}`",
        ),
        _Rule(
            "cuda-version-mismatch",
            "C",
            "mmcv's ops were compiled with another CUDA than torch's",
            "install the mmcv wheel for torch {torch} "
            "(index cu{torch_cuda_tag}/torch{torch_minor}.0): "
            "`mmfix wheels --install`; or `mmfix rebuild --arch {cc}`",
        ),
        _Rule(
            "gcc-unsupported",
            "C",
            "The host gcc is outside what this CUDA / the FAQ accepts",
            "build with a supported gcc: CC=gcc-{gcc_max} CXX=g++-{gcc_max} `mmfix rebuild`",
        ),
        _Rule(
            "numpy-abi-mismatch",
            "E",
            "torch < 2.3 (built against NumPy 1) with NumPy 2 installed",
            '`pip install "numpy<2"` in the target env',
        ),
        _Rule(
            "mmcv-lite-and-full",
            "A",
            "Two mmcv distributions are installed",
            "uninstall the one without ops: `pip uninstall {without_ops}`",
        ),
    )
}


def derive_matches(facts: ReportFacts) -> list[Match]:
    """Explain matches derived from report facts alone (independent of the doctor checks).

    Rules (sources: catalog B/C/E, knowledge.cuda tables): torch with CUDA and mmcv's ops built
    without it (ops-cpu-only); a GPU whose compute capability torch's CUDA cannot target
    (cuda-arch-not-compiled); mmcv compiled with another CUDA than torch's, or an nvcc of another
    major (cuda-version-mismatch); gcc newer than the nvcc's limit or 5.5 (gcc-unsupported);
    torch < 2.3 with numpy >= 2 (numpy-abi-mismatch); two mmcv distributions (mmcv-lite-and-full).
    """
    out: list[Match] = []
    tcuda = torch_cuda(facts)
    torch_v = _version(facts.get("torch"))
    ccs = [cc for cc in (cc_for_name(n) for _, n in facts.gpus) if cc]
    cc = ccs[0] if ccs else None
    base: dict[str, Any] = {
        "torch": facts.get("torch"),
        "torch_cuda": tcuda,
        "cc": cc,
        "gpu": facts.gpus[0][1] if facts.gpus else None,
    }
    if tcuda:
        base["torch_cuda_tag"] = tcuda.replace(".", "")
    if torch_v:
        base["torch_minor"] = f"{torch_v.major}.{torch_v.minor}"

    def add(rule_id: str, key: str, **extra: Any) -> None:
        rule = _RULES[rule_id]
        facts_out = {k: v for k, v in {**base, **extra}.items() if v is not None}
        line = facts.lines.get(key, facts.line)
        value = facts.get(key) or ""
        text = f"{_label(key)}: {value}" if value else "(environment report)"
        out.append(
            Match(
                rule.id,
                line,
                text,
                facts_out,
                render_fix(rule.fix, facts_out),
                title=rule.title,
                family=rule.family,
                rank=15,
                source="report",
            )
        )

    mcuda_raw = (facts.get("mmcv_cuda") or "").strip().lower()
    if tcuda and mcuda_raw in ("not available", "none", "0"):
        add("ops-cpu-only", "mmcv_cuda")
    if tcuda and cc:
        archs = cuda.nvcc_archs(tcuda)
        sm = cuda.cc_to_sm(cc)
        supported = (
            (
                sm in facts.torch_archs
                or any(a // 10 == sm // 10 and a <= sm for a in facts.torch_archs)
            )
            if facts.torch_archs
            else (archs is not None and sm in archs)
        )
        if not supported:
            toolkits = cuda.toolkits_for_sm(sm)
            add(
                "cuda-arch-not-compiled",
                "torch",
                min_cuda=toolkits[0] if toolkits else None,
                torch_archs=facts.torch_archs or None,
            )
    mcuda = mmcv_cuda(facts)
    nvcc = nvcc_release(facts.get("nvcc"))
    if tcuda and mcuda and mcuda != tcuda:
        add("cuda-version-mismatch", "mmcv_cuda", mmcv_cuda=mcuda)
    elif tcuda and nvcc and nvcc.split(".")[0] != tcuda.split(".")[0]:
        add("cuda-version-mismatch", "nvcc", nvcc_cuda=nvcc)
    gcc = _version(gcc_version(facts))
    if gcc is not None:
        limit = cuda.gcc_max(nvcc) if nvcc else None
        if limit is not None and gcc.major > limit:
            add("gcc-unsupported", "gcc", gcc=str(gcc), gcc_max=limit, nvcc_cuda=nvcc)
        elif (gcc.major, gcc.minor) == (5, 5) or gcc < Version("5.4"):
            add("gcc-unsupported", "gcc", gcc=str(gcc), gcc_max=limit)
    numpy_v = _version(facts.packages.get("numpy"))
    if (
        torch_v is not None
        and numpy_v is not None
        and torch_v < Version("2.3")
        and numpy_v.major >= 2
    ):
        add("numpy-abi-mismatch", "torch", numpy=str(numpy_v))
    names = [n for n in ("mmcv", "mmcv-full", "mmcv-lite") if n in facts.packages]
    if len(names) >= 2:
        without = (
            "mmcv-lite" if "mmcv-lite" in names else ("mmcv" if "mmcv-full" in names else names[-1])
        )
        add("mmcv-lite-and-full", "mmcv", installed=names, without_ops=without)
    return out


def _label(key: str) -> str:
    for label, name in KEYS.items():
        if name == key:
            return label
    return key


def merge(log_matches: list[Match], report_matches: list[Match]) -> list[Match]:
    """Log matches, with report facts added to those of the same id; report-only ids appended."""
    by_id = {m.id: m for m in log_matches}
    out = list(log_matches)
    for rm in report_matches:
        lm = by_id.get(rm.id)
        if lm is None:
            out.append(rm)
            by_id[rm.id] = rm
        else:
            merged = {**rm.facts, **lm.facts}
            out[out.index(lm)] = replace(
                lm, facts=merged, fix=lm.fix if "<" not in lm.fix else rm.fix
            )
    return out


def run_doctor_checks(env: Environment) -> list[Finding]:
    """The doctor checks that can judge report facts, run on ``env``; only failing / warning ones.

    Uses whatever checks ``mmfix.checks`` has; a check that crashes is left out (its facts may
    need a live environment this report cannot give).
    """
    try:
        from mmfix.checks import check_ids, run_checks
        from mmfix.checks.base import CheckContext
    except Exception:  # noqa: BLE001 - checks being written elsewhere must not break explain
        return []
    known = set(check_ids())
    ids = [i for i in REPORT_CHECK_IDS if i in known]
    if not ids:
        return []
    try:
        findings = run_checks(CheckContext(env), ids)
    except Exception:  # noqa: BLE001
        return []
    return [f for f in findings if f.status in (Status.FAIL, Status.WARN)]
