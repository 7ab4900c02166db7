"""Prove an mmcv install works: import ``mmcv.ops`` and run nms in the target interpreter (CPU, and
the GPU when one is visible); for CUDA builds list the SASS/PTX in ``_ext`` with ``cuobjdump`` and
check the requested arches are covered.
"""

from __future__ import annotations

import json
import re
import textwrap
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


def verify_install(python: str, archs: Sequence[str] | None = None, toolkit_root: str | None = None) -> VerifyResult:
    """Import mmcv.ops and run nms in ``python``; with ``archs`` ("8.6", "9.0+PTX"), also check the
    ``_ext`` binary has SASS for each (cuobjdump). Never raises; problems are in the result."""
    r = proc.run([python, "-c", NMS_SCRIPT], timeout=600)
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
    if archs and data.get("ext"):
        tool = find_cuobjdump(python, toolkit_root)
        if tool is None:
            return VerifyResult(ok, **res, notes=("cuobjdump not found: SASS/PTX not checked "
                                                  "(pip install nvidia-cuda-cuobjdump)",))
        sass, ptx = list_archs(data["ext"], tool)
        want = {a.split("+")[0] for a in archs}
        missing = tuple(sorted(a for a in want if f"sm_{a.replace('.', '')}" not in sass))
        return VerifyResult(ok and not missing, **res, sass=sass, ptx=ptx, missing_archs=missing, cuobjdump=tool)
    return VerifyResult(ok, **res)
