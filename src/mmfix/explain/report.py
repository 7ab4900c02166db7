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
from dataclasses import dataclass, field
from typing import Any

from packaging.version import Version

from mmfix import model
from mmfix.explain import rules
from mmfix.explain.engine import Match, render_fix
from mmfix.explain.signatures import BY_ID
from mmfix.knowledge import buildtools, cuda, runtime
from mmfix.knowledge.gpus import cc_for_name
from mmfix.knowledge.versions import parse_version as _version

EXT_FROM_REPORT = "mmcv/_ext (imported by collect_env when the report was made)"

_KV = re.compile(r"^\s*(?P<key>[A-Za-z_][\w .()/-]*?)\s*:\s*(?P<value>.*?)\s*$")
_GPU = re.compile(r"GPU (?P<idx>[\d,]+)\s*:\s*(?P<name>.+?)\s*$")
_PAIR = re.compile(r"\('(?P<key>[^']+)', (?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[\w.]+)\)")
_PIP = re.compile(r"^\s*\[(?:pip3?|conda)\]\s+(?P<name>[A-Za-z0-9_.-]+)(?:==|\s+)(?P<version>[\w.+!-]+)")
_NVCC_RELEASE = re.compile(r"release (\d+\.\d+)|cuda_(\d+\.\d+)|^(\d+\.\d+)")
_GCC_VERSION = re.compile(r"\d+\.\d+(?:\.\d+)?")
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
    if key in rules.REPORT_KEYS:
        name = rules.REPORT_KEYS[key]
        if name == "gpu_models":
            m = _GPU.search(value)
            if m:
                _add_gpus(facts, m.group("idx"), m.group("name"))
            return
        if value and name not in facts.values:
            facts.values[name] = value
            facts.lines[name] = line
    elif key in rules.REPORT_DOWNSTREAM_KEYS and value:
        facts.downstream[rules.REPORT_DOWNSTREAM_KEYS[key]] = value
    elif key.startswith("GPU ") and value:
        _add_gpus(facts, key[4:], value)


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
        if not facts.line and any(start in text for start in rules.REPORT_STARTS):
            facts.line = number
        if "OrderedDict([" in text or text.lstrip().startswith("('"):  # mmengine's repr, one pair a line too
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
            facts.packages.setdefault(pip.group("name").lower().replace("_", "-"), pip.group("version"))
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
    # "gcc (Ubuntu 5.5.0-12ubuntu1) 5.5.0 20171010": the version outside the parentheses
    m = _GCC_VERSION.search(re.sub(r"\([^)]*\)", " ", text)) or _GCC_VERSION.search(text)
    return m.group(0) if m else None


def msc_ver(facts: ReportFacts) -> tuple[str, int] | None:
    """cl's version and ``_MSC_VER`` from "MSVC: ... Compiler Version 19.38.33134 for x64" (1938)."""
    m = re.search(r"Version (\d+)\.(\d+)(?:\.(\d+))?", facts.get("msvc") or "")
    if not m:
        return None
    return m.group(0).split()[-1], int(m.group(1)) * 100 + int(m.group(2))


def _mmcv_dist_name(facts: ReportFacts) -> str:
    for name in ("mmcv-full", "mmcv", "mmcv-lite"):
        if name in facts.packages:
            return name
    v = _version(facts.get("mmcv"))
    return "mmcv-full" if v is not None and v.major < 2 and facts.get("mmcv_cuda") else "mmcv"


