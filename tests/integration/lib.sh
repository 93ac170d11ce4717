# Shared helpers for the integration tests: each test sources this, starts its own hubd
# in its own data directory on a port the system picks, and talks to it with hubctl.
# Environment (set by ctest): HUBD, HUBCTL (binaries under test).
set -euo pipefail

: "${HUBD:?HUBD must name the hubd binary}"
: "${HUBCTL:?HUBCTL must name the hubctl binary}"

T=$(mktemp -d "${TMPDIR:-/tmp}/hubtest.XXXXXX")
HUB_PIDS=()
BG_PIDS=()

cleanup() {
    local pid
    for pid in "${BG_PIDS[@]}" "${HUB_PIDS[@]}"; do
        kill -9 "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    if [ "${KEEP_TEST_DIR:-}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    [ -f "$T/hubd.log" ] && { echo "--- hubd.log (last 30 lines)"; tail -30 "$T/hubd.log"; } >&2
    exit 1
}

# assert_eq EXPECTED ACTUAL WHAT
assert_eq() {
    [ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"
}

# assert_contains HAYSTACK NEEDLE WHAT
assert_contains() {
    case "$1" in *"$2"*) ;; *) fail "$3: '$2' not found in: $1" ;; esac
}

# start_hub [DATA_DIR] [extra hubd args...]: starts hubd, waits until it listens.
# Sets HUB_PID, DATA, HUB_ENDPOINT, HUB_SERVER_KEY, HUB_KEY (the administrator).
start_hub() {
    DATA=${1:-$T/data}
    shift || true
    rm -f "$DATA/hubd.endpoint"
    "$HUBD" --data-dir "$DATA" --endpoint 'tcp://127.0.0.1:*' "$@" >> "$T/hubd.log" 2>&1 &
    HUB_PID=$!
    HUB_PIDS+=("$HUB_PID")
    local i
    for i in $(seq 1 200); do
        [ -s "$DATA/hubd.endpoint" ] && break
        kill -0 "$HUB_PID" 2>/dev/null || fail "hubd exited during start"
        sleep 0.05
    done
    [ -s "$DATA/hubd.endpoint" ] || fail "hubd did not start listening"
    export HUB_ENDPOINT=$(cat "$DATA/hubd.endpoint")
    export HUB_SERVER_KEY="$DATA/hub.pub"
    export HUB_KEY="$DATA/admin.key"
}

# stop_hub [SIGNAL]: stops the hub started last and waits for it; returns its status.
stop_hub() {
    local sig=${1:-TERM} status=0
    kill -s "$sig" "$HUB_PID" 2>/dev/null || true
    wait "$HUB_PID" || status=$?
    return $status
}

hubctl() { "$HUBCTL" "$@"; }

# json_field JSON KEY: prints a top-level field of a one-line JSON object.
json_field() {
    /usr/bin/python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print(json.dumps(v) if isinstance(v,(dict,list,bool)) or v is None else v)' "$1" "$2"
}

# wait_for COMMAND...: retries a command for up to 10 s.
wait_for() {
    local i
    for i in $(seq 1 100); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}
