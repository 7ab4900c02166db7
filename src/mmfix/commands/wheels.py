"""``mmfix wheels``: find (and with ``--install`` install) the prebuilt mmcv wheel for the target:
the wheelhouses first (a wheel whose build record fits), then OpenMMLab's index. ``--list`` lists the
wheelhouses, ``--prune`` drops wheels for a torch no named env has.

Exit codes: 0 a wheel fits (and, with ``--install``, was installed and verified); 1 none fits, or
the index could not be read, or the install failed; 2 bad options; 3 a wheelhouse wheel or record
that does not match its page (changed after it was written).
"""

from __future__ import annotations

import json
from typing import Any

from mmfix import render
from mmfix.commands import wheelhouse as wheelhouse_text
from mmfix.errors import EXIT_OK, EXIT_PROBLEMS
from mmfix.model import Environment, to_jsonable
from mmfix.wheels import WheelInstall, WheelLink, WheelSearch, find_wheel, install_checked, install_from_index
from mmfix.wheels.lookup import HouseSearch

SCHEMA = "mmfix.wheels/1"


def run(
    python: str | None,
    index_url: str | None,
    mmcv_version: str | None,
    install: bool,
    yes: bool,
    as_json: bool,
) -> int:
    """Probe ``python`` (the target interpreter), then ``run_env``."""
    from mmfix.probe import probe  # type: ignore[attr-defined]  # the integrator's probe

    env = probe(python)
    return run_env(
        env,
        index_url=index_url,
        mmcv_version=mmcv_version,
        install=install,
        yes=yes,
        as_json=as_json,
    )


def run_env(
    env: Environment,
    *,
    index_url: str | None = None,
    mmcv_version: str | None = None,
    install: bool = False,
    yes: bool = False,
    as_json: bool = False,
    session: Any = None,
) -> int:
    """Find the wheel for ``env`` (the wheelhouses first, then the index), print the result (text or
    ``mmfix.wheels/1`` JSON), optionally install it. Returns the exit code."""
    houses = _search_houses(env, mmcv_version, session)
    if houses is not None and houses.chosen is not None:
        return _from_wheelhouse(env, houses, install=install, yes=yes, as_json=as_json, session=session)
    if houses is not None and not as_json:
        _print_lines(wheelhouse_text.search_lines(houses, render.options().verbose))
    search = find_wheel(env, index_url=index_url, mmcv_version=mmcv_version, session=session)
    installed: WheelInstall | None = None
    if install and search.chosen is not None:
        render.info(f"downloading {search.chosen.url}")
        installed = install_from_index(search.chosen, env, yes=yes, session=session)
    if as_json:
        render.emit_json(SCHEMA, {**to_payload(search, installed), "wheelhouse": _house_json(houses)})
    else:
        print_search(search, installed, verbose=render.options().verbose, python=env.target.executable)
    if search.chosen is None or (installed is not None and not installed.ok):
        return EXIT_PROBLEMS
    return EXIT_OK


def _print_lines(lines: list[str]) -> None:
    con = render.console()
    for ln in lines:
        con.print(ln, markup=False)


def _search_houses(env: Environment, mmcv_version: str | None, session: Any) -> HouseSearch | None:
    """The wheelhouse search for ``env`` (CUDA ops for the visible GPUs or the default list, as
    ``mmfix rebuild`` would build); None with ``--no-wheelhouse``."""
    from mmfix.wheels import house
    from mmfix.wheels.lookup import find_in_wheelhouses
    from mmfix.wheels.match import need_for

    if not house.locations():
        return None
    return find_in_wheelhouses(env, need_for(env), mmcv_version, session=session)


def _house_json(houses: HouseSearch | None) -> dict[str, Any] | None:
    if houses is None:
        return None
    chosen = houses.chosen
    return {
        "pages": to_jsonable(houses.pages),
        "need": to_jsonable(houses.need),
        "chosen": None if chosen is None else {"house": chosen.house, "url": chosen.link.url,
                                               "sha256": chosen.link.sha256, "record": to_jsonable(chosen.record)},
        "passed_over": to_jsonable(houses.passed_over),
    }


def _from_wheelhouse(env: Environment, houses: HouseSearch, *, install: bool, yes: bool, as_json: bool,
                     session: Any) -> int:
    """A wheelhouse wheel fits: print it (the index is not read) and, with ``install``, install it
    after checking its bytes and record."""
    from mmfix.wheels.lookup import fetch_checked

    chosen = houses.chosen
    assert chosen is not None
    installed: WheelInstall | None = None
    if install:
        path = fetch_checked(chosen, session)
        installed = install_checked(path, chosen.link.sha256 or "", env, yes=yes)
    if as_json:
        render.emit_json(SCHEMA, {
            "index_url": chosen.link.page, "wheel": {**_wheel_dict(chosen.link), "source": "wheelhouse"},
            "alternatives": [], "index_urls": [], "pages": [], "target": to_jsonable(houses.target),
            "rejected": to_jsonable(houses.passed_over), "notes": [], "wheelhouse": _house_json(houses),
            "installed": _installed_json(installed),
        })
    else:
        _print_lines(wheelhouse_text.search_lines(houses, render.options().verbose))
        _print_installed(installed, chosen.link.filename, env.target.executable)
    return EXIT_PROBLEMS if installed is not None and not installed.ok else EXIT_OK


