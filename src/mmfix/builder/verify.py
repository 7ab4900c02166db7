"""Prove an mmcv install works: import ``mmcv.ops`` and run nms in the target interpreter (CPU, and
the GPU when one is visible); for CUDA builds list the SASS/PTX in ``_ext`` (``cuobjdump``, else
mmfix's built-in fatbin reader) and check the requested arches are covered.

``verify_wheel`` does the same for a wheel that is not installed (``mmfix rebuild --wheel-only``):
the wheel is unpacked into a scratch folder put first on ``PYTHONPATH`` of the target interpreter,
which supplies torch and mmcv's other dependencies; the target env is not changed.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import textwrap
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mmfix import proc
from mmfix.probe import extbin

# Runs in the target (Python 3.6+, stdlib + torch + mmcv): prints one JSON line.
NMS_SCRIPT = textwrap.dedent(
    """
    import json, sys
    out = {"ok": False}
    try:
        import mmcv, torch
        out["mmcv_version"] = mmcv.__version__
        from mmcv.ops import nms
        import mmcv._ext as ext
        out["ext"] = ext.__file__
        boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]])
        scores = torch.tensor([0.9, 0.8, 0.7])
        dets, keep = nms(boxes, scores, 0.5)
        out["cpu_keep"] = keep.tolist()
        out["cpu_ok"] = keep.tolist() == [0, 2]
        try:
            from mmcv.ops import get_compiling_cuda_version
            out["compiling_cuda"] = get_compiling_cuda_version()
        except Exception as e:
            out["compiling_cuda"] = None
        if torch.cuda.is_available():
            d, k = nms(boxes.cuda(), scores.cuda(), 0.5)
            out["gpu_keep"] = k.cpu().tolist()
            out["gpu_ok"] = out["gpu_keep"] == [0, 2]
        out["ok"] = out["cpu_ok"] and out.get("gpu_ok", True)
    except BaseException as e:
        out["error"] = "%s: %s" % (type(e).__name__, e)
    print(json.dumps(out))
    """
)


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of ``verify_install``. ``missing_archs``: requested sm numbers with no SASS."""

    ok: bool
    mmcv_version: str | None = None
    ext_path: str | None = None
    cpu_nms_ok: bool = False
    gpu_nms_ok: bool | None = None  # None: no GPU visible
    compiling_cuda: str | None = None
    sass: tuple[str, ...] = ()
    ptx: tuple[str, ...] = ()
    missing_archs: tuple[str, ...] = ()
    cuobjdump: str | None = None
    error: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def find_cuobjdump(python: str | None = None, toolkit_root: str | None = None) -> str | None:
    """cuobjdump for verifying a build: ``mmfix.probe.extbin.find_cuobjdump`` (PATH, CUDA_HOME, the
    toolkit, /usr/local/cuda*, PyPI's nvidia-cuda-cuobjdump) with the toolkit and the target's
    site-packages (asked from ``python``) as extra places."""
    site: list[str] = []
    if python:
        r = proc.run([python, "-c", "import sysconfig;print(sysconfig.get_paths()['purelib'])"], timeout=60)
        if r.ok:
            site.append(r.stdout.strip())
    nvcc = str(Path(toolkit_root) / "bin" / "nvcc") if toolkit_root else None
    return extbin.find_cuobjdump(None, nvcc, site)


def list_archs(ext_path: str, cuobjdump: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(SASS archs "sm_90", PTX archs "compute_90") in ``ext_path`` per cuobjdump --list-elf/--list-ptx."""
    elf = proc.run([cuobjdump, "--list-elf", ext_path], timeout=300)
    ptx = proc.run([cuobjdump, "--list-ptx", ext_path], timeout=300)
    sass = sorted(set(re.findall(r"\.(sm_\d+[af]?)\.cubin", elf.stdout)))
    ptxs = sorted({f"compute_{m}" for m in re.findall(r"\.sm_(\d+[af]?)\.ptx", ptx.stdout)})
    return tuple(sass), tuple(ptxs)


def _archs_in(ext: str, python: str, toolkit_root: str | None) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """(SASS, PTX, tool) of ``ext``: cuobjdump when found, else the built-in fatbin reader."""
    tool = find_cuobjdump(python, toolkit_root)
    if tool is not None:
        sass, ptx = list_archs(ext, tool)
        return sass, ptx, tool
    binary = extbin.inspect_ext(ext, None, None)
    return binary.sass_archs, binary.ptx_archs, binary.cuobjdump or extbin.FATBIN_READER


def verify_install(python: str, archs: Sequence[str] | None = None, toolkit_root: str | None = None,
                   *, pythonpath: str | None = None) -> VerifyResult:
    """Import mmcv.ops and run nms in ``python``; with ``archs`` ("8.6", "9.0+PTX"), also check the
    ``_ext`` binary has SASS for each (cuobjdump, else the built-in reader). ``pythonpath``: a folder
    put first on ``PYTHONPATH`` (a scratch copy of mmcv), whose ``mmcv`` must be the one imported.
    Never raises; problems are in the result."""
    env = None
    if pythonpath:
        env = proc.base_env()
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [pythonpath, env.get("PYTHONPATH")]))
        env["PYTHONNOUSERSITE"] = "1"
    r = proc.run([python, "-c", NMS_SCRIPT], timeout=600, env=env)
    line = (r.stdout.strip().splitlines() or ["{}"])[-1]
    try:
        data = json.loads(line)
    except ValueError:
        return VerifyResult(False, error=(r.output.strip()[-500:] or f"exit {r.returncode}"))
    res = dict(
        mmcv_version=data.get("mmcv_version"), ext_path=data.get("ext"), cpu_nms_ok=bool(data.get("cpu_ok")),
        gpu_nms_ok=data.get("gpu_ok"), compiling_cuda=data.get("compiling_cuda"), error=data.get("error"),
    )
    ok = bool(data.get("ok"))
    if pythonpath and data.get("ext") and not os.path.realpath(data["ext"]).startswith(os.path.realpath(pythonpath)):
        return VerifyResult(False, **{**res, "error": f"imported {data['ext']}, not the copy in {pythonpath}"})
    if archs and data.get("ext"):
        sass, ptx, tool = _archs_in(data["ext"], python, toolkit_root)
        want = {a.split("+")[0] for a in archs}
        missing = tuple(sorted(a for a in want if f"sm_{a.replace('.', '')}" not in sass))
        return VerifyResult(ok and not missing, **res, sass=sass, ptx=ptx, missing_archs=missing, cuobjdump=tool)
    return VerifyResult(ok, **res)


def verify_wheel(python: str, wheel: Path, archs: Sequence[str] | None = None,
                 toolkit_root: str | None = None) -> VerifyResult:
    """``verify_install`` for a wheel that is not installed: unpack ``wheel`` into a scratch folder
    (a wheel is a zip whose root is what pip puts into site-packages) and run the checks with it first
    on ``PYTHONPATH``. Without a GPU the kernels cannot run: then the SASS/PTX listing is the proof
    that ``_ext`` holds them, and nms runs on the CPU. Never raises."""
    with tempfile.TemporaryDirectory(prefix="mmfix-verify-") as scratch:
        try:
            with zipfile.ZipFile(wheel) as zf:
                zf.extractall(scratch)
        except (OSError, zipfile.BadZipFile) as exc:
            return VerifyResult(False, error=f"cannot unpack {wheel}: {exc}")
        return verify_install(python, archs, toolkit_root, pythonpath=scratch)
