#!/usr/bin/env bash
# tests/serve_cli/run.sh EMBER DATA_DIR - `ember serve` as a process: option
# errors (exit 1), a bad model or answers file at start (exit 2, nothing
# left listening), the port printed for --port 0, SIGHUP reloads (a good
# replacement becomes version 2, a corrupt one is refused and version 2 keeps
# answering), SIGTERM / SIGINT stop it with exit 0, and a recommender file
# served on /v1/recommend with the lists of `ember recommend top`/`similar`. HTTP through
# python3's urllib (no curl needed).
set -u
EMBER=$1
DATA=$2
T=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
. "$(dirname "$0")/../lib.sh"

# http METHOD PATH [JSON]: prints "STATUS BODY"
http() {
    /usr/bin/env python3 - "$PORT" "$@" <<'PY'
import sys, urllib.request, urllib.error
port, method, path = sys.argv[1], sys.argv[2], sys.argv[3]
data = sys.argv[4].encode() if len(sys.argv) > 4 else None
req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                             headers={"Content-Type": "application/json"} if data else {})
try:
    with urllib.request.urlopen(req, timeout=10) as r:
        print(r.status, r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
except Exception as e:
    print("000", e)
PY
}

# wait_log TEXT: until the server log holds TEXT (10 s)
wait_log() {
    for _ in $(seq 100); do grep -q -- "$1" "$T/log" && return 0; sleep 0.1; done
    fail "server log never said '$1': $(tail -5 "$T/log")"
    return 1
}

# a small model on Banking77 (2 epochs: only the service is under test)
head -n 2001 "$DATA/banking77/train.csv" > "$T/train.csv"
expect 0 "train" -- "$EMBER" train --train "$T/train.csv" --arch text --epochs 2 --quiet \
    --threads 1 --out "$T/m.safetensors"
cp "$T/m.safetensors" "$T/live.safetensors"

expect 0 "serve --help" -- "$EMBER" serve --help
contains "$T/out" "/v1/predict" "help names the endpoint"
expect 1 "no model" -- "$EMBER" serve
expect 1 "bad port" -- "$EMBER" serve "$T/m.safetensors" --port 70000
contains "$T/err" "--port: '70000'" "bad port named"
expect 1 "bad threshold" -- "$EMBER" serve "$T/m.safetensors" --threshold 2
expect 2 "missing model" -- "$EMBER" serve "$T/none.safetensors" --port 0
contains "$T/err" "none.safetensors" "missing model named"
echo '{"no_such_intent": "hello"}' > "$T/bad_answers.json"
expect 2 "answers with an unknown intent" -- "$EMBER" serve "$T/m.safetensors" --port 0 \
    --answers "$T/bad_answers.json"
contains "$T/err" "no_such_intent" "unknown intent named"

# start, port from the log
echo '{"card_arrival": "Cards arrive within 3 working days."}' > "$T/answers.json"
"$EMBER" serve "$T/live.safetensors" --port 0 --answers "$T/answers.json" 2>"$T/log" &
PID=$!
wait_log "model version 1 loaded"
PORT=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$T/log" | grep -o '[0-9]*$')
[ -n "$PORT" ] && ok || fail "no port in the log"
http GET /readyz > "$T/r"; contains "$T/r" '^200 .*"model_version":1' "ready, version 1"
http POST /v1/predict '{"text": "my card still has not arrived"}' > "$T/r"
contains "$T/r" '^200 .*"model_version":1' "predict on version 1"

# SIGHUP with a corrupt file: refused, version 1 keeps serving
head -c 1000 "$T/m.safetensors" > "$T/live.safetensors"
kill -HUP "$PID"
wait_log "load failed (the previous model keeps serving)"
http POST /v1/predict '{"text": "my card still has not arrived"}' > "$T/r"
contains "$T/r" '^200 .*"model_version":1' "corrupt reload refused, version 1 answers"
# SIGHUP with a good file: version 2
cp "$T/m.safetensors" "$T/live.safetensors.tmp" && mv "$T/live.safetensors.tmp" "$T/live.safetensors"
kill -HUP "$PID"
wait_log "model version 2 loaded"
http POST /v1/predict '{"text": "my card still has not arrived"}' > "$T/r"
contains "$T/r" '^200 .*"model_version":2' "reloaded to version 2"
http GET /metrics > "$T/r"
contains "$T/r" 'ember_model_loads_total{result="error"} 1' "failed reload counted"

