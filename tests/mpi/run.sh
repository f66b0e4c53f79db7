#!/usr/bin/env bash
# tests/mpi/run.sh EMBER HAVE_MPI DATA_DIR - `ember train --distributed` under
# `mpirun -np N` against a single-process run with the same global batch.
#
# Weights are compared value by value with tests/mpi/compare.py:
# |a - b| / max(|a|, |b|, 1e-3) <= TOL. They are not bit-identical, and
# cannot be: each rank sums its shard's gradient contributions, and the
# allreduce adds the ranks' sums, so every gradient is a sum of the same
# float terms in another order (a few ulp apart, ~1e-7 relative), and Adam
# and the steps after carry those differences on, growing with the steps.
# Measured (2026-11-29): the short cases below (2 and 3 ranks, 1 to 3
# epochs) differ by at most 1.9e-5 relative (1.3e-7 absolute); the 30-epoch
# resumed runs by 1.2e-4 (3e-7 absolute), in weights whose |w| is near the
# 1e-3 floor. TOL is 1e-3, 8x the largest, and far below what a wrong
# exchange gives: with each rank updating only its own embedding rows (the
# union left out) the difference was 2 (relative) after 3 epochs. Adam is
# nearly blind to a gradient scaled by a constant (a shard mean summed
# instead of the batch mean), so the SGD cases (empty shards, MLP) catch that.
#
# Cases: the text model (lazy Adam) with the embedding rows exchanged
# sparsely, and whole (small vocabulary, large batch); 3 ranks with shards of
# unequal size and empty shards (batch 2); an MLP with dropout, SGD momentum,
# L2 and clipping; a small CNN with flip/crop augmentation; the two-tower
# recommender (2 and 3 ranks, SGD); BatchNormalization
# refused. Then a failure: one rank of a checkpointed run is SIGKILLed; the
# job must end (mpirun's abort, non-zero, naming the killed process) within
# 60 s; resuming from the newest checkpoint with 2 ranks and with 1 process
# must give the uninterrupted run's weights within TOL.
set -u
EMBER=$1
HAVE_MPI=$2
DATA=$3
if [ "$HAVE_MPI" != 1 ]; then
    echo "this build has no MPI (EMBER_MPI off or MPI not found): skipped"
    exit 77
