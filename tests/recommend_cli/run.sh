#!/bin/bash
# recommend_cli/run.sh EMBER - `ember recommend train` and `eval` end to end on
# made-up MovieLens-layout files (tab-separated user item rating timestamp, no
# header; the project does not ship MovieLens): the bare command, --json keys,
# determinism for a seed and thread count (same model bytes), the fallback for
# unknown ids, and bad input (exit 2 naming file:line and field) and usage
# errors (exit 1).
set -u
EMBER=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/../lib.sh"

# 30 users x 20 items from made-up rank-1 preferences, every third pair held out
awk 'BEGIN { for (u = 1; u <= 30; u++) for (i = 1; i <= 20; i++) {
        r = 3 + 1.5 * sin(u) * cos(i); r = int(r + 0.5); if (r < 1) r = 1; if (r > 5) r = 5
        f = ((u + i) % 3 == 0) ? "test" : "base"
        printf "%d\t%d\t%d\t%d\n", u, i, r, 880000000 + u * 100 + i > ("'"$T"'/u1." f) } }'
printf '31\t1\t4\t1\n1\t99\t2\t2\n' >> "$T/u1.test" # an unknown user, an unknown item

expect 0 "bare train" -- "$EMBER" recommend train --train "$T/u1.base" --out "$T/m.st" --epochs 60
contains "$T/out" "saved" "train prints where it saved"
contains "$T/err" "epoch 60/60" "train reports epochs"
expect 0 "eval" -- "$EMBER" recommend eval "$T/m.st" --test "$T/u1.test"
contains "$T/out" "RMSE" "eval prints RMSE"
contains "$T/out" "with an item not seen: 1" "eval counts unknown items"
expect 0 "eval --json" -- "$EMBER" recommend eval "$T/m.st" --test "$T/u1.test" --json
contains "$T/out" '"rmse":' "json rmse"
contains "$T/out" '"mae":' "json mae"
contains "$T/out" '"unknown_users":1,"unknown_items":1' "json unknown counts"
rmse=$(sed -n 's/.*"rmse":\([0-9.]*\).*/\1/p' "$T/out")
if awk -v r="$rmse" 'BEGIN { exit !(r < 0.9) }'; then ok; else fail "RMSE $rmse on rank-1 data"; fi

expect 0 "train --json, 2 threads" -- "$EMBER" recommend train --train "$T/u1.base" --out "$T/a.st" \
    --threads 2 --seed 7 --dim 16 --epochs 5 --json
contains "$T/out" '"epoch_loss":\[' "train json has the loss per epoch"
"$EMBER" recommend train --train "$T/u1.base" --out "$T/b.st" --threads 2 --seed 7 --dim 16 \
    --epochs 5 --quiet
if same_weights "$T/a.st" "$T/b.st"; then ok; else fail "same seed and threads: different weights"; fi
# the two blocks of a round run one after the other when OpenMP may use one
# thread: the same model, byte for byte (stratified SGD, docs/recommend.md)
OMP_THREAD_LIMIT=1 "$EMBER" recommend train --train "$T/u1.base" --out "$T/s.st" --threads 2 \
    --seed 7 --dim 16 --epochs 5 --quiet
if same_weights "$T/a.st" "$T/s.st"; then ok; else fail "2 threads run serially: different weights"; fi
"$EMBER" recommend train --train "$T/u1.base" --out "$T/c.st" --threads 2 --seed 8 --dim 16 \
    --epochs 5 --quiet
if ! same_weights "$T/a.st" "$T/c.st"; then ok; else fail "another seed gave the same weights"; fi
expect 0 "adam" -- "$EMBER" recommend train --train "$T/u1.base" --out "$T/d.st" --optimizer adam \
    --epochs 5 --quiet

# top-K: eval --k with the baselines, and top
expect 0 "eval --k" -- "$EMBER" recommend eval "$T/m.st" --test "$T/u1.test" --k 5 --train "$T/u1.base" --json
for key in '"k":5' '"recall":' '"ndcg":' '"hr":' '"map":' '"coverage":' '"popular":{"recall":' '"random":{"recall":'; do
    contains "$T/out" "$key" "eval --k json has $key"
