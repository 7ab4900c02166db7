"""``mmfix patch-torch-headers``, ``mmfix patch-threads`` and ``mmfix revert``.

Each ``run_*`` function returns the exit code and renders its own result (text or JSON).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from mmfix import patching, render
from mmfix.errors import MmfixError, RefusedError, UsageError
from mmfix.patching import catalog
from mmfix.patching.engine import AppliedChange, RevertedChange
from mmfix.patching.journal import Journal

WINDOWS_ONLY = (
    "these headers fail only when nvcc compiles them with MSVC on Windows; "
    "gcc/clang on Linux and macOS accept them"
)


def _probe(python: str | None) -> Any:
    try:
        from mmfix.probe import probe  # type: ignore[attr-defined]
    except ImportError as exc:  # the probe is built in parallel
        raise MmfixError(
            "cannot read the target environment", str(exc), "pass --torch-dir / --source instead"
        ) from exc
    return probe(python)


def _torch_target(python: str | None, torch_dir: Path | None) -> tuple[Path, str]:
    """(torch package folder, target platform): from --torch-dir (this host) or the probe."""
    if torch_dir is not None:
        return Path(torch_dir), sys.platform
    env = _probe(python)
    if env.torch is None:
        raise UsageError(
            "torch is not installed in the target environment",
            f"the probe of {env.target.executable} found no torch",
            "install torch first, or pass --torch-dir",
        )
    return Path(env.torch.location), env.target.platform


LABELS = {
    "applied": ("patched", "would patch"),
    "repaired": ("repaired", "would repair"),
    "already": ("already patched", "already patched"),
    "skipped-not-needed": ("no change needed", "no change needed"),
}


def _print_changes(changes: list[AppliedChange]) -> None:
    con = render.console()
    for c in changes:
        done, would = LABELS.get(c.state, (c.state, c.state))
        label = would if c.dry_run else done
        note = f" ({c.note})" if c.note and c.note not in label else ""
        con.print(f"{c.patch_id}: {c.path}: {label}{note}", markup=False)
        if c.diff:
            con.print(c.diff.rstrip("\n"), markup=False, highlight=False)


def run_torch_headers(
    python: str | None, torch_dir: Path | None, dry_run: bool, force: bool, as_json: bool
) -> int:
    """Patch the family-D headers of the target torch (``mmfix.patching.patch_torch_headers``)."""
    root, platform = _torch_target(python, torch_dir)
    version = patching.torch_version_of(root)
    patches = patching.torch_header_patches(version)
    payload: dict[str, Any] = {
        "torch_dir": str(root),
        "torch_version": version,
        "platform": platform,
        "dry_run": dry_run,
        "changes": [],
    }
    if not patches:
        msg = f"torch {version}: nothing to patch (no known header problem for this release)"
        return _done(as_json, "patch-torch-headers", payload, msg, "nothing-to-patch")
    if platform != "win32" and not force:
        msg = f"torch {version} on {platform}: {WINDOWS_ONLY}; nothing changed (--force to patch)"
        return _done(as_json, "patch-torch-headers", payload, msg, "not-needed-here")
    _, changes = patching.patch_torch_headers(root, dry_run=dry_run)
    payload["changes"] = changes
    if as_json:
        render.emit_json("mmfix.patch-torch-headers/1", {**payload, "result": _result(changes)})
        return 0
    _print_changes(changes)
    if all(c.state == "skipped-not-needed" for c in changes):
        render.console().print(f"torch {version}: its headers need no change", markup=False)
    elif not any(c.changed for c in changes):
        render.console().print(f"torch {version}: already patched, nothing changed", markup=False)
    elif dry_run:
        render.console().print("dry run: nothing changed", markup=False)
    else:
        render.console().print(
            f"undo with: mmfix revert --torch-dir {root}", markup=False, highlight=False
        )
    return 0


def _result(changes: list[AppliedChange]) -> str:
    return "changed" if any(c.changed for c in changes) else "already-patched"


def _done(as_json: bool, cmd: str, payload: dict[str, Any], msg: str, result: str) -> int:
    if as_json:
        render.emit_json(f"mmfix.{cmd}/1", {**payload, "result": result, "message": msg})
    else:
        render.console().print(msg, markup=False)
    return 0


def run_threads(value: int, source: Path | None, dry_run: bool, as_json: bool) -> int:
    """Set THREADS_PER_BLOCK in an mmcv source tree (exit 2 for a bad value or folder)."""
    root = Path(source) if source is not None else Path(".")
    changes = patching.patch_threads(root, value, dry_run=dry_run)
    if as_json:
        render.emit_json(
            "mmfix.patch-threads/1",
            {"source": str(root), "value": value, "dry_run": dry_run, "changes": changes},
        )
        return 0
    _print_changes(changes)
    if not any(c.changed for c in changes):
        render.console().print(f"THREADS_PER_BLOCK is already {value}", markup=False)
    elif not dry_run:
        render.console().print(
            "rebuild mmcv from this tree for it to take effect; "
            f"undo with: mmfix revert --source {root}",
            markup=False,
        )
    return 0


Chosen = tuple[Path, str | None, str]  # tree, why it was chosen (None: named by the user), its flag


def _revert_roots(python: str | None, torch_dir: Path | None, source: Path | None) -> list[Chosen]:
    """The trees to revert: those named by --torch-dir/--source, else the current folder when it
    holds a journal, else the target's torch (then with why, for ``_confirm_implicit``)."""
    named: list[Chosen] = [(Path(p).resolve(), None, f) for p, f in ((torch_dir, "--torch-dir"), (source, "--source")) if p]
    if named:
        return named
    here = Path.cwd()
    if Journal(here).exists():
        return [(here, "the current folder holds an mmfix journal", "--source")]
    root, _ = _torch_target(python, None)
    return [(Path(root).resolve(), "the torch of the target environment", "--torch-dir")]


