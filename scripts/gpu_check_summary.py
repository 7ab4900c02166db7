#!/usr/bin/env python3
"""The summary of a ``scripts/gpu-check.sh`` run, made from the step outputs recorded so far.

The shell script records each step in ``<work>/steps.tsv`` (name, status, return code, seconds,
time limit, command or reason) and its output in ``<work>/steps/<name>.out|.err``; some steps
write JSON there (``mmfix doctor --json``, ``mmfix rebuild --json``, ``ops.json``,
``negative-build.json``). ``make_summary`` turns that into one document (schema
``mmfix.gpu-check/1``): the GPUs as nvidia-smi lists them, doctor's facts before and after, the
build (time, core use, arch list, SASS/PTX), the op comparisons, the negative case, what the run
was to show (``expectations``) and its result. Standard library only, Python 3.9+.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

SCHEMA = "mmfix.gpu-check/1"
# Steps the run needs for result "ok", in order; the negative-* steps are optional.
REQUIRED_STEPS = ("carry", "install", "doctor-before", "gpu", "unpack", "rebuild", "cuobjdump", "ops", "doctor-after")
NEGATIVE_STEPS = ("negative-build", "negative-doctor", "negative-run", "negative-explain")
EXIT_CODES = {"ok": 0, "failed": 1, "incomplete": 1, "running": 1, "bad-carry": 2, "no-gpu": 3}


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON to ``path`` through a temporary file and a rename, so a
    reader (or a run killed half-way) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", dir=str(path.parent))
    os.chmod(tmp, 0o644)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=False)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_json(path: Path) -> Any:
    """The JSON document in ``path`` (the last line that parses when the file holds log lines
    before it); None when the file is missing or holds no JSON."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    try:
        return json.loads(text)
    except ValueError:
        pass
    start = text.find("{")
    while start != -1:
        try:
            return json.loads(text[start:])
        except ValueError:
            start = text.find("{", start + 1)
    return None


def dig(data: Any, dotted: str) -> Any:
    """``data["a"]["b"][0]`` for ``"a.b.0"``; None where a part is missing."""
    for part in dotted.split("."):
        if isinstance(data, Mapping):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data



def read_env(path: Path) -> dict[str, str]:
    """``KEY=value`` lines (run.env, written by the shell script) as a dict."""
    out: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return out
    for line in lines:
        key, sep, value = line.partition("=")
        if sep and key.strip():
            out[key.strip()] = value
    return out


def read_steps(path: Path) -> list[dict[str, Any]]:
    """The step records the shell script appended to steps.tsv: name, status (ok, failed, timeout,
    skipped), return code, seconds, time limit in seconds, and a note (the command or the reason)."""
    steps = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return steps
    for line in lines:
        parts = line.split("\t")
        if len(parts) < 6:
            continue
        name, status, rc, seconds, limit, note = parts[:6]
        steps.append({
            "name": name, "status": status, "rc": int(rc) if rc.lstrip("-").isdigit() else None,
            "seconds": float(seconds) if re.fullmatch(r"\d+(\.\d+)?", seconds) else None,
            "limit_s": int(limit) if limit.isdigit() else None, "note": note,
        })
    return steps


def doctor_facts(doc: Any) -> dict[str, Any] | None:
    """GPU, driver, nvcc, torch and its CUDA, mmcv and the failing/warning check ids from a
    ``mmfix doctor --json`` document (schema mmfix.doctor/1); None when there is none."""
    if not isinstance(doc, Mapping) or "environment" not in doc:
        return None
    env, findings = doc["environment"], doc.get("findings") or []
    host, torch = env.get("host") or {}, env.get("torch") or {}
    ext = env.get("ext_binary") or {}
    summary = doc.get("summary") or {}
    return {
        "gpus": [{k: g.get(k) for k in ("index", "name", "compute_capability", "driver_version", "memory_mib")}
                 for g in host.get("gpus") or []],
        "driver": host.get("driver_version"),
        "nvidia_smi_error": host.get("nvidia_smi_error"),
        "nvcc": dig(host, "nvcc.version"),
        "toolkit": dig(host, "nvcc.toolkit_root"),
        "cuobjdump": host.get("cuobjdump"),
        "gcc": dig(host, "gcc.version"),
        "cores": host.get("cpu_count"),
        "torch": torch.get("version"),
        "torch_cuda": torch.get("cuda"),
        "python": dig(env, "target.version"),
        "mmcv": [f"{m.get('name')} {m.get('version')}" for m in env.get("mmcv") or []],
        "ext_sass": ext.get("sass_archs"),
        "ext_ptx": ext.get("ptx_archs"),
        "compiling_cuda": dig(env, "ext_import.compiling_cuda_version"),
        "fail": [f["id"] for f in findings if f.get("status") == "fail"],
        "warn": [f["id"] for f in findings if f.get("status") == "warn"],
        "counts": {k: summary.get(k) for k in ("ok", "warn", "fail", "skip", "error")},
        "green": summary.get("fail") == 0 and summary.get("error") == 0,
    }


