# Shared helpers for the relay plugin tests. Each test sources this, starts its own servers
# on loopback ports the system picks, and kills them by PID on exit.
# Environment (set by ctest): PLUGIN_HOST, PLUGIN_DIR, BAD_PLUGIN_DIR.
set -euo pipefail

: "${PLUGIN_HOST:?PLUGIN_HOST must name hub-plugin-host}"
: "${PLUGIN_DIR:?PLUGIN_DIR must name the directory of the built plugins}"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3 # Debian's: it sees python3-aiosmtpd (the pyenv one on PATH does not)
T=$(mktemp -d "${TMPDIR:-/tmp}/relaytest.XXXXXX")
BG_PIDS=()
CHECKS=0

cleanup() {
    local pid
    for pid in "${BG_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    if [ "${KEEP_TEST_DIR:-}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    for f in "$T"/*.err; do
        [ -f "$f" ] && { echo "--- $f (last 20 lines)"; tail -20 "$f"; } >&2
    done
    exit 1
}

ok() {
    CHECKS=$((CHECKS + 1))
    echo "ok $CHECKS - $*"
}

# assert_eq EXPECTED ACTUAL WHAT
assert_eq() {
    [ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"
    ok "$3"
}

# assert_contains HAYSTACK NEEDLE WHAT
assert_contains() {
    case "$1" in *"$2"*) ;; *) fail "$3: '$2' not found in: $1" ;; esac
    ok "$3"
}

# wait_port_file FILE PID: waits (bounded) until a server wrote its port; prints it.
wait_port_file() {
    local i
    for i in $(seq 1 100); do
        [ -s "$1" ] && { cat "$1"; return 0; }
        kill -0 "$2" 2>/dev/null || fail "server $2 exited during start"
        sleep 0.05
    done
    fail "server did not write $1"
}

# start_fake_api [args...]: starts fake_api.py, sets API (http://127.0.0.1:PORT), API_LOG.
start_fake_api() {
    API_LOG=$T/api.log
    : > "$API_LOG"
    "$PY" "$HERE/fake_api.py" "$T/api.port" "$API_LOG" "$@" 2> "$T/fake_api.err" &
    BG_PIDS+=($!)
    API="http://127.0.0.1:$(wait_port_file "$T/api.port" $!)"
}

# control PATH [JSON]: a fake_api control request.
control() {
    curl -sS --max-time 5 -X POST -H 'Content-Type: application/json' -d "${2:-{\}}" "$API$1" > /dev/null
}

# secret FILE VALUE: writes a mode 0600 secret file.
secret() {
    (umask 077 && printf '%s\n' "$2" > "$1")
}

# run_host PLUGIN CONFIG MEMOS: feeds stdin jobs to the plugin; results on stdout (and
# appended to $T/results.out, which the secret checks read with the logs).
run_host() {
    local rc=0
    "$PLUGIN_HOST" "$PLUGIN_DIR/hub_$1.so" "$2" "$3" 2>> "$T/host.err" > "$T/last.out" || rc=$?
    cat "$T/last.out" >> "$T/results.out"
    [ "$rc" = 0 ] || fail "hub-plugin-host exited with $rc (hub_$1.so, $2)"
    cat "$T/last.out"
}

# field JSON_LINE KEY: one field of a JSON object.
field() {
    "$PY" -c 'import json,sys; v=json.loads(sys.argv[1])[sys.argv[2]]; print(v if not isinstance(v,bool) else str(v).lower())' "$1" "$2"
}

# line N TEXT: the Nth line (1-based) of TEXT.
line() {
    sed -n "${1}p" <<< "$2"
}
