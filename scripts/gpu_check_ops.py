#!/usr/bin/env python3
"""The ``ops`` step of ``scripts/gpu-check.sh``: run mmcv's ops on the GPU and compare them.

Runs in the target interpreter (torch with CUDA, the mmcv that ``mmfix rebuild`` just installed).
Three kinds of check, each on fresh random float32 inputs (the seed is recorded):

* ``gpu-vs-cpu``: the op's CUDA kernel against mmcv's own CPU kernel (forward, and the gradients
  where the op has a backward): nms, roi_align, deform_conv2d, modulated_deform_conv2d,
  bbox_overlaps, box_iou_rotated;
* ``gpu-vs-reference``: ops with no CPU kernel in mmcv 2.2.0 (``mmcv/ops/csrc/pytorch/cpu/`` has
  none for them) against a plain-torch formula computed on the CPU in float64: sigmoid_focal_loss
  (the formula of ``sigmoid_focal_loss_cuda_kernel.cuh``), three_nn, knn and chamfer_distance
  (``torch.cdist``), multi-scale deformable attention (mmcv's own
  ``multi_scale_deformable_attn_pytorch``);
* ``runs``: CUDA-only ops whose exact result has no cheap reference, checked for properties:
  roi_pool (every output is an input value of its channel, or 0 for an empty bin) and
  furthest_point_sample (distinct in-range indices starting at 0).

Comparisons use ``torch.allclose`` with the tolerance named in each check's detail; TF32 is turned
off so float32 means float32. Prints one JSON document (schema ``mmfix.gpu-check-ops/1``) and
writes it to ``--out``. Exit 0 when every check passed, 1 when one failed, 3 when torch sees no
CUDA device (nothing is compared then: the CPU alone proves nothing here).

``--devices cpu,cpu`` is a self-test for a machine without a GPU: it runs the same calls with the
CPU on both sides, which only shows the calls are well-formed (the CUDA-only ops fail there).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SCHEMA = "mmfix.gpu-check-ops/1"


@dataclass
class Ctx:
    """What a check needs: the device under test, the reference device, a seeded generator."""

    dev: str
    ref: str
    gen: Any  # torch.Generator


def _close(torch: Any, got: Any, want: Any, rtol: float, atol: float) -> tuple[bool, float]:
    """torch.allclose of ``got`` (any device) and ``want`` in float64 on the CPU; the largest
    absolute difference. Shapes must match; NaN never passes."""
    a, b = got.detach().double().cpu(), want.detach().double().cpu()
    if a.shape != b.shape:
        return False, float("inf")
    diff = (a - b).abs().max().item() if a.numel() else 0.0
    return bool(torch.allclose(a, b, rtol=rtol, atol=atol)), diff


def _compare_all(torch: Any, pairs: list[tuple[str, Any, Any]], rtol: float, atol: float) -> tuple[bool, float, str]:
    """Compare named (got, want) pairs; atol is scaled by the reference's largest magnitude (>= 1)."""
    ok_all, worst, bad = True, 0.0, []
    for name, got, want in pairs:
        scale = max(1.0, want.detach().double().abs().max().item() if want.numel() else 1.0)
        ok, diff = _close(torch, got, want, rtol, atol * scale)
        worst = max(worst, diff)
        if not ok:
            ok_all = False
            bad.append(f"{name} differs by {diff:.3g}")
    names = ", ".join(n for n, _, _ in pairs)
    detail = f"{names}: allclose(rtol={rtol:g}, atol={atol:g} x max(1, |ref|))" + (f"; {'; '.join(bad)}" if bad else "")
    return ok_all, worst, detail


def _boxes(torch: Any, c: Ctx, n: int, size: float = 64.0) -> Any:
    xy = torch.rand(n, 2, generator=c.gen) * size
    wh = torch.rand(n, 2, generator=c.gen) * size / 4 + 1
    return torch.cat([xy, xy + wh], 1)


def _rois(torch: Any, c: Ctx, n: int, size: float, batch: int) -> Any:
    idx = torch.randint(0, batch, (n, 1), generator=c.gen).float()
    return torch.cat([idx, _boxes(torch, c, n, size * 0.75)], 1)


