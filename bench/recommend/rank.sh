#!/bin/sh
# rank.sh [DATA_DIR] [-- extra train options] - the top-K benchmark of issue 10 on
# MovieLens 100k u.data: a leave-last-out split (`ember recommend split`: each user's
# latest rating is the test item), then `ember recommend train --loss bpr` (implicit
# feedback, default settings unless extra options are given) and, for comparison, the
# rating model (--loss mse), each ranked with `ember recommend eval --k 10`, which ranks
# the most-popular and random baselines with the same code, and the two-tower model
# (`--model two-tower --users u.user --items u.item`, default settings). 2 threads
# (THREADS). Prints one markdown table and the target: the implicit-feedback models
# (BPR, two-tower) beat most-popular by >= 20% relative on Recall@10 and NDCG@10.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DATA=${1:-$ROOT/../shared/datasets/movielens-100k}
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
EMBER=${EMBER:-$ROOT/build/ember}
THREADS=${THREADS:-2}
K=${K:-10}
EXTRA=${*:-(none: the defaults)}

[ -x "$EMBER" ] || { echo "rank.sh: $EMBER is missing: build first" >&2; exit 1; }
[ -f "$DATA/u.data" ] || { echo "rank.sh: $DATA/u.data is missing (MovieLens 100k)" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM

"$EMBER" recommend split "$DATA/u.data" --train-out "$TMP/train.tsv" --test-out "$TMP/test.tsv" --quiet
for loss in bpr mse tt; do
    if [ $loss = bpr ]; then set -- "$@"; else set --; fi # extra options: bpr only
    if [ $loss = tt ]; then
        "$EMBER" recommend train --model two-tower --train "$TMP/train.tsv" --out "$TMP/$loss.st" \
            --users "$DATA/u.user" --items "$DATA/u.item" --threads "$THREADS" --json \
            > "$TMP/train_$loss.json"
    else
        "$EMBER" recommend train --train "$TMP/train.tsv" --out "$TMP/$loss.st" --loss $loss \
            --threads "$THREADS" --json "$@" > "$TMP/train_$loss.json"
    fi
    "$EMBER" recommend eval "$TMP/$loss.st" --test "$TMP/test.tsv" --train "$TMP/train.tsv" \
        --k "$K" --json > "$TMP/eval_$loss.json"
done

echo "MovieLens 100k u.data, leave-last-out, top $K, $THREADS threads, $("$EMBER" --version | head -1)"
echo "extra train options (bpr): $EXTRA"
echo
python3 - "$TMP" "$K" <<'PY2'
import json, sys
tmp, k = sys.argv[1], sys.argv[2]
models = ("bpr", "mse", "tt")
names = {"bpr": "MF, --loss bpr", "mse": "MF, --loss mse", "tt": "two-tower (u.user, u.item)"}
ev = {l: json.load(open(f"{tmp}/eval_{l}.json")) for l in models}
tr = {l: json.load(open(f"{tmp}/train_{l}.json")) for l in models}
keys = ("recall", "ndcg", "hr", "map", "coverage")
print(f"| ranker | Recall@{k} | NDCG@{k} | HR@{k} | MAP@{k} | coverage | train s |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for l in models:
    print(f"| {names[l]} | " + " | ".join(f"{ev[l][x]:.4f}" for x in keys) + f" | {tr[l]['seconds']:.2f} |")
for b in ("popular", "random"):
    print(f"| {b} | " + " | ".join(f"{ev['bpr'][b][x]:.4f}" for x in keys) + " | |")
print()
for l in ("bpr", "tt"):
    rr = ev[l]["recall"] / ev[l]["popular"]["recall"]
    nr = ev[l]["ndcg"] / ev[l]["popular"]["ndcg"]
    ok = "met" if rr >= 1.2 and nr >= 1.2 else "MISSED"
    print(f"{names[l]} vs most-popular: Recall@{k} x{rr:.3f}, NDCG@{k} x{nr:.3f}; target >= x1.20 on both: {ok}")
PY2
