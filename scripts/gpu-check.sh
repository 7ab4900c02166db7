#!/usr/bin/env bash
# gpu-check.sh: the prepared device check of mmfix's CUDA path (issue 15).
#
# On a machine with an NVIDIA GPU and no network it proves, in order, what mmfix has so far only
# checked against recordings: `mmfix doctor --json` reads the GPU (name, compute capability,
# driver), nvcc and torch's CUDA; `mmfix rebuild --yes` builds mmcv 2.2.0 from the carried sdist
# for the visible GPU's arch alone with --jobs from the cores (build time, core use, cuobjdump's
# SASS/PTX list); mmcv's ops on the GPU agree with the CPU (scripts/gpu_check_ops.py); `mmfix
# doctor` is green after the build; and, if time remains, a negative case: an mmcv._ext built by
# torch's cpp_extension for sm_80 only is named by doctor's cuda-arch-not-compiled before anything
# runs, and the real CUDA error it then raises is named by `mmfix explain`.
#
# 1. Here, with network, in the checkout that will make the device call:
#      scripts/gpu-check-prepare.sh            (fills the git-ignored .gpucheck/, about 1.5 MiB)
# 2. One device `run` call (its command runs in the repository root; $OUT is set there):
#      command:   PYTHONUNBUFFERED=1 bash scripts/gpu-check.sh --carry .gpucheck
#      carry:     [".gpucheck"]
#      timeout_s: 600
#    The script keeps to --budget (535 s, under 9 minutes) and writes to $OUT: gpu-check-summary.json
#    (rewritten after every step, final in an EXIT trap), gpu-check.log (this transcript) and
#    gpu-check-steps.tar.gz (every step's output, the build log, the doctor/rebuild/ops JSON).
#
# Usage: scripts/gpu-check.sh [--carry DIR] [--out DIR] [--python PY] [--budget S] [--no-negative]
#                             [--no-install] [--keep-work] [--dry-run]
#   --carry DIR    the folder gpu-check-prepare.sh filled (default: .gpucheck at the repository root)
#   --out DIR      where the three result files go (default: $OUT)
#   --python PY    the interpreter with torch and CUDA to check and build for (default: python3)
#   --budget S     seconds the whole run may take (default 535); steps that do not fit are skipped
#   --no-negative  leave out the negative case
#   --no-install   mmfix and the carried wheels are already installed in PY (a rerun on a warm machine)
#   --keep-work    keep the work folder (build tree, step outputs) instead of removing it
#   --dry-run      print the steps with their time limits and commands; run nothing
# Exit: 0 every check passed; 1 a check failed or the clock stopped a required step;
#       2 usage error or an incomplete carried folder; 3 no NVIDIA GPU visible (nothing was built).

set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HELPER=$REPO/scripts/gpu_check.py
MMCV_VERSION=2.2.0
CARRY=$REPO/.gpucheck
OUTDIR=${OUT:-}
PY=python3
BUDGET=535
NEGATIVE=true
INSTALL=true
KEEP_WORK=false
DRY_RUN=false
RESERVE=15       # seconds kept for the final summary and the archive
AFTER_BUILD=120  # seconds kept after the build for cuobjdump, the ops check and doctor
NEG_MIN=100      # seconds the negative case needs to be worth starting
CHILD=
INTERRUPTED=
TOOLKIT=

usage() {  # the header's Usage and Exit lines
    awk '/^# Usage:/ { p = 1 } p { sub(/^# ?/, ""); print } /nothing was built/ { exit }' "${BASH_SOURCE[0]}"
}

die_usage() {  # one line: what, why, what next; exit 2
    echo "gpu-check: error: $*" >&2
    exit 2
}

