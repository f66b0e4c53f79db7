#!/usr/bin/env bash
# tests/report/run.sh EMBER BUILD_DIR - `ember report` end to end (issue 9):
# a text model trained with --history and validation data, its report with a
# test file (one curve per metric, one matrix cell per class pair, a per-class
# row per class, nothing loaded from a network), the report from the model
# file alone, an image model's misclassified images, error exits; then the
# page in headless Chromium: the screenshot must be painted (many colours, the
# curves' and bars' blue). A recommender's report: the summary, RMSE/MAE,
# the table and one bar per system and metric with `ember recommend eval`'s
# figures, its errors, and its page painted with the three systems' colours.
# Skips (77) without chromium, except on CI.
set -u
EMBER=$1
BUILD=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/../lib.sh"
PY=$(command -v python3) || { echo "report: FAIL: python3 needed" >&2; exit 1; }

"$PY" - "$T" <<'PY' || { echo "python3 could not write fixtures"; exit 1; }
import random, struct, sys
d = sys.argv[1]
random.seed(11)
words = {"card": ["card", "declined", "pin", "atm", "blocked"],
         "transfer": ["transfer", "send", "iban", "wire", "pending"],
         "refund": ["refund", "return", "money", "back", "item"],
         "account": ["account", "open", "close", "statement", "login"]}
common = ["my", "the", "is", "please", "help", "why", "not", "card"]
def ex():
    c = random.choice(sorted(words))
    return " ".join(random.choice(words[c] if random.random() < 0.45 else common) for _ in range(5)), c
for name, n in (("train.csv", 400), ("valid.csv", 100), ("test.csv", 120)):
    with open(f"{d}/{name}", "w") as f:
        f.write("text,label\n")
        for _ in range(n):
            t, c = ex()
            f.write(f"{t},{c}\n")
# IDX images 6x6: class c brightens row c (noisy), 3 classes
for split, n in (("train", 240), ("t10k", 90)):
    labels = [random.randrange(3) for _ in range(n)]
    img = bytearray()
    for c in labels:
        px = [random.randrange(120) for _ in range(36)]
        for j in range(6):
            px[c * 12 + j] = min(255, px[c * 12 + j] + 90)
        img += bytes(px)
    open(f"{d}/{split}-images-idx3-ubyte", "wb").write(struct.pack(">IIII", 0x0803, n, 6, 6) + bytes(img))
    open(f"{d}/{split}-labels-idx1-ubyte", "wb").write(struct.pack(">II", 0x0801, n) + bytes(labels))
PY

expect 0 "train a text model" -- "$EMBER" train --train "$T/train.csv" --valid "$T/valid.csv" --epochs 6 \
    --embedding-dim 8 --hidden 16 --seed 3 --threads 1 --history "$T/history.csv" --out "$T/t.model"
# the history CSV: Keras CSVLogger's columns, one row per epoch
[ "$(head -1 "$T/history.csv")" = "epoch,accuracy,loss,val_accuracy,val_loss,seconds" ] && ok \
    || fail "history header: $(head -1 "$T/history.csv")"
[ "$(wc -l <"$T/history.csv")" -eq 7 ] && [ "$(sed -n 2p "$T/history.csv" | cut -d, -f1)" = 0 ] && ok \
    || fail "history rows: $(cat "$T/history.csv")"

expect 0 "report with a test file" -- "$EMBER" report "$T/t.model" --test "$T/test.csv" -o "$T/t.html"
contains "$T/out" "test: $T/test.csv: 120 examples" "report prints the test figures"
"$PY" - "$T/t.html" "$T/history.csv" <<'PY' && ok || fail "report HTML: curves, cells, rows"
import csv, re, sys
html = open(sys.argv[1]).read()
rows = list(csv.DictReader(open(sys.argv[2])))
curves = re.findall(r'<polyline class="curve" data-metric="([a-z_]+)"[^>]*points="([^"]*)"', html)
metrics = [m for m, _ in curves]
# one curve per metric, each with one point per epoch
assert sorted(metrics) == sorted(["loss", "val_loss", "accuracy", "val_accuracy", "seconds"]), metrics
assert all(len(p.split()) == len(rows) for _, p in curves), curves
# one matrix cell per (true, predicted) class pair, 4 classes
cells = set(re.findall(r'<rect class="cell" data-true="(\d+)" data-pred="(\d+)"', html))
assert cells == {(str(t), str(p)) for t in range(4) for p in range(4)}, sorted(cells)
assert len(re.findall(r'<rect class="cell"', html)) == 16
# the per-class table: one row per class, by name
body = html.split('<table class="grid sortable" id="pc">')[1].split("</table>")[0]
assert all(f"<td>{c}</td>" in body for c in ("account", "card", "refund", "transfer")), body[:300]
# self-contained: nothing fetched
assert not re.search(r'(src|href)="(https?:)?//', html), "external reference"
assert "Lineage" in html and "SHA-256" in html
PY
expect 0 "report from the model alone" -- "$EMBER" report "$T/t.model" -o "$T/alone.html" --json
contains "$T/out" '"test_examples":0' "--json without test data"
[ "$(grep -o 'class="curve"' "$T/alone.html" | wc -l)" -eq 5 ] && ! grep -q 'class="cell"' "$T/alone.html" && ok \
    || fail "the model-only report has the curves and no matrix"

