#!/usr/bin/env bash
# Benchmarks on an accelerator: `fenchel bench --preset device`, JSON and log into OUTDIR.
#
#   benchmarks/device_check.sh OUTDIR
#
# Run from the repository root, on a machine where the project is installed with
#   pip install -e ".[bench]"
# and a CUDA build of jax (e.g. pip install -U "jax[cuda12]"), so that jax.devices()
# lists the GPU. The MULAN data for the training case (yeast; bibtex too if present)
# is looked up in $FENCHEL_DATA, then shared/datasets/multilabel and
# ../shared/datasets/multilabel; without yeast the training case is left out (loudly).
#
# It prints nvidia-smi (if present) and jax.devices(), then fails unless JAX sees an
# accelerator (set ALLOW_CPU=1 to run on the CPU anyway). The benchmark runs under a
# hard timeout (TIMEOUT_S, default 480 s = 8 minutes, counted from the script's
# start); fenchel bench rewrites OUTDIR/bench.json atomically after every case, so a
# run cut short keeps the cases that finished (and says which one was interrupted).
#
# Files in OUTDIR: bench.json (every figure, the machine, the command), bench.log
# (progress and the Markdown tables), devices.txt (nvidia-smi and jax.devices()).
#
# Environment:
#   ALLOW_CPU=1   run even when JAX sees no accelerator
#   QUICK=1       tiny sizes (fenchel bench --quick): checks the script, figures mean nothing
#   CASES=a,b     cases to run, in this order (default: pairwise,bilinear,training,solvers:
#                 the least GPU-bound last, so a timeout cuts it first)
#   TIMEOUT_S     hard limit in seconds for the whole script (default 480)
#   PYTHON        the interpreter with fenchel installed (default: python, else python3)
#   FENCHEL_DATA  MULAN data folder
#
# Exit status: 0 done; 2 usage; 3 no accelerator (and no ALLOW_CPU=1); 124 timed out
# (bench.json has the cases that finished); otherwise fenchel bench's status.

set -uo pipefail

if [ "$#" -ne 1 ] || [ "${1#-}" != "$1" ]; then
    echo "usage: $0 OUTDIR   (env: ALLOW_CPU=1, QUICK=1, CASES=..., TIMEOUT_S=480)" >&2
    exit 2
fi
OUTDIR=$1
TIMEOUT_S=${TIMEOUT_S:-480}
case "$TIMEOUT_S" in
    ''|*[!0-9]*) echo "$0: TIMEOUT_S must be a whole number of seconds, got '$TIMEOUT_S'" >&2; exit 2 ;;
esac
if [ -z "${PYTHON:-}" ]; then
    PYTHON=$(command -v python || command -v python3) || {
        echo "$0: no python on PATH; set PYTHON" >&2; exit 2; }
fi
mkdir -p "$OUTDIR" || exit 2
DEVICES_TXT="$OUTDIR/devices.txt"
: > "$DEVICES_TXT"

say() { echo "== $*" | tee -a "$DEVICES_TXT" >&2; }

say "device check: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -n), repo $(pwd)"
if command -v nvidia-smi > /dev/null 2>&1; then
    say "nvidia-smi"
    nvidia-smi 2>&1 | tee -a "$DEVICES_TXT"
else
    say "nvidia-smi: not found"
fi

say "jax.devices()"
# One interpreter for both (starting a GPU backend takes seconds); bounded, since a
# broken driver can hang the first jax call.
PROBE=$(timeout 180 "$PYTHON" -c "import jax; print(jax.devices()); print('backend:', jax.default_backend())" 2>&1)
echo "$PROBE" | grep -v '^backend: ' | tee -a "$DEVICES_TXT"
BACKEND=$(echo "$PROBE" | sed -n 's/^backend: //p' | tail -n 1)
say "jax backend: ${BACKEND:-unknown}"
if [ "$BACKEND" != "gpu" ] && [ "$BACKEND" != "tpu" ] && [ "$BACKEND" != "cuda" ] && [ "$BACKEND" != "rocm" ]; then
    if [ "${ALLOW_CPU:-0}" = "1" ]; then
        say "WARNING: JAX sees no accelerator (backend '${BACKEND:-unknown}'); running on it anyway (ALLOW_CPU=1)"
    else
        say "ERROR: JAX sees no accelerator (backend '${BACKEND:-unknown}'). Install a CUDA build of jax" \
            "(pip install -U 'jax[cuda12]') or set ALLOW_CPU=1 to run on the CPU."
        exit 3
    fi
fi

CASES=${CASES:-pairwise,bilinear,training,solvers}
if [ -z "${FENCHEL_DATA:-}" ]; then
    for candidate in shared/datasets/multilabel ../shared/datasets/multilabel; do
        if [ -d "$candidate/yeast" ]; then
            FENCHEL_DATA=$(cd "$candidate" && pwd)
            break
        fi
    done
fi
if [ "${QUICK:-0}" != "1" ] && [[ ",$CASES," == *",training,"* ]]; then
    if [ -z "${FENCHEL_DATA:-}" ] || [ ! -d "$FENCHEL_DATA/yeast" ]; then
        say "WARNING: no MULAN data with yeast/ (FENCHEL_DATA='${FENCHEL_DATA:-}'); the training case is LEFT OUT"
        CASES=$(echo ",$CASES," | sed 's/,training,/,/; s/^,//; s/,$//')
    fi
fi
if [ -n "${FENCHEL_DATA:-}" ]; then
    export FENCHEL_DATA
    say "FENCHEL_DATA=$FENCHEL_DATA"
fi
if [ -z "$CASES" ]; then
    say "ERROR: no case left to run"
    exit 2
fi

SIZE=(--preset device)
[ "${QUICK:-0}" = "1" ] && SIZE=(--quick)
LEFT=$((TIMEOUT_S - SECONDS))
if [ "$LEFT" -le 10 ]; then
    say "ERROR: no time left for the benchmark (TIMEOUT_S=$TIMEOUT_S, ${SECONDS} s spent)"
    exit 124
fi
say "fenchel bench --cases $CASES ${SIZE[*]} --json $OUTDIR/bench.json (timeout ${LEFT} s)"
# SIGTERM at the limit: fenchel bench records which case was cut short and exits;
# SIGKILL 20 s later if it is stuck in a long device call.
timeout --kill-after=20 "$LEFT" "$PYTHON" -m fenchel bench --cases "$CASES" "${SIZE[@]}" \
    --json "$OUTDIR/bench.json" 2>&1 | tee "$OUTDIR/bench.log"
STATUS=${PIPESTATUS[0]}
if [ "$STATUS" -eq 124 ] || [ "$STATUS" -eq 137 ] || [ "$STATUS" -eq 143 ]; then
    say "TIMED OUT after ${TIMEOUT_S} s (status $STATUS): $OUTDIR/bench.json has the cases that finished"
    exit 124
fi
if [ "$STATUS" -ne 0 ]; then
    say "FAILED: fenchel bench exited with status $STATUS (see $OUTDIR/bench.log)"
    exit "$STATUS"
fi
say "done in ${SECONDS} s: $OUTDIR/bench.json, $OUTDIR/bench.log, $DEVICES_TXT"