done
expect 0 "eval --k table" -- "$EMBER" recommend eval "$T/m.st" --test "$T/u1.test" --k 5 --train "$T/u1.base"
contains "$T/out" "popular" "eval --k prints the popular baseline"
# without --train: the training file the lineage records, checked unchanged
"$EMBER" recommend eval "$T/m.st" --test "$T/u1.test" --k 5 --train "$T/u1.base" --json > "$T/k_given.json"
expect 0 "eval --k, the train file from the lineage" -- "$EMBER" recommend eval "$T/m.st" --test "$T/u1.test" --k 5 --json
if cmp -s "$T/out" "$T/k_given.json"; then ok; else fail "eval --k: the lineage's train file gave other figures"; fi
cp "$T/u1.base" "$T/moved.base"
"$EMBER" recommend train --train "$T/moved.base" --out "$T/moved.st" --epochs 2 --quiet
printf '1\t1\t5\t1\n' >> "$T/moved.base"
expect 1 "eval --k, the recorded train file changed" -- "$EMBER" recommend eval "$T/moved.st" --test "$T/u1.test" --k 5
contains "$T/err" "moved.base, is missing or changed since" "eval --k: a changed train file is named"
expect 0 "top" -- "$EMBER" recommend top "$T/m.st" --user 1 -k 20
if [ "$(wc -l < "$T/out")" -eq 20 ]; then ok; else fail "top -k 20 (20 items) printed $(wc -l < "$T/out") lines"; fi
expect 0 "top --exclude-seen" -- "$EMBER" recommend top "$T/m.st" --user 1 -k 20 --exclude-seen --train "$T/u1.base"
# user 1 has 13 items in u1.base (i of 1..20 with (1 + i) % 3 != 0): 7 remain
if [ "$(wc -l < "$T/out")" -eq 7 ]; then ok; else fail "top --exclude-seen printed $(wc -l < "$T/out") lines, want 7"; fi
if ! awk -F'\t' 'NR == FNR { if ($1 == 1) seen[$2] = 1; next } ($2 in seen) { exit 1 }' "$T/u1.base" "$T/out"; then
    fail "top --exclude-seen listed a seen item"; else ok; fi
expect 0 "top --json" -- "$EMBER" recommend top "$T/m.st" --user 1 -k 2 --json
contains "$T/out" '"items":\[{"item":' "top json"
expect 0 "similar" -- "$EMBER" recommend similar "$T/m.st" --item 3 -k 4
if [ "$(wc -l < "$T/out")" -eq 4 ] && ! cut -f2 "$T/out" | grep -qx 3; then ok; else
    fail "similar -k 4: $(cat "$T/out")"; fi
# titles from a made-up u.item in Latin-1 (0xE9: e acute), shown as UTF-8
: > "$T/u.item"
for i in $(seq 1 20); do
    printf '%d|Caf\351 %d (1995)|01-Jan-1995||http://x|0|0|0|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0\n' "$i" "$i" >> "$T/u.item"
done
expect 0 "similar --items --json" -- "$EMBER" recommend similar "$T/m.st" --item 3 -k 2 --items "$T/u.item" --json
contains "$T/out" '"title":"Café ' "similar shows UTF-8 titles"
expect 1 "similar: unknown item" -- "$EMBER" recommend similar "$T/m.st" --item nope
contains "$T/err" "item 'nope' is not in the model" "similar names the unknown item"
printf '1|A|d||u|0|0|2\n' > "$T/bad.item"
expect 2 "similar: bad u.item" -- "$EMBER" recommend similar "$T/m.st" --item 3 --items "$T/bad.item"
contains "$T/err" "bad.item:1: 8 '|'-separated fields" "bad u.item names file:line"
"$EMBER" recommend top "$T/m.st" --user 1 -k 20 --exclude-seen --train "$T/u1.base" > "$T/top_given.txt"
expect 0 "top --exclude-seen, the train file from the lineage" -- "$EMBER" recommend top "$T/m.st" --user 1 -k 20 --exclude-seen
if cmp -s "$T/out" "$T/top_given.txt"; then ok; else fail "top --exclude-seen: the lineage's train file gave another list"; fi
expect 1 "top --exclude-seen, the recorded train file changed" -- "$EMBER" recommend top "$T/moved.st" --user 1 --exclude-seen
expect 1 "top --train without --exclude-seen" -- "$EMBER" recommend top "$T/m.st" --user 1 --train "$T/u1.base"