# an image model: misclassified images as inline PNGs
expect 0 "train an image model" -- "$EMBER" train --train "$T/train-images-idx3-ubyte" --epochs 2 \
    --hidden 8 --seed 1 --threads 1 --out "$T/i.model" --quiet
expect 0 "report an image model" -- "$EMBER" report "$T/i.model" --test "$T/t10k-images-idx3-ubyte" \
    --max-images 5 -o "$T/i.html"
n_img=$(grep -o '<img width="12" height="12" alt="test image [0-9]*" src="data:image/png;base64,' "$T/i.html" | wc -l)
[ "$n_img" -ge 1 ] && [ "$n_img" -le 5 ] && ok || fail "misclassified images: $n_img"

# errors
expect 1 "no -o" -- "$EMBER" report "$T/t.model"
expect 1 "unknown option" -- "$EMBER" report "$T/t.model" -o "$T/x.html" --frob
expect 2 "missing model" -- "$EMBER" report "$T/none.model" -o "$T/x.html"
contains "$T/err" "none.model" "missing model named"
printf 'text,label\nmy card,card\nsomething,unknown_label\n' >"$T/bad.csv"
expect 2 "unknown label named" -- "$EMBER" report "$T/t.model" --test "$T/bad.csv" -o "$T/x.html"
contains "$T/err" "bad.csv:3" "the line of the unknown label"
expect 2 "unwritable output" -- "$EMBER" report "$T/t.model" -o "$T/no/such/dir/r.html"
contains "$T/err" "r.html" "unwritable output named"
[ ! -e "$T/x.html" ] && ok || fail "a failed report left a file"

# a recommender (issue 9): the model summary, RMSE/MAE, and the top-K table and
# bars of the model and the two baselines, with the figures of `ember recommend eval`
awk 'BEGIN { for (u = 1; u <= 40; u++) for (i = 1; i <= 30; i++) if ((u * 7 + i * 13) % 5 < 3) {
        r = 3 + 1.5 * sin(u) * cos(i) + (i < 6); r = int(r + 0.5); if (r > 5) r = 5
        printf "u%d\ti%d\t%d\t%d\n", u, i, r, (u * 7919 + i * 104729) % 100003 } }' > "$T/ratings.tsv"
expect 0 "split the ratings" -- "$EMBER" recommend split "$T/ratings.tsv" --train-out "$T/rtr.tsv" \
    --test-out "$T/rte.tsv" --quiet
expect 0 "train a rating model" -- "$EMBER" recommend train --train "$T/rtr.tsv" --dim 8 --epochs 20 \
    --out "$T/r.st" --quiet
expect 0 "train a BPR model" -- "$EMBER" recommend train --train "$T/rtr.tsv" --loss bpr --dim 8 \
    --epochs 20 --out "$T/b.st" --quiet
expect 0 "report a recommender" -- "$EMBER" report "$T/r.st" --test "$T/rte.tsv" --train "$T/rtr.tsv" \
    --k 5 -o "$T/r.html"
contains "$T/out" "wrote $T/r.html" "the recommender report is written"
"$EMBER" recommend eval "$T/r.st" --test "$T/rte.tsv" --train "$T/rtr.tsv" --k 5 --json > "$T/rank.json"
"$EMBER" recommend eval "$T/r.st" --test "$T/rte.tsv" --json > "$T/rating.json"
expect 0 "report a BPR recommender" -- "$EMBER" report "$T/b.st" --test "$T/rte.tsv" --train "$T/rtr.tsv" \
    -o "$T/b.html" --json
contains "$T/out" '"kind":"recommender","users":40,"items":30' "--json of a recommender report"
"$PY" - "$T/r.html" "$T/rank.json" "$T/rating.json" "$T/b.html" <<'PY' && ok || fail "recommender report HTML"
import json, re, sys
html, rank, rating, bpr = open(sys.argv[1]).read(), json.load(open(sys.argv[2])), \
    json.load(open(sys.argv[3])), open(sys.argv[4]).read()