def finding(doc: Any, check_id: str) -> dict[str, Any] | None:
    """One finding of a doctor document by id; None when absent."""
    findings = doc.get("findings") if isinstance(doc, Mapping) else None
    return next((dict(f) for f in findings or [] if f.get("id") == check_id), None)


def gpu_facts(text: str) -> list[dict[str, Any]]:
    """GPUs from ``nvidia-smi --query-gpu=index,name,compute_cap,driver_version,memory.total
    --format=csv,noheader,nounits`` output (the gate step)."""
    gpus = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 4 and parts[0].isdigit():
            gpus.append({"index": int(parts[0]), "name": parts[1], "compute_capability": parts[2],
                         "driver_version": parts[3], "memory_mib": int(parts[4]) if len(parts) > 4 and parts[4].isdigit() else None})
    return gpus


def parse_cuobjdump(text: str) -> dict[str, list[str]]:
    """SASS (``sm_90``) and PTX (``compute_90``) archs in ``cuobjdump --list-elf --list-ptx`` output."""
    sass = sorted(set(re.findall(r"\.(sm_\d+[a-z]?)\.cubin\b", text)))
    ptx = sorted({"compute_" + a for a in re.findall(r"\.sm_(\d+[a-z]?)\.ptx\b", text)})
    return {"sass": sass, "ptx": ptx}


def build_progress(log: Path) -> str | None:
    """The last ninja ``[n/N]`` of a build log ("96/136"): how far a build got when it was stopped."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    found = re.findall(r"^\s*\[(\d+)/(\d+)\]", text, re.M)
    return f"{found[-1][0]}/{found[-1][1]}" if found else None


def _arch_ccs(arch_list: str | None) -> list[str]:
    return sorted({a.split("+")[0] for a in (arch_list or "").split(";") if a})


def build_facts(doc: Any, cores: int | None, gpu_ccs: Sequence[str], log: Path) -> dict[str, Any]:
    """Build time, core use, arch choice and verification from ``mmfix rebuild --json``
    (schema mmfix.rebuild/1); the build log's progress when the document is missing."""
    if not isinstance(doc, Mapping):
        return {"result": None, "progress": build_progress(log)}
    plan, build, verify = doc.get("plan") or {}, doc.get("build") or {}, doc.get("verify") or {}
    seconds, cpu = build.get("seconds"), build.get("cpu_seconds")
    use = round(cpu / (seconds * cores), 2) if cores and seconds and cpu is not None else None
    arch_list = plan.get("arch_list")
    return {
        "result": doc.get("result"),
        "ok": build.get("ok"),
        "seconds": seconds,
        "cpu_seconds": cpu,
        "cores": cores,
        "jobs": plan.get("jobs"),
        "core_use": use,
        "compile_steps": build.get("steps"),
        "arch_list": arch_list,
        "arch_source": plan.get("arch_source"),
        "arch_is_visible_gpus": bool(gpu_ccs) and _arch_ccs(arch_list) == sorted(set(gpu_ccs)),
        "patches": build.get("patches"),
        "wheel": build.get("wheel"),
        "sass": verify.get("sass"),
        "ptx": verify.get("ptx"),
        "missing_archs": verify.get("missing_archs"),
        "nms_cpu_ok": verify.get("cpu_nms_ok"),
        "nms_gpu_ok": verify.get("gpu_nms_ok"),
        "compiling_cuda": verify.get("compiling_cuda"),
        "blockers": [b.get("id") for b in plan.get("blockers") or []],
        "problems": doc.get("problems"),
        "progress": build_progress(log),
    }