def _confirm_implicit(journal: Journal, why: str, flag: str) -> None:
    """Name the journal a ``revert`` without --torch-dir/--source is about to use; when mmfix did
    not write it for this user on this machine (``Journal.written_here``), ask on a terminal and
    refuse (exit 3) otherwise: a tree can arrive with a journal someone else wrote."""
    from mmfix.patching.journal import writer

    n = len([e for e in journal.entries() if e["kind"] == "file"])
    render.err_console().print(
        f"revert: {n} recorded change(s) under {journal.root} ({why}; journal {journal.file})",
        markup=False, highlight=False,
    )
    if journal.written_here():
        return
    origin = f"it says it was written by {journal.writer()}"
    question = (f"{journal.file} was not written by mmfix for {writer()['user']} on this "
                f"machine ({origin}). Revert the files it names under {journal.root}?")
    if sys.stdin is not None and sys.stdin.isatty():
        import typer

        if typer.confirm(question, default=False):
            return
        raise RefusedError("revert cancelled", None, "nothing was changed")
    raise RefusedError(
        f"not reverting {journal.root} without being told to",
        f"its journal {journal.file} was not written by mmfix for this user on this machine ({origin})",
        f"look at the journal, then name the tree: mmfix revert {flag} {journal.root}",
    )


def _revert_install(python: str | None, dry_run: bool) -> list[dict[str, Any]]:
    env = _probe(python)
    journal = patching.install_journal(env.target.prefix or env.target.executable)
    entries = (
        [e for e in journal.entries() if e.get("kind") == "install"]
        if journal.file.exists()
        else []
    )
    if not entries or dry_run:
        return entries
    try:
        from mmfix.builder.install import restore_previous  # type: ignore[import-not-found]
    except ImportError as exc:
        raise MmfixError(
            "restoring a replaced mmcv install is not available in this mmfix",
            str(exc),
            "reinstall the previous mmcv with pip",
        ) from exc
    with journal.locked():
        for e in reversed(entries):
            restore_previous(e)
            journal.remove({e["entry"]})
    return entries


def run_revert(
    patch_ids: list[str],
    python: str | None,
    torch_dir: Path | None,
    source: Path | None,
    install: bool,
    force: bool,
    dry_run: bool,
    as_json: bool,
) -> int:
    """Undo recorded changes byte for byte; exit 3 when a file changed since (unless --force)."""
    known = {p.id for p in catalog.load_all()}
    unknown = [i for i in patch_ids if i not in known]
    if unknown:
        raise UsageError(
            f"unknown patch id {', '.join(unknown)}", None, f"known ids: {', '.join(sorted(known))}"
        )
    results: list[RevertedChange] = []
    installs: list[dict[str, Any]] = []
    roots: list[Path] = []
    if install:
        installs = _revert_install(python, dry_run)
    if torch_dir is not None and source is not None:
        raise UsageError("--torch-dir and --source exclude each other", None, "revert one tree at a time")
    for flag, given in (("--torch-dir", torch_dir), ("--source", source)):
        if given is not None and not given.is_dir():
            raise UsageError(f"{flag} {given} is not a folder", None, f"pass the folder mmfix patched ({flag})")
    if not install or torch_dir is not None or source is not None:
        chosen = _revert_roots(python, torch_dir, source)
        roots = [root for root, _, _ in chosen]
        for root, why, flag in chosen:
            journal = Journal(root)
            if why is not None and journal.exists():
                _confirm_implicit(journal, why, flag)
            results += patching.revert(journal, patch_ids, force=force, dry_run=dry_run)
    if as_json:
        render.emit_json(
            "mmfix.revert/1",
            {
                "roots": [str(r) for r in roots],
                "dry_run": dry_run,
                "reverted": results,
                "installs": installs,
            },
        )
        return 0
    con = render.console()
    if not results and not installs:
        where = ", ".join(str(r) for r in roots) or "this environment"
        con.print(f"nothing recorded under {where}: nothing to revert", markup=False)
        return 0
    for r in results:
        verb = {"restored": "restored", "forced": "restored (--force)"}.get(r.state, r.state)
        if r.dry_run:
            verb = f"would be {verb}"
        con.print(f"{r.patch_id}: {r.path}: {verb}", markup=False)
    for e in installs:
        verb = "would restore" if dry_run else "restored"
        con.print(f"install: {verb} {e.get('saved', e.get('entry'))}", markup=False)
    return 0