def _installed_json(installed: WheelInstall | None) -> dict[str, Any] | None:
    if installed is None:
        return None
    return {"path": str(installed.wheel), "sha256": installed.sha256, "ok": installed.ok,
            "install": _result_json(installed.install), "verify": _result_json(installed.verify)}


def _wheel_dict(link: WheelLink, sha256: str | None = None) -> dict[str, Any]:
    return {
        "filename": link.filename,
        "url": link.url,
        "sha256": sha256 or link.sha256,
        "project": link.project,
        "version": link.version,
        "tags": list(link.tags),
    }


def to_payload(search: WheelSearch, installed: WheelInstall | None = None) -> dict[str, Any]:
    """The ``mmfix.wheels/1`` document (without ``schema``): ``index_url``, ``wheel`` or None,
    ``alternatives``, plus ``index_urls``, ``target``, ``rejected``, ``notes``, ``installed``."""
    return {
        "index_url": search.index_url,
        "wheel": _wheel_dict(search.chosen, installed.sha256 if installed else None)
        if search.chosen
        else None,
        "alternatives": [
            {
                "index_url": a.index_url,
                "cuda_tag": a.cuda_tag,
                "torch": a.torch,
                "note": a.note,
                **_wheel_dict(a.wheel),
            }
            for a in search.alternatives
        ],
        "index_urls": list(search.index_urls),
        "pages": to_jsonable(search.pages),
        "target": to_jsonable(search.target),
        "rejected": to_jsonable(search.rejected),
        "notes": list(search.notes),
        "installed": _installed_json(installed),
    }


def _result_json(result: Any) -> Any:
    """What the rebuild helpers returned, as JSON (dataclass, mapping, attributes, or text)."""
    value = to_jsonable(result)
    try:
        json.dumps(value)
        return value
    except TypeError:
        if hasattr(result, "__dict__"):
            return _result_json(dict(vars(result)))
        return str(result)


def print_search(search: WheelSearch, installed: WheelInstall | None, verbose: int = 0,
                 python: str | None = None) -> None:
    """Human output: the page read, the wheel (or why none), alternatives, notes; with ``verbose``
    every rejected link and its reason. ``python``: the target, named in the install hint."""
    con = render.console()
    t = search.target
    con.print(f"target: torch {t.torch} ({t.cuda_tag}), {t.describe()}", markup=False)
    if t.allowed_by:
        con.print("mmcv allowed by: " + "; ".join(t.allowed_by), markup=False)
    for page in search.pages:
        state = f"{page.links} links" if page.status == "ok" else f"{page.status} {page.detail}"
        con.print(f"index: {page.url} ({state})", markup=False)
    if search.chosen:
        w = search.chosen
        con.print("[green]✓[/green] wheel: ", end="")
        con.print(w.filename, markup=False)
        con.print(f"  url: {w.url}", markup=False)
        sha = installed.sha256 if installed else w.sha256
        con.print(
            f"  sha256: {sha or 'not given by the index (checked by two downloads)'}", markup=False
        )
    else:
        con.print("[red]✗[/red] no wheel on the index fits this environment")
    if verbose:
        for r in search.rejected:
            con.print(f"  - {r.filename}: {r.reason}", markup=False)
    elif not search.chosen:
        # without -v: the reasons that are not "built for another Python/platform", then a count
        other_tags = [r for r in search.rejected if r.reason.startswith("its tags")]
        for r in [r for r in search.rejected if r not in other_tags][:10]:
            con.print(f"  - {r.filename}: {r.reason}", markup=False)
        if other_tags:
            con.print(
                f"  - {len(other_tags)} wheels for other Pythons or platforms than "
                f"{t.describe()} (-v lists them)",
                markup=False,
            )
    if search.alternatives:
        con.print("alternatives:")
        for a in search.alternatives:
            con.print(
                f"  {a.wheel.filename} [{a.cuda_tag}, torch {a.torch}]: {a.note}", markup=False
            )
            if verbose:
                con.print(f"    {a.wheel.url}", markup=False)
    for note in search.notes:
        con.print(f"note: {note}", markup=False)
    if installed is not None or search.chosen:
        _print_installed(installed, search.chosen.filename if search.chosen else "", python)


