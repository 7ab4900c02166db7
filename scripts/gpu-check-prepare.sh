#!/usr/bin/env bash
# gpu-check-prepare.sh: gather, here (with network), what scripts/gpu-check.sh needs on a device
# machine that can download nothing: the mmcv 2.2.0 sdist from PyPI (sha256 checked) and wheels
# for the Python packages the device's image lacks, with a manifest of their sha256, in one
# git-ignored folder that the device call names in its `carry` list.
#
# Usage: scripts/gpu-check-prepare.sh [DIR]     (default: .gpucheck at the repository root)
#        PYTHON=python3.12 scripts/gpu-check-prepare.sh   (any Python >= 3.9 with pip)
# Then:  device run: command "PYTHONUNBUFFERED=1 bash scripts/gpu-check.sh --carry .gpucheck",
#        carry [".gpucheck"], timeout_s 600 (see scripts/gpu-check.sh).

set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${1:-$REPO/.gpucheck}
"${PYTHON:-python3}" "$REPO/scripts/gpu_check.py" prepare --carry "$DIR"
"${PYTHON:-python3}" "$REPO/scripts/gpu_check.py" check-carry --carry "$DIR"
if git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1 && ! git -C "$REPO" check-ignore -q "$DIR"; then
    echo "gpu-check-prepare: warning: $DIR is not git-ignored: the device tool carries ignored paths only" >&2
fi
