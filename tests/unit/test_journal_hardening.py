"""A journal is data from outside: planted and malformed journals, symlinks, missing files and
stale temp files, on real small trees written here (real files, real symlinks, real FIFOs)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_patching_engine import GOOD, ORIG, REL, demo_patch, tree

from mmfix.errors import MmfixError, RefusedError
from mmfix.patching import engine, journal_schema, safefs
from mmfix.patching.journal import Journal


@pytest.fixture(autouse=True)
def _state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def h(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every file (bytes) and link (its text) under ``folder``."""
    out: dict[str, bytes | str] = {}
    for p in sorted(folder.rglob("*")):
        if p.is_symlink():
            out[str(p)] = os.readlink(p)
        elif p.is_file():
            out[str(p)] = p.read_bytes()
    return out


def plant(root: Path, doc: object) -> Path:
    """``root/.mmfix/journal.json`` holding ``doc`` (bytes/str as they are, else JSON)."""
    (root / ".mmfix" / "backups").mkdir(parents=True, exist_ok=True)
    f = root / ".mmfix" / "journal.json"
    f.write_bytes(doc if isinstance(doc, bytes) else (doc if isinstance(doc, str) else json.dumps(doc)).encode())
    return f


def file_entry(path: str = REL, backup: str = "backups/b", before: bytes = b"payload\n", **kw: object) -> dict[str, object]:
    e: dict[str, object] = {"entry": "e1", "kind": "file", "path": path, "patch_id": "demo-all-slots",
                            "before_bytes_sha256": h(before), "after_bytes_sha256": h(GOOD.encode()),
                            "backup": backup}
    e.update(kw)
    return e


def doc_of(*entries: object) -> dict[str, object]:
    return {"schema": journal_schema.SCHEMA, "entries": list(entries)}


@pytest.fixture
def box(tmp_path: Path) -> tuple[Path, Path]:
    """(a tree with the demo header patched by mmfix's look, a folder outside it with a .pth)."""
    root = tmp_path / "tree"
    tree(root, GOOD)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "site.pth").write_text("untouched\n")
    return root, outside


# --- schema: the shapes from the issue, then hypothesis -------------------------------------


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        ([], "JSON list, not an object"),
        ({"entries": "abc"}, "schema"),
        ({"schema": journal_schema.SCHEMA, "entries": "abc"}, "'entries' is a str, not a list"),
        (doc_of({"entry": "x1", "kind": "file"}), "entry 1 (id x1): not a valid journal: it has no 'path'"),
        (doc_of(file_entry(), "text"), "entry 2: not a valid journal: it is a str"),
        (doc_of(file_entry(kind="exe")), "its kind 'exe'"),
        (doc_of(file_entry(after_bytes_sha256=None)), "'after_bytes_sha256' None"),
        (doc_of(file_entry(path=7)), "'path' 7"),
        ("[" * 100_000 + "]" * 100_000, "nested deeper than"),
        (b"\xff\xfe{}", "not UTF-8"),
        ("{\"schema\": ", "not JSON"),
        (doc_of(file_entry(link="x")), "only one of 'link' and 'link_target'"),
    ],
)
def test_malformed_journals_are_refused_in_one_line(box: tuple[Path, Path], doc: object, words: str) -> None:
    root, _ = box
    f = plant(root, doc)
    before = f.read_bytes()
    (root / REL).write_text(ORIG)  # so that apply has a change to record
    for run in (lambda: engine.revert(Journal(root)),
                lambda: engine.apply(root, [engine.Request(demo_patch())])):
        with pytest.raises(RefusedError) as err:
            run()
        line = err.value.one_line()
        assert err.value.exit_code == 3 and "\n" not in line
        assert str(f) in line and words in line
    assert f.read_bytes() == before  # never rewritten (the old code turned "abc" into 3 entries)
    assert (root / REL).read_text() == ORIG


def test_oversized_journal_is_refused_without_parsing(box: tuple[Path, Path]) -> None:
    root, _ = box
    f = plant(root, '{"schema": "mmfix.journal/1", "entries": [], "pad": "' + "x" * journal_schema.MAX_JOURNAL_BYTES + '"}')
    with pytest.raises(RefusedError, match="more than the"):
        Journal(root).entries()
    assert f.stat().st_size > journal_schema.MAX_JOURNAL_BYTES


