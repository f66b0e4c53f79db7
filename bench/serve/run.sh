#!/usr/bin/env bash
# run.sh - the `ember serve` HTTP benchmark (issue 5) in one command: trains the Banking77
# reference model (or takes MODEL=), starts `ember serve MODEL --port 0 --threads N`,
# waits for /readyz, then drives POST /v1/predict with wrk at concurrency 1, 16 and 64:
# first with valid single-text bodies only (1,000 distinct Banking77 test texts, cycled),
# then the same three runs with one malformed body in every 100 requests. Each run has a
# short warm-up first. Reads the server's /metrics before and after each run (status
# counts, so 400s and 5xx), its CPU time from /proc, and its RSS after the first warm-up
# and at the end. Stops the server with SIGTERM and checks that it exits 0. Prints one
# markdown table and saves it to $OUT_DIR/serve_bench.md; appends nothing to RESULTS.md.
#
#   bench/serve/run.sh                   # ~2.5 min: 6 runs x (3 s warm-up + 20 s)
#   DURATION=5 WARMUP=1 bench/serve/run.sh
#   PERF=1 bench/serve/run.sh            # also perf record -g the server at c=16 at the end
#
# Environment:
#   EMBER (build/ember)   the CLI; this script never builds it
#   MODEL                 a model file to serve (default: train the reference model,
#                         `ember train --arch text --epochs 10 --batch-size 32`, in $OUT_DIR)
#   THREADS (2)           ember serve --threads
#   DURATION (20)         seconds per measured wrk run; WARMUP (3) seconds before each
#   CONNS ("1 16 64")     wrk connections per run; wrk threads: 1 for c=1, else 2
#   TEXTS (1000)          distinct test texts to cycle through
#   BAD_EVERY (100)       in the malformed runs, every Nth request of a wrk thread is bad
#   PERF=1                after the runs, perf record -g -p SERVER for PERF_SECONDS (10)
#                         under wrk c=16; prints the top 15 symbols by self time
#   OUT_DIR               where everything goes (default: a new mktemp -d folder)
#   DATA (data/banking77) the folder with train.csv and test.csv
#   ENDPOINT (predict)    recommend: POST /v1/recommend instead, to a recommender (MODEL,
#                         or BPR with its defaults trained on REC_DATA/u.data), one body
#                         per MovieLens user {"user": U, "k": 10, "exclude": [the user's
#                         rated items]} (make_rec_bodies.py; REC_EXCLUDE=0: no exclude)
#   REC_DATA (../shared/datasets/movielens-100k)  MovieLens 100k, for ENDPOINT=recommend
# wrk runs on the same machine as the server and takes CPU from it (2 cores here): the
# table shows the CPU each used and what other processes took. Loopback only.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
EMBER=${EMBER:-$ROOT/build/ember}
MODEL=${MODEL:-}
THREADS=${THREADS:-2}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
CONNS=${CONNS:-1 16 64}
TEXTS=${TEXTS:-1000}
BAD_EVERY=${BAD_EVERY:-100}
PERF=${PERF:-0}
PERF_SECONDS=${PERF_SECONDS:-10}
DATA=${DATA:-$ROOT/data/banking77}
ENDPOINT=${ENDPOINT:-predict}
REC_DATA=${REC_DATA:-$ROOT/../shared/datasets/movielens-100k}
REC_EXCLUDE=${REC_EXCLUDE:-1}
OUT_DIR=${OUT_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/ember-serve-bench.XXXXXX")}
PY=/usr/bin/python3
WRK=${WRK:-wrk}
STOP_WAIT_S=30   # SIGTERM to exit: the server drains for up to 10 s (--drain default)

log() { echo "run.sh: $*" >&2; }
die() { log "$*"; exit 1; }

[ -x "$EMBER" ] || die "no Ember CLI at $EMBER (build it, or set EMBER=)"
command -v "$WRK" >/dev/null || die "no wrk (apt-get install wrk)"
command -v curl >/dev/null || die "no curl (apt-get install curl)"
[ -x "$PY" ] || die "no $PY (apt-get install python3)"
case $ENDPOINT in
    predict) [ -f "$DATA/test.csv" ] || die "missing $DATA/test.csv" ;;
    recommend) [ -f "$REC_DATA/u.data" ] || die "missing $REC_DATA/u.data (MovieLens 100k)" ;;
    *) die "ENDPOINT must be predict or recommend, not '$ENDPOINT'" ;;
