"""The wheelhouse steps of ``mmfix rebuild`` (and so of ``doctor --fix``) and their text.

- ``try_wheelhouse``: before the official index and before compiling, install a wheelhouse wheel
  whose record fits the target (or, with ``--wheel-only``, stop: it is there already);
- ``keep_build``: after a build was verified, put the wheel and its record into every wheelhouse
  folder of this run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmfix import render
from mmfix.errors import EXIT_OK, EXIT_PROBLEMS, MmfixError
from mmfix.model import Environment
from mmfix.wheels import house
from mmfix.wheels.lookup import HouseSearch, fetch_checked, find_in_wheelhouses
from mmfix.wheels.match import need_for, why_it_fits
from mmfix.wheels.records import VerifiedFacts, make_record


def search_lines(search: HouseSearch, verbose: int = 0) -> list[str]:
    """What a wheelhouse search found, as text: the pages read, the chosen wheel and why it fits,
    and (with ``verbose``) why each other wheel was passed over, else how many were."""
    lines = []
    for p in search.pages:
        state = {"ok": f"{p.wheels} wheel{'s' if p.wheels != 1 else ''}", "missing": "no page for this torch"}
        lines.append(f"wheelhouse: {p.url} ({state.get(p.status, p.detail)})")
    chosen = search.chosen
    if chosen:
        lines.append(f"✓ wheelhouse wheel: {chosen.link.filename} ({chosen.house})")
        lines.append(f"  fits: {why_it_fits(chosen.record, search.need)}")
    else:
        lines.append(f"✗ no wheelhouse wheel fits {search.need.describe()}")
    if verbose:
        lines += [f"  - passed over {r.filename}: {r.reason}" for r in search.passed_over]
    elif search.passed_over:
        n = len(search.passed_over)
        lines.append(f"  {n} other wheel{'s' if n != 1 else ''} passed over (-v says why)")
    return lines


def wanted_version(env: Environment, mmcv_version: str | None) -> str | None:
    """The mmcv version rebuild would build: ``--mmcv-version``, else the installed mmcv's (as
    ``builder.source.choose_version``), else None (any version the downstream ranges allow)."""
    if mmcv_version:
        return mmcv_version
    active = env.active_mmcv
    return active.version if active and active.name in ("mmcv", "mmcv-full") else None


def _write_log(log: Path, lines: list[str], pip_output: str) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    text = "# mmfix rebuild: mmcv from the wheelhouse; nothing was compiled\n"
    text += "".join(f"# {ln}\n" for ln in lines) + pip_output.rstrip("\n") + "\n"
    log.write_text(text, encoding="utf-8")


def try_wheelhouse(
    env: Environment,
    *,
    arch: str | None,
    cpu: bool,
    mmcv_version: str | None,
    yes: bool,
    dry_run: bool,
    wheel_only: bool,
    as_json: bool,
    log: Path | None,
    table: bool = True,
) -> int | None:
    """Look in this run's wheelhouses for a wheel whose record fits ``env`` (and ``--arch``/``--cpu``).
    None when none fits (the build goes on). Else: with ``wheel_only`` report that it is there; with
    ``dry_run`` say which would be installed; otherwise fetch it (hash and record checked), install
    it, verify it, and write a log of it (``log``, else rebuild's default path), and print the
    before/after table unless ``table`` is False. Returns the exit code.

    Raises RefusedError (exit 3) for a wheel or record that does not match what its page says.
    """
    from mmfix.commands import rebuild

    if not house.locations() or env.torch is None:  # no torch: the plan's blocker says so
        return None
    need = need_for(env, arch, cpu)
    search = find_in_wheelhouses(env, need, wanted_version(env, mmcv_version))
    lines = search_lines(search, render.options().verbose)
    for ln in lines:
        render.info(ln)
    entry = search.chosen
    if entry is None:
        return None
    payload: dict[str, Any] = {"wheelhouse": {"house": entry.house, "wheel": entry.link.url,
                                              "sha256": entry.link.sha256, "record": entry.record}}
    if wheel_only or dry_run:
        what = "already in the wheelhouse (--force-build builds anyway)" if wheel_only else "would install it"
        render.info(f"{entry.link.filename}: {what}")
        if as_json:
            render.emit_json(rebuild.SCHEMA, {**payload, "result": "in-wheelhouse" if wheel_only else "planned"})
        return EXIT_OK
    path = fetch_checked(entry)
    log = rebuild._log_path(log, entry.record.mmcv.version)
    render.info(f"installing {entry.link.filename} from the wheelhouse instead of building (log: {log})")
    from mmfix.wheels.install import install_checked

    done = install_checked(path, entry.link.sha256 or "", env, yes=yes)
    _write_log(log, lines, str(getattr(done.install, "pip_output", "")))
    if as_json:
        render.emit_json(rebuild.SCHEMA, {**payload, "log": str(log),
                                          "result": "wheelhouse-installed" if done.ok else "verify-failed",
                                          "verify": done.verify})
    elif done.verify is not None and table:
        rebuild._print_table(env, rebuild._probe(env.target.executable), done.verify)
    return EXIT_OK if done.ok else EXIT_PROBLEMS


def finish_wheel_only(env: Environment, plan: Any, tree: Any, applied: list[str], result: Any,
                      archs: list[str] | None, payload: dict[str, Any], as_json: bool) -> int:
    """``rebuild --wheel-only`` after a successful build: verify a scratch copy of the wheel
    (``builder.verify.verify_wheel``: nms, and SASS for every requested arch), keep it when that
    passed, print the outcome. Exit 0 when the wheel was kept, else 1. The target env's mmcv is
    never touched."""
    from mmfix.builder.verify import verify_wheel

    ver = verify_wheel(plan.python, result.wheel, archs, plan.toolkit_root)
    if not as_json:
        text = f"verified a scratch copy: nms {'ok' if ver.cpu_nms_ok else 'FAILED'}"
        if ver.gpu_nms_ok is not None:
            text += f", on the GPU {'ok' if ver.gpu_nms_ok else 'FAILED'}"
        if archs:
            text += f"; SASS {' '.join(ver.sass) or 'none'} / PTX {' '.join(ver.ptx) or 'none'}"
            text += f", missing SASS for {' '.join(ver.missing_archs)}" if ver.missing_archs else ""
        render.info(text + (f"; {ver.error}" if ver.error else "") + "; the target env's mmcv is unchanged")
    stored = keep_build(env, plan, tree, applied, result, ver, "on a scratch copy (--wheel-only)") if ver.ok else []
    payload.update(verify=ver, wheelhouse={"stored": stored})
    if as_json:
        from mmfix.commands import rebuild

        render.emit_json(rebuild.SCHEMA, {**payload, "result": "kept" if stored else "not-kept" if ver.ok else "verify-failed"})
    return EXIT_OK if stored else EXIT_PROBLEMS


def _nvcc_version(env: Environment, toolkit_root: str | None) -> str | None:
    for t in env.host.toolkits:
        if toolkit_root and t.root == toolkit_root:
            return t.version
    return env.host.nvcc.version if env.host.nvcc else None


def keep_build(env: Environment, plan: Any, tree: Any, applied: list[str], result: Any, ver: Any,
               how: str) -> list[str]:
    """Keep a verified build: its record (``records.make_record``: source ``tree``, ``applied``
    patches, ``plan``'s arch list, the ``_ext`` kernels, ``ver``ified how) and the wheel go into every
    local wheelhouse of this run. A wheelhouse that cannot be written is reported and skipped (the
    build itself succeeded). Returns the stored wheel paths."""
    folders = [f for f in (house.folder_of(loc) for loc in house.locations()) if f is not None]
    if not folders or result.wheel is None:
        return []
    verified = VerifiedFacts(how, bool(ver.cpu_nms_ok), ver.gpu_nms_ok,
                             tuple(g.compute_capability or "?" for g in env.host.gpus))
    tool = ver.cuobjdump if ver.cuobjdump and Path(ver.cuobjdump).is_file() else env.host.cuobjdump
    try:
        record = make_record(env, Path(result.wheel), origin=tree.origin, source_tree=Path(tree.path),
                             patches=tuple(applied), ops="cuda" if plan.cuda else "cpu",
                             arch_requested=plan.arch_list if plan.cuda else None,
                             nvcc=_nvcc_version(env, plan.toolkit_root) if plan.cuda else None,
                             verified=verified, build_seconds=result.seconds, cuobjdump=tool)
    except MmfixError as exc:
        render.info(f"not kept in the wheelhouse: {exc.one_line()}")
        return []
    stored = []
    for folder in folders:
        try:
            stored.append(str(house.store(folder, Path(result.wheel), record)))
        except (OSError, MmfixError) as exc:
            text = exc.one_line() if isinstance(exc, MmfixError) else f"{type(exc).__name__}: {exc}"
            render.info(f"could not keep the build in the wheelhouse {folder}: {text}")
            continue
        render.info(f"kept in the wheelhouse: {stored[-1]} ({record.combo}/index.html)")
    return stored