printf '1\t2\t3\t4\n1\t2\tx\t4\n' > "$T/bad.tsv"

# implicit feedback: --loss bpr on user,item clicks (no rating column)
awk 'BEGIN { for (u = 1; u <= 30; u++) for (i = u % 3; i < 30; i += 3)
        printf "u%d,i%d\n", u, i > ("'"$T"'/clicks.csv") }'
# every 7th line: users of one class hold out different items (every 5th
# would hold out the same two items for a whole class, unseen in training)
awk -F, 'NR % 7 == 0' "$T/clicks.csv" > "$T/clicks_test.csv"
awk -F, 'NR % 7 != 0' "$T/clicks.csv" > "$T/clicks_train.csv"
expect 0 "train --loss bpr" -- "$EMBER" recommend train --train "$T/clicks_train.csv" --loss bpr \
    --out "$T/bpr.st" --epochs 30 --dim 8 --json
contains "$T/out" '"loss":"bpr"' "train json names the loss"
expect 1 "bpr model: no RMSE" -- "$EMBER" recommend eval "$T/bpr.st" --test "$T/clicks_test.csv"
contains "$T/err" "use --k K --train FILE" "bpr eval without --k explains"
expect 0 "bpr eval --k" -- "$EMBER" recommend eval "$T/bpr.st" --test "$T/clicks_test.csv" --k 5 \
    --train "$T/clicks_train.csv" --json
recall=$(sed -n 's/^{"k":5,"users":[0-9]*,"recall":\([0-9.]*\).*/\1/p' "$T/out")
users=$(sed -n 's/^{"k":5,"users":\([0-9]*\).*/\1/p' "$T/out")
if [ "$users" -gt 20 ]; then ok; else fail "bpr eval --k: $users users"; fi
precall=$(sed -n 's/.*"popular":{"recall":\([0-9.]*\).*/\1/p' "$T/out")
if awk -v a="$recall" -v b="$precall" 'BEGIN { exit !(a > 0.8 && a > b) }'; then ok; else
    fail "bpr recall@5 $recall, popular $precall"; fi
# leave-last-out on the command line: the latest record of each user to test
printf 'a\tx\t5\t10\na\ty\t4\t30\nb\tx\t3\t50\na\tz\t1\t20\nc\ty\t2\t5\nb\ty\t1\t40\n' > "$T/ll.tsv"
expect 0 "split" -- "$EMBER" recommend split "$T/ll.tsv" --train-out "$T/ll_tr.tsv" --test-out "$T/ll_te.tsv"
if [ "$(cat "$T/ll_te.tsv")" = "$(printf 'a\ty\t4\t30\nb\tx\t3\t50')" ]; then ok; else
    fail "split test part: $(cat "$T/ll_te.tsv")"; fi
if [ "$(cat "$T/ll_tr.tsv")" = "$(printf 'a\tx\t5\t10\na\tz\t1\t20\nc\ty\t2\t5\nb\ty\t1\t40')" ]; then ok; else
    fail "split train part: $(cat "$T/ll_tr.tsv")"; fi
expect 1 "split without outputs" -- "$EMBER" recommend split "$T/ll.tsv"
expect 2 "split a bad file" -- "$EMBER" recommend split "$T/bad.tsv" --train-out "$T/p" --test-out "$T/q"

expect 1 "unknown loss" -- "$EMBER" recommend train --train "$T/u1.base" --out "$T/x.st" --loss hinge
expect 2 "mse on clicks" -- "$EMBER" recommend train --train "$T/clicks_train.csv" --out "$T/x.st"
contains "$T/err" "bpr learns from such data" "mse on clicks points to bpr"


