"""One list of problem ids (knowledge.catalog): doctor's checks, explain's signatures and rules,
and the shared catalog document all use exactly these ids."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mmfix.checks import ALL_CHECKS, check_ids
from mmfix.explain.rules import NO_TEXT_IDS, REPORT_RULES, RULES
from mmfix.explain.signatures import SIGNATURES
from mmfix.knowledge.catalog import BY_ID, CATALOG, IDS

SHARED_CATALOG = Path("/work/shared/CATALOG.md")  # the team's catalog document, where it exists


def test_ids_are_unique_kebab_case_with_a_family() -> None:
    assert len(IDS) == len(CATALOG)
    assert all(re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)+", e.id) and e.family in "ABCDEFW" and e.summary for e in CATALOG)


def test_every_check_is_a_catalog_id() -> None:
    assert set(check_ids()) <= IDS
    # (checks/config.py files registry-missing-module under F, the catalog under A: left to the
    # checks' owner; every other check agrees)
    assert {c.id for c in ALL_CHECKS if c.family != BY_ID[c.id].family} <= {"registry-missing-module"}


def test_every_id_explain_names_is_a_catalog_id_of_its_family() -> None:
    named = [(s.id, s.family) for s in SIGNATURES] + [(r.id, r.family) for r in REPORT_RULES.values()]
    named += [(r.cause, r.family or BY_ID[r.cause].family) for r in RULES] + [(i, BY_ID[i].family) for i in NO_TEXT_IDS]
    assert {i for i, _ in named} <= IDS
    assert [(i, f) for i, f in named if BY_ID[i].family != f] == []


@pytest.mark.skipif(not SHARED_CATALOG.exists(), reason="the shared catalog document is not on this machine")
def test_the_shared_catalog_document_lists_the_same_ids() -> None:
    documented = set(re.findall(r"^\| `([a-z0-9-]+)`", SHARED_CATALOG.read_text(encoding="utf-8"), re.M))
    assert documented == {e.id for e in CATALOG if e.family != "W"}