# --- gpu-vs-cpu: mmcv's CUDA kernel against mmcv's CPU kernel -------------------------------


def check_nms(torch: Any, c: Ctx) -> tuple[bool, float, str]:
    from mmcv.ops import nms

    boxes, scores = _boxes(torch, c, 400), torch.rand(400, generator=c.gen)
    d_ref, k_ref = nms(boxes.to(c.ref), scores.to(c.ref), 0.5)
    d_dev, k_dev = nms(boxes.to(c.dev), scores.to(c.dev), 0.5)
    same = torch.equal(k_dev.cpu().long(), k_ref.cpu().long())
    ok, diff = _close(torch, d_dev, d_ref, 0.0, 1e-6) if same else (False, float("inf"))
    return ok, diff, (f"same {len(k_ref)} of 400 boxes kept, dets equal" if ok
                      else f"kept {len(k_dev)} on {c.dev} vs {len(k_ref)} on {c.ref}")


def check_roi_align(torch: Any, c: Ctx) -> tuple[bool, float, str]:
    from mmcv.ops import roi_align

    x = torch.randn(2, 8, 24, 24, generator=c.gen)
    rois = _rois(torch, c, 30, 24.0, 2)
    w = torch.randn(30, 8, 7, 7, generator=c.gen)

    def run(dev: str) -> tuple[Any, Any]:
        xi = x.to(dev).requires_grad_()
        out = roi_align(xi, rois.to(dev), (7, 7), 1.0, 2, "avg", True)
        (out * w.to(dev)).sum().backward()
        return out, xi.grad

    (o, g), (ro, rg) = run(c.dev), run(c.ref)
    return _compare_all(torch, [("output", o, ro), ("grad input", g, rg)], 1e-4, 1e-5)


def check_deform_conv2d(torch: Any, c: Ctx) -> tuple[bool, float, str]:
    from mmcv.ops import deform_conv2d

    x = torch.randn(2, 4, 10, 10, generator=c.gen)
    offset = torch.randn(2, 18, 10, 10, generator=c.gen) * 2
    weight = torch.randn(6, 4, 3, 3, generator=c.gen) * 0.2
    gout = torch.randn(2, 6, 10, 10, generator=c.gen)

    def run(dev: str) -> list[Any]:
        xi, oi, wi = (t.to(dev).requires_grad_() for t in (x, offset, weight))
        out = deform_conv2d(xi, oi, wi, 1, 1, 1, 1, 1, False, 32)
        (out * gout.to(dev)).sum().backward()
        return [out, xi.grad, oi.grad, wi.grad]

    got, want = run(c.dev), run(c.ref)
    names = ("output", "grad input", "grad offset", "grad weight")
    return _compare_all(torch, list(zip(names, got, want)), 1e-4, 1e-4)


def check_modulated_deform_conv2d(torch: Any, c: Ctx) -> tuple[bool, float, str]:
    from mmcv.ops import modulated_deform_conv2d

    x = torch.randn(2, 4, 10, 10, generator=c.gen)
    offset = torch.randn(2, 18, 10, 10, generator=c.gen) * 2
    mask = torch.sigmoid(torch.randn(2, 9, 10, 10, generator=c.gen))
    weight = torch.randn(6, 4, 3, 3, generator=c.gen) * 0.2
    bias = torch.randn(6, generator=c.gen)
    gout = torch.randn(2, 6, 10, 10, generator=c.gen)

    def run(dev: str) -> list[Any]:
        ts = [t.to(dev).requires_grad_() for t in (x, offset, mask, weight, bias)]
        out = modulated_deform_conv2d(*ts, 1, 1, 1, 1, 1)
        (out * gout.to(dev)).sum().backward()
        return [out, *(t.grad for t in ts)]

    got, want = run(c.dev), run(c.ref)
    names = ("output", "grad input", "grad offset", "grad mask", "grad weight", "grad bias")
    return _compare_all(torch, list(zip(names, got, want)), 1e-4, 1e-4)


def check_bbox_overlaps(torch: Any, c: Ctx) -> tuple[bool, float, str]:
    from mmcv.ops import bbox_overlaps

    b1, b2 = _boxes(torch, c, 40), _boxes(torch, c, 50)
    got = bbox_overlaps(b1.to(c.dev), b2.to(c.dev))
    want = bbox_overlaps(b1.to(c.ref), b2.to(c.ref))
    return _compare_all(torch, [("ious", got, want)], 1e-5, 1e-6)


