"""The target interpreter: find it, ask it about itself, import ``mmcv._ext`` in it.

Both questions run as subprocesses of the target interpreter, so a target on Python 3.6 or a
segfaulting ``_ext`` never harms mmfix. Sources: the target's dist-info/egg-info metadata,
``torch/version.py``, ``torch/share/cmake/Torch/TorchConfig.cmake`` (the C++11 ABI flag), the
``__init__.py`` of each OpenMMLab package (mmcv bounds, read with ``ast``).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Any

from mmfix import proc
from mmfix.errors import UsageError
from mmfix.model import Downstream, ExtImport, MmcvDist, TargetPython, TorchInfo

HERE = Path(__file__).resolve().parent
MIN_TARGET = (3, 6)
PROBE_TIMEOUT_S = 60.0
IMPORT_TIMEOUT_S = 120.0

_VERSION_ONLY = "import sys; sys.stdout.write('%d.%d.%d' % tuple(sys.version_info[:3]))"


def interpreter_in_prefix(prefix: str, windows: bool = False) -> list[str]:
    """Candidate interpreters inside a venv or conda prefix, most likely first.

    Windows venvs keep ``Scripts\\python.exe``; conda on Windows keeps ``python.exe`` at the root.
    """
    path: PurePath = PureWindowsPath(prefix) if windows else PurePosixPath(prefix)
    if windows:
        return [str(path / "Scripts" / "python.exe"), str(path / "python.exe")]
    return [str(path / "bin" / "python"), str(path / "bin" / "python3")]


def default_interpreter(environ: Mapping[str, str] | None = None, windows: bool | None = None) -> str:
    """The active environment's interpreter: $VIRTUAL_ENV, then $CONDA_PREFIX, then python on PATH.

    Raises UsageError when none can be found.
    """
    env = os.environ if environ is None else environ
    win = sys.platform == "win32" if windows is None else windows
    for var in ("VIRTUAL_ENV", "CONDA_PREFIX"):
        prefix = env.get(var)
        if prefix:
            for cand in interpreter_in_prefix(prefix, win):
                if os.path.isfile(cand):
                    return cand
            if var == "VIRTUAL_ENV":  # an activated venv that is gone: say so, never guess past it
                raise UsageError(
                    f"$VIRTUAL_ENV={prefix} has no interpreter",
                    "the activated environment was moved or deleted",
                    "deactivate it, or pass --python PATH",
                )
    for name in ("python", "python3"):
        found = proc.which(name, path=env.get("PATH"))
        if found:
            return found
    raise UsageError(
        "no Python interpreter found",
        "neither $VIRTUAL_ENV nor $CONDA_PREFIX is set and there is no python on PATH",
        "activate the environment or pass --python PATH",
    )


def resolve_interpreter(python: str | None) -> str:
    """``--python`` value -> an interpreter path. A venv/conda folder is accepted too.

    Raises UsageError for a missing path.
    """
    if python is None:
        return default_interpreter()
    if not python.strip():
        raise UsageError("--python is empty", None, "pass the path of the target environment's python")
    p = Path(python).expanduser()
    if p.is_dir():
        for cand in interpreter_in_prefix(str(p), sys.platform == "win32"):
            if os.path.isfile(cand):
                return cand
        raise UsageError(
            f"--python {python} is a folder without an interpreter",
            "no bin/python, Scripts\\python.exe or python.exe inside it",
            "pass the interpreter itself, e.g. --python /path/to/env/bin/python",
        )
    if p.is_file():
        return str(p.absolute())
    found = proc.which(python)
    if found:
        return found
    raise UsageError(
        f"--python {python} does not exist",
        None,
        "pass the path of the target environment's python (e.g. ~/venvs/mm/bin/python)",
    )


def downstream_table() -> tuple[tuple[str, str], ...]:
    """(distribution, import name) of every package the probe reads an mmcv range from, plus
    those listed without one (mmengine): ``knowledge.downstream``'s table, sent to the script."""
    from mmfix.knowledge import downstream as kd

    pairs = [(dist, imp) for imp, dist in kd.DOWNSTREAM_DISTS.items()]
    return tuple(sorted(pairs + [(name, name) for name in kd.NO_MMCV_BOUND]))


