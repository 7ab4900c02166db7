"""The probe: one ``Environment`` from the target interpreter and this machine (facts only).

The slow questions (target script, ``import mmcv._ext``, nvcc, nvidia-smi, compilers, pip cache)
run in parallel threads, each a subprocess with a timeout.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from mmfix import proc
from mmfix.model import Environment, ExtBinary, Host
from mmfix.probe import extbin
from mmfix.probe import host as hostmod
from mmfix.probe import target as targetmod

T = TypeVar("T")


def _result(fut: Future[T], errors: list[str], what: str, default: T) -> T:
    try:
        return fut.result()
    except Exception as exc:  # noqa: BLE001 - a failed part of the probe is a recorded fact
        errors.append(f"{what}: {type(exc).__name__}: {exc}")
        return default


def _ext_binaries(env_ext_files: tuple[str, ...], cuobjdump: str | None, torch_lib: str | None) -> ExtBinary | None:
    if not env_ext_files:
        return None
    return extbin.inspect_ext(env_ext_files[0], cuobjdump, torch_lib)


def _windows_variables() -> tuple[str, ...]:
    from mmfix.probe.windows import WINDOWS_ENV_VARS

    return WINDOWS_ENV_VARS


def probe(python: str | None = None, environ: Mapping[str, str] | None = None, import_ext: bool = True) -> Environment:
    """Probe the target interpreter (``--python``; default: the active environment) and the host.

    Returns a frozen Environment. Raises UsageError when ``python`` is missing, not Python, or older
    than 3.6. Nothing else raises: a part that fails is listed in ``probe_errors``.
    """
    t0 = time.monotonic()
    env_vars = dict(os.environ if environ is None else environ)
    interp = targetmod.resolve_interpreter(python)
    errors: list[str] = []
    windows = platform.system() == "Windows"
    # The target's own bin/Scripts folder comes first on PATH for tools (ninja from the venv).
    bindir = os.path.dirname(interp)
    tool_env = dict(env_vars)
    tool_env["PATH"] = bindir + os.pathsep + env_vars.get("PATH", "")
    with ThreadPoolExecutor(max_workers=8) as pool:
        futs: dict[str, Future[Any]] = {}

        def submit(name: str, fn: Callable[..., Any], *args: Any) -> None:
            futs[name] = pool.submit(fn, *args)

        submit("nvcc", hostmod.find_nvcc, env_vars)
        if windows:
            from mmfix.probe import windows as winmod

            submit("toolkits", winmod.windows_cuda_toolkits, env_vars)
            submit("windows", winmod.probe_windows, env_vars)
        else:
            submit("toolkits", hostmod.find_toolkits, env_vars, False)
        submit("gpus", hostmod.find_gpus, env_vars)
        submit("gcc", hostmod.find_compiler, env_vars.get("CC") or "gcc", env_vars)
        submit("gxx", hostmod.find_compiler, env_vars.get("CXX") or "g++", env_vars)
        submit("other_gccs", hostmod.find_versioned_gccs, env_vars)
        submit("pip_cache", targetmod.pip_cached_mmcv_wheels, interp)
        # The target's answer first: a bad --python is one clear error line (UsageError).
        target_py, torch, mmcv, downstream = targetmod.parse_target(targetmod.run_target_probe(interp))
        # Without an _ext file the import can only fail with "No module named 'mmcv._ext'": skip it.
        if import_ext and any(d.has_ext for d in mmcv):
            submit("ext_import", targetmod.import_ext, interp)
        nvcc = _result(futs["nvcc"], errors, "nvcc", None)
        smi, gpus, smi_err = _result(futs["gpus"], errors, "nvidia-smi", (None, (), None))
        if gpus and torch is not None and torch.cuda:  # torch's own archs against the GPUs
            submit("torch_archs", targetmod.torch_arch_list, interp)
        cuobjdump = extbin.find_cuobjdump(env_vars, nvcc.real_path or nvcc.path if nvcc else None, target_py.site_packages)
        ext_files = next((d.ext_files for d in mmcv if d.has_ext), ())
        ext_bin_fut = pool.submit(_ext_binaries, ext_files, cuobjdump, torch.lib_dir if torch else None)
        mem_total, mem_avail = hostmod.memory_bytes()
        host = Host(
            os=platform.system(),
            os_release=platform.release(),
            machine=platform.machine(),
            cpu_count=hostmod.cpu_count(),
            memory_total_bytes=mem_total,
            memory_available_bytes=mem_avail,
            glibc=hostmod.glibc_version(),
            env=hostmod.build_variables(env_vars, _windows_variables() if windows else ()),
            nvcc=nvcc,
            toolkits=_result(futs["toolkits"], errors, "CUDA toolkits", ()),
            gpus=gpus,
            nvidia_smi=smi,
            nvidia_smi_error=smi_err,
            driver_version=next((g.driver_version for g in gpus if g.driver_version), None),
            gcc=_result(futs["gcc"], errors, "gcc", None),
            gxx=_result(futs["gxx"], errors, "g++", None),
            other_gccs=_result(futs["other_gccs"], errors, "gcc-N", ()),
            ninja=proc.which("ninja", path=tool_env["PATH"]),
            ccache=proc.which("ccache", path=env_vars.get("PATH")),
            cuobjdump=cuobjdump,
            windows=_result(futs["windows"], errors, "Windows facts", None) if "windows" in futs else None,
        )
        ext_import = _result(futs["ext_import"], errors, "import mmcv._ext", None) if "ext_import" in futs else None
        pip_cache = _result(futs["pip_cache"], errors, "pip cache", ())
        ext_binary = _result(ext_bin_fut, errors, "mmcv/_ext binary", None)
        if "torch_archs" in futs and torch is not None:
            torch = dataclasses.replace(torch, arch_list=_result(futs["torch_archs"], errors, "torch arch list", None))
    return Environment(
        target=target_py,
        host=host,
        torch=torch,
        mmcv=mmcv,
        downstream=downstream,
        ext_import=ext_import,
        ext_binary=ext_binary,
        pip_cached_mmcv_wheels=pip_cache,
        probe_errors=tuple(errors),
        probe_seconds=round(time.monotonic() - t0, 3),
    )
