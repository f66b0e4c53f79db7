#!/bin/sh
# run.sh [BUILD_DIR] - data-parallel training throughput: `ember train` as one
# process and as `mpirun -np 2 ... --distributed`, on this machine, plus a
# paper estimate for 8 and 64 ranks (report.py; method in docs/distributed.md).
#
# Workloads: the reference text model on Banking77 (data/banking77/train.csv,
# 10,003 texts; batch 32 and 256, 2 epochs) and the 784-128-10 MLP on
# Fashion-MNIST (60,000 images, batch 128, 1 epoch). Per workload and round,
# three runs: 1 rank with --threads 2 (the machine's two cores as threads),
# 2 ranks with --threads 1 each (the same two cores as ranks), and 1 rank
# with --threads 1 (the compute of a whole batch on one core, for the
# estimate). ROUNDS rounds (default 3), configurations interleaved; the
# report takes medians. Timing is the fit alone ("train_seconds" of --json),
# not loading; communication is rank 0's time inside collectives, waiting
# for the other rank included. Writes $OUT (default /tmp/ember-mpi-bench) and
# prints a markdown table.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${1:-$ROOT/build}
E=$BUILD/ember
OUT=${OUT:-/tmp/ember-mpi-bench}
ROUNDS=${ROUNDS:-3}
FASHION=${FASHION:-/usr/share/datasets/fashion-mnist}
command -v mpirun >/dev/null || { echo "run.sh: mpirun is missing (make deps)" >&2; exit 1; }
[ -x "$E" ] || { echo "run.sh: no $E (build first)" >&2; exit 1; }
mkdir -p "$OUT"
: > "$OUT/runs.jsonl"
export OMP_WAIT_POLICY=passive
MPI="mpirun --allow-run-as-root --oversubscribe"

one() { # one NAME RANKS THREADS ARGS...
    name=$1 ranks=$2 threads=$3
    shift 3
    if [ "$ranks" = 1 ]; then
        j=$("$E" train "$@" --threads "$threads" --out "$OUT/m.st" --json | tail -n 1)
    else
        j=$($MPI -np "$ranks" "$E" train "$@" --threads "$threads" --distributed \
            --out "$OUT/m.st" --json | tail -n 1)
    fi
    echo "{\"name\":\"$name\",\"ranks\":$ranks,\"threads\":$threads,\"run\":$j}" >> "$OUT/runs.jsonl"
    echo "$name ranks=$ranks threads=$threads: $j" >&2
}

TEXT="--train $ROOT/data/banking77/train.csv --arch text --epochs 2 --seed 1"
MLP="--train $FASHION/train-images-idx3-ubyte.gz --arch mlp --epochs 1 --seed 1"
r=0
while [ $r -lt "$ROUNDS" ]; do
    for cfg in 1:2 2:1 1:1; do
        ranks=${cfg%:*} threads=${cfg#*:}
        one text-b32 "$ranks" "$threads" $TEXT --batch-size 32
        one text-b256 "$ranks" "$threads" $TEXT --batch-size 256
        if [ -f "$FASHION/train-images-idx3-ubyte.gz" ]; then
            one mlp-b128 "$ranks" "$threads" $MLP --batch-size 128
        fi
    done
    r=$((r + 1))
done
python3 "$HERE/report.py" "$OUT/runs.jsonl" | tee "$OUT/table.md"
