"""What ``TORCH_CUDA_ARCH_LIST`` accepts, by torch release (``_get_cuda_arch_flags`` in
``torch/utils/cpp_extension.py``).

Each row: the first torch release with that table, its ``named_arches`` (in torch's own order: combined
names first, because torch expands them by plain string replacement) and its ``supported_arches``.
Source: the ``cpp_extension.py`` of every torch release on PyPI from 1.3.0 to 2.15.0, read from the
wheels (tests/e2e/test_knowledge_artifacts_torch.py compares every release with this table). Releases
between two rows use the older row: 1.8-1.13 have 1.7's table.
"""

from __future__ import annotations

from packaging.version import Version

_KEPLER_TO_TURING: tuple[tuple[str, str], ...] = (
    ("Kepler+Tesla", "3.7"),
    ("Kepler", "3.5+PTX"),
    ("Maxwell+Tegra", "5.3"),
    ("Maxwell", "5.0;5.2+PTX"),
    ("Pascal", "6.0;6.1+PTX"),
)
_BASE = ("3.5", "3.7", "5.0", "5.2", "5.3", "6.0", "6.1", "6.2", "7.0", "7.2", "7.5")
# 2.1 adds the Tegra names, each before its base name
_TO_AMPERE_TEGRA = (*_KEPLER_TO_TURING, ("Volta+Tegra", "7.2"), ("Volta", "7.0+PTX"), ("Turing", "7.5+PTX"),
                    ("Ampere+Tegra", "8.7"), ("Ampere", "8.0;8.6+PTX"), ("Ada", "8.9+PTX"),
                    ("Hopper", "9.0+PTX"))
_HOPPER = (*_BASE, "8.0", "8.6", "8.7", "8.9", "9.0", "9.0a")

# (first torch release, named arches, supported arches)
TORCH_ARCH_TABLE: tuple[tuple[str, tuple[tuple[str, str], ...], tuple[str, ...]], ...] = (
    ("1.3", (*_KEPLER_TO_TURING, ("Volta", "7.0+PTX"), ("Turing", "7.5+PTX")), _BASE),
    (
        "1.6",
        (*_KEPLER_TO_TURING, ("Volta", "7.0+PTX"), ("Turing", "7.5+PTX"), ("Ampere", "8.0+PTX")),
        (*_BASE, "8.0"),
    ),
    (
        "1.7",
        (*_KEPLER_TO_TURING, ("Volta", "7.0+PTX"), ("Turing", "7.5+PTX"), ("Ampere", "8.0;8.6+PTX")),
        (*_BASE, "8.0", "8.6"),
    ),
    (
        "2.0",
        (*_KEPLER_TO_TURING, ("Volta", "7.0+PTX"), ("Turing", "7.5+PTX"), ("Ampere", "8.0;8.6+PTX"),
         ("Ada", "8.9+PTX"), ("Hopper", "9.0+PTX")),
        (*_BASE, "8.0", "8.6", "8.9", "9.0"),
    ),
    ("2.1", _TO_AMPERE_TEGRA, (*_BASE, "8.0", "8.6", "8.7", "8.9", "9.0")),
    ("2.2", _TO_AMPERE_TEGRA, _HOPPER),
    ("2.6", (*_TO_AMPERE_TEGRA, ("Blackwell", "10.0+PTX")), (*_HOPPER, "10.0")),
    (
        "2.7",
        (*_TO_AMPERE_TEGRA, ("Blackwell+Tegra", "10.1"), ("Blackwell", "10.0;12.0+PTX")),
        (*_HOPPER, "10.0", "10.0a", "10.1", "10.1a", "12.0", "12.0a"),
    ),
    (
        "2.8",
        (*_TO_AMPERE_TEGRA, ("Blackwell+Tegra", "10.1"), ("Blackwell", "10.0;10.3;12.0;12.1+PTX")),
        (*_HOPPER, "10.0", "10.0a", "10.1", "10.1a", "10.3", "10.3a", "12.0", "12.0a", "12.1", "12.1a"),
    ),
    (
        "2.9",  # Thor is renamed from 10.1 to 11.0 (CUDA 13)
        (*_TO_AMPERE_TEGRA, ("Blackwell+Tegra", "11.0"), ("Blackwell", "10.0;10.3;12.0;12.1+PTX")),
        (*_HOPPER, "10.0", "10.0a", "11.0", "11.0a", "10.3", "10.3a", "12.0", "12.0a", "12.1", "12.1a"),
    ),
    (
        "2.14",  # Rubin (10.7)
        (*_TO_AMPERE_TEGRA, ("Blackwell+Tegra", "11.0"), ("Blackwell", "10.0;10.3;12.0;12.1+PTX"),
         ("Rubin", "10.7+PTX")),
        (*_HOPPER, "10.0", "10.0a", "11.0", "11.0a", "10.3", "10.3a", "10.7", "10.7a", "12.0", "12.0a",
         "12.1", "12.1a"),
    ),
)

# torch >= 1.8 builds for the visible GPUs when TORCH_CUDA_ARCH_LIST is unset and fails with
# IndexError when none is visible (catalog arch-list-invalid).
UNSET_NEEDS_GPU_SINCE = "1.8"
# "native" (= the visible GPUs) is accepted from torch 2.9.
NATIVE_SINCE = "2.9"


def _row(torch_version: str | None) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    rows = TORCH_ARCH_TABLE
    if torch_version is None:
        return rows[-1][1], rows[-1][2]
    try:
        v = Version(Version(torch_version).base_version)
    except Exception:  # noqa: BLE001 - unparseable: newest table
        return rows[-1][1], rows[-1][2]
    chosen = rows[0]
    for row in rows:
        if v >= Version(row[0]):
            chosen = row
    return chosen[1], chosen[2]


def named_arches(torch_version: str | None) -> dict[str, str]:
    """Named arches ("Ampere" -> "8.0;8.6+PTX") the given torch expands; newest table when None."""
    return dict(_row(torch_version)[0])


def supported_arches(torch_version: str | None) -> tuple[str, ...]:
    """Arches ("8.6", "9.0a") the given torch's cpp_extension accepts; newest table when None."""
    return _row(torch_version)[1]

# Which official torch builds still ship kernels for an old sm (torch.cuda.get_arch_list() of the
# wheels; reported, not checked here). Used to name the way out when nvcc refuses an arch.
OLD_ARCH_TORCH_BUILDS: dict[int, str] = {
    30: "no official torch wheel since 1.3 (build torch from source with CUDA <= 10.2)",
    32: "no official torch wheel (Jetson TK1; build torch from source with CUDA <= 10.2)",
    35: "torch <= 1.12 cu102/cu113 wheels",
    37: "torch <= 2.0 wheels built for CUDA 11.x (cu117/cu118)",
    50: "torch wheels built for CUDA 11.x/12.x",
    52: "torch wheels built for CUDA 11.x/12.x",
    60: "torch wheels built for CUDA 11.x/12.x",
    61: "torch wheels built for CUDA 11.x/12.x",
    70: "torch wheels built for CUDA 11.x/12.x",
}