esac
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
EMBER=$(cd "$(dirname "$EMBER")" && pwd)/$(basename "$EMBER")
TCK=$(getconf CLK_TCK)
log "outputs in $OUT_DIR"

# ---------------------------------------------------------------- the model
if [ -z "$MODEL" ] && [ "$ENDPOINT" = recommend ]; then
    MODEL=$OUT_DIR/ml100k-bpr.safetensors
    log "training BPR (the defaults) on $REC_DATA/u.data into $MODEL"
    "$EMBER" recommend train --train "$REC_DATA/u.data" --loss bpr --threads 2 --out "$MODEL" \
        > "$OUT_DIR/train.log" 2>&1 || die "ember recommend train failed: $(tail -n 2 "$OUT_DIR/train.log")"
elif [ -z "$MODEL" ]; then
    [ -f "$DATA/train.csv" ] || die "missing $DATA/train.csv"
    MODEL=$OUT_DIR/banking77.safetensors
    log "training the Banking77 reference model into $MODEL"
    "$EMBER" train --train "$DATA/train.csv" --valid "$DATA/test.csv" --arch text \
        --epochs 10 --batch-size 32 --out "$MODEL" > "$OUT_DIR/train.log" 2>&1 \
        || die "ember train failed: $(tail -n 2 "$OUT_DIR/train.log")"
fi
[ -f "$MODEL" ] || die "no model file $MODEL"

# ---------------------------------------------------------------- the wrk scripts
if [ "$ENDPOINT" = recommend ]; then
    [ "$TEXTS" -le 943 ] || TEXTS=943   # one body per user: MovieLens 100k has 943
    "$PY" "$HERE/make_rec_bodies.py" "$REC_DATA/u.data" "$TEXTS" "$REC_EXCLUDE" 0 > "$OUT_DIR/clean.lua"
    "$PY" "$HERE/make_rec_bodies.py" "$REC_DATA/u.data" "$TEXTS" "$REC_EXCLUDE" "$BAD_EVERY" \
        > "$OUT_DIR/mixed.lua" 2>/dev/null
else
    "$PY" "$HERE/make_bodies.py" "$DATA/test.csv" "$TEXTS" 0 > "$OUT_DIR/clean.lua"
    "$PY" "$HERE/make_bodies.py" "$DATA/test.csv" "$TEXTS" "$BAD_EVERY" > "$OUT_DIR/mixed.lua" 2>/dev/null
fi
cat "$HERE/predict.lua" >> "$OUT_DIR/clean.lua"
cat "$HERE/predict.lua" >> "$OUT_DIR/mixed.lua"

# ---------------------------------------------------------------- the server
# Not --quiet: with --quiet nothing tells the port that --port 0 picked. The server logs
# only at start, on (re)loads, on libmicrohttpd errors and at stop, not per request.
SERVER_PID=
stop_server() {
    # SIGTERM, then wait; the exit status goes to $OUT_DIR/server.rc.
    local pid=$1 i rc
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < STOP_WAIT_S * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "server $pid still running ${STOP_WAIT_S} s after SIGTERM: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rc=0
    wait "$pid" || rc=$?
    echo "$rc" > "$OUT_DIR/server.rc"
}
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        log "stopping the server (pid $SERVER_PID) on exit"
        stop_server "$SERVER_PID"
    fi
}
trap cleanup EXIT