def ops_facts(doc: Any) -> dict[str, Any] | None:
    """The GPU-vs-CPU comparisons of gpu_check_ops.py (schema mmfix.gpu-check-ops/1)."""
    if not isinstance(doc, Mapping):
        return None
    checks = doc.get("checks") or []
    return {
        "device": doc.get("device"),
        "capability": doc.get("capability"),
        "torch": doc.get("torch"),
        "seed": doc.get("seed"),
        "checks": [{k: c.get(k) for k in ("op", "kind", "ok", "max_abs_diff", "detail")} for c in checks],
        "passed": sum(1 for c in checks if c.get("ok")),
        "failed": [c.get("op") for c in checks if not c.get("ok")],
    }


def negative_facts(steps_dir: Path, gpu_ccs: Sequence[str]) -> dict[str, Any]:
    """The negative case: an _ext with sm_80 code only. Did doctor name it before anything ran, did
    the kernel fail with CUDA's own text, and did ``mmfix explain`` name that text?"""
    built = read_json(steps_dir / "negative-build.json") or {}
    doc = read_json(steps_dir / "negative-doctor.out")
    f = finding(doc, "cuda-arch-not-compiled") or {}
    uncovered = list((f.get("facts") or {}).get("uncovered") or [])
    try:
        err = (steps_dir / "negative-run.err").read_text(encoding="utf-8", errors="replace")
    except OSError:
        err = ""
    err_line = next((ln.strip() for ln in reversed(err.splitlines()) if "CUDA error" in ln), None)
    explained = read_json(steps_dir / "negative-explain.out")
    matches = explained.get("matches") if isinstance(explained, Mapping) else None
    ids = [m.get("id") for m in matches or []]
    doctor_named = f.get("status") == "fail" and bool(gpu_ccs) and set(gpu_ccs) <= set(uncovered)
    seen = (doctor_facts(doc) or {})  # doctor's own reading of the ext, when cuobjdump was not found
    return {
        "ext_sass": built.get("sass") if built.get("sass") is not None else seen.get("ext_sass"),
        "ext_ptx": built.get("ptx") if built.get("ptx") is not None else seen.get("ext_ptx"),
        "build_seconds": built.get("seconds"),
        "doctor_status": f.get("status"),
        "doctor_evidence": f.get("evidence"),
        "doctor_fix": f.get("fix"),
        "doctor_named": doctor_named,
        "runtime_error": err_line,
        "explain_ids": ids,
        "explain_named": "cuda-arch-not-compiled" in ids,
        "ok": doctor_named and bool(err_line) and "cuda-arch-not-compiled" in ids,
    }


def _cut_short(step: Mapping[str, Any]) -> bool:
    """A step the clock stopped or never let start (not a failure of what it checks)."""
    return step["status"] == "timeout" or (step["status"] == "skipped" and str(step.get("note", "")).startswith("no time"))


def err_tail(steps_dir: Path, name: str, limit: int = 300) -> str | None:
    """The last non-empty line a step wrote to stderr (its one-line reason, as a rule)."""
    try:
        lines = (steps_dir / f"{name}.err").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    last = next((ln.strip() for ln in reversed(lines) if ln.strip()), None)
    # bash -c scripts name themselves (gpu-check-gpu: line 1: ...): keep the message
    return re.sub(r"^gpu-check-[\w-]+: line \d+: ", "", last)[:limit] if last else None


