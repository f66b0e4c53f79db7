#!/usr/bin/env bash
# tests/serve_browser/run.sh EMBER BUILD_DIR - the chat page of `ember serve`
# in a real browser (headless Chromium, Debian's `chromium`).
#
# Trains a tiny text model on made-up customer-service sentences (three
# intents), writes an answers file for one of them and starts two servers:
# one with the default threshold, one with --threshold 0.99. Chromium loads
# /?q=MESSAGE, which makes the page send MESSAGE by itself, so the browser
# needs no scripting from here: --dump-dom prints the page after its fetches
# to /v1/model and /v1/predict have finished. Checked in the DOM:
#   - an answered intent: the reply text, data-handoff="false", 3 intent rows;
#   - an intent without an answer: hand-off ("no prepared answer");
#   - nonsense on the 0.99 server: hand-off ("not sure I understood").
# It saves a screenshot of the answered case as BUILD_DIR/serve_page.png and
# checks that the answer is painted in it, then stops both servers with
# SIGTERM and expects exit 0. It does not test the page's form by typing
# (that would need a driver such as the DevTools protocol).
#
# Exit status: 0 pass; 1 fail (with the server log); 77 skip when no
# chromium is installed, except under CI (CI set), where that fails.
set -u
if [ $# -ne 2 ]; then
    echo "usage: $0 EMBER BUILD_DIR" >&2
    exit 2
fi
EMBER=$1
BUILD=$2

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
    if [ -n "${CI:-}" ]; then
        echo "serve_browser: FAIL: no chromium or chromium-browser on PATH; CI must run this test (make deps installs chromium)" >&2
        exit 1
    fi
    echo "serve_browser: SKIP: no chromium or chromium-browser on PATH (apt-get install chromium, or make deps)"
    exit 77
fi
command -v python3 >/dev/null || { echo "serve_browser: FAIL: python3 needed (fixtures, DOM and PNG checks)" >&2; exit 1; }

# Seconds: the server's start and stop, and one browser run (a cold start
# takes about 2 s here; the budget allows for a loaded 2-core CI machine).
START_WAIT=20 STOP_WAIT=20 BROWSER_WAIT=60

T=$(mktemp -d "${TMPDIR:-/tmp}/ember-serve-browser.XXXXXX")
pids=""
cleanup() {
    for p in $pids; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
fails=0 passes=0
ok()   { passes=$((passes + 1)); }
fail() { fails=$((fails + 1)); echo "FAIL: $*" >&2; }
die()  {
    echo "serve_browser: FAIL: $*" >&2
    for f in "$T"/serve*.log; do [ -f "$f" ] && { echo "---- $f" >&2; cat "$f" >&2; }; done
    exit 1
}

# ---- data, model, answers ----
python3 - "$T" <<'PY' || die "python3 could not write the data set"
import csv, random, sys
d = sys.argv[1]
random.seed(5)
intents = {
    "card_lost": ["I lost my card", "my card was stolen", "someone stole my wallet with the card",
                  "I cannot find my bank card", "please block my lost card"],
    "refund": ["I want a refund", "give me my money back", "the charge was wrong, refund it",
               "how do I get a refund for this order", "return the item and refund me"],
    "delivery": ["where is my parcel", "my order has not arrived", "when will the package be delivered",
                 "the delivery is late", "track my shipment"],
}
with open(f"{d}/train.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["text", "label"])
    for label, sentences in intents.items():
        for _ in range(20):
            w.writerow([random.choice(["", "hello, ", "hi ", "please ", "excuse me, "])
                        + random.choice(sentences)
                        + random.choice(["", " please", " thanks", " today", "?"]), label])
PY
"$EMBER" train --train "$T/train.csv" --arch text --epochs 30 --seed 1 --threads 1 \
    --out "$T/m.safetensors" --quiet >"$T/train.log" 2>&1 || { cat "$T/train.log" >&2; die "ember train failed"; }
REPLY_TEXT="Refunds reach your account within 5 working days."
printf '{"refund": "%s"}\n' "$REPLY_TEXT" > "$T/answers.json"

# ---- servers ----
# start_server NAME ARGS...: start `ember serve` on a free port, wait for
# /readyz; sets PORT_<NAME> and PID_<NAME>.
start_server() {
    local name=$1; shift
    local log=$T/serve_$name.log
    "$EMBER" serve "$T/m.safetensors" --port 0 --answers "$T/answers.json" "$@" 2>"$log" &
    local pid=$!
    pids="$pids $pid"
    local port="" i
    for ((i = 0; i < START_WAIT * 10; i++)); do
        port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\)/.*|\1|p' "$log" | head -n 1)
        [ -n "$port" ] && break
        kill -0 "$pid" 2>/dev/null || die "ember serve ($name) exited before listening"
        sleep 0.1
    done
    [ -n "$port" ] || die "ember serve ($name) printed no 'listening on' line in ${START_WAIT} s"
    python3 - "$port" "$START_WAIT" <<'PY' || die "ember serve ($name): /readyz not 200 within ${START_WAIT} s"
import sys, time, urllib.request
port, limit = sys.argv[1], float(sys.argv[2])
end = time.monotonic() + limit
while time.monotonic() < end:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
            if r.status == 200:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit(1)
PY
    printf -v "PORT_$name" %s "$port"
    printf -v "PID_$name" %s "$pid"
}
start_server main
start_server strict --threshold 0.99

# ---- the browser ----
# browse OUT_LOG URL FLAGS...: one headless Chromium run.
#   --no-sandbox              CI runs as root, where the sandbox refuses to start;
#   --disable-dev-shm-usage   containers often have a 64 MB /dev/shm, too small
#                             for Chromium (Debian's launcher adds it only when it
#                             can read the size, and misreads it when /dev/shm is
#                             mounted twice);
#   --disable-gpu             no GPU here;
#   --virtual-time-budget     the page counts as loaded after 5 s of virtual
#                             time, which stands still while fetches are
#                             pending, so both fetches finish first (a server
#                             that never answers runs into BROWSER_WAIT);
#   --user-data-dir, HOME     a fresh profile in $T, nothing written to ~;
#   --disable-extensions ...  no background downloads or syncing: nothing but
#                             the local server is contacted (and each run
#                             starts ~0.4 s faster).
n_browse=0
browse() {
    local out=$1 url=$2; shift 2
    n_browse=$((n_browse + 1))
    local profile=$T/profile$n_browse
    mkdir -p "$profile"
    HOME=$T timeout -k 5 "$BROWSER_WAIT" "$CHROMIUM" --headless=new --no-sandbox --disable-gpu \
        --disable-dev-shm-usage --no-first-run --user-data-dir="$profile" \
        --disable-extensions --disable-background-networking --disable-component-update \
        --disable-sync --disable-default-apps \
        --virtual-time-budget=5000 "$@" "$url" >"$out" 2>"$T/chromium$n_browse.err"
    local rc=$?
    if [ "$rc" -ne 0 ]; then
        fail "chromium exit $rc on $url; its stderr ends: $(tail -n 5 "$T/chromium$n_browse.err")"
        return 1
    fi
}
# urlq MESSAGE: MESSAGE for a query string (the messages here are ASCII
# letters and spaces).
urlq() { printf %s "${1// /%20}"; }

# check_dom FILE HANDOFF INTENT TEXT: the dumped DOM has one bot answer with
# data-handoff=HANDOFF and data-intent=INTENT (* for any) whose text contains TEXT, three
# intent rows under it, and the model line filled in from /v1/model.
check_dom() {
    python3 - "$@" <<'PY'
import sys
from html.parser import HTMLParser
path, want_handoff, want_intent, want_text = sys.argv[1:]
VOID = {"meta", "input", "br", "img", "link", "hr"}

class P(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.answers, self.info = [], [], ""
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if tag in VOID:
            return
        node = {"tag": tag, "cls": cls, "attrs": a, "text": "", "rows": 0}
        if "answer" in cls:
            self.answers.append(node)
        if "row" in cls:
            for n in self.stack:
                if "answer" in n["cls"]:
                    n["rows"] += 1
        self.stack.append(node)
    def handle_endtag(self, tag):
        if tag in VOID:
            return
        while self.stack:
            if self.stack.pop()["tag"] == tag:
                break
    def handle_data(self, data):
        for n in self.stack:
            n["text"] += data
            if n["attrs"].get("id") == "info":
                self.info += data

p = P()
p.feed(open(path, encoding="utf-8").read())
errs = []
if len(p.answers) != 1:
    errs.append(f"{len(p.answers)} .answer elements, want 1")
else:
    a = p.answers[0]
    if "bot" not in a["cls"]:
        errs.append(f"answer classes {a['cls']}")
    if a["attrs"].get("data-handoff") != want_handoff:
        errs.append(f"data-handoff={a['attrs'].get('data-handoff')!r}, want {want_handoff!r}")
    if want_intent != "*" and a["attrs"].get("data-intent") != want_intent:
        errs.append(f"data-intent={a['attrs'].get('data-intent')!r}, want {want_intent!r}")
    if want_text not in a["text"]:
        errs.append(f"answer text {a['text'][:200]!r} lacks {want_text!r}")
    if a["rows"] != 3:
        errs.append(f"{a['rows']} intent rows, want 3 (k=3)")
if "3 intents" not in p.info:
    errs.append(f"model line {p.info.strip()!r} lacks '3 intents'")
for e in errs:
    print(e)
sys.exit(1 if errs else 0)
PY
}

# (a) an answered intent
if browse "$T/a.html" "http://127.0.0.1:$PORT_main/?q=$(urlq 'I want a refund please')" --dump-dom; then
    out=$(check_dom "$T/a.html" false refund "$REPLY_TEXT") && ok || fail "answered case: $out"
fi
# (b) a recognised intent without an answer: hand-off
if browse "$T/b.html" "http://127.0.0.1:$PORT_main/?q=$(urlq 'where is my parcel')" --dump-dom; then
    out=$(check_dom "$T/b.html" true delivery "no prepared answer") && ok || fail "no-answer case: $out"
fi
# (c) nonsense below the 0.99 threshold: hand-off whatever the top intent
if browse "$T/c.html" "http://127.0.0.1:$PORT_strict/?q=$(urlq 'zxqv blorp wibble')" --dump-dom; then
    out=$(check_dom "$T/c.html" true '*' "not sure I understood") && ok || fail "low-confidence case: $out"
fi

# ---- the screenshot ----
SHOT=$BUILD/serve_page.png
rm -f "$SHOT"
if browse "$T/shot.log" "http://127.0.0.1:$PORT_main/?q=$(urlq 'I want a refund please')" \
        --hide-scrollbars --window-size=900,700 --screenshot="$SHOT"; then
    # Decode the PNG (zlib, no PIL) and count pixels of the page's colours:
    # the bot bubble (#f2f4f7) shows the answer was painted, the blue
    # (#2459d6: my bubble, the Send button, the best intent's bar) that the
    # style sheet applied. The bubble is about 600 x 38 px at this size.
    out=$(python3 "$(dirname "$0")/../png_colours.py" "$SHOT" f2f4f7 2459d6) &&
    read -r dims ncol _ bubble blue <<<"$out" &&
    [ "$dims" = "900x700," ] && [ "$ncol" -ge 16 ] && [ "$bubble" -ge 10000 ] && [ "$blue" -ge 2000 ] \
        && ok || fail "screenshot $SHOT: $out"
    echo "screenshot: $SHOT ($out)"
fi

# ---- stop: SIGTERM, exit 0 within STOP_WAIT ----
# (bash reaps a finished background job at once, so kill -0 then fails, and
# `wait` still returns its exit status.)
for name in main strict; do
    pid_var=PID_$name
    pid=${!pid_var}
    kill -TERM "$pid"
    for ((i = 0; i < STOP_WAIT * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid"
        fail "ember serve ($name) still running ${STOP_WAIT} s after SIGTERM"
    fi
    wait "$pid"; rc=$?
    pids=${pids/ $pid/}
    [ "$rc" -eq 0 ] && ok || fail "ember serve ($name) exit $rc after SIGTERM, want 0"
done

echo "serve_browser: $passes passed, $fails failed ($n_browse browser runs, $("$CHROMIUM" --version 2>/dev/null | head -n 1))"
if [ "$fails" -ne 0 ]; then
    for f in "$T"/serve*.log; do echo "---- $f" >&2; cat "$f" >&2; done
    exit 1
fi
exit 0
