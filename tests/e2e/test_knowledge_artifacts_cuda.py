"""knowledge.cuda (and knowledge.msvc's VS table) against NVIDIA's own wheels on PyPI.

Compared, for every release of nvidia-cuda-nvcc-cu11 / nvidia-cuda-nvcc-cu12 / nvidia-cuda-nvcc and
nvidia-cuda-crt (11.7.99 ... 13.5.37 when written, 37 nvcc and 13 crt wheels): the real sm list of
``ptxas --help`` (--gpu-name) with NVCC_ARCHS; ``crt/host_config.h``'s ``__GNUC__`` and ``_MSC_VER``
limits with GCC_MAX_BY_CUDA / MSVC_RANGE_BY_CUDA, and its "between 2019 and 2022" years with
knowledge.msvc; which ``crt/math_functions.h`` declares cospi/sinpi/rsqrt with glibc's exception
specification, with GLIBC_MATH_CLASHES. CUDA 13 moved the headers from nvcc's wheel to crt's.
Cost (measured here, 2 cores): cold ~17 s and ~400 MB read (37 ptxas of 5-16 MB, each run once;
headers ~30 KB each); the cache keeps only the help texts and headers (~15 MB); warm ~1 s.
"""

from __future__ import annotations

import re

import pytest
from knowledge_artifacts import fetch_all, releases, tool_output, wheel_member
from packaging.version import Version

from mmfix.knowledge import cuda, msvc

pytestmark = pytest.mark.e2e
NVCC_WHEELS = ("nvidia-cuda-nvcc-cu11", "nvidia-cuda-nvcc-cu12", "nvidia-cuda-nvcc")
CRT_WHEEL = "nvidia-cuda-crt"  # CUDA >= 13: crt/*.h live here
LINUX = ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux1_x86_64", "x86_64")


def _releases(project: str) -> list[str]:
    """Every release of ``project`` with a Linux x86_64 wheel, CUDA 11 on (0.0.1 placeholders skipped)."""
    out = [v for v, files in releases(project).items()
           if Version(v).major >= 11 and any("x86_64" in f["filename"] and f["filename"].endswith(".whl") for f in files)]
    return sorted(out, key=Version)


def _minor(version: str) -> str:
    v = Version(version)
    return f"{v.major}.{v.minor}"


def _header(version: str, name: str) -> str:
    """``crt/<name>`` of CUDA ``version``: in the crt wheel from 13.0, in nvcc's before."""
    project = CRT_WHEEL if Version(version).major >= 13 else next(
        p for p in NVCC_WHEELS if version in releases(p))
    data = wheel_member(project, version, f"include/crt/{name}", LINUX)
    assert data is not None, f"{project} {version} has no crt/{name}"
    return data.decode("utf-8", "replace")


def _all_nvcc() -> list[tuple[str, str]]:
    return [(p, v) for p in NVCC_WHEELS for v in _releases(p)]


def test_nvcc_arch_table_matches_ptxas_of_every_cuda_wheel():
    wheels = _all_nvcc()
    helps = fetch_all(lambda pv: tool_output(pv[0], pv[1], "bin/ptxas", ["--help"], LINUX), wheels)
    wrong = []
    for (project, version), text in zip(wheels, helps):
        allowed = re.search(r"--gpu-name.*?Allowed values for this option:(.*?)(?:Default value|\n\n|--)", text, re.S)
        assert allowed, f"{project} {version}: no --gpu-name values in ptxas --help"
        real = sorted({int(m) for m in re.findall(r"'sm_(\d+)'", allowed.group(1))})
        mine = sorted(cuda.nvcc_archs(version) or ())
        if real != mine:
            wrong.append(f"CUDA {version}: table {mine} != ptxas {real}")
    print(f"\ncompared ptxas --help of {len(wheels)} CUDA releases {wheels[0][1]} ... {wheels[-1][1]} with NVCC_ARCHS")
    assert len(wheels) >= 37
    assert not wrong, "\n".join(wrong)


def test_host_compiler_tables_match_host_config_h_of_every_cuda_wheel():
    versions = sorted({v for _, v in _all_nvcc()}, key=Version)
    texts = fetch_all(lambda v: _header(v, "host_config.h"), versions)
    wrong = []
    for version, text in zip(versions, texts):
        minor = _minor(version)
        gcc = int(re.search(r"^#if __GNUC__ > (\d+)", text, re.M).group(1))  # type: ignore[union-attr]
        lo, hi = map(int, re.search(r"^#if _MSC_VER < (\d+) \|\| _MSC_VER >= (\d+)", text, re.M).groups())  # type: ignore[union-attr]
        years = re.search(r"Only the versions between (\d{4}) and (\d{4})", text)
        if minor not in cuda.GCC_MAX_BY_CUDA or cuda.GCC_MAX_BY_CUDA[minor] != gcc:
            wrong.append(f"CUDA {version}: GCC_MAX_BY_CUDA {cuda.GCC_MAX_BY_CUDA.get(minor)} != host_config.h {gcc}")
        if cuda.MSVC_RANGE_BY_CUDA.get(minor) != (lo, hi - 1):
            wrong.append(f"CUDA {version}: MSVC_RANGE_BY_CUDA {cuda.MSVC_RANGE_BY_CUDA.get(minor)} != host_config.h {(lo, hi - 1)}")
        assert years, f"CUDA {version}: no supported-VS years in host_config.h"
        first_year, last_year = map(int, years.groups())
        first_msc = min(s.msc_min for s in msvc.TOOLSET_SERIES if int(s.vs) == first_year)
        if first_msc != lo or msvc.VS_MSC_MAX.get(last_year, 0) < hi - 1:
            wrong.append(f"CUDA {version}: VS {first_year}-{last_year} in knowledge.msvc is {first_msc}-"
                         f"{msvc.VS_MSC_MAX.get(last_year)}, host_config.h accepts {lo}-{hi - 1}")
    print(f"\ncompared crt/host_config.h of {len(versions)} CUDA releases with GCC_MAX / MSVC_RANGE / VS_MSC_MAX")
    assert not wrong, "\n".join(wrong)


def test_glibc_clash_table_matches_math_functions_h_of_every_cuda_wheel():
    versions = sorted({v for _, v in _all_nvcc()}, key=Version)
    texts = fetch_all(lambda v: _header(v, "math_functions.h"), versions)
    wrong = []
    for version, text in zip(versions, texts):
        clashes = cuda.glibc_math_clash("99.0", version)  # with a glibc that declares them all
        for func in (f for funcs, _, _ in cuda.GLIBC_MATH_CLASHES for f in funcs):
            decl = re.search(rf"^extern .*\b{func}\((?:double|float) x\)([^;]*);", text, re.M)
            assert decl, f"CUDA {version}: no declaration of {func}"
            specifier = decl.group(1).strip()  # the exception specification macro after "(double x)"
            if (func in clashes) == bool(specifier):
                wrong.append(f"CUDA {version} {func}: declared with {specifier or 'no'} exception specifier, "
                             f"the table says {'a clash' if func in clashes else 'no clash'}")
    print(f"\ncompared crt/math_functions.h of {len(versions)} CUDA releases with GLIBC_MATH_CLASHES")
    assert not wrong, "\n".join(wrong)
