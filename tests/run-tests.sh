#!/bin/bash
# The whole test suite, as CI runs it: dependencies, a normal build (warnings are errors)
# and a sanitizer build (ASan+UBSan), every test of both under ctest, and a bounded
# libFuzzer run of every decoder (libhubproto's and hubd's: tests/fuzz/run.sh). Exits
# non-zero if any step fails.
#   FUZZ_SECONDS (default 60) bounds the fuzz run, split over its harnesses; 0 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
bash tests/deps.sh

step() { echo; echo "=== $* ==="; }

step "build (warnings are errors)"
cmake -S . -B build -DHUB_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build build -j"$jobs"
step "tests"
(cd build && ctest --output-on-failure -j2 --timeout 300)

step "sanitizer build (ASan+UBSan)"
cmake -S . -B build-asan -DHUB_WERROR=ON -DHUB_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug > /dev/null
cmake --build build-asan -j"$jobs"
step "tests under sanitizers"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --output-on-failure -j2 --timeout 600)

seconds=${FUZZ_SECONDS:-60}
if [ "$seconds" -gt 0 ]; then
    step "fuzz every decoder for ${seconds}s"
    bash tests/fuzz/run.sh "$seconds"
fi
echo; echo "all tests passed"