HOSTILE_PATHS = ["/etc/passwd", "../outside/site.pth", "a/../../x", "C:/Windows/x", "\\\\srv\\share\\x",
                 "include\\demo.h", "", ".", "a//b", "./include/demo.h", "include/demo.h\x00", "~/.bashrc"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
entry_fields = st.fixed_dictionaries(
    {},
    optional={
        "entry": st.sampled_from(["e1", "", "../x", 3]) | st.text(max_size=5),
        "kind": st.sampled_from(["file", "install", "exe", None]),
        "path": st.sampled_from([*HOSTILE_PATHS, REL]) | json_values,
        "patch_id": st.sampled_from(["demo-all-slots", "", None]),
        "before_bytes_sha256": st.sampled_from([h(b"payload\n"), "0" * 64, "zz", None]),
        "after_bytes_sha256": st.sampled_from([h(GOOD.encode()), None, 5]),
        "backup": st.sampled_from(["backups/b", "/etc/passwd", "backups/../../x", "../backups/b", "b", None]),
        "link": st.sampled_from(["../x", None]),
        "link_target": st.sampled_from(["/etc/passwd", "include/demo.h", "../x"]),
        "python": st.sampled_from(["/usr/bin/python3", None]),
        "previous": st.sampled_from([[], [{"name": "mmcv"}], "x"]),
    },
)
documents = st.one_of(
    json_values,
    st.builds(lambda es, extra: {"schema": journal_schema.SCHEMA, "entries": es, **extra},
              st.lists(entry_fields | json_values, max_size=4), st.dictionaries(st.sampled_from(["root", "writer"]), json_values)),
)


VALID = doc_of(file_entry())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=documents)
@example(doc=VALID)
def test_any_journal_shape_is_refused_or_confined(tmp_path: Path, doc: object) -> None:
    """Whatever the journal holds: either a one-line refusal (exit 3) or a revert that touches
    nothing outside the tree; never another exception."""
    case = Path(tempfile.mkdtemp(dir=tmp_path))
    root = case / "tree"
    tree(root, GOOD)
    outside = case / "outside"
    outside.mkdir(parents=True)
    (outside / "site.pth").write_text("untouched\n")
    (root / ".mmfix" / "backups").mkdir(parents=True)
    (root / ".mmfix" / "backups" / "b").write_bytes(b"payload\n")
    plant(root, doc)
    before_outside = snapshot(outside)
    for force in (False, True):
        try:
            engine.revert(Journal(root), force=force)
        except RefusedError as exc:
            assert exc.exit_code == 3 and "\n" not in exc.one_line()
        except MmfixError as exc:  # a write that failed inside the tree, say
            assert exc.exit_code == 1
    assert snapshot(outside) == before_outside
    leaked = [p for p in case.rglob("*") if not (p.is_relative_to(root) or p.is_relative_to(outside))]
    assert leaked == []
    if doc == VALID:  # the one well-formed journal here is reverted, inside the tree
        assert (root / REL).read_bytes() == b"payload\n"


# --- paths: absolute, '..', symlinks on the way ---------------------------------------------


@pytest.mark.parametrize("path", ["/ABS/site.pth", "../outside/site.pth", "include/../../outside/site.pth"])
def test_paths_leaving_the_tree_are_refused(box: tuple[Path, Path], path: str) -> None:
    root, outside = box
    (root / ".mmfix" / "backups").mkdir(parents=True)
    (root / ".mmfix" / "backups" / "b").write_bytes(b"payload\n")
    plant(root, doc_of(file_entry(path=path.replace("/ABS", str(outside)), after_bytes_sha256=h(b"untouched\n"))))
    for force in (False, True):
        with pytest.raises(RefusedError, match=r"entry 1 \(id e1\).*'path'"):
            engine.revert(Journal(root), force=force)
    assert (outside / "site.pth").read_text() == "untouched\n"


