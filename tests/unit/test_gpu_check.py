"""scripts/gpu-check.sh and its helpers, on the paths that need no GPU.

The script itself runs here for real (bash, the helpers, mmfix doctor on this interpreter): its
argument handling, the dry run, the carried-folder check and the no-GPU exit. A GPU is made absent
by an nvidia-smi on PATH that fails the way it does without a driver. The summary is tested on
step outputs made by mmfix's own code (doctor documents rendered from Environment values, a build
plan from the real planner, the explain catalog on a traceback).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import envfactory as ef
import pytest

from mmfix.builder import plan as planmod
from mmfix.builder.verify import VerifyResult
from mmfix.commands import doctor
from mmfix.jsonable import to_jsonable
from mmfix.model import ExtBinary, Gpu
from mmfix.probe import target as targetmod

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "gpu-check.sh"


def _load(name: str) -> ModuleType:
    """A script of scripts/ as a module (scripts/ on sys.path, as when it runs as a script)."""
    if str(REPO / "scripts") not in sys.path:
        sys.path.insert(0, str(REPO / "scripts"))
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


gs = _load("gpu_check_summary")
gc = _load("gpu_check")
neg = _load("gpu_check_negative")


def run_script(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "OUT"}
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout,
                          env={**base, **(env or {})}, cwd=REPO)


def make_carry(folder: Path, sdist: bool = True, wheels: tuple[str, ...] = ()) -> Path:
    """A carried folder as prepare lays it out, with small stand-in files and their real hashes."""
    (folder / "wheels").mkdir(parents=True)
    entries = []
    for name in wheels:
        (folder / "wheels" / name).write_bytes(name.encode())
        entries.append({"file": f"wheels/{name}", "sha256": gc.sha256_of(folder / "wheels" / name),
                        "size": len(name), "why": "test"})
    archive = folder / "mmcv-2.2.0.tar.gz"
    src = folder / "setup.py"
    src.write_text("print('mmcv')\n")
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(src, arcname="mmcv-2.2.0/setup.py")
    src.unlink()
    manifest = {"schema": gc.MANIFEST_SCHEMA, "mmcv_sdist": {"file": archive.name, "sha256": gc.sha256_of(archive),
                                                             "size": archive.stat().st_size},
                "wheels": entries, "total_bytes": archive.stat().st_size}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    if not sdist:
        archive.unlink()
    return folder


def fake_nvidia_smi(folder: Path, rc: int, text: str) -> dict[str, str]:
    """PATH with an nvidia-smi in front that prints ``text`` to stderr and exits ``rc``."""
    folder.mkdir(parents=True, exist_ok=True)
    smi = folder / "nvidia-smi"
    smi.write_text(f"#!/bin/sh\ncat >&2 <<'EOF'\n{text}\nEOF\nexit {rc}\n")
    smi.chmod(0o755)
    return {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


# --- argument handling -----------------------------------------------------------------------


def test_help_shows_usage_and_exit_codes() -> None:
    r = run_script("--help")
    assert r.returncode == 0
    assert r.stdout.startswith("Usage: scripts/gpu-check.sh")
    assert "--dry-run" in r.stdout and "3 no NVIDIA GPU visible" in r.stdout


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--frobnicate"], "unknown argument '--frobnicate'"),
        (["--out", "x", "--budget", "ten"], "--budget 'ten' is not a number of seconds"),
        (["--out", "x", "--budget", "30"], "--budget '30' is not a number of seconds >= 60"),
        (["--out", "x", "--python", "/no/such/python"], "--python '/no/such/python' not found"),
        (["--out", "x", "--python", "/bin/sh"], "is not a Python >= 3.9 interpreter"),
        ([], "no output folder: pass --out DIR"),
        (["--carry"], "--carry needs a folder"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(args: list[str], said: str, tmp_path: Path) -> None:
    r = run_script(*args)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("gpu-check: error: ")
    assert said in r.stderr
    assert not (REPO / "x").exists()


# --- dry run ---------------------------------------------------------------------------------


def _dry_run_steps(out: str) -> list[str]:
    return [line.split()[0] for line in out.splitlines() if " limit " in line]


def test_dry_run_lists_every_step_in_order_and_runs_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = run_script("--dry-run", "--out", str(out), "--python", sys.executable, "--carry", str(tmp_path / "none"))
    assert r.returncode == 0, r.stderr
    assert _dry_run_steps(r.stdout) == [*gs.REQUIRED_STEPS, *gs.NEGATIVE_STEPS]
    assert "missing: run scripts/gpu-check-prepare.sh" in r.stdout
    assert "rebuild --python" in r.stdout and "--jobs" in r.stdout and "--yes --json" in r.stdout
    assert "arch=compute_80" not in r.stdout  # the sm_80 flags live in gpu_check_negative.py
    assert "(dry run: nothing was run)" in r.stdout
    assert not out.exists()


def test_dry_run_without_negative_case(tmp_path: Path) -> None:
    r = run_script("--dry-run", "--no-negative", "--python", sys.executable)
    assert r.returncode == 0, r.stderr
    assert _dry_run_steps(r.stdout) == list(gs.REQUIRED_STEPS)


def test_device_call_in_header_fits_the_device_tool() -> None:
    """The header names the one device call; its command must stay under 2,000 characters and
    carry only the prepared folder, which must be git-ignored (the tool carries ignored paths)."""
    head = SCRIPT.read_text(encoding="utf-8").split("set -uo pipefail")[0]
    command = head.split("command:", 1)[1].splitlines()[0].strip()
    carry = json.loads(head.split("carry:", 1)[1].splitlines()[0].strip())
    assert command == "PYTHONUNBUFFERED=1 bash scripts/gpu-check.sh --carry .gpucheck" and len(command) < 2000
    assert carry == [".gpucheck"]
    assert "timeout_s: 600" in head
    assert "/.gpucheck/" in (REPO / ".gitignore").read_text().splitlines()


# --- the carried folder ----------------------------------------------------------------------


def test_missing_sdist_is_one_clear_error_line(tmp_path: Path) -> None:
    carry = make_carry(tmp_path / "carry", sdist=False)
    out = tmp_path / "out"
    r = run_script("--carry", str(carry), "--out", str(out), "--python", sys.executable)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1
    assert r.stderr.startswith("gpu-check: error: mmcv-2.2.0.tar.gz is missing from the carried folder")
    assert "gpu-check-prepare.sh" in r.stderr
    summary = json.loads((out / "gpu-check-summary.json").read_text())
    assert summary["result"] == "bad-carry" and summary["exit_code"] == 2
    assert [s["name"] for s in summary["steps"]] == ["carry"]
    assert sorted(p.name for p in out.iterdir()) == ["gpu-check-steps.tar.gz", "gpu-check-summary.json", "gpu-check.log"]


def test_check_carry_accepts_what_prepare_lays_out(tmp_path: Path) -> None:
    carry = make_carry(tmp_path / "c", wheels=("addict-2.4.0-py3-none-any.whl",))
    assert gc.check_carry(carry)["wheels"][0]["file"] == "wheels/addict-2.4.0-py3-none-any.whl"
    assert gc.main(["check-carry", "--carry", str(carry)]) == 0


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (lambda c: (c / "wheels" / "addict-2.4.0-py3-none-any.whl").write_bytes(b"other"), "changed since prepare"),
        (lambda c: (c / "wheels" / "addict-2.4.0-py3-none-any.whl").unlink(), "listed in the manifest is missing"),
        (lambda c: (c / "wheels" / "addict-2.3.0-py3-none-any.whl").write_bytes(b"x"), "two versions of one package"),
        (lambda c: (c / "manifest.json").unlink(), "manifest.json is missing"),
        (lambda c: (c / "mmcv-2.2.0.tar.gz").write_bytes(b"truncated"), "mmcv-2.2.0.tar.gz changed since prepare"),
    ],
)
def test_check_carry_names_the_problem(tmp_path: Path, damage: Any, said: str, capsys: pytest.CaptureFixture[str]) -> None:
    carry = make_carry(tmp_path / "c", wheels=("addict-2.4.0-py3-none-any.whl",))
    damage(carry)
    assert gc.main(["check-carry", "--carry", str(carry)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and said in err


def test_check_carry_of_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(gc.CarryError, match="not found: run scripts/gpu-check-prepare.sh"):
        gc.check_carry(tmp_path / "nothing")


def test_wheel_project_names_are_normalised() -> None:
    assert gc.wheel_project("GitPython-3.2.1-py3-none-any.whl") == "gitpython"
    assert gc.wheel_project("typing_extensions-4.15.0-py3-none-any.whl") == "typing-extensions"


# --- no GPU ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rc", "text", "said"),
    [
        (9, "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.",
         "couldn't communicate with the NVIDIA driver"),
        (0, "", "nvidia-smi listed no GPU"),
    ],
)
def test_without_a_gpu_it_says_so_and_builds_nothing(tmp_path: Path, rc: int, text: str, said: str) -> None:
    carry = make_carry(tmp_path / "carry")
    out = tmp_path / "out"
    env = fake_nvidia_smi(tmp_path / "bin", rc, text)
    r = run_script("--carry", str(carry), "--out", str(out), "--python", sys.executable, "--no-install", env=env)
    assert r.returncode == 3, r.stdout + r.stderr
    assert r.stderr.count("\n") == 1 and "gpu-check: no NVIDIA GPU visible here" in r.stderr
    assert said in r.stderr and "nothing was built" in r.stderr
    summary = json.loads((out / "gpu-check-summary.json").read_text())
    assert summary["result"] == "no-gpu" and summary["exit_code"] == 3 and summary["final"]
    assert [s["name"] for s in summary["steps"]] == ["carry", "install", "doctor-before", "gpu"]
    assert summary["build"] is None and summary["ops"] is None and summary["gpus"] == []
    # doctor really ran on this interpreter and saw no GPU either
    before = summary["doctor_before"]
    assert before["python"] == ".".join(map(str, sys.version_info[:3])) and before["gpus"] == []
    with tarfile.open(out / "gpu-check-steps.tar.gz") as tf:
        names = tf.getnames()
    assert "steps/doctor-before.out" in names and "steps/gpu.err" in names
    assert "no-gpu" in (out / "gpu-check.log").read_text()


# --- the summary from recorded step outputs ----------------------------------------------------

H100 = Gpu(0, "NVIDIA H100 80GB HBM3", "9.0", "580.159.04", 81559)
TORCH = ef.torch("2.11.0+cu130", cuda="13.0")


def doctor_doc(env: Any) -> dict[str, Any]:
    """The mmfix.doctor/1 document `mmfix doctor --json` prints for ``env``."""
    findings = doctor.diagnose(env, [])
    return {"schema": "mmfix.doctor/1", **to_jsonable({"environment": env.to_dict(), "findings": findings,
                                                       "summary": doctor.summarize(findings, False)})}


def device_env(**over: Any) -> Any:
    env = ef.with_host(ef.make_env(torch=TORCH), gpus=(H100,), driver_version="580.159.04", nvcc=ef.nvcc("13.0"),
                       cpu_count=16)
    return dataclasses.replace(env, **over)


def record(work: Path, steps: list[tuple[str, str, int]], outputs: dict[str, str], **run: str) -> Path:
    (work / "steps").mkdir(parents=True, exist_ok=True)
    fields = {"started": str(time.time() - 300), "budget": "535", "cores": "16", "host": "gpu-box", **run}
    (work / "run.env").write_text("".join(f"{k}={v}\n" for k, v in fields.items()))
    (work / "steps.tsv").write_text("".join(f"{n}\t{s}\t{rc}\t1.0\t90\tcmd {n}\n" for n, s, rc in steps))
    for name, text in outputs.items():
        (work / "steps" / name).write_text(text)
    return work


def rebuild_doc(env: Any, seconds: float, cpu_seconds: float) -> dict[str, Any]:
    """mmfix.rebuild/1 as `mmfix rebuild --json` prints it after a build (plan from the planner)."""
    plan = planmod.make_plan(env, mmcv_version="2.2.0", arch=None, cpu=False, jobs=16)
    verify = VerifyResult(True, "2.2.0", "/site/mmcv/_ext.so", True, True, "13.0", ("sm_90",), ("compute_90",))
    return {"schema": "mmfix.rebuild/1", **to_jsonable({
        "plan": plan, "source": "dir", "log": "rebuild.log", "dry_run": False,
        "build": {"ok": True, "seconds": seconds, "cpu_seconds": cpu_seconds, "steps": 136, "wheel": "mmcv.whl",
                  "patches": ["setuptools-no-pkg-resources"]},
        "verify": verify, "result": "ok"})}


CUOBJDUMP = "ELF file    1: _ext.1.sm_90.cubin\nPTX file    1: _ext.1.sm_90.ptx\n"
GPU_OUT = "0, NVIDIA H100 80GB HBM3, 9.0, 580.159.04, 81559\n"


def ops_doc(failed: tuple[str, ...] = ()) -> str:
    checks = [{"op": op, "kind": "gpu-vs-cpu", "ok": op not in failed, "max_abs_diff": 1e-7, "detail": "d"}
              for op in ("nms", "roi_align", "deform_conv2d")]
    return json.dumps({"schema": "mmfix.gpu-check-ops/1", "device": "NVIDIA H100 80GB HBM3", "capability": "9.0",
                       "seed": 1, "checks": checks})


def full_run(tmp_path: Path, ops_failed: tuple[str, ...] = ()) -> Path:
    before = device_env()
    after = device_env(mmcv=(ef.mmcv(ext=True),),
                       ext_binary=ExtBinary("/site/mmcv/_ext.so", ("sm_90",), ("compute_90",), "cuobjdump"))
    steps = [(n, "ok", 0) for n in gs.REQUIRED_STEPS]
    return record(tmp_path / "w", steps, {
        "gpu.out": GPU_OUT,
        "doctor-before.out": json.dumps(doctor_doc(before)),
        "rebuild.out": json.dumps(rebuild_doc(before, 250.0, 3600.0)),
        "cuobjdump.out": "# cuobjdump on _ext\n" + CUOBJDUMP,
        "ops.json": ops_doc(ops_failed),
        "doctor-after.out": json.dumps(doctor_doc(after)),
    })


def test_summary_of_a_passing_run(tmp_path: Path) -> None:
    s = gs.make_summary(full_run(tmp_path), final=True)
    assert s["schema"] == "mmfix.gpu-check/1" and s["result"] == "ok" and s["exit_code"] == 0
    assert s["gpus"] == [{"index": 0, "name": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0",
                          "driver_version": "580.159.04", "memory_mib": 81559}]
    b = s["build"]
    assert (b["arch_list"], b["arch_source"], b["arch_is_visible_gpus"]) == ("9.0+PTX", "the visible GPUs", True)
    assert b["core_use"] == round(3600.0 / (250.0 * 16), 2) and b["jobs"] == 16
    assert (b["sass"], b["ptx"], b["nms_gpu_ok"]) == (["sm_90"], ["compute_90"], True)
    assert s["cuobjdump"] == {"sass": ["sm_90"], "ptx": ["compute_90"]}
    assert s["ops"]["passed"] == 3 and s["ops"]["failed"] == []
    assert s["doctor_before"]["torch_cuda"] == "13.0" and s["doctor_before"]["nvcc"] == "13.0"
    assert s["doctor_after"]["mmcv"] == ["mmcv 2.2.0"] and s["doctor_after"]["ext_sass"] == ["sm_90"]
    assert s["expectations"] == dict.fromkeys(("probe_reads_the_gpus", "torch_sees_the_gpu", "arch_is_visible_gpus",
                                               "sass_for_every_gpu", "ops_agree", "doctor_green_after"), True)
    assert s["negative"] is None and s["problems"] == []


def test_an_arch_list_beyond_the_visible_gpu_fails(tmp_path: Path) -> None:
    work = full_run(tmp_path)
    env = device_env()
    doc = rebuild_doc(env, 250.0, 3600.0)
    doc["plan"] = to_jsonable(planmod.make_plan(env, mmcv_version="2.2.0", arch="8.0;9.0", cpu=False, jobs=16))
    (work / "steps" / "rebuild.out").write_text(json.dumps(doc))
    s = gs.make_summary(work, final=True)
    assert s["build"]["arch_list"] == "8.0;9.0" and s["build"]["arch_source"] == "--arch"
    assert s["result"] == "failed" and "not shown: arch_is_visible_gpus" in s["problems"]


def test_probe_and_nvidia_smi_must_agree(tmp_path: Path) -> None:
    work = full_run(tmp_path)
    (work / "steps" / "gpu.out").write_text(GPU_OUT.replace("580.159.04", "580.65.06"))
    (work / "steps" / "cuobjdump.out").write_text("ELF file    1: _ext.1.sm_80.cubin\n")
    s = gs.make_summary(work, final=True)
    assert s["expectations"]["probe_reads_the_gpus"] is False
    assert s["expectations"]["sass_for_every_gpu"] is False
    assert s["result"] == "failed"


def test_a_failed_op_fails_the_run(tmp_path: Path) -> None:
    work = full_run(tmp_path, ops_failed=("roi_align",))
    (work / "steps.tsv").write_text((work / "steps.tsv").read_text().replace("ops\tok\t0", "ops\tfailed\t1"))
    (work / "steps" / "ops.err").write_text("FAIL roi_align  output differs by 0.5\n")
    s = gs.make_summary(work, final=True)
    assert s["result"] == "failed" and s["exit_code"] == 1
    assert s["ops"]["failed"] == ["roi_align"]
    assert "ops: failed (rc 1): FAIL roi_align  output differs by 0.5" in s["problems"]


def test_a_build_stopped_by_the_clock(tmp_path: Path) -> None:
    log = "".join(f"  [{i}/136] nvcc -c op{i}.cu\n" for i in range(1, 97)) + "# interrupted (Ctrl-C / SIGTERM)\n"
    steps = [(n, "ok", 0) for n in gs.REQUIRED_STEPS[:5]] + [("rebuild", "timeout", 124)]
    work = record(tmp_path / "w", steps, {"gpu.out": GPU_OUT, "rebuild.log": log, "rebuild.out": ""})
    running = gs.make_summary(work)
    assert running["result"] == "failed" and running["build"]["progress"] == "96/136"
    assert "rebuild: timeout (rc 124)" in running["problems"]


def test_missing_steps_are_running_then_incomplete(tmp_path: Path) -> None:
    work = record(tmp_path / "w", [("carry", "ok", 0), ("install", "ok", 0)], {})
    assert gs.make_summary(work)["result"] == "running"
    final = gs.make_summary(work, final=True)
    assert final["result"] == "incomplete" and final["exit_code"] == 1
    assert final["problems"][-1].startswith("never ran: doctor-before, gpu")


def test_an_interrupted_run_is_incomplete(tmp_path: Path) -> None:
    work = full_run(tmp_path)
    with open(work / "run.env", "a") as fh:
        fh.write("interrupted=TERM\n")
    s = gs.make_summary(work, final=True)
    assert s["result"] == "incomplete" and "interrupted by TERM" in s["problems"]


RUNTIME_ERROR = (
    "Traceback (most recent call last):\n"
    '  File "<string>", line 1, in <module>\n'
    "torch.AcceleratorError: CUDA error: no kernel image is available for execution on the device\n"
    "Search for `cudaErrorNoKernelImageForDevice' in https://docs.nvidia.com/cuda/cuda-runtime-api/"
    "group__CUDART__TYPES.html for more information.\n"
)


def negative_outputs(tmp_path: Path) -> dict[str, str]:
    fake = device_env(mmcv=(ef.mmcv(ext=True),),
                      ext_binary=ExtBinary("/neg/site/mmcv/_ext.so", ("sm_80",), (), "cuobjdump"))
    err = tmp_path / "negative-run.err"
    err.write_text(RUNTIME_ERROR)
    explained = subprocess.run([sys.executable, "-m", "mmfix", "explain", str(err), "--json"],
                               capture_output=True, text=True, timeout=60).stdout
    return {"negative-build.json": json.dumps({"ok": True, "sass": ["sm_80"], "ptx": [], "seconds": 20.0}),
            "negative-doctor.out": json.dumps(doctor_doc(fake)), "negative-run.err": RUNTIME_ERROR,
            "negative-explain.out": explained}


def test_negative_case_named_by_doctor_and_explain(tmp_path: Path) -> None:
    work = full_run(tmp_path)
    with open(work / "steps.tsv", "a") as fh:
        fh.write("".join(f"{n}\tok\t{1 if n in ('negative-doctor', 'negative-run') else 0}\t1\t60\tx\n"
                         for n in gs.NEGATIVE_STEPS))
    for name, text in negative_outputs(tmp_path).items():
        (work / "steps" / name).write_text(text)
    s = gs.make_summary(work, final=True)
    n = s["negative"]
    assert n["ok"] is True and s["result"] == "ok"
    assert n["doctor_status"] == "fail" and n["doctor_fix"] == 'mmfix rebuild --arch "9.0"'
    assert n["ext_sass"] == ["sm_80"]
    assert n["runtime_error"].endswith("CUDA error: no kernel image is available for execution on the device")
    assert n["explain_ids"][0] == "cuda-arch-not-compiled"


def test_negative_case_not_named_fails_the_run(tmp_path: Path) -> None:
    work = full_run(tmp_path)
    with open(work / "steps.tsv", "a") as fh:
        fh.write("".join(f"{n}\tok\t0\t1\t60\tx\n" for n in gs.NEGATIVE_STEPS))
    outputs = negative_outputs(tmp_path)
    # doctor saw an _ext whose SASS covers the GPU: nothing named
    covered = device_env(mmcv=(ef.mmcv(ext=True),), ext_binary=ExtBinary("/x/_ext.so", ("sm_90",), (), "cuobjdump"))
    outputs["negative-doctor.out"] = json.dumps(doctor_doc(covered))
    for name, text in outputs.items():
        (work / "steps" / name).write_text(text)
    s = gs.make_summary(work, final=True)
    assert s["result"] == "failed" and s["negative"]["doctor_named"] is False
    assert "negative case: not shown: doctor_named" in s["problems"]


def test_negative_case_cut_short_by_the_clock_does_not_fail(tmp_path: Path) -> None:
    work = full_run(tmp_path)
    with open(work / "steps.tsv", "a") as fh:
        fh.write("negative-build\tskipped\t\t0\t0\tno time left: 80 s, the negative case needs about 100 s\n")
    s = gs.make_summary(work, final=True)
    assert s["result"] == "ok" and s["negative"]["ok"] is None and s["negative"]["unfinished"]


def test_summary_command_writes_json_and_returns_the_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    work = full_run(tmp_path, ops_failed=("nms",))
    (work / "steps.tsv").write_text((work / "steps.tsv").read_text().replace("ops\tok\t0", "ops\tfailed\t1"))
    out = tmp_path / "s.json"
    assert gc.main(["summary", "--work", str(work), "--out", str(out), "--final", "--print"]) == 1
    assert json.loads(out.read_text())["result"] == "failed"
    printed = capsys.readouterr().out
    assert printed.startswith("gpu-check: failed after")
    assert "GPU 0: NVIDIA H100 80GB HBM3, compute capability 9.0, driver 580.159.04" in printed
    assert "failed: nms" in printed


def test_get_prints_one_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = tmp_path / "d.json"
    doc.write_text(json.dumps(doctor_doc(device_env())))
    assert gc.main(["get", str(doc), "environment.host.nvcc.toolkit_root"]) == 0
    assert gc.main(["get", str(doc), "environment.host.gpus.0.compute_capability"]) == 0
    assert gc.main(["get", str(doc), "environment.nothing.here"]) == 0
    assert capsys.readouterr().out == "/usr/local/cuda-13.0\n9.0\n"


def test_read_json_skips_log_lines_before_the_document(tmp_path: Path) -> None:
    p = tmp_path / "out"
    p.write_text('probing ...\n{"schema": "x", "a": {"b": 1}}\n')
    assert gs.read_json(p) == {"schema": "x", "a": {"b": 1}}
    assert gs.read_json(tmp_path / "missing") is None


# --- the negative case's fake mmcv: what doctor's probe sees ---------------------------------


def test_fake_mmcv_is_the_one_the_probe_inspects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With PYTHONPATH=<site>, mmfix's real target probe finds the fake mmcv 2.2.0 first and takes
    its _ext (listed in RECORD) as the binary to inspect."""
    built = tmp_path / "_ext.so"
    built.write_bytes(b"\x7fELF stand-in")
    ext = neg.lay_out_package(built, tmp_path / "site", neg.interpreter_tag())
    assert ext.name.startswith("_ext") and ext.read_bytes() == built.read_bytes()
    record_lines = (tmp_path / "site" / "mmcv-2.2.0.dist-info" / "RECORD").read_text().splitlines()
    assert f"mmcv/{ext.name},," in record_lines
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))
    _, _, mmcv, _ = targetmod.parse_target(targetmod.run_target_probe(sys.executable))
    first = mmcv[0]
    assert (first.name, first.version, first.location) == ("mmcv", "2.2.0", str(tmp_path / "site"))
    assert first.ext_files == (str(ext),)
    assert first.wheel_tag == neg.interpreter_tag()


def test_negative_sources_ask_for_sm_80_only(tmp_path: Path) -> None:
    cpp, cu = neg.write_sources(tmp_path)
    assert neg.ARCH_FLAGS == ["-gencode", "arch=compute_80,code=sm_80"]
    assert "C10_CUDA_KERNEL_LAUNCH_CHECK()" in cu.read_text()
    assert "PYBIND11_MODULE(TORCH_EXTENSION_NAME" in cpp.read_text()
    assert hashlib.sha256(cu.read_bytes()).hexdigest() == hashlib.sha256(neg.KERNEL_CU.encode()).hexdigest()
