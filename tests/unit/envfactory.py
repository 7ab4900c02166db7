"""Build Environment values for check tests (each test states the facts it depends on)."""

from __future__ import annotations

import dataclasses
from typing import Any

from mmfix.model import Environment, Host, MmcvDist, Nvcc, TargetPython, TorchInfo


def make_env(**overrides: Any) -> Environment:
    """A Linux env with Python 3.11, no torch, no mmcv; override any Environment field."""
    target = TargetPython(executable="/envs/mm/bin/python", version="3.11.7", packages={"setuptools": "80.9.0"})
    host = Host(os="Linux", cpu_count=8, memory_total_bytes=64 << 30, memory_available_bytes=48 << 30, glibc="2.36")
    env = Environment(target=target, host=host)
    return dataclasses.replace(env, **overrides)


def with_host(base: Environment, **fields: Any) -> Environment:
    return dataclasses.replace(base, host=dataclasses.replace(base.host, **fields))


def with_target(env: Environment, **fields: Any) -> Environment:
    return dataclasses.replace(env, target=dataclasses.replace(env.target, **fields))


def torch(version: str = "2.13.0+cpu", cuda: str | None = None, **kw: Any) -> TorchInfo:
    return TorchInfo(version=version, location="/envs/mm/lib/python3.11/site-packages/torch", cuda=cuda, **kw)


def mmcv(name: str = "mmcv", version: str = "2.2.0", ext: bool = False, tag: str | None = None, **kw: Any) -> MmcvDist:
    files = ("/envs/mm/lib/python3.11/site-packages/mmcv/_ext.cpython-311-x86_64-linux-gnu.so",) if ext else ()
    return MmcvDist(
        name=name,
        version=version,
        location="/envs/mm/lib/python3.11/site-packages",
        package_dir="/envs/mm/lib/python3.11/site-packages/mmcv",
        wheel_tag=tag if tag is not None else ("cp311-cp311-linux_x86_64" if ext else "py2.py3-none-any"),
        ext_files=files,
        **kw,
    )


def nvcc(version: str = "13.0", wrapper: bool = False, root: str = "/usr/local/cuda-13.0") -> Nvcc:
    path = "/usr/local/bin/nvcc" if wrapper else f"{root}/bin/nvcc"
    return Nvcc(path=path, real_path=f"{root}/bin/nvcc", version=version, is_wrapper=wrapper, toolkit_root=root)