fi
command -v mpirun >/dev/null || { echo "no mpirun on PATH: skipped"; exit 77; }
[ -f "$DATA/banking77/train.csv" ] || { echo "no $DATA/banking77/train.csv"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/../lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
TOL=1e-3
MPI=(mpirun --allow-run-as-root --oversubscribe)
export OMP_WAIT_POLICY=passive
# In the ASan build, LeakSanitizer would report Open MPI's own allocations
# (kept until exit) and fail every run: leaks are checked by test_dist, which
# runs the same exchange without MPI.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

head -n 1001 "$DATA/banking77/train.csv" > "$T/text.csv"
# validation: 300 of the training rows (labels the model knows; only the
# metrics' arithmetic is tested)
head -n 301 "$T/text.csv" > "$T/valid.csv"
python3 "$(dirname "$0")/../idx_bars.py" "$T" 600 4 \
    || { echo "python3 needed to write fixtures"; exit 1; }
printf 'dense 32 relu\ndropout 0.2\ndense classes softmax\n' > "$T/mlp.arch"
printf 'conv2d 4 3 relu\nmax_pool2d 2\nflatten\ndense classes softmax\n' > "$T/cnn.arch"
printf 'conv2d 4 3 relu\nbatch_normalization\nflatten\ndense classes softmax\n' > "$T/bn.arch"

# close NAME NP ARGS...: single process vs mpirun -np NP --distributed
close() {
    local name=$1 np=$2; shift 2
    if ! "$EMBER" train "$@" --out "$T/$name-1.st" --json >"$T/$name-1.json" 2>"$T/err"; then
        fail "$name: single-process run: $(head -c 300 "$T/err")"; return
    fi
    if ! "${MPI[@]}" -np "$np" "$EMBER" train "$@" --distributed --out "$T/$name-$np.st" --json \
        >"$T/$name.json" 2>"$T/err"; then
        fail "$name: mpirun -np $np: $(head -c 300 "$T/err")"; return
    fi
    local d
    if d=$(python3 "$HERE/compare.py" "$T/$name-1.st" "$T/$name-$np.st" "$TOL"); then
        ok
    else
        fail "$name: -np $np vs 1 process: $d (tolerance $TOL)"
    fi
    echo "$name (-np $np): $d"
}

TEXT=(--train "$T/text.csv" --arch text --embedding-dim 32 --hidden 64 --threads 1 --seed 5)
close text-sparse 2 "${TEXT[@]}" --epochs 3 --batch-size 32 --valid "$T/valid.csv"
# validation is sharded over the ranks and summed: the same metrics
if python3 - "$T/text-sparse-1.json" "$T/text-sparse.json" <<'PY'; then ok; else fail "validation metrics differ"; fi
import json, sys
a, b = (json.loads(open(p).read().strip().splitlines()[-1]) for p in sys.argv[1:])
print(f"val_loss {a['val_loss']:.9g} vs {b['val_loss']:.9g}, "
      f"val_accuracy {a['val_accuracy']} vs {b['val_accuracy']}")
sys.exit(0 if abs(a["val_loss"] - b["val_loss"]) <= 1e-4 * abs(a["val_loss"])
         and abs(a["val_accuracy"] - b["val_accuracy"]) <= 0.01 else 1)
PY
contains "$T/text-sparse.json" '"sparse_exchanges":96,"dense_exchanges":0' "rows sent sparsely"
close text-dense 2 "${TEXT[@]}" --epochs 2 --batch-size 256 --max-vocab 50
contains "$T/text-dense.json" '"sparse_exchanges":0,"dense_exchanges":8' "table sent whole"
close text-3ranks 3 "${TEXT[@]}" --epochs 2 --batch-size 32
close text-empty-shards 3 "${TEXT[@]}" --epochs 1 --batch-size 2 --optimizer sgd --lr 0.1
IMG=(--train "$T/img-images-idx3-ubyte" --threads 1 --seed 9)
close mlp 2 "${IMG[@]}" --arch "$T/mlp.arch" --epochs 3 --batch-size 20 --optimizer sgd \
    --lr 0.05 --momentum 0.9 --weight-decay 1e-4 --clip-norm 1
close cnn 2 "${IMG[@]}" --arch "$T/cnn.arch" --epochs 2 --batch-size 16 --augment-flip \
    --augment-crop 1
# the two-tower recommender: shards of each batch's rows, shared negatives,
# touched embedding rows exchanged as their union. SGD with momentum: with
# Adam, near-cancelling gradients (an item both a positive and a negative)
# are amplified to whole steps whichever way their last bits fall, so the
# weights of 1 and 2 ranks part chaotically (docs/distributed.md).
awk 'BEGIN { for (u = 1; u <= 120; u++) for (k = 0; k < 8; k++)
        printf "u%d\ti%d\n", u, (u * 7 + k * 13) % 150 }' > "$T/clicks.tsv"
REC=(--model two-tower --train "$T/clicks.tsv" --dim 16 --id-dim 8 --hidden 16 --negatives 32
     --optimizer sgd --lr 0.1 --threads 1 --seed 3)
rclose() {
    local name=$1 np=$2; shift 2
    if ! "$EMBER" recommend train "${REC[@]}" "$@" --out "$T/$name-1.st" --quiet 2>"$T/err"; then
        fail "$name: single-process run: $(head -c 300 "$T/err")"; return
    fi
    if ! "${MPI[@]}" -np "$np" "$EMBER" recommend train "${REC[@]}" "$@" --distributed \
        --out "$T/$name-$np.st" --json >"$T/$name.json" 2>"$T/err"; then
        fail "$name: mpirun -np $np: $(head -c 300 "$T/err")"; return
    fi
    contains "$T/$name.json" "\"ranks\":$np" "$name: rank 0 reports $np ranks"
    local d
    if d=$(python3 "$HERE/compare.py" "$T/$name-1.st" "$T/$name-$np.st" "$TOL"); then
        ok
    else
        fail "$name: -np $np vs 1 process: $d (tolerance $TOL)"
    fi
    echo "$name (-np $np): $d"
}
rclose two-tower 2 --epochs 3 --batch-size 64
rclose two-tower-3ranks 3 --epochs 2 --batch-size 32
expect 1 "MF refuses --distributed" -- "$EMBER" recommend train --train "$T/clicks.tsv" \
    --loss bpr --distributed --out "$T/x.st"