while (($#)); do
    case $1 in
        --carry) [[ $# -ge 2 ]] || die_usage "--carry needs a folder"; CARRY=$2; shift 2 ;;
        --out) [[ $# -ge 2 ]] || die_usage "--out needs a folder"; OUTDIR=$2; shift 2 ;;
        --python) [[ $# -ge 2 ]] || die_usage "--python needs an interpreter"; PY=$2; shift 2 ;;
        --budget) [[ $# -ge 2 ]] || die_usage "--budget needs seconds"; BUDGET=$2; shift 2 ;;
        --no-negative) NEGATIVE=false; shift ;;
        --no-install) INSTALL=false; shift ;;
        --keep-work) KEEP_WORK=true; shift ;;
        --dry-run) DRY_RUN=true; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die_usage "unknown argument '$1': see scripts/gpu-check.sh --help" ;;
    esac
done

[[ $BUDGET =~ ^[0-9]+$ ]] && ((BUDGET >= 60)) \
    || die_usage "--budget '$BUDGET' is not a number of seconds >= 60; the whole check needs minutes (default 535)"
$DRY_RUN || [[ -n $OUTDIR ]] || die_usage "no output folder: pass --out DIR (on the device machine \$OUT is set)"
PY_PATH=$(command -v "$PY" 2>/dev/null) \
    || die_usage "--python '$PY' not found; pass the interpreter that has torch with CUDA"
"$PY_PATH" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null \
    || die_usage "--python '$PY' is not a Python >= 3.9 interpreter; pass the one that has torch with CUDA"
PY=$PY_PATH
CARRY=$(cd "$(dirname "$CARRY")" 2>/dev/null && echo "$(pwd)/$(basename "$CARRY")" || echo "$CARRY")
CORES=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)

if $DRY_RUN; then
    WORK="<work>"
    OUTDIR=${OUTDIR:-<out>}
else
    mkdir -p "$OUTDIR" || die_usage "cannot create the output folder '$OUTDIR'"
    OUTDIR=$(cd "$OUTDIR" && pwd)
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
    mkdir -p "$WORK/steps" "$WORK/src"
fi
STEPS=$WORK/steps
SUMMARY=$OUTDIR/gpu-check-summary.json
LOG=$OUTDIR/gpu-check.log
START=$(date +%s)
DEADLINE=$((START + BUDGET))

# No network on the device: pip and mmfix must never wait for an index.
export MMFIX_OFFLINE=1 MMFIX_CACHE_DIR=$WORK/cache PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore PIP_CONFIG_FILE=/dev/null NO_COLOR=1 PYTHONUNBUFFERED=1
unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL

say() {
    echo "$*"
    $DRY_RUN || echo "$*" >>"$LOG"
}

now_s() {
    if [[ -n ${EPOCHREALTIME:-} ]]; then echo "${EPOCHREALTIME/,/.}"; else date +%s.%N; fi
}

summarize() {  # rewrite the summary from what is recorded so far (a killed run keeps the last one)
    "$PY" "$HELPER" summary --work "$WORK" --out "$SUMMARY" >/dev/null 2>>"$WORK/summary.err" || true
}

record() {  # NAME STATUS RC SECONDS LIMIT NOTE
    local note=${6//$'\t'/ }
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "${note//$'\n'/ }" >>"$WORK/steps.tsv"
    summarize
}

skip() {  # NAME REASON
    $DRY_RUN && return 0
    say "[$(($(date +%s) - START))s] $1: skipped ($2)"
    record "$1" skipped "" 0 0 "$2"
}

# step NAME MAX_S [--keep S] [--ok-rc "0 1"] -- COMMAND...
# Runs COMMAND with a time limit of MAX_S, or less so that KEEP seconds stay for what follows;
# stdout and stderr go to $STEPS/NAME.out|.err; the result is recorded. True when the return code
# is one of --ok-rc (default 0).
step() {
    local name=$1 max=$2 keep=$RESERVE okrc=0
    shift 2
    while [[ $1 != -- ]]; do
        case $1 in
            --keep) keep=$2; shift 2 ;;
            --ok-rc) okrc=$2; shift 2 ;;
            *) echo "gpu-check: internal error: step option $1" >&2; return 2 ;;
        esac
    done
    shift
    if $DRY_RUN; then
        local shown="$*"
        printf '%-17s limit %4s s  %s\n' "$name" "$max" "${shown//$'\n'/; }"
        return 0
    fi
    local left=$((DEADLINE - $(date +%s) - keep))
    local limit=$((max < left ? max : left))
    if ((limit < 5)); then
        skip "$name" "no time left: $((DEADLINE - $(date +%s))) s of the budget, $keep s kept for later steps"
        return 1
    fi
    local shown="$*"
    say "[$(($(date +%s) - START))s] $name (limit $limit s): ${shown//$'\n'/; }"
    local t0 rc status=failed
    t0=$(now_s)
    timeout -k 30 "$limit" "$@" >"$STEPS/$name.out" 2>"$STEPS/$name.err" &
    CHILD=$!
    wait "$CHILD"
    rc=$?
    CHILD=
    if ((rc == 124 || rc == 137)); then
        status=timeout
    elif [[ " $okrc " == *" $rc "* ]]; then
        status=ok
    fi
    record "$name" "$status" "$rc" "$(awk -v a="$t0" -v b="$(now_s)" 'BEGIN { printf "%.1f", b - a }')" "$limit" "$*"
    say "    -> $status (rc $rc)"
    [[ $status == ok ]]
}

