#!/usr/bin/env python3
"""The negative case of ``scripts/gpu-check.sh``: an ``mmcv._ext`` built for the wrong GPU.

``build`` compiles a tiny CUDA extension with torch's ``cpp_extension`` and
``-gencode arch=compute_80,code=sm_80`` only (SASS for compute capability 8.0, no PTX: nothing a
9.0 GPU can run), and lays it out as an installed package the way a prebuilt mmcv wheel for
another GPU would be: ``<work>/site/mmcv/_ext<EXT_SUFFIX>`` with an ``mmcv-2.2.0.dist-info``
whose RECORD lists it. With ``PYTHONPATH=<work>/site`` the target interpreter imports this mmcv
first, so ``mmfix doctor`` inspects this ``_ext`` (its probe reads ``sys.path`` in order).

The extension's ``launch()`` starts one kernel and checks it with torch's own
``C10_CUDA_KERNEL_LAUNCH_CHECK()``, the check mmcv's kernels use, so the error it raises on a GPU
without sm_80 code is the text users meet: ``CUDA error: no kernel image is available for execution
on the device``.

Runs in the target interpreter (torch with CUDA, nvcc, ninja). Prints one JSON document (the ext's
path, its SASS/PTX by cuobjdump when one is found, the build time) and writes it to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

ARCH_FLAGS = ["-gencode", "arch=compute_80,code=sm_80"]
MMCV_VERSION = "2.2.0"

KERNEL_CU = r"""
#include <cuda_runtime.h>
#include <c10/cuda/CUDAException.h>

__global__ void gpu_check_fill(float* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = 1.0f;
}

void gpu_check_launch(float* out, int n) {
  gpu_check_fill<<<(n + 255) / 256, 256>>>(out, n);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  C10_CUDA_CHECK(cudaDeviceSynchronize());
}
"""

BINDING_CPP = r"""
#include <torch/extension.h>

void gpu_check_launch(float* out, int n);

// Fill a new CUDA tensor with ones by a kernel compiled for sm_80 only.
torch::Tensor launch() {
  auto out = torch::zeros({1024}, torch::dtype(torch::kFloat32).device(torch::kCUDA));
  gpu_check_launch(out.data_ptr<float>(), static_cast<int>(out.numel()));
  return out;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("launch", &launch, "launch one kernel built for sm_80 only");
}
"""


def write_sources(folder: Path) -> list[Path]:
    """Write the extension's two source files into ``folder``; return their paths (.cpp, .cu)."""
    folder.mkdir(parents=True, exist_ok=True)
    cpp, cu = folder / "gpu_check_binding.cpp", folder / "gpu_check_kernel.cu"
    cpp.write_text(BINDING_CPP, encoding="utf-8")
    cu.write_text(KERNEL_CU, encoding="utf-8")
    return [cpp, cu]


def lay_out_package(ext: Path, site: Path, tag: str) -> Path:
    """Install ``ext`` as ``mmcv/_ext`` of a fake mmcv 2.2.0 under ``site`` (a dist-info with
    METADATA, WHEEL, INSTALLER and a RECORD listing every file). Returns the installed ext's path."""
    if site.exists():
        shutil.rmtree(site)
    pkg, info = site / "mmcv", site / f"mmcv-{MMCV_VERSION}.dist-info"
    pkg.mkdir(parents=True)
    info.mkdir()
    # import torch first, as mmcv's own import chain does, so _ext finds libc10 and libtorch loaded
    (pkg / "__init__.py").write_text(
        "# gpu-check negative case: an mmcv whose _ext holds sm_80 code only\n"
        f"import torch  # noqa: F401\n\n__version__ = '{MMCV_VERSION}'\n", encoding="utf-8")
    target = pkg / ("_ext" + (sysconfig.get_config_var("EXT_SUFFIX") or ".so"))
    shutil.copy2(ext, target)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: mmcv\nVersion: {MMCV_VERSION}\n"
        "Summary: gpu-check negative case (an _ext with sm_80 code only)\n", encoding="utf-8")
    (info / "WHEEL").write_text(f"Wheel-Version: 1.0\nGenerator: mmfix-gpu-check\nRoot-Is-Purelib: false\nTag: {tag}\n",
                                encoding="utf-8")
    (info / "INSTALLER").write_text("gpu-check\n", encoding="utf-8")
    files = [p.relative_to(site).as_posix() for p in sorted(site.rglob("*")) if p.is_file()]
    record = f"mmcv-{MMCV_VERSION}.dist-info/RECORD"
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in [*files, record]), encoding="utf-8")
    return target


def interpreter_tag() -> str:
    """The wheel tag of this interpreter on this platform: ``cp312-cp312-linux_x86_64``."""
    ver = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    return f"{ver}-{ver}-{sysconfig.get_platform().replace('-', '_').replace('.', '_')}"


def cuobjdump_archs(path: Path) -> tuple[list[str], list[str]] | None:
    """(SASS, PTX) archs of ``path`` by cuobjdump (PATH, then ``$CUDA_HOME/bin``); None without it."""
    home = os.environ.get("CUDA_HOME")
    tool = shutil.which("cuobjdump") or (str(Path(home) / "bin" / "cuobjdump") if home else None)
    if not tool or not Path(tool).exists():
        return None
    out = ""
    for kind in ("--list-elf", "--list-ptx"):
        out += subprocess.run([tool, kind, str(path)], capture_output=True, text=True, timeout=60).stdout
    sass = sorted(set(re.findall(r"\.(sm_\d+[a-z]?)\.cubin\b", out)))
    ptx = sorted({"compute_" + a for a in re.findall(r"\.sm_(\d+[a-z]?)\.ptx\b", out)})
    return sass, ptx


def build(work: Path) -> dict[str, object]:
    """Build the sm_80-only extension with torch's cpp_extension and lay out the fake mmcv."""
    from torch.utils import cpp_extension

    sources = write_sources(work / "src")
    build_dir = work / "build"
    build_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    cpp_extension.load(name="_ext", sources=[str(s) for s in sources], extra_cuda_cflags=ARCH_FLAGS,
                       build_directory=str(build_dir), verbose=True, is_python_module=False)
    seconds = round(time.monotonic() - t0, 1)
    built = next(build_dir.glob("_ext*.so"))
    ext = lay_out_package(built, work / "site", interpreter_tag())
    archs = cuobjdump_archs(ext)
    return {"ok": True, "ext": str(ext), "site": str(work / "site"), "arch_flags": ARCH_FLAGS, "seconds": seconds,
            "sass": archs[0] if archs else None, "ptx": archs[1] if archs else None,
            "cuda_home": cpp_extension.CUDA_HOME}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build an mmcv._ext with sm_80 code only (gpu-check's negative case).")
    parser.add_argument("command", choices=["build"])
    parser.add_argument("--work", type=Path, required=True, help="folder for sources, build and the fake site")
    parser.add_argument("--out", type=Path, help="also write the JSON document here")
    args = parser.parse_args(argv)
    doc = build(args.work)
    text = json.dumps(doc, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