def to_environment(facts: ReportFacts) -> model.Environment:
    """A partial ``Environment`` from report facts (paths unknown to the report stay empty)."""
    platform = facts.get("platform") or ("win32" if facts.get("msvc") else "linux")
    python = (facts.get("python") or "").split()[0] if facts.get("python") else ""
    target = model.TargetPython(
        executable="python",  # the report's interpreter; its path is not in the report
        version=python,
        platform=platform,
        packages={k: v for k, v in facts.packages.items() if k in ("numpy", "setuptools", "ninja", "pip")},
    )
    driver = facts.get("driver")
    gpus = tuple(
        model.Gpu(index=i, name=name, compute_capability=cc_for_name(name), driver_version=driver) for i, name in facts.gpus
    )
    release = nvcc_release(facts.get("nvcc"))
    nvcc = None
    if release:
        home = facts.get("cuda_home") or ""
        tail = "\\bin\\nvcc.exe" if platform == "win32" else "/bin/nvcc"
        nvcc = model.Nvcc(path=f"{home}{tail}" if home else "nvcc", real_path=None, version=release)
    gcc_ver = gcc_version(facts)
    cl = msc_ver(facts)  # collect_env ran cl from PATH: the report comes from a shell where VS was active
    windows = model.WindowsFacts(dev_shell=True, cl=model.Compiler("cl.exe", "cl", cl[0], facts.get("msvc")), msc_ver=cl[1]) if cl else None
    host = model.Host(
        os={"win32": "Windows", "darwin": "Darwin"}.get(platform, "Linux"),
        os_release=facts.get("os") or "",
        glibc=(facts.get("libc") or "").replace("glibc-", "") or None,
        env={"CUDA_HOME": facts.get("cuda_home") or ""} if facts.get("cuda_home") else {},
        nvcc=nvcc,
        gpus=gpus,
        driver_version=driver,
        gcc=model.Compiler(path="gcc", kind="gcc", version=gcc_ver, banner=facts.get("gcc")) if gcc_ver else None,
        windows=windows,
    )
    torch = None
    if facts.get("torch"):
        torch = model.TorchInfo(version=facts.get("torch") or "", location="", cuda=torch_cuda(facts))
    mmcv: tuple[model.MmcvDist, ...] = ()
    ext = None
    if facts.get("mmcv"):
        # collect_env prints "MMCV Compiler" only after importing mmcv.ops; "n/a" when that failed
        ops_loaded = (facts.get("mmcv_compiler") or "n/a").lower() != "n/a"
        ext_files = (EXT_FROM_REPORT,) if ops_loaded else ()
        mmcv = (model.MmcvDist(_mmcv_dist_name(facts), facts.get("mmcv") or "", "", None, None, ext_files=ext_files),)
        if ops_loaded:
            ext = model.ExtImport(True, True, compiling_cuda_version=facts.get("mmcv_cuda"),
                            compiler_version=facts.get("mmcv_compiler"))
    extra = tuple(
        model.MmcvDist(name, version, "", None, None)
        for name, version in facts.packages.items()
        if name in ("mmcv", "mmcv-full", "mmcv-lite") and all(d.name != name for d in mmcv)
    )
    downstream = tuple(model.Downstream(name, version.rstrip("+")) for name, version in facts.downstream.items())
    return model.Environment(target=target, host=host, torch=torch, mmcv=mmcv + extra, downstream=downstream, ext_import=ext)


# ---------------------------------------------------------------- direct findings


def _two_mmcv_fix(names: list[str], versions: dict[str, str]) -> str:
    """Which of two mmcv distributions to remove (mmcv 1.x and mmcv-lite have no ops)."""
    v = _version(versions.get("mmcv"))
    case = "mmcv-lite" if "mmcv-lite" in names else "mmcv-1.x" if "mmcv-full" in names and v and v.major < 2 else ""
    return rules.TWO_MMCV_FIXES[case]


def base_facts(facts: ReportFacts) -> dict[str, Any]:
    """The facts every report-derived match carries: torch, its CUDA, the first GPU and its cc."""
    tcuda = torch_cuda(facts)
    torch_v = _version(facts.get("torch"))
    ccs = [cc for cc in (cc_for_name(n) for _, n in facts.gpus) if cc]
    base = {"torch": facts.get("torch"), "torch_cuda": tcuda, "cc": ccs[0] if ccs else None,
            "gpu": facts.gpus[0][1] if facts.gpus else None, "torch_cuda_tag": tcuda.replace(".", "") if tcuda else None,
            "torch_minor": f"{torch_v.major}.{torch_v.minor}" if torch_v else None}
    return {k: v for k, v in base.items() if v is not None}


