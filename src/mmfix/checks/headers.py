"""Checks of catalog family D: PyTorch headers that nvcc with MSVC rejects on Windows.

Each check reads one header under the target torch's package folder and compares its hash with
the released files the patch data knows (``patches/torch``). Only Windows targets with a CUDA
torch are affected; elsewhere the check is skipped with the reason.
"""

from __future__ import annotations

from pathlib import Path

from mmfix.checks.base import Check, CheckContext, Outcome, check, fail, ok, skip, warn
from mmfix.errors import RefusedError
from mmfix.patching import catalog, engine, textdiff
from mmfix.plan.actions import Manual, PatchHeaders

CHECKS: list[Check] = []

TITLES = {
    "torch-header-all-slots": "torch 1.5 module.h 'constexpr bool all_slots' (nvcc+MSVC)",
    "torch-header-constexpr-win-cuda": "torch 1.6 module.h CONSTEXPR_EXCEPT_WIN_CUDA (nvcc+MSVC)",
    "torch-header-profile-kind": "torch 1.7 ir.h ProfileOptionalOp::Kind (nvcc+MSVC)",
    "pybind11-cast-complete-type": "torch <= 1.7.0 pybind11 cast.h complete type (nvcc+MSVC)",
    "torch-header-compiled-autograd": "torch >= 2.8 compiled_autograd.h guard (nvcc+MSVC)",
}

# What a warning or failure of each check found (the headline beside ! and ✗).
PROBLEMS = {
    "torch-header-all-slots": "torch 1.5 module.h has the 'constexpr bool all_slots' nvcc+MSVC reject",
    "torch-header-constexpr-win-cuda": "torch 1.6 module.h has the CONSTEXPR_EXCEPT_WIN_CUDA members nvcc+MSVC reject",
    "torch-header-profile-kind": "torch 1.7 ir.h has the ProfileOptionalOp::Kind initializer nvcc+MSVC reject",
    "pybind11-cast-complete-type": "torch's pybind11 cast.h has the cast nvcc+MSVC reject",
    "torch-header-compiled-autograd": "torch's compiled_autograd.h lacks the guard nvcc+MSVC need",
}


def header_state(patch: catalog.Patch, torch_dir: Path) -> tuple[str, str]:
    """(state, detail) of ``patch``'s file under ``torch_dir``: an engine state, ``hand-edit-ok``
    (a known hand edit that compiles), ``missing`` or ``unknown``. Reads one file; never writes."""
    path = torch_dir / patch.path
    try:
        raw = path.read_bytes()
    except OSError:
        return "missing", str(path)
    sha = textdiff.sha256_text(raw)
    edit = next((e for e in patch.hand_edits if e.sha256 == sha), None)
    if edit is not None:
        return (engine.REPAIRED if not edit.compiles else "hand-edit-ok"), edit.label
    text = textdiff.normalise(raw).decode("utf-8", errors="surrogateescape")
    try:
        state, _, note, _ = engine.transform(text, engine.Request(patch), patch.path)
    except RefusedError as exc:
        return "unknown", exc.why or exc.what
    return state, note


def _make(patch_id: str) -> None:
    def run(ctx: CheckContext) -> Outcome:
        env = ctx.env
        if env.torch is None:
            return skip("torch is not installed in the target environment")
        torch = env.torch
        if env.target.platform != "win32":
            return skip(f"{env.target.platform} target: only nvcc with MSVC on Windows fails here")
        if not torch.cuda:
            return skip(f"torch {torch.version} has no CUDA: nvcc never compiles these headers")
        patches = [
            p for p in catalog.load_all("torch") if p.id == patch_id and p.applies_to(torch.version)
        ]
        if not patches:
            return skip(f"torch {torch.version} is not affected")
        patch = patches[0]
        state, detail = header_state(patch, Path(torch.location))
        rel = f"torch/{patch.path}"
        action = PatchHeaders(torch.location)
        if state in (engine.ALREADY, engine.NOT_NEEDED):
            return ok(f"{rel}: {'patched' if state == engine.ALREADY else 'not affected'}")
        if state == engine.APPLIED:
            return fail(
                f"{rel} is the released torch {torch.version} file that nvcc+MSVC rejects",
                action=action,
                headline=f"{PROBLEMS[patch_id]} (released file, unpatched)",
            )
        if state == engine.REPAIRED:
            return fail(
                f"{rel} carries a known hand edit that is not valid C++ ({detail})",
                action=action,
                headline=f"{PROBLEMS[patch_id]} (a hand edit that does not compile)",
            )
        if state == "hand-edit-ok":
            return ok(f"{rel}: a known hand edit that works ({detail})")
        if state == "missing":
            return warn(f"{rel} not found ({detail}): torch installed without its headers?",
                        headline=f"torch's {patch.path} is missing")
        return warn(
            f"{rel} has content mmfix does not know ({detail})",
            action=Manual("reinstall torch to restore the released file, then "
                          + action.command(env.target.executable)),
            headline=f"torch's {patch.path} has content mmfix does not know",
        )

    check(CHECKS, patch_id, "D", TITLES[patch_id], PROBLEMS[patch_id])(run)


for _id in TITLES:
    _make(_id)
