"""The JSON form of mmfix's data: dataclasses, enums, tuples and mappings as plain values."""

from __future__ import annotations

import enum
from collections.abc import Mapping

TYPE_CHECKING = False  # not typing's: `mmfix explain` starts faster without it
if TYPE_CHECKING:
    from typing import Any


def to_jsonable(value: Any) -> Any:
    """Convert dataclasses, enums, tuples and mappings into JSON-ready Python values."""
    if hasattr(type(value), "__dataclass_fields__"):  # a dataclass instance (dataclasses is loaded)
        import dataclasses

        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value