metrics = ["recall", "ndcg", "hr", "map", "coverage"]
# the summary
assert "matrix factorisation (MSE)" in html and "<th>users</th><td>40</td>" in html, html[:2000]
assert "<th>items</th><td>30</td>" in html and "<b>dim</b>=8" in html
# the table: rows model, popular, random in that order, with eval's figures
rows = re.findall(r'<tr data-system="([a-z]+)"><td>[a-z]+</td>((?:<td>[0-9.]+</td>){5})</tr>', html)
assert [r[0] for r in rows] == ["model", "popular", "random"], rows
want = {"model": rank, "popular": rank["popular"], "random": rank["random"]}
for system, cells in rows:
    got = [float(x) for x in re.findall(r"<td>([0-9.]+)</td>", cells)]
    # the page prints 4 decimals, eval 6
    assert all(abs(g - want[system][m]) <= 5.1e-5 for g, m in zip(got, metrics)), (system, got, want[system])
assert "Recall@5" in html and "Top-5 ranking" in html
# one bar per system and metric, each with its value in the tooltip
bars = re.findall(r'<rect class="bar" data-system="([a-z]+)" data-metric="([a-z]+)"[^>]*>'
                  r'<title>[a-z]+ [A-Za-z]+@5: ([0-9.]+)</title>', html)
assert sorted((s, m) for s, m, _ in bars) == sorted((s, m) for s in want for m in metrics), bars
assert all(abs(float(v) - want[s][m]) < 1e-4 for s, m, v in bars), bars
# RMSE/MAE of the rating model, as eval prints them
cells = re.search(r'<table class="grid" id="rating">.*?<tr><td>([0-9.]+)</td><td>([0-9.]+)</td>', html)
assert cells and abs(float(cells.group(1)) - rating["rmse"]) <= 5.1e-5, cells
assert abs(float(cells.group(2)) - rating["mae"]) <= 5.1e-5
# the loss per epoch (20 points) and the lineage `ember recommend train` stored
curves = re.findall(r'<polyline class="curve" data-metric="([a-z_]+)"[^>]*points="([^"]*)"', html)
assert [m for m, _ in curves] == ["loss", "seconds"] and len(curves[0][1].split()) == 20, curves
assert "<h2>Lineage</h2>" in html and "rtr.tsv" in html.split("<h2>Lineage</h2>")[1] and "SHA-256" in html
# a BPR model has no RMSE/MAE, but the ranking
assert 'id="rating"' not in bpr and "matrix factorisation (BPR)" in bpr and 'data-system="random"' in bpr
assert not re.search(r'(src|href)="(https?:)?//', html), "external reference"
PY
# a two-tower model: its kind and settings, no RMSE, the ranking as eval gives it
expect 0 "train a two-tower model" -- "$EMBER" recommend train --train "$T/rtr.tsv" --model two-tower \
    --dim 8 --id-dim 8 --hidden 0 --negatives 8 --epochs 3 --out "$T/tt.st" --quiet
expect 0 "report a two-tower model" -- "$EMBER" report "$T/tt.st" --test "$T/rte.tsv" --train "$T/rtr.tsv" \
    --k 5 -o "$T/tt.html"
"$EMBER" recommend eval "$T/tt.st" --test "$T/rte.tsv" --train "$T/rtr.tsv" --k 5 --json > "$T/ttrank.json"
"$PY" - "$T/tt.html" "$T/ttrank.json" <<'PY' && ok || fail "two-tower report HTML"
import json, re, sys
html, rank = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))
assert "<th>kind</th><td>two-tower</td>" in html and "<b>id_dim</b>=8" in html, html[:1500]
assert 'id="rating"' not in html
row = re.search(r'<tr data-system="model"><td>model</td>((?:<td>[0-9.]+</td>){5})</tr>', html)
got = [float(x) for x in re.findall(r"<td>([0-9.]+)</td>", row.group(1))]
assert all(abs(g - rank[m]) <= 5.1e-5 for g, m in zip(got, ["recall", "ndcg", "hr", "map", "coverage"])), (got, rank)
assert len(re.findall(r'<rect class="bar"', html)) == 15
PY
expect 0 "a recommender report from the model alone" -- "$EMBER" report "$T/r.st" -o "$T/r0.html"
grep -q "No test data given" "$T/r0.html" && ! grep -q 'class="bar"' "$T/r0.html" && ok \
    || fail "the model-only recommender report has no figures"