def check_box_iou_rotated(torch: Any, c: Ctx) -> tuple[bool, float, str]:
    from mmcv.ops import box_iou_rotated

    def rboxes(n: int) -> Any:
        xy = torch.rand(n, 2, generator=c.gen) * 40
        wh = torch.rand(n, 2, generator=c.gen) * 15 + 2
        angle = (torch.rand(n, 1, generator=c.gen) - 0.5) * 3.0
        return torch.cat([xy, wh, angle], 1)

    b1, b2 = rboxes(30), rboxes(40)
    got = box_iou_rotated(b1.to(c.dev), b2.to(c.dev))
    want = box_iou_rotated(b1.to(c.ref), b2.to(c.ref))
    return _compare_all(torch, [("ious", got, want)], 1e-4, 1e-5)


# --- gpu-vs-reference: CUDA-only ops against a plain-torch formula (float64, CPU) -------------


def check_sigmoid_focal_loss(torch: Any, c: Ctx) -> tuple[bool, float, str]:
    from mmcv.ops import sigmoid_focal_loss

    n, k, gamma, alpha = 64, 10, 2.0, 0.25
    x = torch.randn(n, k, generator=c.gen) * 3
    target = torch.randint(0, k + 1, (n,), generator=c.gen)  # k is the background class
    got = sigmoid_focal_loss(x.to(c.dev), target.to(c.dev), gamma, alpha, None, "none")
    xd = x.double()
    p = xd.sigmoid()
    t = torch.nn.functional.one_hot(target, k + 1)[:, :k].double()
    tiny = 1.1754943508222875e-38  # FLT_MIN, as the kernel clamps
    term_p = (1 - p) ** gamma * torch.log(p.clamp_min(tiny))
    term_n = p**gamma * torch.log((1 - p).clamp_min(tiny))
    want = -t * alpha * term_p - (1 - t) * (1 - alpha) * term_n
    return _compare_all(torch, [("loss", got, want)], 1e-4, 1e-6)


def _points(torch: Any, c: Ctx, b: int, n: int, dims: int = 3) -> Any:
    return torch.rand(b, n, dims, generator=c.gen) * 10


def check_three_nn(torch: Any, c: Ctx) -> tuple[bool, float, str]:
    from mmcv.ops import three_nn

    target, source = _points(torch, c, 2, 200), _points(torch, c, 2, 300)
    dist, idx = three_nn(target.to(c.dev), source.to(c.dev))
    want = torch.cdist(target.double(), source.double()).topk(3, dim=2, largest=False).values
    ok, diff, detail = _compare_all(torch, [("distances", dist, want)], 1e-4, 1e-5)
    # the indices must point at source points at those distances
    picked = torch.gather(torch.cdist(target.double(), source.double()), 2, idx.long().cpu())
    ok2, diff2 = _close(torch, picked, want, 1e-4, 1e-5)
    return ok and ok2, max(diff, diff2), detail + "; indices give those distances" + ("" if ok2 else f": NO ({diff2:.3g})")


def check_knn(torch: Any, c: Ctx) -> tuple[bool, float, str]:
    from mmcv.ops import knn

    xyz, center = _points(torch, c, 2, 256), _points(torch, c, 2, 64)
    idx = knn(8, xyz.to(c.dev).contiguous(), center.to(c.dev).contiguous())  # (B, k, npoint)
    d = torch.cdist(center.double(), xyz.double())  # (B, npoint, N)
    want = d.topk(8, dim=2, largest=False).values
    got = torch.gather(d, 2, idx.long().cpu().transpose(1, 2)).sort(dim=2).values
    return _compare_all(torch, [("distances of the 8 neighbours", got, want)], 1e-6, 1e-9)