def expectations(gpus: Sequence[Mapping[str, Any]], before: Mapping[str, Any] | None, build: Mapping[str, Any] | None,
                 objdump: Mapping[str, Any] | None, ops: Mapping[str, Any] | None,
                 after: Mapping[str, Any] | None) -> dict[str, bool | None]:
    """What the issue asks the run to show, each True, False or None (not known: the step that
    shows it did not run). ``gpus`` are nvidia-smi's own answer (the gpu step)."""
    def key(gs: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        return [(g.get("name"), str(g.get("compute_capability")), g.get("driver_version")) for g in gs]

    sms = {"sm_" + str(g["compute_capability"]).replace(".", "") for g in gpus if g.get("compute_capability")}
    return {
        # mmfix's probe reads the GPU as nvidia-smi reports it (name, compute capability, driver)
        "probe_reads_the_gpus": key(before["gpus"]) == key(gpus) if before and gpus else None,
        # torch in the target sees the same compute capability
        "torch_sees_the_gpu": (ops["capability"] == str(gpus[0]["compute_capability"])
                               if ops and ops.get("capability") and gpus else None),
        # rebuild's default arch list is the visible GPUs' compute capabilities, nothing else
        "arch_is_visible_gpus": build.get("arch_is_visible_gpus") if build and build.get("arch_list") else None,
        # the installed _ext has SASS for every visible GPU (cuobjdump)
        "sass_for_every_gpu": (sms <= set(objdump["sass"])) if objdump is not None and sms else None,
        "ops_agree": (not ops["failed"]) if ops else None,
        "doctor_green_after": after.get("green") if after else None,
    }


def decide(steps: Sequence[Mapping[str, Any]], final: bool, negative: Mapping[str, Any] | None,
           expect: Mapping[str, bool | None] | None = None) -> tuple[str, list[str]]:
    """The run's result from its step records, the judged negative case (None: not run, cut
    short by the clock, or still running) and the expectations (any False fails the run):
    ``ok``, ``failed``, ``bad-carry``, ``no-gpu``, ``incomplete`` (final, but a required step
    never ran) or ``running``; plus problem lines."""
    by_name = {s["name"]: s for s in steps}
    problems = [f"{s['name']}: {s['status']}" + (f" (rc {s['rc']})" if s.get("rc") not in (None, 0) else "")
                + (f": {s['note']}" if s["status"] == "skipped" and s.get("note") else "")
                + (f": {s['stderr']}" if s["status"] != "skipped" and s.get("stderr") else "")
                for s in steps if s["status"] != "ok"]
    if by_name.get("carry", {}).get("status") not in (None, "ok"):
        return "bad-carry", problems
    if by_name.get("gpu", {}).get("status") not in (None, "ok"):
        return "no-gpu", problems
    bad = [n for n in REQUIRED_STEPS if by_name.get(n, {}).get("status") not in (None, "ok")]
    for name, shown in (expect or {}).items():
        if shown is False:
            problems.append(f"not shown: {name}")
            bad.append(name)
    if negative is not None and not negative.get("ok"):
        missing = [k for k in ("doctor_named", "runtime_error", "explain_named") if not negative.get(k)]
        problems.append("negative case: not shown: " + ", ".join(missing))
        bad.append("negative")
    if bad:
        return "failed", problems
    never = [n for n in REQUIRED_STEPS if n not in by_name]
    if never:
        return ("incomplete", [*problems, f"never ran: {', '.join(never)}"]) if final else ("running", problems)
    return "ok", problems


def make_summary(work: Path, final: bool = False) -> dict[str, Any]:
    """The summary document of a run whose shell script records into ``work``: run.env,
    steps.tsv, steps/<name>.out|.err and the JSON files the steps write."""
    run = read_env(work / "run.env")
    sdir = work / "steps"
    steps = read_steps(work / "steps.tsv")
    for st in steps:
        if st["status"] in ("failed", "timeout"):
            st["stderr"] = err_tail(sdir, st["name"])
    by_name = {s["name"]: s for s in steps}
    before = doctor_facts(read_json(sdir / "doctor-before.out"))
    after = doctor_facts(read_json(sdir / "doctor-after.out"))
    try:
        gpus = gpu_facts((sdir / "gpu.out").read_text(encoding="utf-8", errors="replace"))
    except OSError:
        gpus = list((before or {}).get("gpus") or [])
    gpu_ccs = sorted({str(g["compute_capability"]) for g in gpus if g.get("compute_capability")})
    cores = int(run["cores"]) if run.get("cores", "").isdigit() else None
    objdump = None
    if by_name.get("cuobjdump", {}).get("status") == "ok":
        objdump = parse_cuobjdump((sdir / "cuobjdump.out").read_text(encoding="utf-8", errors="replace"))
    neg_steps = [by_name[n] for n in NEGATIVE_STEPS if n in by_name]
    negative: dict[str, Any] | None = negative_facts(sdir, gpu_ccs) if neg_steps else None
    judged = None
    if negative is not None:
        if any(_cut_short(st) for st in neg_steps):
            negative["ok"] = None  # the clock stopped it: not shown, not failed
            negative["unfinished"] = True
        elif len(neg_steps) == len(NEGATIVE_STEPS) or final:
            judged = negative
    build = (build_facts(read_json(sdir / "rebuild.out"), cores, gpu_ccs, sdir / "rebuild.log")
             if "rebuild" in by_name else None)
    ops = ops_facts(read_json(sdir / "ops.json"))
    expect = expectations(gpus, before, build, objdump, ops, after)
    result, problems = decide(steps, final, judged, expect)
    if run.get("interrupted"):
        problems.append(f"interrupted by {run['interrupted']}")
        if result in ("ok", "running"):
            result = "incomplete"
    started = float(run["started"]) if re.fullmatch(r"\d+(\.\d+)?", run.get("started", "")) else None
    return {
        "schema": SCHEMA,
        "result": result,
        "exit_code": EXIT_CODES[result],
        "final": final,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)) if started else None,
        "seconds": round(time.time() - started, 1) if started else None,
        "budget_s": int(run["budget"]) if run.get("budget", "").isdigit() else None,
        "machine": {**{k: run.get(k) for k in ("host", "python", "repo", "carry", "mmfix_commit")}, "cores": cores},
        "gpus": gpus,
        "steps": steps,
        "problems": problems,
        "doctor_before": before,
        "expectations": expect,
        "build": build,
        "cuobjdump": objdump,
        "ops": ops,
        "doctor_after": after,
        "negative": negative,
    }