def derive_matches(facts: ReportFacts) -> list[Match]:
    """Explain matches derived from report facts alone (independent of the doctor checks).

    Rules (sources: catalog A/B/C/E, ``knowledge.cuda`` tables): mmcv.ops did not import
    ("MMCV Compiler: n/a"); torch with CUDA and mmcv's ops built without it (ops-cpu-only); a
    GPU whose compute capability torch's CUDA / arch list cannot run (torch-gpu-unsupported);
    mmcv compiled with another CUDA than torch's, or an nvcc of another major
    (cuda-version-mismatch); gcc newer than the nvcc's limit, or one the FAQ warns of (gcc-unsupported);
    torch built against NumPy 1 with numpy >= 2 (numpy-abi-mismatch); two mmcv distributions (mmcv-lite-and-full).
    """
    out: list[Match] = []
    base = base_facts(facts)
    tcuda = base.get("torch_cuda")
    cc = base.get("cc")
    torch_v = _version(facts.get("torch"))

    def add(rule_name: str, key: str, text: str | None = None, **extra: Any) -> None:
        rule = rules.REPORT_RULES[rule_name]
        facts_out = {**base, **{k: v for k, v in extra.items() if v is not None}}
        value = facts.get(key) or ""
        evidence = text or (f"{_LABELS.get(key, key)}: {value}" if value else "(environment report)")
        out.append(Match(rule.id, facts.lines.get(key, facts.line), evidence, facts_out, render_fix(rule.fix, facts_out),
                         title=rule.title, family=rule.family, rank=rules.REPORT_RANK, source="report"))

    if facts.get("mmcv") and (facts.get("mmcv_compiler") or "").strip().lower() == "n/a":
        add("ops-not-imported", "mmcv_compiler", mmcv=facts.get("mmcv"))
    mcuda_raw = (facts.get("mmcv_cuda") or "").strip().lower()
    if tcuda and mcuda_raw in ("not available", "none", "0"):
        add("ops-without-cuda", "mmcv_cuda")
    if tcuda and cc:
        sm = cuda.cc_to_sm(cc)
        # torch's own arch list when the report prints it, else every arch its CUDA can target;
        # SASS for sm_XY runs on the same major with a higher minor (knowledge.runtime)
        archs = facts.torch_archs or cuda.nvcc_archs(tcuda)
        if archs and not any(runtime.sass_runs_on(f"sm_{a}", cc) for a in archs):
            toolkits = cuda.toolkits_for_sm(sm)
            add(
                "gpu-beyond-torch",
                "torch",
                min_cuda=toolkits[0] if toolkits else None,
                torch_archs=facts.torch_archs or None,
            )
    mcuda = mmcv_cuda(facts)
    nvcc = nvcc_release(facts.get("nvcc"))
    if tcuda and mcuda and mcuda != tcuda:
        add("mmcv-cuda-not-torch-cuda", "mmcv_cuda", mmcv_cuda=mcuda)
    elif tcuda and nvcc and nvcc.split(".")[0] != tcuda.split(".")[0]:
        add("nvcc-major-not-torch-cuda", "nvcc", nvcc_cuda=nvcc)
    gcc = _version(gcc_version(facts))
    if gcc is not None:
        limit = cuda.gcc_max(nvcc) if nvcc else None
        if limit is not None and gcc.major > limit:
            add("gcc-beyond-nvcc", "gcc", gcc=str(gcc), gcc_max=limit, nvcc_cuda=nvcc)
        elif buildtools.gcc_faq_problem(gcc.major, gcc.minor):
            add("gcc-faq", "gcc", gcc=str(gcc))
    cl = msc_ver(facts)
    rng = cuda.msvc_range(nvcc) if nvcc else None
    if cl is not None and rng is not None and not rng[0] <= cl[1] <= rng[1]:
        add("msvc-beyond-nvcc", "msvc", msc_ver=cl[1], msc_min=rng[0], msc_max=rng[1], nvcc_cuda=nvcc)
    numpy_v = _version(facts.packages.get("numpy"))
    if torch_v is not None and numpy_v is not None and torch_v < Version(runtime.TORCH_FIRST_NUMPY2) and numpy_v.major >= 2:
        add("numpy2-old-torch", "torch", numpy=str(numpy_v))
    names: list[str] = [n for n in ("mmcv", "mmcv-full", "mmcv-lite") if n in facts.packages]
    if len(names) >= 2:
        text = ", ".join(f"{n}=={facts.packages[n]}" for n in names)
        add("two-mmcv", "mmcv", text=text, installed=names, uninstall=_two_mmcv_fix(names, facts.packages))
    return out


_LABELS = {name: label for label, name in reversed(rules.REPORT_KEYS.items())}  # fact -> its first report key


def merge(log_matches: list[Match], report_matches: list[Match], base: dict[str, Any]) -> list[Match]:
    """Log matches completed with report facts; report-derived matches of other ids appended.

    A log match keeps its own facts; the report's ``base`` facts (torch, its CUDA, the GPU's
    compute capability) and those of a report match of the same id fill the gaps, and its fix
    is rendered again with them ("`mmfix rebuild --arch <cc>`" becomes "--arch 8.6").
    """
    out: list[Match] = []
    seen: set[str] = set()
    for lm in log_matches:
        extra = dict(base)
        for rm in report_matches:
            if rm.id == lm.id:
                extra.update(rm.facts)
        merged = {**extra, **lm.facts}
        sig = BY_ID.get(lm.id)
        fix = render_fix(sig.fix, merged) if sig else lm.fix
        out.append(lm._replace(facts=merged, fix=fix))
        seen.add(lm.id)
    out += [rm for rm in report_matches if rm.id not in seen]
    return out


def report_check_ids(facts: ReportFacts) -> list[str]:
    """The doctor check ids whose facts the report holds (see ``rules.REPORT_CHECKS``)."""
    return [cid for cid, keys in rules.REPORT_CHECKS.items() if all(facts.get(k) for k in keys)]


def run_doctor_checks(env: model.Environment, ids: Iterable[str]) -> list[model.Finding]:
    """Run the doctor checks ``ids`` that exist on ``env``; return the failing / warning ones.

    A check that crashes is left out (its facts may need a live environment a report cannot give).
    """
    from mmfix.checks import check_ids, run_checks  # the checks load only for a pasted report
    from mmfix.checks.base import CheckContext

    known = set(check_ids())
    wanted = [i for i in ids if i in known]
    if not wanted:
        return []
    try:
        findings = run_checks(CheckContext(env), wanted)
    except Exception:  # noqa: BLE001
        return []
    return [f for f in findings if f.status in (model.Status.FAIL, model.Status.WARN)]