def check_chamfer_distance(torch: Any, c: Ctx) -> tuple[bool, float, str]:
    from mmcv.ops import chamfer_distance

    a, b = _points(torch, c, 2, 128, 2), _points(torch, c, 2, 128, 2)
    dist1, dist2, _, _ = chamfer_distance(a.to(c.dev), b.to(c.dev))
    d2 = torch.cdist(a.double(), b.double()) ** 2
    pairs = [("dist1", dist1, d2.min(dim=2).values), ("dist2", dist2, d2.min(dim=1).values)]
    return _compare_all(torch, pairs, 1e-4, 1e-5)


def check_ms_deform_attn(torch: Any, c: Ctx) -> tuple[bool, float, str]:
    from mmcv.ops.multi_scale_deform_attn import MultiScaleDeformableAttnFunction, multi_scale_deformable_attn_pytorch

    bs, heads, dims, queries, points = 2, 4, 8, 30, 4
    shapes = torch.as_tensor([(12, 10), (6, 5)], dtype=torch.long)
    starts = torch.cat((shapes.new_zeros((1,)), shapes.prod(1).cumsum(0)[:-1]))
    keys = int(shapes.prod(1).sum())
    levels = shapes.size(0)
    value = torch.randn(bs, keys, heads, dims, generator=c.gen)
    loc = torch.rand(bs, queries, heads, levels, points, 2, generator=c.gen)
    attn = torch.rand(bs, queries, heads, levels, points, generator=c.gen) + 1e-5
    attn = attn / attn.sum(-1, keepdim=True).sum(-2, keepdim=True)
    got = MultiScaleDeformableAttnFunction.apply(value.to(c.dev), shapes.to(c.dev), starts.to(c.dev),
                                                 loc.to(c.dev), attn.to(c.dev), 64)
    want = multi_scale_deformable_attn_pytorch(value.double(), shapes, loc.double(), attn.double())
    return _compare_all(torch, [("output", got, want)], 1e-4, 1e-5)


# --- runs: CUDA-only ops checked for properties ----------------------------------------------


def check_roi_pool(torch: Any, c: Ctx) -> tuple[bool, float, str]:
    from mmcv.ops import roi_pool

    x = torch.randn(2, 4, 20, 20, generator=c.gen)
    rois = _rois(torch, c, 16, 20.0, 2)
    out = roi_pool(x.to(c.dev), rois.to(c.dev), (5, 5), 1.0).cpu()
    bad = 0
    for r in range(rois.size(0)):
        b = int(rois[r, 0])
        for ch in range(x.size(1)):
            values = x[b, ch].flatten()
            for v in out[r, ch].flatten():
                if v != 0 and not bool((values == v).any()):
                    bad += 1
    ok = out.shape == (16, 4, 5, 5) and bad == 0 and bool(torch.isfinite(out).all())
    return ok, 0.0, f"output {tuple(out.shape)}; {bad} values that are no input value of their channel"


def check_furthest_point_sample(torch: Any, c: Ctx) -> tuple[bool, float, str]:
    from mmcv.ops import furthest_point_sample

    pts = _points(torch, c, 2, 512)
    idx = furthest_point_sample(pts.to(c.dev).contiguous(), 64).cpu().long()
    ok = idx.shape == (2, 64) and bool((idx[:, 0] == 0).all()) and bool(((idx >= 0) & (idx < 512)).all())
    ok = ok and all(len(set(row.tolist())) == 64 for row in idx)
    # the plain algorithm, for information: near-ties can pick another point without a bug
    same = 0
    for b in range(pts.size(0)):
        p = pts[b].double()
        dist = torch.full((p.size(0),), 1e10, dtype=torch.float64)
        chosen = [0]
        for _ in range(63):
            dist = torch.minimum(dist, ((p - p[chosen[-1]]) ** 2).sum(1))
            chosen.append(int(dist.argmax()))
        same += int(chosen == idx[b].tolist())
    return ok, 0.0, f"64 distinct in-range indices from 0 per batch; {same} of 2 batches equal the plain algorithm"