@pytest.mark.parametrize("backup", ["/etc/passwd", "backups/../../../outside/site.pth", "../outside/site.pth"])
def test_backups_outside_their_folder_are_refused(box: tuple[Path, Path], backup: str) -> None:
    root, _ = box
    plant(root, doc_of(file_entry(backup=backup)))
    with pytest.raises(RefusedError, match="'backup'.*not a file in the journal's own backups/ folder"):
        engine.revert(Journal(root), force=True)
    assert (root / REL).read_text() == GOOD  # nothing read into the tree


def test_symlinked_folder_on_the_way_is_refused(box: tuple[Path, Path]) -> None:
    root, outside = box
    (root / ".mmfix" / "backups").mkdir(parents=True)
    (root / ".mmfix" / "backups" / "b").write_bytes(b"payload\n")
    (root / "sp").symlink_to(outside)
    plant(root, doc_of(file_entry(path="sp/site.pth", after_bytes_sha256=h(b"untouched\n"))))
    with pytest.raises(RefusedError, match="folder sp is a symlink"):
        engine.revert(Journal(root), force=True)
    assert (outside / "site.pth").read_text() == "untouched\n"


def test_apply_refuses_a_symlinked_folder_on_the_way(tmp_path: Path) -> None:
    real = tmp_path / "elsewhere"
    tree(real, "// irrelevant\n")
    (real / REL).write_text(ORIG)
    root = tmp_path / "tree"
    root.mkdir()
    (root / "include").symlink_to(real / "include")
    with pytest.raises(RefusedError) as err:
        engine.apply(root, [engine.Request(demo_patch())])
    assert "folder include is a symlink" in err.value.one_line()
    assert (real / REL).read_text() == ORIG


# --- missing target, missing or wrong backup ------------------------------------------------


def test_a_missing_target_is_not_restored(tmp_path: Path) -> None:
    f = tree(tmp_path, ORIG)
    engine.apply(tmp_path, [engine.Request(demo_patch())])
    f.unlink()
    with pytest.raises(RefusedError, match="the file is missing"):
        engine.revert(Journal(tmp_path))
    assert not f.exists()
    [d] = engine.revert(Journal(tmp_path), force=True)
    assert d.state == "forced" and f.read_text() == ORIG


def test_a_missing_backup_is_named(tmp_path: Path) -> None:
    f = tree(tmp_path, ORIG)
    engine.apply(tmp_path, [engine.Request(demo_patch())])
    [b] = (tmp_path / ".mmfix" / "backups").iterdir()
    b.unlink()
    for force in (False, True):
        with pytest.raises(RefusedError) as err:
            engine.revert(Journal(tmp_path), force=force)
        assert f"the backup {b} of {REL} is missing" in err.value.one_line()
    assert f.read_text() == GOOD


def test_a_backup_with_other_bytes_is_refused(tmp_path: Path) -> None:
    f = tree(tmp_path, ORIG)
    engine.apply(tmp_path, [engine.Request(demo_patch())])
    [b] = (tmp_path / ".mmfix" / "backups").iterdir()
    b.write_text("#include </etc/passwd>\n")
    with pytest.raises(RefusedError, match="does not hold the bytes the entry recorded"):
        engine.revert(Journal(tmp_path), force=True)
    assert f.read_text() == GOOD


def test_a_fifo_backup_is_refused_without_blocking(tmp_path: Path) -> None:
    f = tree(tmp_path, ORIG)
    engine.apply(tmp_path, [engine.Request(demo_patch())])
    [b] = (tmp_path / ".mmfix" / "backups").iterdir()
    b.unlink()
    os.mkfifo(b)
    with pytest.raises(RefusedError, match="not a regular file"):
        engine.revert(Journal(tmp_path))
    assert f.read_text() == GOOD


# --- .mmfix and its contents are never followed ---------------------------------------------


@pytest.mark.parametrize("which", [".mmfix", ".mmfix/journal.json", ".mmfix/lock", ".mmfix/backups"])
def test_symlinked_state_is_refused(tmp_path: Path, which: str) -> None:
    root = tmp_path / "tree"
    f = tree(root, ORIG)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    target = victim if which.endswith(("json", "lock")) else elsewhere
    (root / ".mmfix").mkdir(exist_ok=which != ".mmfix")
    if which == ".mmfix":
        (root / ".mmfix").rmdir()
    (root / which).symlink_to(target)
    for run in (lambda: engine.apply(root, [engine.Request(demo_patch())]), lambda: engine.revert(Journal(root))):
        with pytest.raises(RefusedError, match="is a symlink"):
            run()
    assert f.read_text() == ORIG and victim.read_text() == "precious\n" and list(elsewhere.iterdir()) == []


