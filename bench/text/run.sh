#!/bin/sh
# run.sh - the text benchmark in one command: Ember (reference model and tuned "best"
# settings), Debian's fastText (default and tuned settings of BASELINES.md) and, if
# Debian's python3-torch imports, PyTorch's reference model (torch_ref.py), on Banking77
# and SpamAssassin, 2 threads each. Prints one markdown table (plus the configurations
# tried for Ember's best settings) and saves it to $OUT_DIR/text_bench.md.
#
#   bench/text/run.sh                  # about 12-18 minutes on 2 cores (Ember alone ~6)
#   APPEND_RESULTS=1 bench/text/run.sh # also append the section to bench/RESULTS.md
#
# Environment: DATA_DIR (default /tmp/ember-text-data, built by prepare.sh when missing or
# lacking the cross-validation folds),
# OUT_DIR (default /tmp/ember-text-bench), EMBER (default build/ember, built with cmake
# when missing), SETS (default banking77,spam), NO_TORCH=1, NO_FASTTEXT=1, NO_TUNE=1,
# NO_INSTALL=1 (never call apt-get). Missing Debian packages (fasttext, python3-torch,
# python3-sklearn, npm) are installed with apt-get when running as root.
# What is timed and how is described at the top of bench.py.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DATA_DIR=${DATA_DIR:-/tmp/ember-text-data}
OUT_DIR=${OUT_DIR:-/tmp/ember-text-bench}
EMBER=${EMBER:-$ROOT/build/ember}
PY=/usr/bin/python3

have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

install_missing() {
    missing=""
    command -v fasttext >/dev/null || missing="$missing fasttext"
    "$PY" -c 'import torch' 2>/dev/null || missing="$missing python3-torch"
    "$PY" -c 'import sklearn' 2>/dev/null || missing="$missing python3-sklearn"
    if [ ! -f "$DATA_DIR/.done" ]; then
        command -v npm >/dev/null || missing="$missing npm"
    fi
    [ -z "$missing" ] && return 0
    if [ "${NO_INSTALL:-0}" = 1 ] || [ "$(id -u)" != 0 ]; then
        echo "run.sh: missing:$missing (not installing: NO_INSTALL=1 or not root)" >&2
        return 0
    fi
    echo "run.sh: apt-get install$missing" >&2
    apt-get install -y -q $missing >&2 || {
        apt-get update -q >&2 && apt-get install -y -q $missing >&2
    } || echo "run.sh: apt-get failed; going on without:$missing" >&2
}

install_missing

if [ ! -x "$EMBER" ]; then
    echo "run.sh: building Ember" >&2
    cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=Release >&2
    cmake --build "$ROOT/build" --target ember_cli -j 2 >&2
fi

"$HERE/prepare.sh" "$DATA_DIR" >&2

set --
if [ "${NO_TORCH:-0}" = 1 ] || ! "$PY" -c 'import torch' 2>/dev/null; then
    [ "${NO_TORCH:-0}" = 1 ] || echo "run.sh: Debian's python3-torch does not import: no PyTorch rows" >&2
    set -- "$@" --no-torch
fi
if [ "${NO_FASTTEXT:-0}" = 1 ] || ! command -v fasttext >/dev/null; then
    [ "${NO_FASTTEXT:-0}" = 1 ] || echo "run.sh: no fasttext binary: no fastText rows" >&2
    set -- "$@" --no-fasttext
fi
[ "${NO_TUNE:-0}" = 1 ] && set -- "$@" --no-tune

versions="fasttext $(dpkg-query -W -f='${Version}' fasttext 2>/dev/null || echo '-')"
versions="$versions, python3-torch $(dpkg-query -W -f='${Version}' python3-torch 2>/dev/null || echo '-')"
versions="$versions, python3-sklearn $(dpkg-query -W -f='${Version}' python3-sklearn 2>/dev/null || echo '-')"
versions="$versions, OpenBLAS $(dpkg-query -W -f='${Version}' libopenblas0-pthread 2>/dev/null || echo '-')"

mkdir -p "$OUT_DIR"
"$PY" "$HERE/bench.py" --data "$DATA_DIR" --ember "$EMBER" --out "$OUT_DIR" \
    --sets "${SETS:-banking77,spam}" --versions "$versions" "$@"

if [ "${APPEND_RESULTS:-0}" = 1 ]; then
    { echo; cat "$OUT_DIR/text_bench.md"; } >> "$ROOT/bench/RESULTS.md"
    echo "run.sh: appended to bench/RESULTS.md" >&2
fi
echo "run.sh: table saved to $OUT_DIR/text_bench.md" >&2