on_signal() {  # stop the running step, then the EXIT trap writes the final summary
    INTERRUPTED=$1
    if [[ -n $CHILD ]]; then
        kill -TERM "$CHILD" 2>/dev/null
        wait "$CHILD" 2>/dev/null
    fi
    exit 130
}

finalize() {
    trap - EXIT INT TERM
    [[ -n $INTERRUPTED ]] && echo "interrupted=$INTERRUPTED" >>"$WORK/run.env"
    local code
    "$PY" "$HELPER" summary --work "$WORK" --out "$SUMMARY" --final --print >"$WORK/summary.txt" 2>>"$WORK/summary.err"
    code=$?
    say "----"
    while IFS= read -r line; do say "$line"; done <"$WORK/summary.txt"
    [[ -s $WORK/summary.err ]] && say "summary writer: $(tail -n 3 "$WORK/summary.err")"
    tar -czf "$OUTDIR/gpu-check-steps.tar.gz" -C "$WORK" run.env steps.tsv steps 2>/dev/null \
        || say "could not write $OUTDIR/gpu-check-steps.tar.gz"
    say "summary: $SUMMARY"
    if $KEEP_WORK; then say "work folder kept: $WORK"; else rm -rf "$WORK"; fi
    ((code <= 3)) || code=1
    exit "$code"
}

# --- the steps' own commands (run under `timeout`, so scripts rather than shell functions) ---------

