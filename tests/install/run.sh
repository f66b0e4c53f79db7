#!/usr/bin/env bash
# run.sh BUILD_DIR SOURCE_DIR - the ctest "install" test.
#
# Installs BUILD_DIR into a temporary prefix and uses it the way a user would:
#   1. `ember --version` from the installed bin/ (found through its RPATH);
#   2. hello.c built with pkg-config (ember.pc) and run with LD_LIBRARY_PATH;
#   3. hello.c built by a separate CMake project with find_package(Ember).
# It checks that the prefix in ember.pc is the --prefix given here, and that
# every version printed matches the installed package version. It does not
# test the libraries' behaviour beyond hello.c's one prediction.
# When BUILD_DIR was built with EMBER_SANITIZE, the clients get the same
# sanitizer flags (the ASan runtime must be linked into the executable).
# Exit status: 0 if every step passes; non-zero, with the failing log, if not.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 BUILD_DIR SOURCE_DIR" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
here=$src/tests/install
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ember-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

die() { echo "install test: FAIL: $*" >&2; exit 1; }
# run_logged NAME CMD...: run CMD with its output in $tmp/NAME.log; show the log on failure.
run_logged() {
    local name=$1; shift
    if ! "$@" >"$tmp/$name.log" 2>&1; then
        cat "$tmp/$name.log" >&2
        die "$name: $*"
    fi
}
cache_get() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }

cc=$(cache_get CMAKE_C_COMPILER)
cc=${cc:-cc}
sanitize_flags=""
if [ "$(cache_get EMBER_SANITIZE)" = ON ]; then
    sanitize_flags="-fsanitize=address,undefined -fno-omit-frame-pointer"
fi

echo "-- cmake --install $build --prefix $prefix"
run_logged install cmake --install "$build" --prefix "$prefix"

# GNUInstallDirs picks lib, lib64 or lib/<multiarch>: find where ember.pc went.
pc=$(find "$prefix" -path '*/pkgconfig/ember.pc' | head -n 1)
[ -n "$pc" ] || die "no pkgconfig/ember.pc under $prefix"
libdir=$(dirname "$(dirname "$pc")")
[ -f "$libdir/cmake/Ember/EmberConfigVersion.cmake" ] || die "no cmake/Ember package in $libdir"
version=$(sed -n 's/^set(PACKAGE_VERSION "\([^"]*\)")$/\1/p' "$libdir/cmake/Ember/EmberConfigVersion.cmake")
[ -n "$version" ] || die "cannot read PACKAGE_VERSION"
echo "-- installed Ember $version, libdir $libdir"

# 1. The CLI.
out=$("$prefix/bin/ember" --version) || die "ember --version exited non-zero"
echo "$out"
[[ $out == "ember $version"* ]] || die "ember --version printed '$out', expected 'ember $version...'"
loaded=$(ldd "$prefix/bin/ember" | awk '/libember\.so/ { print $3; exit }')
if [ -z "$loaded" ] || [ "$(dirname "$(readlink -f "$loaded")")" != "$(readlink -f "$libdir")" ]; then
    die "installed ember loads libember from '$loaded', not from $libdir (RPATH)"
fi

# check_hello NAME: the output of hello NAME names the version and sums rows to 1.
check_hello() {
    local log=$tmp/$1.run.log
    cat "$log"
    grep -q "^ember $version (commit [^)]*)$" "$log" || die "$1 printed no 'ember $version (commit ...)' line"
}

# 2. pkg-config.
export PKG_CONFIG_PATH=$libdir/pkgconfig
pc_prefix=$(pkg-config --variable=prefix ember) || die "pkg-config cannot read ember.pc"
[ "$pc_prefix" = "$prefix" ] || die "ember.pc has prefix '$pc_prefix', installed to '$prefix'"
pc_version=$(pkg-config --modversion ember)
[ "$pc_version" = "$version" ] || die "ember.pc has version '$pc_version', package has '$version'"
flags=$(pkg-config --cflags --libs ember)
echo "-- $cc $sanitize_flags hello.c $flags"
# shellcheck disable=SC2086  # flags are word lists by design
run_logged build-pc "$cc" -std=c11 -Wall -Wextra -Werror $sanitize_flags \
    -o "$tmp/hello-pc" "$here/hello.c" $flags
LD_LIBRARY_PATH=$libdir run_logged hello-pc.run "$tmp/hello-pc"
check_hello hello-pc

# 3. CMake package.
echo "-- find_package(Ember) with CMAKE_PREFIX_PATH=$prefix"
run_logged configure-cmake cmake -S "$here" -B "$tmp/consumer" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$sanitize_flags" \
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
ember_dir=$(sed -n 's/^Ember_DIR:PATH=//p' "$tmp/consumer/CMakeCache.txt")
[[ $ember_dir == "$prefix/"* ]] || die "find_package(Ember) found '$ember_dir', not the package in $prefix"
run_logged build-cmake cmake --build "$tmp/consumer"
run_logged hello-cmake.run "$tmp/consumer/hello"
check_hello hello-cmake

echo "-- install test passed"