# --- a symlinked header stays a symlink -----------------------------------------------------


def test_symlinked_header_inside_the_tree_is_patched_through_and_restored_as_a_link(tmp_path: Path) -> None:
    real = tree(tmp_path, ORIG)
    real.rename(real.with_name("real.h"))
    link = tmp_path / REL
    link.symlink_to("real.h")
    [c] = engine.apply(tmp_path, [engine.Request(demo_patch())])
    assert c.state == engine.APPLIED
    assert link.is_symlink() and os.readlink(link) == "real.h" and (tmp_path / "include/real.h").read_text() == GOOD
    [entry] = Journal(tmp_path).entries()
    assert entry["link"] == "real.h" and entry["link_target"] == "include/real.h"
    engine.revert(Journal(tmp_path))
    assert link.is_symlink() and (tmp_path / "include/real.h").read_text() == ORIG


def test_a_link_replaced_by_a_file_comes_back_as_a_link(tmp_path: Path) -> None:
    real = tree(tmp_path, ORIG)
    real.rename(real.with_name("real.h"))
    link = tmp_path / REL
    link.symlink_to("real.h")
    engine.apply(tmp_path, [engine.Request(demo_patch())])
    link.unlink()
    link.write_text(GOOD)  # e.g. a copy tool that dereferenced it
    with pytest.raises(RefusedError, match="no longer a symlink"):
        engine.revert(Journal(tmp_path))
    engine.revert(Journal(tmp_path), force=True)
    assert link.is_symlink() and os.readlink(link) == "real.h" and link.read_text() == ORIG


def test_symlinked_header_pointing_outside_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.h"
    outside.write_text(ORIG)
    root = tmp_path / "tree"
    (root / "include").mkdir(parents=True)
    (root / REL).symlink_to(outside)
    with pytest.raises(RefusedError) as err:
        engine.apply(root, [engine.Request(demo_patch())])
    assert "outside the tree" in err.value.one_line()
    assert outside.read_text() == ORIG and (root / REL).is_symlink()


# --- stale temp files -----------------------------------------------------------------------


def test_stale_temp_files_are_swept_at_the_start_of_every_run(tmp_path: Path) -> None:
    f = tree(tmp_path, ORIG)
    stale = [f.parent / ".demo.h.k2j3x.mmfix-tmp", tmp_path / ".mmfix" / ".journal.json.a1.mmfix-tmp",
             tmp_path / ".mmfix" / "backups" / ".x.q9.mmfix-tmp"]
    (tmp_path / ".mmfix" / "backups").mkdir(parents=True)
    keep = f.parent / "notes.mmfix-tmp"  # not one of atomic_write's names
    for p in [*stale, keep]:
        p.write_text("half")
    engine.apply(tmp_path, [engine.Request(demo_patch())])
    assert [p for p in stale if p.exists()] == [] and keep.exists()
    stale[0].write_text("half")
    engine.revert(Journal(tmp_path))
    assert not stale[0].exists() and f.read_text() == ORIG


def test_sweep_skips_symlinked_folders(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / ".x.h.1.mmfix-tmp").write_text("not ours")
    (tmp_path / "link").symlink_to(other)
    assert safefs.sweep_tmp([tmp_path / "link"]) == []
    assert (other / ".x.h.1.mmfix-tmp").exists()


# --- who wrote it ---------------------------------------------------------------------------


def test_written_here_only_for_journals_mmfix_wrote_for_this_user(tmp_path: Path) -> None:
    tree(tmp_path, ORIG)
    engine.apply(tmp_path, [engine.Request(demo_patch())])
    j = Journal(tmp_path)
    assert j.written_here()
    doc = json.loads(j.file.read_text())
    assert set(doc["writer"]) == {"user", "host"}
    j.file.write_text(j.file.read_text() + " ")  # any change by anything but mmfix
    assert not j.written_here()
    planted = tmp_path / "copy"
    tree(planted, GOOD)
    plant(planted, doc)
    assert not Journal(planted).written_here()
