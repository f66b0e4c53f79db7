#!/usr/bin/env bash
# fuzz/run.sh [SECONDS] [NAME...] - run the libFuzzer harnesses of an
# EMBER_FUZZ=ON build (FUZZ_BUILD_DIR, default build-fuzz/, as `make fuzz`
# makes it: BUILD/fuzz/fuzz_<NAME>) for SECONDS each (default 60), every one
# of them or the NAMEs given (e.g. "idx image").
#
# fuzz/run.sh --ci [NAME...] - the same, reproducibly (`make fuzz-ci`, what
# .ci/run gates on): each harness runs a fixed number of inputs (CI_RUNS
# below) from libFuzzer seed FUZZ_SEED (default 1) and a fresh working
# corpus, with no time limit, and without -use_cmp: libFuzzer's table of
# recent comparisons also holds pointer values, which differ from run to run
# (ASLR), and the inputs tried followed them. So the same build and seeds try
# the same inputs on any machine (checked: equal cov, ft and corpus in
# repeated runs), and a CI result depends on the code, not on luck or load.
# The price is weaker guidance towards magic values; `make fuzz` keeps it.
#
# Each starts from its seeds in fuzz/corpus/NAME and past findings in
# fuzz/regressions/NAME (both read, never written) and a working corpus in
# BUILD/fuzz-run/NAME/corpus, which is kept, so a later run goes on from what
# an earlier one found (--ci: BUILD/fuzz-run/NAME/corpus-ci, emptied first).
# Findings (crash-*, leak-*, timeout-*, oom-*) are written to
# BUILD/fuzz-run/NAME/, the run's log to BUILD/fuzz-run/NAME/log. Prints one
# line per harness: executions, executions per second, coverage (libFuzzer's
# cov: edges and ft: features at the end), corpus size and peak memory;
# exits 1 if any harness found anything or failed to run, with the command
# that reproduces it: BUILD/fuzz/fuzz_NAME CRASH_FILE.
#
# FUZZ_JOBS (default 2) harnesses run at a time, each on one core. Limits
# per input: FUZZ_TIMEOUT seconds (default 10: every parser takes
# milliseconds, so more is a hang) and FUZZ_RSS_MB (default 2048).
set -uo pipefail

# --ci: inputs per harness, about 20 s each on CI's 2-core machine with two
# harnesses at a time (executions per second of a clean-clone run there;
# about 3.5 minutes in all). Raise one when its harness gets faster.
declare -A CI_RUNS=(
    [arch]=280000 [idx]=90000 [image]=40000 [image_options]=1200000
    [model_load]=190000 [pipeline_json]=440000 [rec_load]=150000 [safetensors]=280000
    [serve_answers]=180000 [serve_body]=120000 [serve_recommend]=240000 [text_csv]=70000 [text_fasttext]=70000
)

src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ci=0
seconds=60
if [ $# -ge 1 ] && [ "$1" = --ci ]; then
    ci=1
    shift
elif [ $# -ge 1 ] && [[ $1 =~ ^[0-9]+$ ]]; then
    seconds=$1
    shift
fi
build=${FUZZ_BUILD_DIR:-$src/../build-fuzz}
if ! build=$(cd "$build" 2>/dev/null && pwd); then
    echo "fuzz/run.sh: no build folder ${FUZZ_BUILD_DIR:-build-fuzz} (run make fuzz-build)" >&2
    exit 2
fi
jobs=${FUZZ_JOBS:-2}
timeout_s=${FUZZ_TIMEOUT:-10}
rss_mb=${FUZZ_RSS_MB:-2048}
seed=${FUZZ_SEED:-1}

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    for f in "$src"/fuzz_*.c; do
        n=$(basename "$f" .c)
        names+=("${n#fuzz_}")
    done
fi
for n in "${names[@]}"; do
    if [ "$ci" = 1 ] && [ -z "${CI_RUNS[$n]:-}" ]; then
        echo "fuzz/run.sh: no CI_RUNS entry for $n (add one in fuzz/run.sh)" >&2
        exit 2
    fi
    if [ ! -x "$build/fuzz/fuzz_$n" ]; then
        echo "fuzz/run.sh: $build/fuzz/fuzz_$n is missing (run make fuzz-build)" >&2
        exit 2
    fi
done

# run_one NAME: fuzz it, leave the exit status in fuzz-run/NAME/rc.
run_one() {
    local n=$1 dir="$build/fuzz-run/$1" corpus="$build/fuzz-run/$1/corpus"
    local limits=(-max_total_time="$seconds")
    if [ "$ci" = 1 ]; then
        corpus="$dir/corpus-ci"
        rm -rf "$corpus"
        limits=(-runs="${CI_RUNS[$n]}" -seed="$seed" -use_cmp=0)
    fi
    mkdir -p "$corpus"
    rm -f "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-* "$dir/rc"
    local seeds=("$src/corpus/$n") # read only; past findings too, when there are any
    [ -d "$src/regressions/$n" ] && seeds+=("$src/regressions/$n")
    # ASan: leaks fail the run (libFuzzer checks them per input); UBSan: stop at
    # the first report with a stack.
    ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:${ASAN_OPTIONS:-}" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}" \
        "$build/fuzz/fuzz_$n" "${limits[@]}" -timeout="$timeout_s" \
        -rss_limit_mb="$rss_mb" -print_final_stats=1 -artifact_prefix="$dir/" \
        "$corpus" "${seeds[@]}" >"$dir/log" 2>&1
    echo $? >"$dir/rc"
}

if [ "$ci" = 1 ]; then
    echo "fuzz: ${#names[@]} harness(es), a fixed number of inputs each from seed $seed, $jobs at a time (logs in $build/fuzz-run/)"
else
    echo "fuzz: ${#names[@]} harness(es), ${seconds} s each, $jobs at a time (logs in $build/fuzz-run/)"
fi
running=0
for n in "${names[@]}"; do
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
    run_one "$n" &
    running=$((running + 1))
done
wait

failed=0
total_execs=0
printf '%-16s %12s %9s %7s %7s %7s %8s  %s\n' harness executions exec/s cov ft corpus rss_mb result
for n in "${names[@]}"; do
    dir="$build/fuzz-run/$n"
    log="$dir/log"
    rc=$(cat "$dir/rc" 2>/dev/null || echo 99)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
    # the last status line, e.g. "#123  DONE   cov: 456 ft: 789 corp: 12/3Kb ..."
    last=$(grep -E '^#[0-9]+' "$log" | grep -E 'cov: ' | tail -1)
    cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.*corp: \([0-9]*\).*/\1/p' <<<"$last")
    findings=$(find "$dir" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | sort)
    result=ok
    if [ "$rc" != 0 ] || [ -n "$findings" ]; then
        result="FAILED (exit $rc)"
        failed=1
    fi
    total_execs=$((total_execs + ${execs:-0}))
    printf '%-16s %12s %9s %7s %7s %7s %8s  %s\n' "$n" "${execs:-?}" "${rate:-?}" "${cov:-?}" \
        "${ft:-?}" "${corp:-?}" "${rss:-?}" "$result"
    if [ "$result" != ok ]; then
        grep -E 'ERROR|FUZZ_ASSERT|runtime error|SUMMARY|Test unit written|No such file' "$log" |
            head -8 | sed 's/^/    /'
        for f in $findings; do
            echo "    reproduce: $build/fuzz/fuzz_$n $f"
        done
    fi
done
echo "fuzz: $total_execs executions in all"
if [ "$failed" -ne 0 ]; then
    echo "fuzz: FAILED (logs and inputs in $build/fuzz-run/)"
    exit 1
fi
echo "fuzz: no findings"
