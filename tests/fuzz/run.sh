#!/bin/bash
# Fuzzes every decoder with libFuzzer for SECONDS in all (default 60), split evenly
# between the harnesses:
#   fuzz_decode  libhubproto: frames, headers, JSON arguments, checkpoints, key text and
#                files, MSGS/PUBLISHES/ACKS records
#   fuzz_config  hubd's configuration file
#   fuzz_admin   administrator commands (ADMIN bodies), through front door and store
#   fuzz_action  action items' fields (action headers), through front door and store
#   fuzz_query   QUERY arguments
# Usage: tests/fuzz/run.sh [SECONDS]
# Configures a clang build in $FUZZ_BUILD_DIR (default build-fuzz), builds the harnesses,
# runs each on a copy of its corpus tests/fuzz/corpus/NAME in a temporary directory,
# prints its executions and coverage (libFuzzer's cov: edges and ft: features) and exits
# non-zero if any found a crash, leak, sanitizer report or broken invariant. Crashing
# inputs are kept in $FUZZ_BUILD_DIR/fuzz-artifacts/NAME/; replay one with
#   $FUZZ_BUILD_DIR/tests/fuzz/fuzz_NAME FILE
set -euo pipefail
seconds=${1:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
targets=(decode config admin action query)
declare -A options=([decode]="-max_len=70000")
each=$((seconds / ${#targets[@]}))
[ "$each" -ge 1 ] || each=1

cmake -S "$root" -B "$build" -DHUB_FUZZ=ON -DCMAKE_C_COMPILER=clang \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]/#/fuzz_}"

work=$(mktemp -d "${TMPDIR:-/tmp}/hub-fuzz-run-XXXXXX")
trap 'rm -rf "$work"' EXIT
failed=()
for name in "${targets[@]}"; do
    mkdir -p "$work/$name/artifacts"
    cp -r "$root/tests/fuzz/corpus/$name" "$work/$name/corpus"
    log=$work/$name/log
    status=0
    # shellcheck disable=SC2086 # options are words
    "$build/tests/fuzz/fuzz_$name" -max_total_time="$each" -timeout=25 -print_final_stats=1 \
        ${options[$name]:-} -artifact_prefix="$work/$name/artifacts/" "$work/$name/corpus" \
        > "$log" 2>&1 || status=$?
    execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
    coverage=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n 1 || true)
    echo "fuzz_$name: ${execs:-unknown} executions in ${each}s, ${coverage:-no coverage}" \
         "(corpus grew from $(ls "$root/tests/fuzz/corpus/$name" | wc -l)" \
         "to $(ls "$work/$name/corpus" | wc -l) inputs)"
    if [ "$status" -ne 0 ] || [ -n "$(ls -A "$work/$name/artifacts")" ]; then
        tail -n 60 "$log"
        mkdir -p "$build/fuzz-artifacts/$name"
        cp "$work/$name/artifacts/"* "$build/fuzz-artifacts/$name/" 2>/dev/null || true
        echo "fuzz_$name FAILED (exit $status); inputs kept in $build/fuzz-artifacts/$name/" >&2
        failed+=("fuzz_$name")
    fi
done
if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzzing found problems in: ${failed[*]}" >&2
    exit 1
fi