expect 2 "BatchNormalization refused" -- "${MPI[@]}" -np 2 "$EMBER" train "${IMG[@]}" \
    --arch "$T/bn.arch" --distributed --out "$T/bn.st" --quiet
contains "$T/err" "BatchNormalization is not supported" "BatchNormalization: the reason"

# ---- a rank killed, then resumed with 2 ranks and with 1 process ----
RUN=("${TEXT[@]}" --epochs 30 --batch-size 32 --checkpoint-every 40 --keep-checkpoints 1000)
"$EMBER" train "${RUN[@]}" --checkpoint-dir "$T/ref-ck" --out "$T/ref.st" --quiet \
    || fail "uninterrupted run"
"${MPI[@]}" -np 2 "$EMBER" train "${RUN[@]}" --distributed --checkpoint-dir "$T/ck" \
    --out "$T/killed.st" --quiet >"$T/kill.out" 2>&1 &
mpid=$!
# wait for the third checkpoint, then SIGKILL rank 1 (found by its environment)
for _ in $(seq 600); do
    [ "$(ls "$T/ck" 2>/dev/null | grep -c '^ckpt-.*\.safetensors$')" -ge 3 ] && break
    sleep 0.05
done
victim=""
for p in $(pgrep -P "$mpid"; for c in $(pgrep -P "$mpid"); do pgrep -P "$c"; done); do
    if tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1'; then
        victim=$p
    fi
done
if [ -z "$victim" ]; then
    fail "kill: rank 1 not found (the run finished first?)"
    wait "$mpid"
else
    kill -KILL "$victim"
    for _ in $(seq 600); do kill -0 "$mpid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$mpid" 2>/dev/null; then
        fail "kill: the job still runs 60 s after rank 1 was killed"
        kill -KILL "$mpid"
    fi
    wait "$mpid"
    rc=$?
    [ "$rc" -ne 0 ] && ok || fail "kill: mpirun exited 0 after a rank was killed"
    contains "$T/kill.out" "signal 9" "kill: mpirun names the killed process"
    [ -f "$T/killed.st" ] && fail "kill: a model was saved by a killed job" || ok
    cp -r "$T/ck" "$T/ck1"
    echo "killed after: $(ls "$T/ck" | tail -n 1)"
    for np in 2 1; do
        dir="$T/ck"
        [ "$np" = 1 ] && dir="$T/ck1"
        if "${MPI[@]}" -np "$np" "$EMBER" train "${RUN[@]}" --distributed --checkpoint-dir "$dir" \
            --resume --out "$T/resumed-$np.st" --json >"$T/resume-$np.json" 2>"$T/err"; then
            contains "$T/resume-$np.json" '"resumed_from":"' "resume -np $np: from a checkpoint"
            if d=$(python3 "$HERE/compare.py" "$T/ref.st" "$T/resumed-$np.st" "$TOL"); then
                ok
            else
                fail "resume -np $np vs uninterrupted: $d"
            fi
            echo "resume (-np $np) vs uninterrupted single process: $d"
        else
            fail "resume -np $np: $(head -c 300 "$T/err")"
        fi
    done
fi
# an error every rank meets (a changed option on resume): each rank returns,
# the job ends with exit status 2 and rank 0's reason, no MPI_Abort needed
expect 2 "resume with another --epochs" -- "${MPI[@]}" -np 2 "$EMBER" train "${TEXT[@]}" \
    --epochs 31 --batch-size 32 --checkpoint-every 40 --distributed --checkpoint-dir "$T/ck" \
    --resume --out "$T/changed.st" --quiet
contains "$T/err" "fingerprint field 'epochs' differs" "changed option: the reason"
finish mpi