expect 2 "bad rating" -- "$EMBER" recommend train --train "$T/bad.tsv" --out "$T/x.st"
contains "$T/err" "bad.tsv:2: field 3 (rating): 'x'" "bad rating names file:line:field"
printf '1\t2\n' > "$T/clicks1.tsv"
expect 2 "no ratings" -- "$EMBER" recommend train --train "$T/clicks1.tsv" --out "$T/x.st"
contains "$T/err" "no rating column" "no ratings explained"
expect 2 "eval a missing model" -- "$EMBER" recommend eval "$T/none.st" --test "$T/u1.test"
expect 2 "eval bad test file" -- "$EMBER" recommend eval "$T/m.st" --test "$T/bad.tsv"
contains "$T/err" "bad.tsv:2" "eval names the bad line"
expect 1 "no --out" -- "$EMBER" recommend train --train "$T/u1.base"
expect 1 "unknown model" -- "$EMBER" recommend train --train "$T/u1.base" --out "$T/x.st" --model svd
contains "$T/err" "two-tower" "unknown model lists the models"

# two-tower with user and item features: 30 users in two groups (features
# file with a header), 20 items in two genres (a MovieLens u.item layout);
# group-1 users take odd items, group-2 users even ones; item 21 (odd genre)
# and 22 (even genre) have no interactions (cold start)
awk 'BEGIN { for (u = 1; u <= 30; u++) for (k = 0; k < 6; k++) {
        i = ((u * 3 + k * 3) % 10) * 2 + (u <= 15 ? 1 : 2)
        printf "%d\t%d\t1\t%d\n", u, i, 880000000 + u * 100 + k } }' > "$T/tt.tsv"
{ echo "user,group,age"; for u in $(seq 1 30); do
    echo "$u,g$(( u <= 15 ? 1 : 2 )),$(( 20 + u ))"; done; } > "$T/tt_users.csv"
for i in $(seq 1 22); do
    if [ $((i % 2)) -eq 1 ]; then g="1|0"; else g="0|1"; fi
    echo "$i|Film $i (1995)|01-Jan-1995||http://x|0|$g|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0"
done > "$T/tt_u.item"
"$EMBER" recommend split "$T/tt.tsv" --train-out "$T/tt_tr.tsv" --test-out "$T/tt_te.tsv" --quiet
expect 0 "two-tower train" -- "$EMBER" recommend train --model two-tower --train "$T/tt_tr.tsv" \
    --users "$T/tt_users.csv" --items "$T/tt_u.item" --epochs 40 --dim 8 --id-dim 8 --hidden 16 \
    --negatives 8 --batch-size 32 --lr 0.01 --id-dropout 0.3 --out "$T/tt.st"
contains "$T/out" "2 cold items" "two-tower reports its cold-start items"
contains "$T/err" "tt_u.item: 22 items, 19 features" "two-tower reads u.item's genres"
expect 0 "two-tower train --json" -- "$EMBER" recommend train --model two-tower --train "$T/tt_tr.tsv" \
    --users "$T/tt_users.csv" --items "$T/tt_u.item" --epochs 40 --dim 8 --id-dim 8 --hidden 16 \
    --negatives 8 --batch-size 32 --lr 0.01 --id-dropout 0.3 --out "$T/tt2.st" --json --threads 2
for key in '"model":"two-tower"' '"cold_items":2' '"user_features":3' '"item_features":19' '"epoch_loss":\['; do
    contains "$T/out" "$key" "two-tower json has $key"
done
if same_weights "$T/tt.st" "$T/tt2.st"; then ok; else fail "two-tower: 1 and 2 threads, same seed: different weights"; fi
expect 0 "two-tower eval --k" -- "$EMBER" recommend eval "$T/tt.st" --test "$T/tt_te.tsv" --k 5 \
    --train "$T/tt_tr.tsv" --json
recall=$(sed -n 's/^{"k":5,"users":[0-9]*,"recall":\([0-9.]*\).*/\1/p' "$T/out")
pop=$(sed -n 's/.*"popular":{"recall":\([0-9.]*\).*/\1/p' "$T/out")
if awk -v r="$recall" -v p="$pop" 'BEGIN { exit !(r > p && r > 0.3) }'; then ok; else
    fail "two-tower recall@5 $recall vs popular $pop on made-up taste data"; fi
