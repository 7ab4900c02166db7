"""Find the real CUDA toolkit behind an ``nvcc`` (links, wrapper scripts) and its missing headers.

torch's cpp_extension guesses ``CUDA_HOME`` as the grandparent of the ``nvcc`` on PATH; when that
``nvcc`` is a wrapper script (``exec /usr/local/cuda-13.0/bin/nvcc "$@"``, as on this project's
machines) or a link outside the toolkit, the guess is wrong (catalog ``cuda-home-missing``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from mmfix.knowledge.cuda import CUDA_MATH_HEADERS

_EXEC_LINE = re.compile(r"""^\s*exec\s+(?:"([^"]+)"|'([^']+)'|(\S+))""", re.M)


def _is_toolkit(root: Path) -> bool:
    """A toolkit has the CUDA runtime header and an nvcc that is no wrapper script (a wrapper in
    /usr/local/bin would make /usr/local look like one: torch's own mistake)."""
    nvcc = root / "bin" / "nvcc"
    if not nvcc.is_file() or not (root / "include" / "cuda_runtime.h").is_file():
        return False
    try:
        with open(nvcc, "rb") as fh:
            return fh.read(2) != b"#!"
    except OSError:
        return False


def resolve_toolkit_root(nvcc: str | os.PathLike[str], depth: int = 4) -> Path | None:
    """The toolkit folder (``<root>/bin/nvcc`` and ``<root>/include``) an ``nvcc`` leads to.

    Follows symbolic links, then ``exec <path>`` lines of small shell wrapper scripts (up to
    ``depth`` hops). Returns None when no toolkit is found.
    """
    path = Path(nvcc)
    for _ in range(depth):
        try:
            real = path.resolve()
        except OSError:
            return None
        if _is_toolkit(real.parent.parent):
            return real.parent.parent
        try:
            if real.stat().st_size > 64 * 1024:
                return None  # a binary outside any toolkit layout
            text = real.read_text(errors="replace")
        except OSError:
            return None
        if not text.startswith("#!"):
            return None
        m = _EXEC_LINE.search(text)
        if not m:
            return None
        path = Path(next(g for g in m.groups() if g))
    return None


def missing_math_headers(toolkit_root: Path, headers: Sequence[str] = CUDA_MATH_HEADERS) -> list[str]:
    """Math-library headers (cusparse.h, ...) absent from ``<root>/include`` and its targets folder."""
    folders = [toolkit_root / "include", *toolkit_root.glob("targets/*/include")]
    return [h for h in headers if not any((f / h).is_file() for f in folders)]


def nvidia_wheel_dirs(torch_location: str) -> tuple[list[str], list[str]]:
    """include and lib folders of torch's ``nvidia-*`` wheels (site-packages/nvidia/<x>/include).

    ``torch_location`` is torch's package folder; its parent is site-packages. cu13 wheels use
    ``nvidia/cu13/include``, cu11/cu12 wheels ``nvidia/<lib>/include``.
    """
    base = Path(torch_location).parent / "nvidia"
    inc = sorted(str(p) for p in base.glob("*/include") if p.is_dir())
    lib = sorted(str(p) for p in base.glob("*/lib") if p.is_dir())
    return inc, lib