CHECKS: list[tuple[str, str, Callable[[Any, Ctx], tuple[bool, float, str]]]] = [
    ("nms", "gpu-vs-cpu", check_nms),
    ("roi_align", "gpu-vs-cpu", check_roi_align),
    ("deform_conv2d", "gpu-vs-cpu", check_deform_conv2d),
    ("modulated_deform_conv2d", "gpu-vs-cpu", check_modulated_deform_conv2d),
    ("bbox_overlaps", "gpu-vs-cpu", check_bbox_overlaps),
    ("box_iou_rotated", "gpu-vs-cpu", check_box_iou_rotated),
    ("sigmoid_focal_loss", "gpu-vs-reference", check_sigmoid_focal_loss),
    ("three_nn", "gpu-vs-reference", check_three_nn),
    ("knn", "gpu-vs-reference", check_knn),
    ("chamfer_distance", "gpu-vs-reference", check_chamfer_distance),
    ("multi_scale_deformable_attn", "gpu-vs-reference", check_ms_deform_attn),
    ("roi_pool", "runs", check_roi_pool),
    ("furthest_point_sample", "runs", check_furthest_point_sample),
]


def run_checks(torch: Any, dev: str, ref: str, seed: int) -> list[dict[str, Any]]:
    """Run every check; an exception is that check's failure (its last line is the detail)."""
    results = []
    for name, kind, fn in CHECKS:
        gen = torch.Generator().manual_seed(seed)
        t0 = time.perf_counter()
        try:
            ok, diff, detail = fn(torch, Ctx(dev, ref, gen))
            if dev.startswith("cuda"):
                torch.cuda.synchronize()
        except Exception as exc:  # noqa: BLE001 - a failing op is a result, the others still run
            tb = traceback.format_exception_only(type(exc), exc)
            ok, diff, detail = False, None, (tb[-1].strip() if tb else repr(exc))[:500]
        results.append({"op": name, "kind": kind, "ok": bool(ok), "max_abs_diff": diff, "detail": detail,
                        "seconds": round(time.perf_counter() - t0, 3)})
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run mmcv ops on the GPU and compare with the CPU.")
    parser.add_argument("--out", help="also write the JSON document here")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: from the clock; recorded)")
    parser.add_argument("--devices", default="cuda,cpu", help="device under test and reference (default cuda,cpu)")
    args = parser.parse_args(argv)
    dev, _, ref = args.devices.partition(",")
    seed = args.seed if args.seed is not None else int(time.time()) % 100000

    import torch

    doc: dict[str, Any] = {"schema": SCHEMA, "torch": torch.__version__, "torch_cuda": torch.version.cuda,
                           "cuda_available": torch.cuda.is_available(), "devices": [dev, ref], "seed": seed,
                           "self_test": dev == ref}
    if dev.startswith("cuda") and not torch.cuda.is_available():
        doc["error"] = "torch sees no CUDA device: nothing to compare (run this on the GPU machine)"
        _emit(doc, args.out)
        print(f"gpu_check_ops: {doc['error']}", file=sys.stderr)
        return 3
    if dev.startswith("cuda"):
        doc["device"] = torch.cuda.get_device_name(0)
        doc["capability"] = "{}.{}".format(*torch.cuda.get_device_capability(0))
    else:
        doc["device"] = "cpu (self-test: proves only that the calls are well-formed)"
    for backend in (torch.backends.cuda.matmul, torch.backends.cudnn):
        with contextlib.suppress(Exception):  # a torch without the switch has no TF32 either
            backend.allow_tf32 = False
    import mmcv
    from mmcv.ops import get_compiler_version, get_compiling_cuda_version

    doc.update(mmcv=mmcv.__version__, compiling_cuda=get_compiling_cuda_version(), compiler=get_compiler_version(),
               mmcv_path=os.path.dirname(mmcv.__file__))
    doc["checks"] = run_checks(torch, dev, ref, seed)
    doc["passed"] = sum(1 for r in doc["checks"] if r["ok"])
    doc["failed"] = [r["op"] for r in doc["checks"] if not r["ok"]]
    _emit(doc, args.out)
    for r in doc["checks"]:
        print(f"{'ok  ' if r['ok'] else 'FAIL'} {r['op']:<28} {r['kind']:<17} {r['detail']}", file=sys.stderr)
    return 0 if not doc["failed"] else 1


def _emit(doc: dict[str, Any], out: str | None) -> None:
    text = json.dumps(doc, indent=2)
    print(text)
    if out:
        tmp = out + ".part"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
        os.replace(tmp, out)


if __name__ == "__main__":
    sys.exit(main())