def summary_lines(s: Mapping[str, Any]) -> list[str]:
    """A short human report of a summary (the shell script prints it last)."""
    lines = [f"gpu-check: {s['result']} after {s.get('seconds')} s (budget {s.get('budget_s')} s)"]
    for st in s["steps"]:
        lines.append(f"  {st['name']:<17} {st['status']:<8} {st['seconds'] if st['seconds'] is not None else '-':>7} s"
                     f"  (limit {st['limit_s']} s)")
    b = s.get("doctor_before") or {}
    for g in s.get("gpus") or []:
        lines.append(f"GPU {g['index']}: {g['name']}, compute capability {g['compute_capability']}, driver {g['driver_version']}")
    if b:
        lines.append(f"torch {b.get('torch')} (CUDA {b.get('torch_cuda') or 'none'}), nvcc {b.get('nvcc') or 'none'}, "
                     f"Python {b.get('python')}")
    bd = s.get("build") or {}
    if bd.get("seconds") is not None:
        lines.append(f"build: {bd['seconds']} s, {bd.get('compile_steps')} compile steps, jobs {bd.get('jobs')}, "
                     f"core use {bd.get('core_use')} of {bd.get('cores')}; arch {bd.get('arch_list')} ({bd.get('arch_source')})")
    elif bd.get("progress"):
        lines.append(f"build stopped at {bd['progress']}")
    if s.get("cuobjdump"):
        lines.append(f"_ext SASS {' '.join(s['cuobjdump']['sass']) or '-'}; PTX {' '.join(s['cuobjdump']['ptx']) or '-'}")
    ops = s.get("ops") or {}
    if ops:
        lines.append(f"ops on {ops.get('device')}: {ops['passed']} passed, failed: {', '.join(ops['failed']) or 'none'}")
    a = s.get("doctor_after") or {}
    if a:
        lines.append(f"doctor after the build: {'green' if a.get('green') else 'NOT green'} "
                     f"(fail: {', '.join(a.get('fail') or []) or 'none'}; warn: {', '.join(a.get('warn') or []) or 'none'})")
    n = s.get("negative")
    if n:
        lines.append(f"negative case: _ext SASS {n.get('ext_sass')}; doctor {n.get('doctor_status')} "
                     f"({n.get('doctor_fix')}); runtime: {n.get('runtime_error')}; explain: {n.get('explain_ids')}")
    known = {k: v for k, v in (s.get("expectations") or {}).items() if v is not None}
    if known:
        lines.append("shown: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in known.items()))
    lines += [f"problem: {p}" for p in s.get("problems") or []]
    return lines