expect 0 "recommender: --test, the train file from the lineage" -- "$EMBER" report "$T/r.st" --test "$T/rte.tsv" -o "$T/lin.html"
if [ "$(grep -o '<rect class="bar"' "$T/lin.html" | wc -l)" -eq 15 ]; then ok; else fail "report with the lineage's train file: no bars"; fi
"$EMBER" recommend train --model two-tower --train "$T/rtr.tsv" --epochs 1 --out "$T/gone.st" --quiet
mv "$T/rtr.tsv" "$T/rtr_moved.tsv"
expect 1 "recommender: --test, the recorded train file gone" -- "$EMBER" report "$T/gone.st" --test "$T/rte.tsv" -o "$T/x.html"
contains "$T/err" "give --train FILE" "--train is asked for"
mv "$T/rtr_moved.tsv" "$T/rtr.tsv"
expect 1 "recommender: a classifier-only option" -- "$EMBER" report "$T/r.st" --max-images 3 -o "$T/x.html"
contains "$T/err" "--max-images goes with a classifier; .*r.st is a recommender" "classifier option named"
expect 1 "recommender: --labels" -- "$EMBER" report "$T/r.st" --labels "$T/l" -o "$T/x.html"
contains "$T/err" "--labels goes with a classifier" "--labels named"
expect 1 "classifier: a recommender-only option" -- "$EMBER" report "$T/t.model" --train "$T/rtr.tsv" \
    --test "$T/test.csv" -o "$T/x.html"
contains "$T/err" "--train goes with a recommender" "recommender option named"
expect 2 "recommender: missing test file" -- "$EMBER" report "$T/r.st" --test "$T/none.tsv" \
    --train "$T/rtr.tsv" -o "$T/x.html"
contains "$T/err" "none.tsv" "missing test file named"
printf 'u1\ti1\t4\t3\nu2\ti1\tx\t4\n' > "$T/bad.tsv"
expect 2 "recommender: a bad test file" -- "$EMBER" report "$T/r.st" --test "$T/bad.tsv" \
    --train "$T/rtr.tsv" -o "$T/x.html"
contains "$T/err" "bad.tsv:2: field 3 (rating)" "bad test line named"
[ ! -e "$T/x.html" ] && ok || fail "a failed recommender report left a file"

# the page in a browser
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
    if [ -n "${CI:-}" ]; then
        fail "no chromium on PATH; CI must run the browser check (make deps installs chromium)"
    else
        echo "report: chromium not installed: browser check skipped"
        finish report
        exit $(( fails ? 1 : 77 ))
    fi
else
    SHOT=$BUILD/report_page.png
    rm -f "$SHOT"
    mkdir -p "$T/profile"
    HOME=$T timeout -k 5 60 "$CHROMIUM" --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage \
        --no-first-run --user-data-dir="$T/profile" --disable-extensions --disable-background-networking \
        --hide-scrollbars --window-size=1000,1400 --screenshot="$SHOT" "file://$T/t.html" \
        >"$T/chromium.out" 2>"$T/chromium.err" || fail "chromium: $(tail -n 3 "$T/chromium.err")"
    # painted: many colours, and the blue of the curves and the F1 bars
    out=$("$PY" "$(dirname "$0")/../png_colours.py" "$SHOT" 2459d6) &&
    read -r dims ncol _ blue <<<"$out" &&
    [ "$dims" = "1000x1400," ] && [ "$ncol" -ge 16 ] && [ "$blue" -ge 1000 ] && ok || fail "screenshot $SHOT: $out"
    echo "screenshot: $SHOT ($out)"
    # the recommender's page: painted, with the bars of all three systems
    # (blue model, orange popular, green random)
    SHOT=$BUILD/report_recommender_page.png
    rm -f "$SHOT"
    HOME=$T timeout -k 5 60 "$CHROMIUM" --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage \
        --no-first-run --user-data-dir="$T/profile" --disable-extensions --disable-background-networking \
        --hide-scrollbars --window-size=1000,1400 --screenshot="$SHOT" "file://$T/r.html" \
        >"$T/chromium.out" 2>"$T/chromium.err" || fail "chromium: $(tail -n 3 "$T/chromium.err")"
    out=$("$PY" "$(dirname "$0")/../png_colours.py" "$SHOT" 2459d6 d6582a 2a9d5c) &&
    read -r dims ncol _ blue orange green <<<"$out" &&
    [ "$dims" = "1000x1400," ] && [ "$ncol" -ge 16 ] && [ "$blue" -ge 300 ] && [ "$orange" -ge 300 ] &&
        [ "$green" -ge 300 ] && ok || fail "screenshot $SHOT: $out"
    echo "screenshot: $SHOT ($out)"
fi
finish report
