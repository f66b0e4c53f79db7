#!/usr/bin/env bash
# run.sh - the Fashion-MNIST CNN benchmark in one command, on this machine, back to
# back: Ember (`ember train --arch cnn`, then `ember test`), PyTorch (torch_cnn.py with
# Debian's /usr/bin/python3, skipped when torch does not import) and, if built, the
# per-layer breakdown build/bench/bench_cnn_layers. Records `uptime` before each run,
# prints one markdown table (report.py) and saves it to $OUT_DIR/cnn_bench.md.
#
#   bench/cnn/run.sh                 # 10 epochs each: several minutes per system on 2 cores
#   EPOCHS=1 NO_TORCH=1 bench/cnn/run.sh
#
# Environment:
#   EPOCHS (10)     epochs for both systems
#   THREADS (2)     ember --threads, torch.set_num_threads, bench_cnn_layers threads
#   SEED (0)        --seed for both (each system's own RNG; the seeds do not make the runs equal)
#   EMBER           the CLI (default: build/ember of this checkout; never built by this script)
#   EMBER_ARCH      --arch for Ember (default cnn; an architecture file also works)
#   EMBER_EXTRA     more `ember train` options, e.g. "--augment-flip" (default none)
#   NO_TORCH=1      skip PyTorch
#   TORCH_OPENBLAS_THREADS   OPENBLAS_NUM_THREADS for PyTorch's Linear layers, one run per
#                   value, e.g. "2 1" (default: 1, PyTorch's faster setting on this
#                   2-vCPU machine; BASELINES.md used 2, see README.md)
#   NO_LAYERS=1     skip bench_cnn_layers; LAYERS_BIN (default build/bench/bench_cnn_layers)
#   ORDER           "ember torch" (default) or "torch ember"
#   OUT_DIR         where everything goes (default: a new mktemp -d folder)
#   DATA            the IDX folder (default /usr/share/datasets/fashion-mnist)
# A failing part (no binary, unknown --arch, crash) is reported and the rest still runs.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
EPOCHS=${EPOCHS:-10}
THREADS=${THREADS:-2}
SEED=${SEED:-0}
EMBER=${EMBER:-$ROOT/build/ember}
EMBER_ARCH=${EMBER_ARCH:-cnn}
EMBER_EXTRA=${EMBER_EXTRA:-}
LAYERS_BIN=${LAYERS_BIN:-$ROOT/build/bench/bench_cnn_layers}
TORCH_OPENBLAS_THREADS=${TORCH_OPENBLAS_THREADS:-1}
ORDER=${ORDER:-ember torch}
DATA=${DATA:-/usr/share/datasets/fashion-mnist}
OUT_DIR=${OUT_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/ember-cnn-bench.XXXXXX")}
PY=/usr/bin/python3

mkdir -p "$OUT_DIR" || exit 1
OUT_DIR=$(cd "$OUT_DIR" && pwd)
: > "$OUT_DIR/load.txt"
rm -f "$OUT_DIR"/ember_*.rc "$OUT_DIR"/torch_ob*.rc "$OUT_DIR"/layers.rc "$OUT_DIR"/layers.txt

for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz \
         t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
    [ -f "$DATA/$f" ] || { echo "run.sh: missing $DATA/$f (apt-get install dataset-fashion-mnist)" >&2; exit 1; }
done

note_load() { printf '%s\t%s\n' "$1" "$(uptime)" >> "$OUT_DIR/load.txt"; }
log() { echo "run.sh: $*" >&2; }

run_ember() {
    local rc
    if [ ! -x "$EMBER" ]; then
        echo "no Ember CLI at $EMBER (build it, or set EMBER=)" > "$OUT_DIR/ember_train.err"
        echo 127 > "$OUT_DIR/ember_train.rc"
        log "Ember skipped: no CLI at $EMBER"
        return
    fi
    note_load "before Ember train"
    log "Ember: train --arch $EMBER_ARCH $EMBER_EXTRA, $EPOCHS epochs, $THREADS threads"
    # shellcheck disable=SC2086 # EMBER_EXTRA is a list of options
    "$EMBER" train --train "$DATA/train-images-idx3-ubyte.gz" \
        --valid "$DATA/t10k-images-idx3-ubyte.gz" --arch "$EMBER_ARCH" --epochs "$EPOCHS" \
        --batch-size 64 --threads "$THREADS" --seed "$SEED" --json $EMBER_EXTRA \
        --out "$OUT_DIR/ember_cnn.safetensors" \
        > "$OUT_DIR/ember_train.jsonl" 2> "$OUT_DIR/ember_train.err"
    rc=$?
    echo "$rc" > "$OUT_DIR/ember_train.rc"
    if [ "$rc" != 0 ]; then
        log "Ember train failed (exit $rc): $(tail -n 3 "$OUT_DIR/ember_train.err" "$OUT_DIR/ember_train.jsonl" 2>/dev/null | grep -v '^==>' | grep . | tail -n 2)"
        log "going on without Ember"
        return
    fi
    note_load "before Ember test"
    "$EMBER" test "$OUT_DIR/ember_cnn.safetensors" "$DATA/t10k-images-idx3-ubyte.gz" \
        --threads "$THREADS" --json > "$OUT_DIR/ember_test.json" 2> "$OUT_DIR/ember_test.err"
    rc=$?
    echo "$rc" > "$OUT_DIR/ember_test.rc"
    [ "$rc" = 0 ] || log "ember test failed (exit $rc): $(tail -n 1 "$OUT_DIR/ember_test.err")"
}

run_torch() {
    local ob rc
    if [ "${NO_TORCH:-0}" = 1 ]; then
        log "PyTorch skipped (NO_TORCH=1)"
        return
    fi
    if ! "$PY" -c 'import torch, numpy' 2>/dev/null; then
        log "PyTorch skipped: $PY cannot import torch and numpy (apt-get install python3-torch)"
        return
    fi
    for ob in $TORCH_OPENBLAS_THREADS; do
        note_load "before PyTorch (OPENBLAS_NUM_THREADS=$ob)"
        log "PyTorch: $EPOCHS epochs, torch threads $THREADS, OPENBLAS_NUM_THREADS=$ob, OPENBLAS_CORETYPE=Haswell"
        OPENBLAS_NUM_THREADS=$ob OPENBLAS_CORETYPE=Haswell \
            "$PY" "$HERE/torch_cnn.py" --epochs "$EPOCHS" --threads "$THREADS" --seed "$SEED" \
            --openblas-threads "$ob" --data "$DATA" \
            > "$OUT_DIR/torch_ob$ob.jsonl" 2> "$OUT_DIR/torch_ob$ob.err"
        rc=$?
        echo "$rc" > "$OUT_DIR/torch_ob$ob.rc"
        [ "$rc" = 0 ] || log "PyTorch failed (exit $rc): $(tail -n 1 "$OUT_DIR/torch_ob$ob.err")"
    done
}

run_layers() {
    if [ "${NO_LAYERS:-0}" = 1 ]; then
        return
    fi
    if [ ! -x "$LAYERS_BIN" ]; then
        log "no $LAYERS_BIN: no per-layer breakdown (cmake --build build --target bench_cnn_layers)"
        return
    fi
    note_load "before bench_cnn_layers"
    log "per-layer breakdown: $LAYERS_BIN $THREADS 64 30"
    "$LAYERS_BIN" "$THREADS" 64 30 > "$OUT_DIR/layers.txt" 2>&1
    echo $? > "$OUT_DIR/layers.rc"
}

{
    printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf 'cpu\t%s\n' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2- | tr -d ' ') model $(grep -m1 '^model[[:space:]]*:' /proc/cpuinfo | cut -d: -f2- | tr -d ' '), $(grep -qw avx512f /proc/cpuinfo && echo AVX-512 || echo 'AVX2, no AVX-512')"
    printf 'nproc\t%s\n' "$(nproc)"
    printf 'threads\t%s\n' "$THREADS"
    [ -x "$EMBER" ] && printf 'ember_version\t%s\n' "$("$EMBER" --version 2>/dev/null | sed 's/^ember //')"
    printf 'versions\t%s\n' "python3-torch $(dpkg-query -W -f='${Version}' python3-torch 2>/dev/null || echo '-'), OpenBLAS $(dpkg-query -W -f='${Version}' libopenblas0-pthread 2>/dev/null || echo '-')"
    printf 'layers_cmd\t%s\n' "bench_cnn_layers $THREADS 64 30"
} > "$OUT_DIR/meta.txt"

log "outputs in $OUT_DIR"
for part in $ORDER; do
    case $part in
    ember) run_ember ;;
    torch) run_torch ;;
    *) log "unknown ORDER entry '$part' (ember, torch)" ;;
    esac
done
run_layers
note_load "after all runs"

echo
"$PY" "$HERE/report.py" "$OUT_DIR" || exit 1
echo
log "table saved to $OUT_DIR/cnn_bench.md"
