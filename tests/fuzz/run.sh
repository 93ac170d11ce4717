#!/bin/bash
# Fuzzes libhubproto's decoders with libFuzzer for SECONDS (default 60).
#   tests/fuzz/run.sh [SECONDS]
# Configures a clang build in $FUZZ_BUILD_DIR (default build-fuzz), builds fuzz_decode,
# runs it on a copy of tests/fuzz/corpus in a temporary directory, prints the number of
# executions and exits non-zero on any crash, leak, sanitizer report or broken invariant.
# Crashing inputs are kept in $FUZZ_BUILD_DIR/fuzz-artifacts/; replay one with
#   $FUZZ_BUILD_DIR/tests/fuzz/fuzz_decode FILE
set -euo pipefail
seconds=${1:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}

cmake -S "$root" -B "$build" -DHUB_FUZZ=ON -DCMAKE_C_COMPILER=clang \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build "$build" -j"$(nproc)" --target fuzz_decode

work=$(mktemp -d "${TMPDIR:-/tmp}/hub-fuzz-run-XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$root/tests/fuzz/corpus" "$work/corpus"
mkdir -p "$work/artifacts"

status=0
"$build/tests/fuzz/fuzz_decode" -max_total_time="$seconds" -max_len=70000 -timeout=25 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" \
    > "$work/log" 2>&1 || status=$?

execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$work/log")
echo "fuzz_decode: ${execs:-unknown} executions in ${seconds}s" \
     "(corpus grew from $(ls "$root/tests/fuzz/corpus" | wc -l) to $(ls "$work/corpus" | wc -l) inputs)"
if [ "$status" -ne 0 ] || [ -n "$(ls -A "$work/artifacts")" ]; then
    tail -n 60 "$work/log"
    mkdir -p "$build/fuzz-artifacts"
    cp "$work/artifacts/"* "$build/fuzz-artifacts/" 2>/dev/null || true
    echo "fuzz_decode FAILED (exit $status); inputs kept in $build/fuzz-artifacts/" >&2
    exit 1
fi