# SIGTERM: exit 0
kill -TERM "$PID"
wait "$PID"; rc=$?; PID=
[ "$rc" -eq 0 ] && ok || fail "SIGTERM: exit $rc, want 0"
contains "$T/log" "SIGTERM: stopping" "SIGTERM logged"

# SIGINT: exit 0 too
"$EMBER" serve "$T/m.safetensors" --port 0 2>"$T/log" &
PID=$!
wait_log "model version 1 loaded"
kill -INT "$PID"
wait "$PID"; rc=$?; PID=
[ "$rc" -eq 0 ] && ok || fail "SIGINT: exit $rc, want 0"

# a recommender file: the kind is read from the file; the lists equal
# `ember recommend top` / `similar` for the same model
awk 'BEGIN { for (u = 1; u <= 25; u++) for (i = 1; i <= 15; i++) if ((u + i) % 3)
        printf "u%d\ti%d\t%d\t%d\n", u, i, 1 + (u * 7 + i * 3) % 5, u * 100 + i }' > "$T/ratings.tsv"
expect 0 "recommend train" -- "$EMBER" recommend train --train "$T/ratings.tsv" --dim 8 --epochs 10 \
    --out "$T/rec.st" --quiet
expect 1 "recommender with --answers (a usage error)" -- "$EMBER" serve "$T/rec.st" --port 0 --answers "$T/answers.json"
contains "$T/err" "rec.st is a recommender model: an answers file" "answers refused for a recommender"
"$EMBER" serve "$T/rec.st" --port 0 2>"$T/log" &
PID=$!
wait_log "model version 1 loaded"
contains "$T/log" "a recommender of 25 users and 15 items" "recommender load logged"
PORT=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$T/log" | grep -o '[0-9]*$')
# same items (in order) and scores as the CLI, for a user with an exclude list
"$EMBER" recommend top "$T/rec.st" --user u4 -k 7 --json > "$T/top.json"
http POST /v1/recommend '{"user": "u4", "k": 5, "exclude": ["'"$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["items"][0]["item"])' "$T/top.json")"'", "nope"]}' > "$T/r"
/usr/bin/env python3 - "$T/top.json" "$T/r" <<'PY' && ok || fail "served top != ember recommend top: $(cat "$T/r")"
import json, sys
cli = json.load(open(sys.argv[1]))["items"]
status, body = open(sys.argv[2]).read().split(" ", 1)
got = json.loads(body)
assert status == "200" and got["user"] == "u4" and got["known"] is True, body
want = cli[1:6]   # the CLI's first item was excluded
assert [e["item"] for e in got["items"]] == [e["item"] for e in want], (got, want)
assert all(abs(a["score"] - b["score"]) <= 1e-5 * abs(b["score"]) for a, b in zip(got["items"], want))
PY
"$EMBER" recommend similar "$T/rec.st" --item i3 -k 4 --json > "$T/sim.json"
http POST /v1/recommend '{"item": "i3", "k": 4}' > "$T/r"
/usr/bin/env python3 - "$T/sim.json" "$T/r" <<'PY' && ok || fail "served similar != ember recommend similar: $(cat "$T/r")"
import json, sys
cli = json.load(open(sys.argv[1]))["similar"]
status, body = open(sys.argv[2]).read().split(" ", 1)
got = json.loads(body)
assert status == "200" and got["item"] == "i3" and got["known"] is True, body
assert [e["item"] for e in got["items"]] == [e["item"] for e in cli], (got, cli)
PY
http POST /v1/recommend '{"user": "u4", "k": 0}' > "$T/r"
contains "$T/r" '^400 .*\\"k\\" must be a whole number' "k 0 refused naming k"
http POST /v1/predict '{"text": "hello"}' > "$T/r"
contains "$T/r" '^404 .*use POST /v1/recommend' "predict on a recommender: 404"
http GET /v1/model > "$T/r"
contains "$T/r" '^200 {"kind":"recommender".*"users":25,"items":15' "model document: kind, users, items"
kill -TERM "$PID"
wait "$PID"; rc=$?; PID=
[ "$rc" -eq 0 ] && ok || fail "recommender SIGTERM: exit $rc, want 0"

finish serve_cli
