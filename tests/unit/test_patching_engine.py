"""The patch engine on small files written here (no real torch/mmcv files in unit tests)."""

from __future__ import annotations

import dataclasses
import os
import threading
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from mmfix.errors import MmfixError, RefusedError
from mmfix.patching import engine, textdiff
from mmfix.patching.catalog import HandEdit, Patch, Variant
from mmfix.patching.journal import Journal

ORIG = "struct P {\n  static constexpr bool all_slots = false;\n};\nint x = 1;\n"
GOOD = ORIG.replace("constexpr bool", "const bool")
FAQ = ORIG.replace("constexpr bool", "bool")  # the FAQ's ill-formed hand edit
REL = "include/demo.h"


@pytest.fixture(autouse=True)
def _state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """mmfix's per-user record of the journals it writes goes to a scratch folder."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def sha(text: str) -> str:
    return textdiff.sha256_text(text.encode())


def demo_patch() -> Patch:
    return Patch(
        id="demo-all-slots",
        target="torch",
        versions=SpecifierSet(">=1.5,<1.6"),
        path=REL,
        title="demo",
        variants=(Variant(sha(ORIG), {"": sha(GOOD)}, textdiff.make_diff(ORIG, GOOD, REL)),),
        hand_edits=(HandEdit(sha(FAQ), textdiff.make_diff(ORIG, FAQ, REL), "FAQ static bool", 0),),
    )


def tree(tmp_path: Path, text: str, eol: str = "\n", mode: int = 0o644) -> Path:
    f = tmp_path / REL
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes(text.replace("\n", eol).encode())
    os.chmod(f, mode)
    return f


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_apply_keeps_line_endings_and_mode_and_reverts_byte_identical(
    tmp_path: Path, eol: str
) -> None:
    f = tree(tmp_path, ORIG, eol, 0o640)
    before = f.read_bytes()
    [c] = engine.apply(tmp_path, [engine.Request(demo_patch())])
    assert c.state == engine.APPLIED and "+  static const bool all_slots" in c.diff
    assert f.read_bytes() == GOOD.replace("\n", eol).encode()
    assert f.stat().st_mode & 0o777 == 0o640
    # second run: no-op
    [again] = engine.apply(tmp_path, [engine.Request(demo_patch())])
    assert again.state == engine.ALREADY and f.read_bytes() == GOOD.replace("\n", eol).encode()
    done = engine.revert(Journal(tmp_path))
    assert [d.state for d in done] == ["restored"]
    assert f.read_bytes() == before
    assert engine.revert(Journal(tmp_path)) == []  # nothing recorded any more
    assert not Journal(tmp_path).file.exists() and not any(Journal(tmp_path).backups.iterdir())


def test_dry_run_changes_nothing(tmp_path: Path) -> None:
    f = tree(tmp_path, ORIG)
    [c] = engine.apply(tmp_path, [engine.Request(demo_patch())], dry_run=True)
    assert c.dry_run and c.state == engine.APPLIED and c.diff
    assert f.read_text() == ORIG
    assert not (tmp_path / ".mmfix").exists()


def test_faq_hand_edit_is_repaired(tmp_path: Path) -> None:
    f = tree(tmp_path, FAQ, "\r\n")
    [c] = engine.apply(tmp_path, [engine.Request(demo_patch())])
    assert c.state == engine.REPAIRED and "FAQ static bool" in c.note
    assert f.read_bytes() == GOOD.replace("\n", "\r\n").encode()
    engine.revert(Journal(tmp_path))
    assert f.read_bytes() == FAQ.replace("\n", "\r\n").encode()  # back to what the user had


def test_tampered_file_is_refused_and_untouched(tmp_path: Path) -> None:
    tampered = ORIG.replace("false", "maybe")
    f = tree(tmp_path, tampered)
    with pytest.raises(RefusedError) as err:
        engine.apply(tmp_path, [engine.Request(demo_patch())])
    assert err.value.exit_code == 3
    msg = err.value.one_line()
    assert REL in msg and "demo-all-slots" in msg and "line 2" in msg and "maybe" in msg
    assert f.read_text() == tampered
    assert not (tmp_path / ".mmfix" / "journal.json").exists()


def test_change_outside_the_patched_lines_is_named_as_such(tmp_path: Path) -> None:
    f = tree(tmp_path, ORIG + "// a local comment\n")
    with pytest.raises(RefusedError) as err:
        engine.apply(tmp_path, [engine.Request(demo_patch())])
    assert "differs elsewhere" in err.value.one_line() and "expected" not in err.value.one_line()
    assert f.read_text().endswith("// a local comment\n")


def test_failed_replace_leaves_original_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tree(tmp_path, ORIG)

    real_replace = os.replace

    def boom(src: str, dst: str) -> None:  # the "kill" between temp write and replace
        if str(dst) == str(f):
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(MmfixError) as err:
        engine.apply(tmp_path, [engine.Request(demo_patch())])
    assert "left as it was" in err.value.one_line()
    monkeypatch.undo()
    assert f.read_text() == ORIG
    leftovers = [p.name for p in f.parent.iterdir() if p.name != "demo.h"]
    assert leftovers == []  # the temp file is gone
    assert Journal(tmp_path).entries() == []  # nothing recorded for a change that did not happen


def test_revert_refuses_a_file_changed_since_unless_forced(tmp_path: Path) -> None:
    f = tree(tmp_path, ORIG)
    engine.apply(tmp_path, [engine.Request(demo_patch())])
    f.write_text(GOOD + "// edited later\n")
    with pytest.raises(RefusedError):
        engine.revert(Journal(tmp_path))
    assert f.read_text().endswith("// edited later\n")
    [d] = engine.revert(Journal(tmp_path), force=True)
    assert d.state == "forced" and f.read_text() == ORIG


def test_two_concurrent_runs_are_serialised(tmp_path: Path) -> None:
    tree(tmp_path, ORIG)
    results: list[list[engine.AppliedChange]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def worker() -> None:
        barrier.wait()
        try:
            results.append(engine.apply(tmp_path, [engine.Request(demo_patch())]))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    states = sorted(r[0].state for r in results)
    assert states == [engine.ALREADY, engine.APPLIED]  # exactly one wrote, the other saw it done
    assert len(Journal(tmp_path).entries()) == 1


def test_lock_held_elsewhere_blocks_the_run(tmp_path: Path) -> None:
    tree(tmp_path, ORIG)
    j = Journal(tmp_path)
    with (
        j.locked(),
        pytest.raises(MmfixError, match="another mmfix"),
        Journal(tmp_path).locked(0.2),
    ):
        pass


def test_diff_apply_is_exact_never_fuzzy() -> None:
    d = textdiff.make_diff(ORIG, GOOD, REL)
    shifted = "// one more line\n" + ORIG
    with pytest.raises(textdiff.DiffError):
        textdiff.apply_diff(shifted, d)
    assert textdiff.apply_diff(GOOD, d, reverse=True) == ORIG


def test_hash_ignores_line_endings_only() -> None:
    assert textdiff.sha256_text(b"a\r\nb\r\n") == textdiff.sha256_text(b"a\nb\n")
    assert textdiff.sha256_text(b"a\nb\n") != textdiff.sha256_text(b"a\nb \n")


SETUP = "args = ['-std=c++14']\nmsvc = ['/std:c++14']\nother = 1\n"


def std_patch() -> Patch:
    """A per-value patch like cxx-standard: one variant per standard and known input (the
    released file, and the result of the earlier patch of the chain, as the generator records)."""
    variants = []
    for src in (SETUP, SETUP.replace("other", "another")):
        for std in ("17", "20"):
            new = src.replace("c++14", f"c++{std}")
            diff = textdiff.make_diff(src, new, "setup.py")
            variants.append(Variant(sha(src), {std: sha(new)}, diff, value=std))
    return Patch(
        id="demo-std",
        target="mmcv",
        versions=SpecifierSet(">=1"),
        path="setup.py",
        title="demo",
        variants=tuple(variants),
        param="std",
        values=("17", "20"),
    )


def test_parametrised_patch_changes_value_and_reverts_through_both(tmp_path: Path) -> None:
    f = tmp_path / "setup.py"
    f.write_text(SETUP)
    [a] = engine.apply(tmp_path, [engine.Request(std_patch(), "17")])
    assert a.state == engine.APPLIED and "-std=c++17" in f.read_text()
    [b] = engine.apply(tmp_path, [engine.Request(std_patch(), "20")])
    assert b.state == engine.APPLIED and "was std 17" in b.note
    assert f.read_text() == SETUP.replace("c++14", "c++20")
    [c] = engine.apply(tmp_path, [engine.Request(std_patch(), "20")])
    assert c.state == engine.ALREADY
    assert [r.patch_id for r in engine.revert(Journal(tmp_path))] == ["demo-std", "demo-std"]
    assert f.read_text() == SETUP


def test_undecodable_bytes_are_refused_not_crashed(tmp_path: Path) -> None:
    f = tree(tmp_path, ORIG)
    f.write_bytes(ORIG.encode() + b"\xff\xfe bad bytes\n")
    with pytest.raises(RefusedError):
        engine.apply(tmp_path, [engine.Request(demo_patch())])
    assert f.read_bytes().endswith(b"\xff\xfe bad bytes\n")


def test_chain_redone_from_released_file_and_reverted_through_both(tmp_path: Path) -> None:
    """A file patched by one chain, then asked for another: redone from the released file."""
    f = tmp_path / "setup.py"
    f.write_bytes(SETUP.replace("\n", "\r\n").encode())
    released = f.read_bytes()
    first = dataclasses.replace(std_patch(), id="demo-first", order=1)
    engine.apply(tmp_path, [engine.Request(first, "17")])
    # a second patch of the same file, ordered before: the current file is unknown to it
    rename = Patch(
        id="demo-rename",
        target="mmcv",
        versions=SpecifierSet(">=1"),
        path="setup.py",
        title="demo",
        variants=(
            Variant(
                sha(SETUP),
                {"": sha(SETUP.replace("other", "another"))},
                textdiff.make_diff(SETUP, SETUP.replace("other", "another"), "setup.py"),
            ),
        ),
        order=0,
    )
    changes = engine.apply(tmp_path, [engine.Request(rename), engine.Request(first, "20")])
    assert [c.state for c in changes] == [engine.APPLIED, engine.APPLIED]
    assert (
        f.read_bytes()
        == SETUP.replace("other", "another")
        .replace("c++14", "c++20")
        .replace("\n", "\r\n")
        .encode()
    )
    again = engine.apply(tmp_path, [engine.Request(rename), engine.Request(first, "20")])
    assert [c.state for c in again] == [engine.ALREADY, engine.ALREADY]
    engine.revert(Journal(tmp_path))
    assert f.read_bytes() == released