def _print_installed(installed: WheelInstall | None, filename: str, python: str | None) -> None:
    con = render.console()
    if installed is None:
        con.print("install it: mmfix wheels --install" + (f" --python {python}" if python else ""), markup=False)
        return
    if installed.declined:
        state = "not installed (nothing changed)"
    else:
        state = "installed and verified" if installed.ok else "install or verification FAILED"
    con.print(f"{state}: {installed.wheel}", markup=False)
    error = getattr(installed.verify, "error", None)
    if error:
        con.print(f"  verify: {error}", markup=False)
    for note in getattr(installed.verify, "notes", ()) or ():
        con.print(f"  verify: {note}", markup=False)


# --- listing and pruning the wheelhouses ----------------------------------------------------

LIST_SCHEMA = "mmfix.wheels-list/1"


def _listing(location: str) -> dict[str, Any]:
    """One wheelhouse: every wheel on its pages with its checked record (or the problem with it)."""
    from mmfix.errors import MmfixError
    from mmfix.wheels.house import list_combos, read_combo, read_entry

    out: dict[str, Any] = {"location": location, "error": None, "wheels": []}
    try:
        combos = list_combos(location)
    except MmfixError as exc:
        out["error"] = exc.one_line()
        return out
    for combo in combos:
        url, _status, entries = read_combo(location, combo)
        for e in entries:
            row: dict[str, Any] = {"combo": combo, "filename": e.filename, "sha256": e.sha256, "record": None,
                                   "problem": None}
            try:
                row["record"] = to_jsonable(read_entry(location, url, e).record)
            except MmfixError as exc:
                row["problem"] = exc.one_line()
            out["wheels"].append(row)
    return out


def _summary(row: dict[str, Any]) -> str:
    rec = row["record"]
    if rec is None:
        return f"  {row['combo']}  {row['filename']}  REFUSED: {row['problem']}"
    build = rec["build"]
    kernels = "CPU ops" if build["ops"] == "cpu" else (
        f"SASS {' '.join(build['sass']) or 'none'} PTX {' '.join(build['ptx']) or 'none'}")
    size = rec["wheel"]["size"] / 1e6
    return (f"  {row['combo']}  {row['filename']}  {kernels}  {size:.1f} MB  built {build['built_at']}"
            f" ({build['seconds'] or '?'} s) by mmfix {build['mmfix_version']}")


def run_list(as_json: bool = False) -> int:
    """``mmfix wheels --list``: every wheel of this run's wheelhouses with its record. Exit 0; 1 when a
    wheelhouse cannot be read; 3 when an entry's record does not match its page."""
    from mmfix.errors import EXIT_REFUSED
    from mmfix.wheels import house

    houses = [_listing(loc) for loc in house.locations()]
    if as_json:
        render.emit_json(LIST_SCHEMA, {"wheelhouses": houses})
    else:
        lines = []
        for h in houses:
            state = h["error"] or f"{len(h['wheels'])} wheel{'s' if len(h['wheels']) != 1 else ''}"
            lines.append(f"wheelhouse: {h['location']} ({state})")
            lines += [_summary(row) for row in h["wheels"]]
        _print_lines(lines or ["no wheelhouse (--no-wheelhouse)"])
    if any(row["problem"] for h in houses for row in h["wheels"]):
        return EXIT_REFUSED
    return EXIT_PROBLEMS if any(h["error"] for h in houses) else EXIT_OK


def run_prune(pythons: list[str], yes: bool, as_json: bool = False) -> int:
    """``mmfix wheels --prune [--python P]...``: drop from the local wheelhouses every torch
    combination that none of the named envs (default: the active one) has, and folders left by an
    interrupted store. Asks first unless ``yes``. Exit 0."""
    from mmfix.probe import probe  # type: ignore[attr-defined]
    from mmfix.wheels import house
    from mmfix.wheels.match import need_for

    targets: list[str | None] = list(pythons) or [None]
    envs = [probe(p) for p in targets]
    keep = {need_for(env).combo for env in envs if env.torch is not None}
    folders = [f for f in (house.folder_of(loc) for loc in house.locations()) if f is not None and f.is_dir()]
    doomed = [(f, c) for f in folders for c in house.list_combos(str(f)) if c not in keep]
    for f, c in doomed:
        render.info(f"drop {f / c} (no env named has torch {c.split('/torch')[1]} ({c.split('/')[0]}))")
    removed: dict[str, list[str]] = {}
    if doomed and not yes:
        from mmfix.builder.install import _confirm

        if not _confirm(f"Drop {len(doomed)} torch combination(s) from the wheelhouse?"):
            doomed = []
    for f in sorted({f for f, _ in doomed} | set(folders)):
        removed[str(f)] = house.prune(f, keep) if doomed else []
    if as_json:
        render.emit_json("mmfix.wheels-prune/1", {"keep": sorted(keep), "removed": removed})
    else:
        _print_lines([f"pruned {f}: {', '.join(r) or 'nothing'}" for f, r in removed.items()] or ["nothing to prune"])
    return EXIT_OK
