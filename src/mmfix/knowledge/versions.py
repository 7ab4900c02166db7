"""Reading version strings that come from outside (metadata, logs, tool output)."""

from __future__ import annotations

from packaging.version import InvalidVersion, Version


def parse_version(text: str | None) -> Version | None:
    """``packaging`` Version of ``text`` ("2.14.1+cu130", "2.0.0rc4"), or None when it is absent
    or not a PEP 440 version. Never raises."""
    if not text:
        return None
    try:
        return Version(str(text).strip())
    except InvalidVersion:
        return None