def _script_source() -> str:
    bounds = HERE / "downstream_bounds.py"
    prefix = bounds.read_text(encoding="utf-8") if bounds.is_file() else (
        "def read_mmcv_bounds(source):\n    return {}\n"
    )
    prefix += f"\nDOWNSTREAM = {downstream_table()!r}\n"
    return prefix + "\n" + (HERE / "target_script.py").read_text(encoding="utf-8")


def _first_line(text: str, limit: int = 160) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _explain_bad_interpreter(python: str, result: proc.ProcResult) -> UsageError:
    check = proc.run([python, "-c", _VERSION_ONLY], timeout=20)
    version = check.stdout.strip() if check.ok else ""
    version = version if re.fullmatch(r"\d+\.\d+\.\d+", version) else ""
    if version and tuple(int(x) for x in version.split(".")[:2]) < MIN_TARGET:
        return UsageError(
            f"--python {python} is Python {version}",
            "mmcv and mmfix's probe need Python 3.6 or newer",
            "pass the interpreter of the environment that has torch and mmcv",
        )
    if result.timed_out:
        detail = f"it did not answer within {PROBE_TIMEOUT_S:.0f} s"
    elif result.start_error:
        detail = result.start_error
    elif not version:
        detail = "it does not run Python code (asked with -c for its version, it printed none)"
    elif result.ok:
        detail = f"Python {version} ran the probe but printed no JSON result"
    else:
        lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
        detail = f"Python {version}, the probe failed: {_first_line(lines[-1]) if lines else f'exit {result.returncode}'}"
    return UsageError(
        f"--python {python} is not a working Python interpreter",
        detail,
        "pass the path of the target environment's python",
    )


def run_target_probe(python: str) -> dict[str, Any]:
    """Run the stdlib-only probe script in ``python``; return its JSON document as a dict.

    Raises UsageError when ``python`` is not a Python >= 3.6 interpreter.
    """
    result = proc.run([python, "-c", _script_source()], timeout=PROBE_TIMEOUT_S)
    if not result.ok:
        raise _explain_bad_interpreter(python, result)
    try:
        doc = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise _explain_bad_interpreter(python, result) from None
    version = str(doc.get("target", {}).get("version", "0"))
    if tuple(int(x) for x in version.split(".")[:2]) < MIN_TARGET:
        raise UsageError(
            f"--python {python} is Python {version}",
            "mmcv and mmfix's probe need Python 3.6 or newer",
            "pass the interpreter of the environment that has torch and mmcv",
        )
    return doc  # type: ignore[no-any-return]


def parse_target(doc: Mapping[str, Any]) -> tuple[TargetPython, TorchInfo | None, tuple[MmcvDist, ...], tuple[Downstream, ...]]:
    """Turn the target script's JSON document into model values."""
    t = doc["target"]
    target = TargetPython(
        executable=t["executable"],
        version=t["version"],
        implementation=t.get("implementation", "cpython"),
        platform=t.get("platform", "linux"),
        machine=t.get("machine", ""),
        prefix=t.get("prefix", ""),
        is_venv=bool(t.get("is_venv")),
        conda_prefix=t.get("conda_prefix"),
        site_packages=tuple(t.get("site_packages") or ()),
        packages=dict(t.get("packages") or {}),
    )
    tj = doc.get("torch")
    torch = None
    if tj:
        torch = TorchInfo(
            version=tj["version"],
            location=tj["location"],
            cuda=tj.get("cuda"),
            hip=tj.get("hip"),
            cxx11_abi=tj.get("cxx11_abi"),
            include_dir=tj.get("include_dir"),
            lib_dir=tj.get("lib_dir"),
            nvidia_include_dirs=tuple(tj.get("nvidia_include_dirs") or ()),
            nvidia_lib_dirs=tuple(tj.get("nvidia_lib_dirs") or ()),
            libraries=tuple(tj.get("libraries") or ()),
        )
    mmcv = tuple(
        MmcvDist(
            name=m["name"],
            version=m["version"],
            location=m["location"],
            package_dir=m.get("package_dir"),
            wheel_tag=m.get("wheel_tag"),
            installer=m.get("installer"),
            ext_files=tuple(m.get("ext_files") or ()),
            editable=bool(m.get("editable")),
        )
        for m in doc.get("mmcv") or ()
    )
    downstream = tuple(
        Downstream(
            name=d["name"],
            version=d["version"],
            location=d.get("location"),
            init_file=d.get("init_file"),
            mmcv_min=d.get("mmcv_min"),
            mmcv_max=d.get("mmcv_max"),
            max_inclusive=d.get("max_inclusive"),
            mmcv1x_import=d.get("mmcv1x_import"),
        )
        for d in doc.get("downstream") or ()
    )
    return target, torch, mmcv, downstream


