"""Checks of catalog family F (training configuration), run on ``--config FILE``.

The config and its ``_base_`` files are parsed with ``ast`` by ``mmfix.config_lint`` (never
executed); registrations are found statically by ``mmfix.registry_scan`` in the installed mmcv,
mmengine and downstream packages and in the config's ``custom_imports`` modules.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from mmfix import config_lint, registry_scan
from mmfix.checks.base import Check, CheckContext, Outcome, check, fail, ok, skip, warn
from mmfix.config_lint import Config
from mmfix.errors import MmfixError
from mmfix.model import Environment
from mmfix.plan.actions import Manual

CHECKS: list[Check] = []

NO_CONFIG = "no --config given"
_PROJECT_MARKERS = ("configs", "setup.py", "pyproject.toml", ".git")
# another copy of these cannot be imported next to the installed one: never suggested
_INFRA = {"mmcv", "mmengine", "torch"}
_MAX_LISTED = 12  # missing types listed one per line; the rest are counted


@lru_cache(maxsize=8)
def _load(path: str, mtime: float) -> Config:
    return config_lint.load_config(path)


def load(ctx: CheckContext) -> Config | Outcome:
    """The merged config of ``ctx.config_path``, or the Outcome to return instead (skip / fail)."""
    if not ctx.config_path:
        return skip(NO_CONFIG)
    try:
        return _load(str(Path(ctx.config_path).resolve()), os.path.getmtime(ctx.config_path))
    except OSError as exc:
        return fail(f"cannot read config {ctx.config_path}: {exc.strerror or exc}")
    except MmfixError as exc:
        return fail(exc.one_line())


# --- ddp-unused-parameters -----------------------------------------------------------------------


@check(CHECKS, "ddp-unused-parameters", "F", "DDP can cope with parameters unused in the loss",
       "DDP would stop on parameters unused in the loss")
def ddp_unused_parameters(ctx: CheckContext) -> Outcome:
    """``find_unused_parameters=True`` (top level, or in ``model_wrapper_cfg`` under mmengine).
    Whether a model leaves parameters unused is only visible at run time, so an unset value is a
    warning: the symptom, if it happens, is named."""
    cfg = load(ctx)
    if isinstance(cfg, Outcome):
        return cfg
    wrapper = cfg.get("model_wrapper_cfg")
    value = cfg.get("find_unused_parameters")
    if isinstance(wrapper, dict) and "find_unused_parameters" in wrapper:
        value = wrapper["find_unused_parameters"]
    if value is True:
        return ok("find_unused_parameters = True: DDP tolerates parameters unused in the loss "
                  "(at some speed cost)")
    return warn(
        f"find_unused_parameters is {'not set' if value is None else repr(value)} in {cfg.path}",
        "if a branch of the model produces no loss in some iterations, distributed training "
        "stops with: Expected to have finished reduction in the prior iteration before "
        "starting a new one",
        "TORCH_DISTRIBUTED_DEBUG=DETAIL makes torch name the unused parameters",
        action=Manual("find_unused_parameters = True (in the config), or remove the unused parameters"),
    )


# --- double-backward-hooks -----------------------------------------------------------------------


def _hook_type(hook: Any) -> str:
    return str(hook.get("type")) if isinstance(hook, dict) else ""


@check(CHECKS, "double-backward-hooks", "F", "one optimizer hook calls backward",
       "two optimizer hooks call backward")
def double_backward_hooks(ctx: CheckContext) -> Outcome:
    """``GradientCumulativeOptimizerHook`` in ``custom_hooks`` while ``optimizer_config`` is a plain
    ``OptimizerHook``: both call ``loss.backward()`` (mmcv#1379; mmcv FAQ)."""
    cfg = load(ctx)
    if isinstance(cfg, Outcome):
        return cfg
    hooks = cfg.get("custom_hooks") or []
    hooks = hooks if isinstance(hooks, (list, tuple)) else []
    cumulative = [h for h in hooks if "GradientCumulative" in _hook_type(h)]
    if not cumulative:
        return ok("no gradient-accumulation hook in custom_hooks")
    n = cumulative[0].get("cumulative_iters", "N")
    if cfg.style == "mmengine":
        return fail(
            f"{_hook_type(cumulative[0])} in custom_hooks of an mmengine config "
            "(mmengine has no such hook; its OptimWrapper already calls backward)",
            action=Manual(f"remove it from custom_hooks and set optim_wrapper = dict(..., "
                          f"accumulative_counts={n})"),
            headline="an mmcv 1.x gradient-accumulation hook in an mmengine config",
        )
    oc = cfg.get("optimizer_config")
    plain = isinstance(oc, dict) and _hook_type({"type": "OptimizerHook", **oc}) in (
        "OptimizerHook", "Fp16OptimizerHook")
    if not plain:
        return ok(f"optimizer_config is {_hook_type(oc) or oc!r}; {_hook_type(cumulative[0])} "
                  "is the only one calling backward")
    fp16 = "Fp16" in _hook_type(oc) or "Fp16" in _hook_type(cumulative[0])
    kind = "GradientCumulativeFp16OptimizerHook" if fp16 else "GradientCumulativeOptimizerHook"
    clip = oc.get("grad_clip") if isinstance(oc, dict) else None
    return fail(
        f"custom_hooks has {_hook_type(cumulative[0])} and optimizer_config is a plain "
        f"{_hook_type({'type': 'OptimizerHook', **oc})}: loss.backward() runs twice",
        "symptom: RuntimeError: Trying to backward through the graph a second time",
        action=Manual(f"optimizer_config = dict(type='{kind}', cumulative_iters={n}, grad_clip={clip!r}) "
                      "and remove the hook from custom_hooks"),
    )


# --- registry-missing-module ---------------------------------------------------------------------


def _installed_dirs(env: Environment) -> list[Path]:
    locs: list[str | None] = []
    for d in env.downstream:
        if d.init_file:
            locs.append(str(Path(d.init_file).parent))
        elif d.location:
            loc = Path(d.location)
            locs.append(str(loc if loc.name == d.name else loc / d.name))
    mmcv = env.active_mmcv
    if mmcv:
        locs.append(mmcv.package_dir)
        locs.append(str(Path(mmcv.location) / "mmengine"))
    return registry_scan.package_dirs(locs)


def _search_roots(cfg: Config, cwd: str) -> list[Path]:
    """cwd, and the nearest folder above the config that looks like a project root (has
    ``configs/``, ``setup.py``, ``pyproject.toml`` or ``.git``): where custom modules live."""
    roots = [Path(cwd).resolve()]
    for up in Path(cfg.path).parents:
        if any((up / m).exists() for m in _PROJECT_MARKERS):
            if up not in roots:
                roots.append(up)
            break
    return roots


def _custom_imports(cfg: Config) -> list[str]:
    ci = cfg.get("custom_imports")
    mods = ci.get("imports") if isinstance(ci, dict) else None
    if isinstance(mods, str):
        return [mods]
    return [m for m in mods if isinstance(m, str)] if isinstance(mods, (list, tuple)) else []


def _find_in_projects(names: set[str], roots: list[Path]) -> dict[str, tuple[Path, Path]]:
    """Where in the project trees each name is registered: name -> (root, file)."""
    found: dict[str, tuple[Path, Path]] = {}
    for root in roots:
        if root == Path(root.anchor) or root == Path.home():
            continue  # never crawl a whole filesystem or home folder
        if not any((root / m).exists() for m in _PROJECT_MARKERS):
            continue  # cwd that is no project (/tmp, a data folder): not crawled
        for f in registry_scan.py_files(root):
            hits = registry_scan.names_in_file(f) & names
            if hits and _module_name(root, f).split(".")[0] not in _INFRA:
                for n in hits:
                    found.setdefault(n, (root, f))
    return found


def _module_name(root: Path, f: Path) -> str:
    rel = f.relative_to(root).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def evaluate_registry(cfg: Config, env: Environment, cwd: str) -> Outcome:
    """The ``registry-missing-module`` verdict: types of ``cfg`` that nothing scanned registers."""
    dirs = _installed_dirs(env)
    registered: dict[str, str] = {}
    for d in dirs:
        for n, f in registry_scan.names_in_tree(d).items():
            registered.setdefault(n, f)
    mmcv = env.active_mmcv
    if mmcv and mmcv.package_dir:
        for n in registry_scan.ops_names(Path(mmcv.package_dir)):
            registered.setdefault(n, f"{mmcv.package_dir}/ops/__init__.py")
    roots = _search_roots(cfg, cwd) + [Path(p) for p in env.target.site_packages]
    imports = registry_scan.scan_imports(_custom_imports(cfg), roots)
    for n, f in imports.names.items():
        registered.setdefault(n, f)
    if not dirs and not imports.names:
        return skip("no installed mmcv / OpenMMLab package to scan for registrations")
    types: dict[str, str] = {}
    for t, where in config_lint.walk_types(cfg.data):
        name = t.split(".")[-1]
        if "/" not in t and name not in registered and name not in registry_scan.TORCH_OPTIMIZERS:
            types.setdefault(name, where)
    ev = [f"custom_imports module '{m}' not found under {', '.join(map(str, roots[:3]))}"
          for m in imports.missing_modules]
    scanned = f"scanned: {', '.join(p.name for p in dirs) or 'nothing installed'}" + (
        f" + custom_imports {', '.join(_custom_imports(cfg))}" if _custom_imports(cfg) else "")
    if not types and not ev:
        return ok(f"every type in {Path(cfg.path).name} is registered by an imported module",
                  scanned)
    located = _find_in_projects(set(types), _search_roots(cfg, cwd)) if types else {}
    fixes = []
    installed = {p.name for p in dirs}
    needed = ["mmcv", "mmengine"] if cfg.style == "mmengine" else ["mmcv"]
    incomplete = [n for n in needed if n not in installed]
    shown = dict(list(types.items())[:_MAX_LISTED])
    for name, where in shown.items():
        line = f"type '{name}' ({where}) is not registered by any scanned module"
        if name in located:
            root, src = located[name]
            mod = _module_name(root, src)
            line += f"; {src} registers it"
            if mod.split(".")[0] in installed:
                fixes.append(f"pip install -e {root} (the installed {mod.split('.')[0]} "
                             "shadows the project's copy)")
            else:
                fixes.append(f"custom_imports = dict(imports=['{mod}'], "
                             "allow_failed_imports=False)")
        ev.append(line)
    fix = "; ".join(dict.fromkeys(fixes)) or (
        "import the module that defines it (custom_imports = dict(imports=[...])), or install "
        "the package that provides it")
    if len(types) > len(shown):
        ev.append(f"... and {len(types) - len(shown)} more")
    symptom = "symptom: KeyError: \"<Name> is not in the <registry> registry\""
    if incomplete:
        ev.insert(0, f"{' and '.join(incomplete)} not installed: the types they register could "
                  "not be looked up, so this list is an upper bound")
        fix = f"install {' and '.join(incomplete)} first; then: {fix}"
    status = warn if incomplete or not dirs else fail
    return status(*ev, symptom, scanned, action=Manual(fix), missing=sorted(types))


@check(CHECKS, "registry-missing-module", "F", "every config type is registered",
       "a config type is not registered by any imported module")
def registry_missing_module(ctx: CheckContext) -> Outcome:
    """Type names of the config that no installed package or ``custom_imports`` module registers
    (found statically: ``register_module`` decorators and calls)."""
    cfg = load(ctx)
    if isinstance(cfg, Outcome):
        return cfg
    return evaluate_registry(cfg, ctx.env, os.getcwd())