expect 0 "two-tower top, group 1" -- "$EMBER" recommend top "$T/tt.st" --user 3 -k 22 --json
# the cold odd item 21 ranks above the cold even item 22 for a group-1 user
p21=$(grep -o '"item":"2[12]"' "$T/out" | head -1)
if [ "$p21" = '"item":"21"' ]; then ok; else fail "group-1 user: cold items in order $(grep -o '"item":"2[12]"' "$T/out" | tr '\n' ' ')"; fi
expect 0 "two-tower top, group 2" -- "$EMBER" recommend top "$T/tt.st" --user 20 -k 22 --json
p22=$(grep -o '"item":"2[12]"' "$T/out" | head -1)
if [ "$p22" = '"item":"22"' ]; then ok; else fail "group-2 user: cold items in order $(grep -o '"item":"2[12]"' "$T/out" | tr '\n' ' ')"; fi
expect 0 "two-tower similar" -- "$EMBER" recommend similar "$T/tt.st" --item 1 -k 3
# lineage: what trained the model, shown by ember inspect
expect 0 "inspect a two-tower model" -- "$EMBER" inspect "$T/tt.st"
contains "$T/out" "recommender (two-tower): 30 users (0 cold), 22 items (2 cold)" "inspect summary"
contains "$T/out" "$(sha256sum "$T/tt_tr.tsv" | cut -c1-64)" "lineage has the train file's sha256"
contains "$T/out" "$(sha256sum "$T/tt_u.item" | cut -c1-64)" "lineage has the items file's sha256"
contains "$T/out" "command   ember recommend train --model two-tower" "lineage has the command"
contains "$T/out" "final  loss" "lineage has the final loss"
expect 0 "inspect --json" -- "$EMBER" inspect "$T/tt.st" --json
/usr/bin/env python3 - "$T/out" "$T/manifest.json" <<'PY' && ok || fail "lineage.history: 40 losses, manifest extracted"
import json, sys
j = json.load(open(sys.argv[1]))
h = j["metadata"]["lineage.history"]
assert h["epochs"] == 40 and len(h["loss"]) == 40 and len(h["seconds"]) == 40, h
assert j["metadata"]["lineage.config"]["options"]["negatives"] == 8
json.dump(j["metadata"]["lineage.data"]["train"], open(sys.argv[2], "w"))
PY
expect 0 "the recorded train data verifies" -- "$EMBER" data verify "$T/manifest.json"
printf '99\t1\t1\t1\n' >> "$T/tt_tr.tsv"
expect 2 "a changed train file does not" -- "$EMBER" data verify "$T/manifest.json"
expect 1 "two-tower eval RMSE" -- "$EMBER" recommend eval "$T/tt.st" --test "$T/tt_te.tsv"
contains "$T/err" "two-tower model" "RMSE of a two-tower model refused"
expect 1 "mf option on two-tower" -- "$EMBER" recommend train --model two-tower --train "$T/tt_tr.tsv" \
    --out "$T/x.st" --l2 0.1
contains "$T/err" "--l2 is an option of --model mf" "mf-only option named"
expect 1 "two-tower option on mf" -- "$EMBER" recommend train --train "$T/u1.base" --out "$T/x.st" \
    --users "$T/tt_users.csv"
contains "$T/err" "--users is an option of --model two-tower" "two-tower-only option named"
printf 'user,group\n1,a\n2,b,c\n' > "$T/bad_users.csv"
expect 2 "bad users file" -- "$EMBER" recommend train --model two-tower --train "$T/tt_tr.tsv" \
    --users "$T/bad_users.csv" --out "$T/x.st"
contains "$T/err" "bad_users.csv:3" "bad users file names the line"
expect 1 "unknown option" -- "$EMBER" recommend train --train "$T/u1.base" --out "$T/x.st" --bogus
expect 1 "bad dim" -- "$EMBER" recommend train --train "$T/u1.base" --out "$T/x.st" --dim 0
expect 1 "unknown subcommand" -- "$EMBER" recommend frobnicate
expect 0 "help" -- "$EMBER" recommend --help
contains "$T/out" "recommend train" "help shows usage"
finish recommend_cli
