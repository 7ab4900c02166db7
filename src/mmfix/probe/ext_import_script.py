# Runs INSIDE the target interpreter (Python 3.6 - 3.13) in its own process: imports torch, then
# mmcv._ext, then asks mmcv.ops how it was built. One JSON line per step, flushed, so a crash or hang
# in a later step leaves the earlier results readable. Keep it 3.6-compatible and stdlib-only.
import json
import sys
import time


def emit(step, ok, **extra):
    extra.update({"step": step, "ok": ok})
    sys.stdout.write(json.dumps(extra) + "\n")
    sys.stdout.flush()


def attempt(step, func):
    t0 = time.time()
    try:
        value = func()
    except BaseException as exc:  # noqa: BLE001 - every failure is a fact to report
        emit(step, False, error_type=type(exc).__name__, error=str(exc), seconds=time.time() - t0)
        return False, None
    emit(step, True, value=value, seconds=time.time() - t0)
    return True, value


def import_torch():
    import torch  # noqa: F401

    return None


def import_ext():
    import mmcv._ext  # noqa: F401

    return None


def versions():
    from mmcv.ops import get_compiler_version, get_compiling_cuda_version

    return {"cuda": get_compiling_cuda_version(), "compiler": get_compiler_version()}


attempt("torch", import_torch)
ok, _ = attempt("ext", import_ext)
if ok:
    attempt("versions", versions)