# install PY CARRY REPO: the carried wheels (the device image lacks them), then mmfix from the tree
# with its requirements resolved from what is installed plus the carried wheels, never an index.
INSTALL_SH='set -e
"$1" -m pip install --no-index --no-deps --no-cache-dir "$2"/wheels/*.whl
"$1" -m pip install --no-index --find-links "$2/wheels" --no-build-isolation --no-cache-dir "$3"
"$1" -m mmfix --version'

# gpu: the GPUs nvidia-smi lists; fails when it is missing, fails, or lists none.
GPU_SH='out=$(nvidia-smi --query-gpu=index,name,compute_cap,driver_version,memory.total --format=csv,noheader,nounits) || exit
[ -n "$out" ] || { echo "nvidia-smi listed no GPU" >&2; exit 1; }
echo "$out"'

# cuobjdump PY: the SASS and PTX in the installed mmcv/_ext (cuobjdump from PATH or $CUDA_HOME/bin).
CUOBJDUMP_SH='set -e
ext=$("$1" -c "import glob, os, sys, importlib.util as u; s = u.find_spec(\"mmcv\"); f = sorted(glob.glob(os.path.join(s.submodule_search_locations[0], \"_ext*.so\"))) if s else []; print(f[0]) if f else sys.exit(\"no mmcv/_ext*.so installed in \" + sys.executable)")
tool=$(command -v cuobjdump || echo "${CUDA_HOME:-/usr/local/cuda}/bin/cuobjdump")
echo "# $tool on $ext"
"$tool" --list-elf "$ext"
"$tool" --list-ptx "$ext" || echo "# no PTX listed (cuobjdump exit $?)"'

negative_case() {
    local left=$((DEADLINE - $(date +%s) - RESERVE))
    if ! $DRY_RUN && ((left < NEG_MIN)); then
        skip negative-build "no time left: $left s, the negative case needs about $NEG_MIN s"
        return
    fi
    local site=$WORK/neg/site
    # torch's cpp_extension guesses CUDA_HOME from the nvcc on PATH; give it the toolkit doctor found
    if ! step negative-build 150 --keep 60 -- env "CUDA_HOME=${CUDA_HOME:-$TOOLKIT}" "$PY" "$REPO/scripts/gpu_check_negative.py" build \
        --work "$WORK/neg" --out "$STEPS/negative-build.json"; then
        skip negative-doctor "negative-build did not succeed"
        return
    fi
    # doctor first: it must name the missing arch before anything runs
    step negative-doctor 90 --keep 40 --ok-rc "0 1" -- env PYTHONPATH="$site" "$PY" -m mmfix doctor --python "$PY" --json
    step negative-run 40 --keep 20 --ok-rc 1 -- env PYTHONPATH="$site" "$PY" -c "import mmcv._ext as ext; ext.launch()"
    step negative-explain 40 -- "$PY" -m mmfix explain "$STEPS/negative-run.err" --json
}

main() {
    if $DRY_RUN; then
        say "gpu-check --dry-run: the steps, in order, with their longest time limits (budget $BUDGET s);"
        say "carried folder: $CARRY ($([[ -f $CARRY/mmcv-$MMCV_VERSION.tar.gz ]] && echo present || echo 'missing: run scripts/gpu-check-prepare.sh'))"
        say "output folder: $OUTDIR; python: $PY; cores: $CORES; negative case: $NEGATIVE"
    else
        trap finalize EXIT
        trap 'on_signal INT' INT
        trap 'on_signal TERM' TERM
        {
            echo "started=$START"
            echo "budget=$BUDGET"
            echo "host=$(hostname 2>/dev/null || echo unknown)"
            echo "cores=$CORES"
            echo "python=$PY"
            echo "repo=$REPO"
            echo "carry=$CARRY"
            echo "mmfix_commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
        } >"$WORK/run.env"
        : >"$WORK/steps.tsv"
        : >"$LOG"
        say "gpu-check: budget $BUDGET s; python $PY; carry $CARRY; out $OUTDIR; work $WORK"
    fi

    if ! step carry 30 -- "$PY" "$HELPER" check-carry --carry "$CARRY"; then
        cat "$STEPS/carry.err" >&2
        exit 2
    fi
    if $INSTALL; then
        step install 150 -- bash -c "$INSTALL_SH" gpu-check-install "$PY" "$CARRY" "$REPO" || exit 1
    else  # --no-install: only show that mmfix is there
        step install 30 -- "$PY" -m mmfix --version || exit 1
    fi
    step doctor-before 90 --ok-rc "0 1" -- "$PY" -m mmfix doctor --python "$PY" --json
    if ! step gpu 30 -- bash -c "$GPU_SH" gpu-check-gpu; then
        local why
        why=$(grep -v '^\s*$' "$STEPS/gpu.err" 2>/dev/null | tail -n 1 | sed 's/^gpu-check-gpu: line [0-9]*: //')
        echo "gpu-check: no NVIDIA GPU visible here (${why:-nvidia-smi listed no GPU}): this check proves the CUDA" \
            "path on a GPU machine only; nothing was built (install and doctor ran: see $SUMMARY)" | tee -a "$LOG" >&2
        exit 3
    fi
    # the toolkit doctor found, for the tools below only (rebuild and doctor find it themselves)
    $DRY_RUN || TOOLKIT=$("$PY" "$HELPER" get "$STEPS/doctor-before.out" environment.host.nvcc.toolkit_root 2>/dev/null)
    step unpack 30 -- tar -xzf "$CARRY/mmcv-$MMCV_VERSION.tar.gz" -C "$WORK/src" || exit 1
    step rebuild 480 --keep "$AFTER_BUILD" -- "$PY" -m mmfix rebuild --python "$PY" \
        --source "$WORK/src/mmcv-$MMCV_VERSION" --jobs "$CORES" --yes --json --log "$STEPS/rebuild.log"
    # also after a failed verification: then mmcv is installed and its kernels still tell something
    if step cuobjdump 30 --keep 90 -- env "CUDA_HOME=${CUDA_HOME:-$TOOLKIT}" bash -c "$CUOBJDUMP_SH" gpu-check-cuobjdump "$PY"; then
        step ops 150 --keep 45 -- "$PY" "$REPO/scripts/gpu_check_ops.py" --out "$STEPS/ops.json"
    else
        skip ops "no mmcv/_ext to list with cuobjdump"
    fi
    step doctor-after 90 -- "$PY" -m mmfix doctor --python "$PY" --json
    if $NEGATIVE; then negative_case; fi
    $DRY_RUN && say "(dry run: nothing was run)"
}

main