rm -f "$OUT_DIR/server.rc"
"$EMBER" serve "$MODEL" --port 0 --threads "$THREADS" 2> "$OUT_DIR/serve.log" &
SERVER_PID=$!
PORT=
for ((i = 0; i < 100; i++)); do
    PORT=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\)/.*|\1|p' "$OUT_DIR/serve.log" | head -n 1)
    [ -n "$PORT" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "ember serve exited: $(tail -n 3 "$OUT_DIR/serve.log")"
    sleep 0.1
done
[ -n "$PORT" ] || die "no 'listening on' line in $OUT_DIR/serve.log after 10 s"
URL=http://127.0.0.1:$PORT
code=
for ((i = 0; i < 300; i++)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/readyz" || true)
    [ "$code" = 200 ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "ember serve exited: $(tail -n 3 "$OUT_DIR/serve.log")"
    sleep 0.1
done
[ "$code" = 200 ] || die "/readyz still answers '$code' after 30 s"
log "ember serve pid $SERVER_PID on $URL, $THREADS threads, model $MODEL"

# ---------------------------------------------------------------- helpers
metrics() { curl -sf "$URL/metrics" > "$1" || die "GET /metrics failed"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat"; }   # utime + stime
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }  # all CPUs
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status"; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$SERVER_PID/status"; }
answered() { awk '/^ember_http_requests_total\{/ { n += $2 } END { print n + 0 }' "$1"; }
note_load() {
    {
        printf '== %s  %s\n' "$1" "$(uptime)"
        ps -eo pid,pcpu,etime,args --sort=-pcpu | head -n 6 | cut -c1-150
    } >> "$OUT_DIR/load.txt"
}
others_running() {
    # The background training job of this machine, if any (not this script's processes).
    if pgrep -f valsel >/dev/null 2>&1; then echo yes; else echo no; fi
}
wrk_threads() { if [ "$1" -le 1 ]; then echo 1; else echo 2; fi; }

# run_wrk NAME SCRIPT CONNS SECONDS: one wrk run, output in $OUT_DIR/NAME.wrk, its CPU
# (user, sys seconds) in NAME.wrkcpu.
run_wrk() {
    local name=$1 script=$2 c=$3 secs=$4 rc=0 TIMEFORMAT='%U %S'
    { time "$WRK" -t"$(wrk_threads "$c")" -c"$c" -d"${secs}s" --latency -s "$script" "$URL/" \
        > "$OUT_DIR/$name.wrk" 2>&1 ; } 2> "$OUT_DIR/$name.wrkcpu" || rc=$?
    [ "$rc" = 0 ] || die "wrk failed (exit $rc): $(tail -n 3 "$OUT_DIR/$name.wrk")"
    kill -0 "$SERVER_PID" 2>/dev/null || die "the server died during $name: $(tail -n 3 "$OUT_DIR/serve.log")"
}

# measure MODE C: warm-up, then the measured run between two /metrics and CPU readings.
measure() {
    local mode=$1 c=$2 name="$1_c$2" t0 t1
    run_wrk "warmup_$name" "$OUT_DIR/$mode.lua" "$c" "$WARMUP"
    note_load "$name"
    echo "valsel_before $(others_running)" > "$OUT_DIR/$name.cpu"
    metrics "$OUT_DIR/$name.before.prom"
    local s0 b0 s1 b1
    s0=$(cpu_ticks); b0=$(busy_ticks); t0=$(date +%s.%N)
    log "$mode c=$c: ${DURATION} s"
    run_wrk "$name" "$OUT_DIR/$mode.lua" "$c" "$DURATION"
    s1=$(cpu_ticks); b1=$(busy_ticks); t1=$(date +%s.%N)
    metrics "$OUT_DIR/$name.after.prom"
    {
        echo "server_ticks $((s1 - s0))"
        echo "busy_ticks $((b1 - b0))"
        echo "tck $TCK"
        echo "wall_s $(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.3f", a - b }')"
        echo "valsel_after $(others_running)"
    } >> "$OUT_DIR/$name.cpu"
}

# ---------------------------------------------------------------- meta
{
    printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf 'commit\t%s\n' "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '-')$(git -C "$ROOT" diff --quiet HEAD -- src tools include 2>/dev/null || echo ' (src/tools/include modified)')"
    printf 'cpu\t%s, %s\n' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" "$(grep -qw avx512f /proc/cpuinfo && echo AVX-512 || echo 'AVX2, no AVX-512')"
    printf 'nproc\t%s\n' "$(nproc)"
    printf 'server\t%s serve MODEL --port 0 --threads %s (pid %s)\n' "$EMBER" "$THREADS" "$SERVER_PID"
    printf 'model\t%s\n' "$MODEL"
    printf 'endpoint\t%s\n' "$ENDPOINT"
    printf 'rec_exclude\t%s\n' "$REC_EXCLUDE"
    printf 'wrk\t%s\n' "$("$WRK" --version 2>&1 | head -n 1 | cut -d' ' -f1-2)"
    printf 'duration\t%s\n' "$DURATION"
    printf 'warmup\t%s\n' "$WARMUP"
    printf 'texts\t%s\n' "$TEXTS"
    printf 'bad_every\t%s\n' "$BAD_EVERY"
    printf 'conns\t%s\n' "$CONNS"
    printf 'valsel_start\t%s\n' "$(others_running)"
    printf 'perf_seconds\t%s\n' "$PERF_SECONDS"
} > "$OUT_DIR/meta.txt"
: > "$OUT_DIR/load.txt"

# ---------------------------------------------------------------- the runs
log "warm-up: c=16 for ${WARMUP} s, then the first RSS reading"
run_wrk warmup_first "$OUT_DIR/clean.lua" 16 "$WARMUP"
metrics "$OUT_DIR/rss1.prom"
{ echo "rss1_kb $(rss_kb)"; echo "hwm1_kb $(hwm_kb)"; echo "answered1 $(answered "$OUT_DIR/rss1.prom")"; } > "$OUT_DIR/rss.txt"

for mode in clean mixed; do
    for c in $CONNS; do
        measure "$mode" "$c"
    done
done

metrics "$OUT_DIR/rss2.prom"
{ echo "rss2_kb $(rss_kb)"; echo "hwm2_kb $(hwm_kb)"; echo "answered2 $(answered "$OUT_DIR/rss2.prom")"; } >> "$OUT_DIR/rss.txt"
for ep in healthz readyz; do
    echo "$ep $(curl -s -o /dev/null -w '%{http_code}' "$URL/$ep" || echo 000)" >> "$OUT_DIR/alive.txt"
done
printf 'valsel_end\t%s\n' "$(others_running)" >> "$OUT_DIR/meta.txt"

if [ "$PERF" = 1 ]; then
    if command -v perf >/dev/null && perf record -o /dev/null -- true >/dev/null 2>&1; then
        log "perf record -g on the server for ${PERF_SECONDS} s under wrk c=16"
        perf record -g -p "$SERVER_PID" -o "$OUT_DIR/perf.data" -- sleep "$PERF_SECONDS" \
            > "$OUT_DIR/perf.record.log" 2>&1 &
        perf_pid=$!
        sleep 0.5
        run_wrk perf_c16 "$OUT_DIR/clean.lua" 16 "$((PERF_SECONDS + 1))"
        wait "$perf_pid" || log "perf record exited non-zero: $(tail -n 2 "$OUT_DIR/perf.record.log")"
        # Self time per symbol, then per shared object (perf pads the lines with two
        # empty "-" columns here; they go).
        for key in dso,symbol dso; do
            perf report -i "$OUT_DIR/perf.data" --no-children --sort "$key" --stdio -g none \
                --percent-limit 0.5 2> /dev/null | grep -v '^#' | grep . | head -n 15 \
                | sed 's/[[:space:]]*-[[:space:]]*-[[:space:]]*$//'
            echo
        done > "$OUT_DIR/perf_top.txt" || true
        printf 'perf_event\t%s\n' "$(perf evlist -i "$OUT_DIR/perf.data" 2> /dev/null | head -n 1)" >> "$OUT_DIR/meta.txt"
    else
        log "perf does not work here: no profile"
    fi
fi

log "SIGTERM to the server"
stop_server "$SERVER_PID"
SERVER_PID=

echo
"$PY" "$HERE/report.py" "$OUT_DIR" | tee "$OUT_DIR/serve_bench.md"
echo
log "table saved to $OUT_DIR/serve_bench.md"
[ "$(cat "$OUT_DIR/server.rc")" = 0 ] || die "the server exited $(cat "$OUT_DIR/server.rc") after SIGTERM, not 0"