def parse_ext_import(result: proc.ProcResult) -> ExtImport:
    """Turn the import script's step lines and exit status into an ``ExtImport`` fact."""
    steps: dict[str, dict[str, Any]] = {}
    for line in result.stdout.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and "step" in item:
            steps[item["step"]] = item
    rc = result.returncode
    # negative: killed by a signal (POSIX); 0xC0000005 / -1073741819: access violation (Windows)
    crashed = rc is not None and (rc < 0 or rc in (0xC0000005, -1073741819, 139))
    ext = steps.get("ext")
    torch = steps.get("torch")
    versions = steps.get("versions")
    error_type = error = None
    if ext and not ext["ok"]:
        error_type, error = ext.get("error_type"), ext.get("error")
    elif crashed or result.timed_out:
        tail = result.stderr.strip().splitlines()[-3:]
        error_type = "Timeout" if result.timed_out else "Crash"
        error = " | ".join(tail) if tail else None
    elif result.start_error:
        error_type, error = "StartError", result.start_error
    ver_value = versions.get("value") if versions and versions.get("ok") else None
    return ExtImport(
        attempted=True,
        ok=bool(ext and ext["ok"]),
        returncode=rc,
        timed_out=result.timed_out,
        crashed=crashed,
        error_type=error_type,
        error=error,
        compiling_cuda_version=(ver_value or {}).get("cuda"),
        compiler_version=(ver_value or {}).get("compiler"),
        torch_import_ok=bool(torch["ok"]) if torch else None,
        duration_s=round(result.seconds, 3),
    )


def import_ext(python: str, timeout: float = IMPORT_TIMEOUT_S) -> ExtImport:
    """Import ``mmcv._ext`` in a fresh process of ``python``; a crash or hang becomes a fact."""
    script = (HERE / "ext_import_script.py").read_text(encoding="utf-8")
    env = dict(os.environ)
    env.setdefault("PYTHONFAULTHANDLER", "1")
    return parse_ext_import(proc.run([python, "-c", script], timeout=timeout, env=env))


# Runs in the target interpreter: the archs torch's own kernels were built for, as
# torch.cuda.get_arch_list() reads them (torch._C._cuda_getArchFlags(), compiled in: no GPU and no
# CUDA initialisation needed). Prints null when this torch cannot say (a CPU build, torch < 1.7).
TORCH_ARCH_SCRIPT = """
import json, torch
flags = getattr(torch._C, "_cuda_getArchFlags", None)
flags = flags() if flags is not None else None
print(json.dumps(flags.split() if flags else None))
"""


def torch_arch_list(python: str, timeout: float = IMPORT_TIMEOUT_S) -> tuple[str, ...] | None:
    """The archs the target's torch was built for (``("sm_50", ..., "compute_90")``), read by
    importing torch in a subprocess of ``python``; None when torch cannot say or the run failed."""
    result = proc.run([python, "-c", TORCH_ARCH_SCRIPT], timeout=timeout)
    try:
        archs = json.loads(result.stdout.strip().splitlines()[-1]) if result.ok else None
    except (ValueError, IndexError):
        return None
    return tuple(str(a) for a in archs) if isinstance(archs, list) else None


def pip_cached_mmcv_wheels(python: str) -> tuple[str, ...]:
    """Entries of the target pip's wheel cache for mmcv (`pip cache list mmcv*`); () when none."""
    out: list[str] = []
    for pattern in ("mmcv", "mmcv_full"):
        res = proc.run([python, "-m", "pip", "cache", "list", pattern, "--format=abspath"], timeout=30)
        if res.ok:
            out.extend(line.strip() for line in res.stdout.splitlines() if line.strip().endswith(".whl"))
    return tuple(dict.fromkeys(out))
