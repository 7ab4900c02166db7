"""Wheelhouse test helpers: the facts of the prebuilt mmcv CPU wheels (~/.cache/mmfix-tests/prebuilt/,
built by mmfix for torch 2.13.0+cpu, CPython 3.11, linux_x86_64 on glibc 2.36 with g++ 12.2.0), and
records made by mmfix's own ``make_record`` from a wheel and such an environment."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import pytest
from test_wheels_support import wheel_bytes, wheel_name

from mmfix.model import Compiler, Environment, Gpu, Host, MmcvDist, TargetPython, TorchInfo
from mmfix.wheels.records import VerifiedFacts, WheelRecord, make_record

TEST_CACHE = Path(os.environ.get("MMFIX_TEST_CACHE", Path.home() / ".cache" / "mmfix-tests"))
WHEEL_210 = "mmcv-2.1.0-cp311-cp311-linux_x86_64.whl"
# a real mmcv 2.1.0 CPU wheel for torch 2.13.0: built by hand (prebuilt/), or by the e2e session's
# repair matrix into its wheelhouse (.ci/run runs the unit tests again after the e2e session)
# (the wheelhouse keeps each wheel in a folder named after its hash: cpu/torch2.13.0/<sha256[:16]>/)
PREBUILT_210_PLACES = (TEST_CACHE / "prebuilt", TEST_CACHE / "mmfix-cache" / "wheelhouse" / "cpu" / "torch2.13.0")
SDIST_210 = "sdist mmcv-2.1.0.tar.gz sha256=d387bcab66b467479b6660310e23746cfc79c6e57acf04094680adb499a5cd3f"
PATCHES = ("setuptools-no-pkg-resources (setup.py)", "cxx-standard (setup.py)")
TAGS_311 = ("cp311-cp311-manylinux_2_36_x86_64", "cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-linux_x86_64",
            "cp311-abi3-linux_x86_64", "cp311-none-linux_x86_64", "py3-none-any")


def prebuilt_210() -> Path:
    """The first real mmcv 2.1.0 wheel of ``PREBUILT_210_PLACES``; skips where none was built yet."""
    found = [p for place in PREBUILT_210_PLACES for p in (place / WHEEL_210, *sorted(place.glob(f"*/{WHEEL_210}")))
             if p.is_file()]
    if not found:
        pytest.skip(f"no {WHEEL_210} built yet (nox -s e2e builds it: tests/e2e/test_repair_matrix.py)")
    return found[0]


def env_311(torch: str = "2.13.0+cpu", cuda: str | None = None, abi: bool | None = True, glibc: str = "2.36",
            gpus: tuple[str, ...] = (), mmcv: str | None = "2.2.0", **host: Any) -> Environment:
    """A torch 2.13.0+cpu / CPython 3.11.7 / linux x86_64 env as the probe reports it (the prebuilt
    wheels' target); override what a test is about."""
    return Environment(
        target=TargetPython("/envs/w/bin/python", "3.11.7", wheel_tags=TAGS_311),
        host=Host("Linux", glibc=glibc, gxx=Compiler("/usr/bin/g++", "g++", "12.2.0"),
                  gpus=tuple(Gpu(i, "GPU", cc) for i, cc in enumerate(gpus)), **host),
        torch=TorchInfo(torch, "/envs/w/lib/python3.11/site-packages/torch", cuda=cuda, cxx11_abi=abi),
        mmcv=(MmcvDist("mmcv", mmcv, "/envs/w/sp", "/envs/w/sp/mmcv", "py2.py3-none-any"),) if mmcv else (),
    )


def record_of(wheel: Path, env: Environment | None = None, *, ops: str = "cpu", arch: str | None = None,
              origin: str = SDIST_210, patches: tuple[str, ...] = PATCHES) -> WheelRecord:
    """mmfix's record of ``wheel`` built for ``env`` (default ``env_311()``), verified on the CPU."""
    return make_record(env or env_311(), wheel, origin=origin, source_tree=None, patches=patches, ops=ops,
                       arch_requested=arch, nvcc=None, build_seconds=513.0,
                       verified=VerifiedFacts("on a scratch copy (--wheel-only)", True, None, ()))


def small_wheel(folder: Path, version: str = "2.1.0", tag: str = "cp311-cp311-linux_x86_64") -> Path:
    """A tiny real wheel (zip with METADATA, WHEEL, RECORD) named as mmcv ``version``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / wheel_name("mmcv", version, tag)
    path.write_bytes(wheel_bytes("mmcv", version, tag))
    return path


def with_build(record: WheelRecord, **fields: Any) -> WheelRecord:
    return dataclasses.replace(record, build=dataclasses.replace(record.build, **fields))


def with_torch(record: WheelRecord, **fields: Any) -> WheelRecord:
    return dataclasses.replace(record, torch=dataclasses.replace(record.torch, **fields))
