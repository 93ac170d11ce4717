#!/bin/bash
# tests/valgrind/run.sh [TEST[:LEVEL]...]: the integration tests under valgrind memcheck.
# Builds build-valgrind (Debug: -g -O0, no sanitizers), then runs each test of the subset
# below, one at a time, as ctest defines it (command and environment from
# `ctest --show-only=json-v1`, but with its own time limit, as valgrind is slow), with
# HUB_VALGRIND=LEVEL: 1 = hubd under valgrind, all = hubctl too (see hook.sh). Every test
# fails on any memory error or definite/indirect leak in its processes' logs; the logs are
# kept in build-valgrind/valgrind-logs/TEST/ and scanned once more at the end.
#   VALGRIND_BUILD (default build-valgrind), VALGRIND_TEST_TIMEOUT (default 1800 s per test)
set -euo pipefail
cd "$(dirname "$0")/../.."

# The subset, each with its HUB_VALGRIND level (all: hubctl under valgrind too, where the
# test makes few enough hubctl calls; each costs ~2-5 s more). Left out:
#   04 kill -9 loops racing publishers: timing-bound, and a killed hubd writes no report;
#   06 floods 100000 messages and bounds RSS: hours under valgrind, and RSS means nothing;
#   08 builds and runs its own installed copy, which is not wrapped;
#   10 reminder slots seconds apart: under valgrind hubd starts too late for them.
# (13's full-disk part needs root for its tmpfs, and is skipped without.)
DEFAULT=(01-publish-roundtrip:all 02-history-paging:1 03-bad-input:1 05-tamper:1
         07-partners-rights:all 09-systemd:1 11-relay-outbox:1 12-export:all 13-faults:1
         14-email-relay:1)
[ $# -gt 0 ] || set -- "${DEFAULT[@]}"

B=${VALGRIND_BUILD:-build-valgrind}
command -v valgrind > /dev/null || { echo "valgrind is not installed" >&2; exit 1; }
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Debug -DHUB_WERROR=ON -DHUB_SANITIZE=OFF > /dev/null
cmake --build "$B" -j2 > "$B/valgrind-build.log" 2>&1 ||
    { tail -40 "$B/valgrind-build.log"; exit 1; }
LOGS=$(cd "$B" && pwd)/valgrind-logs
rm -rf "$LOGS"
mkdir -p "$LOGS"
(cd "$B" && ctest --show-only=json-v1) > "$LOGS/tests.json"

# test_field NAME env|command: prints the test's ENVIRONMENT entries or its command words,
# each followed by a NUL.
test_field() {
    /usr/bin/python3 -c '
import json, sys
for t in json.load(open(sys.argv[1]))["tests"]:
    if t["name"] == "integ_" + sys.argv[2]:
        if sys.argv[3] == "env":
            words = [v for p in t.get("properties", []) if p["name"] == "ENVIRONMENT"
                     for v in p["value"]]
        else:
            words = t["command"]
        sys.stdout.write("".join(w + "\0" for w in words))
        break
else:
    sys.exit("no test integ_" + sys.argv[2])' "$LOGS/tests.json" "$1" "$2"
}

failed=()
started=$SECONDS
for arg in "$@"; do
    name=${arg%%:*}
    level=1
    [ "$arg" = "$name" ] || level=${arg#*:}
    mapfile -d '' vars < <(test_field "$name" env)
    mapfile -d '' cmd < <(test_field "$name" command)
    [ ${#cmd[@]} -gt 0 ] || { echo "no test integ_$name" >&2; exit 1; }
    t0=$SECONDS
    echo "=== $name (HUB_VALGRIND=$level)"
    rc=0
    (cd "$B/tests/integration" &&
        env "${vars[@]}" HUB_VALGRIND="$level" HUB_VALGRIND_KEEP="$LOGS" \
            timeout -k 10 "${VALGRIND_TEST_TIMEOUT:-1800}" "${cmd[@]}") \
        > "$LOGS/$name.out" 2>&1 || rc=$?
    if [ "$rc" = 0 ]; then
        echo "    passed in $((SECONDS - t0)) s"
    else
        echo "    FAILED (exit $rc) in $((SECONDS - t0)) s; output:"
        tail -60 "$LOGS/$name.out" | sed 's/^/    /'
        failed+=("$name")
    fi
done
echo
bash tests/valgrind/scan.sh "$LOGS" || failed+=("(log scan)")
echo "valgrind run: $# tests in $((SECONDS - started)) s; logs in $LOGS"
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED: ${failed[*]}"
    exit 1
fi
echo "all clean"
