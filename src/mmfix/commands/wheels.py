"""``mmfix wheels``: find (and with ``--install`` install) the prebuilt mmcv wheel for the target.

Exit codes: 0 a wheel fits (and, with ``--install``, was installed and verified); 1 none fits, or
the index could not be read, or the install failed; 2 bad options.
"""

from __future__ import annotations

import json
from typing import Any

from mmfix import render
from mmfix.errors import EXIT_OK, EXIT_PROBLEMS
from mmfix.model import Environment, to_jsonable
from mmfix.wheels import WheelInstall, WheelLink, WheelSearch, find_wheel, install_from_index

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
    """Find the wheel for ``env``, print the result (text or ``mmfix.wheels/1`` JSON), optionally
    install it. Returns the exit code."""
    search = find_wheel(env, index_url=index_url, mmcv_version=mmcv_version, session=session)
    installed: WheelInstall | None = None
    if install and search.chosen is not None:
        render.info(f"downloading {search.chosen.url}")
        installed = install_from_index(search.chosen, env, yes=yes, session=session)
    if as_json:
        render.emit_json(SCHEMA, to_payload(search, installed))
    else:
        print_search(search, installed, verbose=render.options().verbose)
    if search.chosen is None or (installed is not None and not installed.ok):
        return EXIT_PROBLEMS
    return EXIT_OK


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
        "installed": None
        if installed is None
        else {
            "path": str(installed.wheel),
            "sha256": installed.sha256,
            "ok": installed.ok,
            "install": _result_json(installed.install),
            "verify": _result_json(installed.verify),
        },
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


def print_search(search: WheelSearch, installed: WheelInstall | None, verbose: int = 0) -> None:
    """Human output: the page read, the wheel (or why none), alternatives, notes; with ``verbose``
    every rejected link and its reason."""
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
    if installed is not None:
        if getattr(installed.install, "installed", True) is False:
            state = "not installed (nothing changed)"
        else:
            state = "installed and verified" if installed.ok else "install or verification FAILED"
        con.print(f"{state}: {installed.wheel}", markup=False)
        error = getattr(installed.verify, "error", None)
        if error:
            con.print(f"  verify: {error}", markup=False)
        for note in getattr(installed.verify, "notes", ()) or ():
            con.print(f"  verify: {note}", markup=False)
    elif search.chosen:
        con.print("install it: mmfix wheels --install", markup=False)
