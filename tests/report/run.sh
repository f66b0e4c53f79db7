#!/usr/bin/env bash
# tests/report/run.sh EMBER BUILD_DIR - `ember report` end to end (issue 9):
# a text model trained with --history and validation data, its report with a
# test file (one curve per metric, one matrix cell per class pair, a per-class
# row per class, nothing loaded from a network), the report from the model
# file alone, an image model's misclassified images, error exits; then the
# page in headless Chromium: the screenshot must be painted (many colours, the
# curves' and bars' blue). Skips (77) without chromium, except on CI.
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
fi
finish report
