"""The one engine for every change mmfix makes to a file (DESIGN.md, "apply").

``apply`` takes a target root and a list of ``Request``s (a patch, and its parameter value when it
has one) and, for each file:

1. reads it and hashes it with line endings normalised (``textdiff.sha256_text``);
2. recognises the content: the released original of a variant, its patched result (``already``),
   the result for another parameter value, a known hand edit (``repaired``), or a released file
   the patch does not concern (``skipped-not-needed``). Anything else is refused (exit 3) with the
   lines that differ from what the patch expects; nothing is written then, for any file;
3. computes the new content in memory (exact diff, then the sha256 must equal the recorded one);
4. unless ``dry_run``: under the root's file lock, backs the old bytes up, records the change in
   the journal, writes the new bytes via a temp file + ``os.replace``, keeping the file's own line
   endings (CRLF stays CRLF) and mode.

``revert`` restores byte-identical originals from the journal.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmfix.errors import MmfixError, RefusedError
from mmfix.patching import safefs, textdiff
from mmfix.patching.catalog import Patch, Variant
from mmfix.patching.journal import Journal, atomic_write

APPLIED = "applied"
REPAIRED = "repaired"  # a known hand edit turned into the correct patched form
ALREADY = "already"
NOT_NEEDED = "skipped-not-needed"
CHANGING = (APPLIED, REPAIRED)


@dataclass(frozen=True)
class Request:
    """Apply ``patch`` (with ``value`` for its parameter, e.g. THREADS_PER_BLOCK "256")."""

    patch: Patch
    value: str | None = None


@dataclass(frozen=True)
class AppliedChange:
    """What the engine did (or, with ``dry_run``, would do) to one file for one patch.

    ``state``: ``applied``, ``repaired`` (a known hand edit fixed), ``already`` (the file was
    already patched this way) or ``skipped-not-needed``. ``diff``: unified diff of the change
    (empty when nothing changes). Hashes are sha256 of the normalised text before/after.
    """

    patch_id: str
    path: str
    state: str
    diff: str = ""
    before_sha256: str | None = None
    after_sha256: str | None = None
    note: str = ""
    value: str | None = None
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return self.state in CHANGING


@dataclass(frozen=True)
class RevertedChange:
    """One journal entry undone (or, with ``dry_run``, to be undone)."""

    patch_id: str
    path: str
    state: str  # "restored", "already-original", "forced"
    entry: str
    dry_run: bool = False


# --- recognising content -------------------------------------------------------------------


def _expected_mismatch(text: str, variant: Variant, patch: Patch) -> list[str]:
    """The lines of ``text`` that differ from what ``variant``'s diff expects (context and removed
    lines at their recorded numbers): how a refused file is explained."""
    lines = text.splitlines()
    out: list[str] = []
    diff = variant.diff_for(patch.param, "N")
    for h in textdiff.parse_diff(diff):
        for i, want in enumerate(h.old_lines):
            n = h.old_start + i
            have = lines[n - 1] if n - 1 < len(lines) else "<end of file>"
            if have != want.rstrip("\n"):
                out.append(f"line {n}: expected {_short(want.rstrip())!r}, found {_short(have.rstrip())!r}")
    return out


def _short(line: str, limit: int = 80) -> str:
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _refuse(path: str, patch: Patch, text: str, sha: str) -> RefusedError:
    best: list[str] | None = None
    patched_lines_intact = False
    for v in patch.variants:
        try:
            mism = _expected_mismatch(text, v, patch)
        except textdiff.DiffError:
            continue
        if not mism:  # the lines this release's patch touches are intact: the change is elsewhere
            patched_lines_intact = True
        elif best is None or len(mism) < len(best):
            best = mism
    if patched_lines_intact:
        detail = ("the lines the patch changes are as released, but the file differs elsewhere from "
                  "every released version mmfix knows")
    else:
        detail = "; ".join((best or [])[:4]) or "the content is not a released file mmfix knows"
    return RefusedError(
        f"{path} is not a file mmfix knows (patch {patch.id}, sha256 {sha[:12]})",
        f"unknown content, not changed: {detail}",
        "reinstall the package to restore the released file, or edit it by hand",
    )


def _b(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def transform(text: str, req: Request, path: str) -> tuple[str, str, str, str]:
    """The change ``req`` makes to LF ``text``: (state, new text, note, value).

    Raises RefusedError for content that is not a known state of the file.
    """
    patch = req.patch
    value = "" if patch.param is None else str(req.value)
    if patch.param is not None and value not in patch.values:
        raise MmfixError(f"patch {patch.id} has no value {value!r}", None, None)
    sha = textdiff.sha256_text(_b(text))
    v = patch.variant_by_original(sha, value)
    if v is not None and v.not_needed:
        return NOT_NEEDED, text, "this release does not need it", value
    patched = patch.patched_hashes()
    if sha in patched and patched[sha][1] == value:
        return ALREADY, text, "already patched", value

    original: str | None = None
    variant: Variant | None = None
    note = ""
    state = APPLIED
    edit = next((e for e in patch.hand_edits if e.sha256 == sha), None)
    try:
        if v is not None:
            original, variant = text, v
        elif sha in patched:  # patched earlier with another parameter value: undo, then redo
            variant, old_value = patched[sha]
            diff = variant.diff_for(patch.param, old_value)
            original = textdiff.apply_diff(text, diff, reverse=True)
            note = f"was {patch.param} {old_value}"
        elif edit is not None:
            variant = patch.variants[edit.variant]
            original = textdiff.apply_diff(text, edit.diff, reverse=True)
            note, state = f"known hand edit: {edit.label}", REPAIRED
    except textdiff.DiffError:
        raise _refuse(path, patch, text, sha) from None
    if original is None or variant is None:
        raise _refuse(path, patch, text, sha)
    if textdiff.sha256_text(_b(original)) != variant.original:
        raise _refuse(path, patch, text, sha)
    # the variant for the value asked for (per-value variants: cxx-standard 17 / 20)
    variant = patch.variant_by_original(variant.original, value) or variant
    if variant.not_needed:
        return state, original, note, value
    new = textdiff.apply_diff(original, variant.diff_for(patch.param, value))
    if textdiff.sha256_text(_b(new)) != variant.patched.get(value):
        raise MmfixError(
            f"patch {patch.id} produced unexpected content for {path}",
            "the shipped patch data is inconsistent",
            "report this to mmfix; nothing was changed",
        )
    if new == text:  # the released file already has this value (THREADS_PER_BLOCK 512)
        return ALREADY, text, f"already {patch.param} {value}" if patch.param else "already patched", value
    return state, new, note, value


# --- applying ------------------------------------------------------------------------------


@dataclass
class _FilePlan:
    rel: str
    path: Path  # the file written: ``rel`` itself, or the file inside the tree it links to
    raw: bytes
    eol: bytes
    steps: list[tuple[AppliedChange, bytes, bytes]]  # change, bytes before, bytes after
    link: tuple[str, str] | None = None  # (symlink text, target relative to the root)


def _chain(rel: str, raw: bytes, reqs: list[Request], dry_run: bool) -> _FilePlan:
    eol = textdiff.line_ending(raw)
    text = textdiff.normalise(raw).decode("utf-8", errors="surrogateescape")
    plan = _FilePlan(rel, Path(rel), raw, eol, [])
    cur_bytes = raw
    for r in sorted(reqs, key=lambda r: r.patch.order):
        state, new, note, value = transform(text, r, rel)
        new_bytes = textdiff.with_line_ending(new.encode("utf-8", "surrogateescape"), eol)
        change = AppliedChange(
            patch_id=r.patch.id,
            path=rel,
            state=state,
            diff=textdiff.make_diff(text, new, rel) if new != text else "",
            before_sha256=textdiff.sha256_text(cur_bytes),
            after_sha256=textdiff.sha256_text(new_bytes),
            note=note,
            value=value or None,
            dry_run=dry_run,
        )
        plan.steps.append((change, cur_bytes, new_bytes))
        text, cur_bytes = new, new_bytes
    return plan


def _recorded_original(journal: Journal | None, rel: str, raw: bytes) -> bytes | None:
    """The bytes before mmfix's recorded chain of changes to ``rel``, when ``raw`` is what the
    latest of them wrote (so a rerun of a multi-patch chain is recognised as already done)."""
    if journal is None or not journal.exists():
        return None
    entries = [e for e in journal.entries() if e["kind"] == "file" and e["path"] == rel]
    if not entries or entries[-1]["after_bytes_sha256"] != textdiff.sha256_bytes(raw):
        return None
    i = len(entries) - 1
    while i > 0 and entries[i - 1]["after_bytes_sha256"] == entries[i]["before_bytes_sha256"]:
        i -= 1
    return journal.read_backup(entries[i])


def _unsafe(root: Path, rel: str, why: str, patch_id: str) -> RefusedError:
    return RefusedError(
        f"not patching {rel} under {root} (patch {patch_id})",
        f"{why}; mmfix changes files only inside the tree it was given",
        "replace the link by the file it points to, or patch that tree instead",
    )


def _locate(root: Path, rel: str, patch_id: str) -> tuple[Path, tuple[str, str] | None]:
    """The file to read and write for ``rel``: itself, or (a symlink) the file it points to when
    that lies inside ``root``. Raises RefusedError for a symlinked folder on the way or a link
    that leaves the tree."""
    try:
        path = safefs.tree_path(root, rel)
        if not safefs.is_link(path):
            return path, None
        target = safefs.link_target(root, path)
        return safefs.tree_path(root, target), (os.readlink(path), target)
    except safefs.UnsafePath as exc:
        raise _unsafe(root, rel, str(exc), patch_id) from None


def _plan(
    root: Path, requests: Sequence[Request], dry_run: bool, journal: Journal | None = None
) -> list[_FilePlan]:
    by_file: dict[str, list[Request]] = {}
    for r in requests:
        by_file.setdefault(r.patch.path, []).append(r)
    plans = []
    for rel, reqs in by_file.items():
        path, link = _locate(root, rel, reqs[0].patch.id)
        try:
            raw = safefs.read_regular(path)
        except safefs.UnsafePath as exc:
            raise _unsafe(root, rel, str(exc), reqs[0].patch.id) from None
        except OSError as exc:
            raise RefusedError(
                f"cannot read {path} (patch {reqs[0].patch.id})",
                exc.strerror or str(exc),
                "check that the folder is the right torch package / mmcv source tree",
            ) from exc
        try:
            plan = _chain(rel, raw, reqs, dry_run)
        except RefusedError:
            base = _recorded_original(journal or Journal(root), rel, raw)
            if base is None:
                raise
            again = _chain(rel, base, reqs, dry_run)
            plan = _FilePlan(rel, path, raw, again.eol, [])
            if again.steps[-1][2] == raw:  # the same chain again: nothing to do
                for change, _, _ in again.steps:
                    if change.changed:
                        change = dataclasses.replace(
                            change, state=ALREADY, diff="", note="already patched"
                        )
                    plan.steps.append((change, raw, raw))
            else:  # another chain: redo it from the released file; revert steps back through both
                steps = again.steps
                first, _, after = steps[0]
                note = "re-applied to the released file"
                steps[0] = (dataclasses.replace(first, note=first.note or note), raw, after)
                plan.steps = steps
        plan.path, plan.link = path, link
        plans.append(plan)
    return plans


def apply(
    root: Path,
    requests: Sequence[Request],
    dry_run: bool = False,
    journal: Journal | None = None,
) -> list[AppliedChange]:
    """Apply ``requests`` to files under ``root``; return one AppliedChange per request.

    All files are recognised before any is written; an unknown file raises RefusedError (exit 3)
    and nothing changes. ``journal`` defaults to ``Journal(root)`` (``root/.mmfix``).
    Raises MmfixError when a file cannot be written (it is then left as it was).
    """
    root = Path(root)
    if dry_run:
        return [c for p in _plan(root, requests, True, journal) for c, _, _ in p.steps]
    journal = journal or Journal(root)
    changes: list[AppliedChange] = []
    with journal.locked():
        journal.checked_entries()  # a journal that cannot be trusted is refused before any write
        journal.sweep(r.patch.path for r in requests)
        plans = _plan(root, requests, False, journal)  # re-read under the lock
        for plan in plans:
            changes.extend(c for c, _, _ in plan.steps)
            steps = [(c, b, a) for c, b, a in plan.steps if c.changed]
            if not steps:
                continue
            recorded: set[str] = set()
            try:
                for change, before, after in steps:
                    backup = journal.backup(before, plan.rel)
                    entry = journal.record(
                        "file",
                        path=plan.rel,
                        patch_id=change.patch_id,
                        value=change.value,
                        state=change.state,
                        before_sha256=change.before_sha256,
                        after_sha256=change.after_sha256,
                        before_bytes_sha256=textdiff.sha256_bytes(before),
                        after_bytes_sha256=textdiff.sha256_bytes(after),
                        backup=backup,
                        **({"link": plan.link[0], "link_target": plan.link[1]} if plan.link else {}),
                    )
                    recorded.add(entry["entry"])
                atomic_write(plan.path, steps[-1][2])
            except BaseException as exc:
                if recorded:
                    with contextlib.suppress(Exception):
                        journal.remove(recorded)
                if isinstance(exc, OSError):
                    raise MmfixError(
                        f"cannot write {plan.path}",
                        f"{exc.strerror or exc}; the file was left as it was",
                        "check permissions and free space, then run again",
                    ) from exc
                raise
    return changes


# --- reverting -----------------------------------------------------------------------------


def _now(journal: Journal, e: dict[str, Any]) -> tuple[bytes | None, str | None]:
    """The bytes now at ``e``'s file (through its recorded symlink, when it was one) and, when
    that is not a file mmfix could have left, why: "missing", "no longer a symlink" ..."""
    path = journal.target(e)
    if e.get("link") is not None:
        if not safefs.is_link(path):
            return None, "the file is missing" if not os.path.lexists(path) else "it is no longer a symlink"
        if os.readlink(path) != e["link"]:
            return None, f"the symlink points to {os.readlink(path)} now, not {e['link']}"
        path = journal.target(e, "link_target")
    elif safefs.is_link(path):
        return None, f"it is a symlink now (to {os.readlink(path)})"
    try:
        return safefs.read_regular(path), None
    except FileNotFoundError:
        return None, "the file is missing"
    except safefs.UnsafePath as exc:
        return None, str(exc)
    except OSError as exc:
        raise journal.refuse(f"{path} cannot be read ({exc.strerror or exc})", journal.label(e)) from None


def _restore(journal: Journal, e: dict[str, Any], data: bytes) -> None:
    """Write the recorded original back: into the file a recorded symlink points to (the link is
    kept, or made again when it was replaced), else into the file itself."""
    linked = e.get("link") is not None
    dest = journal.target(e, "link_target") if linked else journal.target(e)
    try:
        atomic_write(dest, data)
        path = journal.target(e)
        if linked and not (safefs.is_link(path) and os.readlink(path) == e["link"]):
            tmp = path.with_name(f".{path.name}.link{safefs.TMP_SUFFIX}")
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            os.symlink(e["link"], tmp)
            os.replace(tmp, path)
    except OSError as exc:
        raise MmfixError(
            f"cannot write {dest}", f"{exc.strerror or exc}; it was left as it was",
            "check permissions and free space, then run mmfix revert again",
        ) from exc


def revert(
    journal: Journal,
    patch_ids: Sequence[str] = (),
    force: bool = False,
    dry_run: bool = False,
) -> list[RevertedChange]:
    """Restore the bytes recorded before each change (newest first), for ``patch_ids`` or all.

    The journal is checked first (schema, every path inside the tree, no symlink on the way,
    each backup present and holding the recorded bytes): RefusedError (exit 3) naming the journal
    and the entry otherwise. A file whose bytes are neither what mmfix wrote nor the original, or
    that is missing, is refused (RefusedError, nothing restored) unless ``force``, which writes
    the original back anyway. A file that was a symlink is restored through it, as a symlink.
    Returns [] when nothing is recorded.
    """
    journal.check_no_links()
    if not journal.exists():
        return []

    def run() -> list[RevertedChange]:
        entries = [e for e in journal.checked_entries() if e["kind"] == "file"]
        wanted = [e for e in entries if not patch_ids or e["patch_id"] in patch_ids]
        # Simulate newest first so chained changes of one file revert in order.
        current: dict[str, tuple[bytes | None, str | None]] = {}
        todo: list[tuple[dict[str, Any], str, bytes]] = []
        refused: list[str] = []
        for e in reversed(wanted):
            rel = e["path"]
            if rel not in current:
                current[rel] = _now(journal, e)
            have, problem = current[rel]
            backup = journal.read_backup(e)
            have_sha = textdiff.sha256_bytes(have) if have is not None else None
            if problem is None and have_sha == e["after_bytes_sha256"]:
                state = "restored"
            elif problem is None and have_sha == e["before_bytes_sha256"]:
                state = "already-original"
            elif force:
                state = "forced"
            else:
                later = [
                    x["patch_id"]
                    for x in entries[entries.index(e) + 1 :]
                    if x["path"] == rel and x not in wanted
                ]
                why = problem or (f"patch {', '.join(later)} was applied after it" if later else "edited since")
                refused.append(f"{rel} ({e['patch_id']}: {why})")
                continue
            todo.append((e, state, backup))
            current[rel] = (backup, None)
        if refused:
            raise RefusedError(
                f"not reverting: {'; '.join(refused)}",
                "each file must be what mmfix wrote or the original",
                "revert the later patches too, or use --force to restore the recorded original",
            )
        done = []
        for e, state, backup in todo:
            if not dry_run and state != "already-original":
                _restore(journal, e, backup)
            done.append(RevertedChange(e["patch_id"], e["path"], state, e["entry"], dry_run))
        if not dry_run:
            journal.remove({e["entry"] for e, _, _ in todo})
        return done

    if dry_run:
        return run()
    with journal.locked():
        return run()
