"""Checks of catalog family ... (filled by its issue)."""

from __future__ import annotations

from mmfix.checks.base import Check

CHECKS: list[Check] = []
