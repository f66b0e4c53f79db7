#!/bin/sh
# run.sh [DATA_DIR] [-- extra train options] - the rating benchmark of issue 10: biased
# matrix factorisation (`ember recommend train`, default settings unless extra options
# are given) on the five standard MovieLens 100k folds u1..u5 (.base to train, .test to
# test), 2 threads. Prints one markdown table: per fold the test RMSE and MAE, the
# training seconds (the library's training loop) and the wall seconds of the whole
# train command (reading the file and saving the model included); then the means.
# Targets (issue 10): mean RMSE <= 0.915, each fold trained in under 10 s on 2 threads.
#
# DATA_DIR defaults to ../shared/datasets/movielens-100k beside the repository (the
# project may not ship this data). EMBER (default build/ember) picks the binary,
# THREADS (default 2) the thread count. Models go to a temporary folder.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DATA=${1:-$ROOT/../shared/datasets/movielens-100k}
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
EMBER=${EMBER:-$ROOT/build/ember}
THREADS=${THREADS:-2}

[ -x "$EMBER" ] || { echo "run.sh: $EMBER is missing: build first (cmake --build build)" >&2; exit 1; }
for k in 1 2 3 4 5; do
    [ -f "$DATA/u$k.base" ] && [ -f "$DATA/u$k.test" ] ||
        { echo "run.sh: $DATA/u$k.base or u$k.test is missing (MovieLens 100k)" >&2; exit 1; }
done

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM

# one number from a flat JSON object
field() { sed -n "s/.*\"$2\":\([-0-9.e+]*\).*/\1/p" "$1"; }
now() { date +%s.%N; }

echo "MovieLens 100k, biased MF, $THREADS threads, $("$EMBER" --version | head -1)"
echo "extra train options: ${*:-(none: the defaults)}"
echo
echo "| fold | test ratings | RMSE | MAE | train s | wall s |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
sum_rmse=0 sum_mae=0 sum_s=0 max_s=0
for k in 1 2 3 4 5; do
    t0=$(now)
    "$EMBER" recommend train --train "$DATA/u$k.base" --out "$TMP/u$k.safetensors" \
        --threads "$THREADS" --json "$@" > "$TMP/train$k.json"
    t1=$(now)
    "$EMBER" recommend eval "$TMP/u$k.safetensors" --test "$DATA/u$k.test" --json > "$TMP/eval$k.json"
    rmse=$(field "$TMP/eval$k.json" rmse)
    mae=$(field "$TMP/eval$k.json" mae)
    n=$(field "$TMP/eval$k.json" n)
    secs=$(field "$TMP/train$k.json" seconds)
    wall=$(echo "$t1 - $t0" | bc -l)
    printf '| u%d | %d | %.4f | %.4f | %.2f | %.2f |\n' "$k" "$n" "$rmse" "$mae" "$secs" "$wall"
    sum_rmse=$(echo "$sum_rmse + $rmse" | bc -l)
    sum_mae=$(echo "$sum_mae + $mae" | bc -l)
    sum_s=$(echo "$sum_s + $secs" | bc -l)
    max_s=$(echo "if ($secs > $max_s) $secs else $max_s" | bc -l)
done
mean_rmse=$(echo "$sum_rmse / 5" | bc -l)
printf '| **mean** | | **%.4f** | %.4f | %.2f | |\n' "$mean_rmse" "$(echo "$sum_mae / 5" | bc -l)" \
    "$(echo "$sum_s / 5" | bc -l)"
echo
ok_rmse=$(echo "$mean_rmse <= 0.915" | bc -l)
ok_time=$(echo "$max_s < 10" | bc -l)
printf 'target mean RMSE <= 0.915: %s (%.4f); every fold trained in < 10 s: %s (slowest %.2f s)\n' \
    "$([ "$ok_rmse" = 1 ] && echo met || echo MISSED)" "$mean_rmse" \
    "$([ "$ok_time" = 1 ] && echo met || echo MISSED)" "$max_s"
