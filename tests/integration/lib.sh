# Shared helpers for the integration tests: each test sources this, starts its own hubd
# in its own data directory on a port the system picks, and talks to it with hubctl.
# Environment (set by ctest): HUBD, HUBCTL (binaries under test).
set -euo pipefail

: "${HUBD:?HUBD must name the hubd binary}"
: "${HUBCTL:?HUBCTL must name the hubctl binary}"

T=$(mktemp -d "${TMPDIR:-/tmp}/hubtest.XXXXXX")
HUB_PIDS=()
BG_PIDS=()
# Opt-in: HUB_VALGRIND=1 runs hubd under valgrind memcheck, =all hubctl too (tests/valgrind/).
if [ -n "${HUB_VALGRIND:-}" ] && [ "$HUB_VALGRIND" != 0 ]; then
    . "$(dirname "${BASH_SOURCE[0]}")/../valgrind/hook.sh"
fi
HUB_TIMEOUT_SCALE=${HUB_TIMEOUT_SCALE:-1} # stretches the waits below (10 under valgrind)

cleanup() {
    local pid vg=0
    for pid in "${BG_PIDS[@]}" "${HUB_PIDS[@]}"; do
        kill -9 "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    ! declare -F valgrind_check > /dev/null || valgrind_check || vg=1
    if [ "${KEEP_TEST_DIR:-}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
    [ "$vg" = 0 ] || exit 1
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
# It binds HUB_BIND if set (see restart_hub), else a free port below the kernel's ephemeral
# range: clients reconnecting to a port inside that range while the hub is down can be
# given it as their own source port (a loopback self-connect), and a restart on it would
# then find it taken. A start that loses its port to someone else anyway is tried again.
start_hub() {
    DATA=${1:-$T/data}
    shift || true
    local try bind
    for try in $(seq 1 10); do
        bind=${HUB_BIND:-tcp://127.0.0.1:$(free_port)}
        s_start_hub_once "$bind" "$@" && return 0
        echo "start_hub: $bind was taken (try $try), starting again" >&2
        sleep 0.2
    done
    fail "hubd could not bind a port in 10 tries"
}

# s_start_hub_once BIND [hubd args...]: one start; returns 1 if hubd lost BIND to
# another socket, fails the test on any other way of not starting.
s_start_hub_once() {
    local bind=$1 lines i
    shift
    rm -f "$DATA/hubd.endpoint"
    lines=$(cat "$T/hubd.log" 2>/dev/null | wc -l)
    "$HUBD" --data-dir "$DATA" --endpoint "$bind" "$@" >> "$T/hubd.log" 2>&1 &
    HUB_PID=$!
    HUB_PIDS+=("$HUB_PID")
    for i in $(seq 1 $((200 * HUB_TIMEOUT_SCALE))); do
        [ -s "$DATA/hubd.endpoint" ] && break
        if ! kill -0 "$HUB_PID" 2>/dev/null; then
            wait "$HUB_PID" 2>/dev/null || true
            tail -n +"$((lines + 1))" "$T/hubd.log" | grep -q "cannot bind .*Address already in use" && return 1
            fail "hubd exited during start"
        fi
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

# Note: run background jobs with "$HUBCTL", not this function, so that $! is hubctl itself
# (a function in the background runs in a subshell, and a signal would hit the subshell).
hubctl() { "$HUBCTL" "$@"; }

# restart_hub [extra hubd args...]: starts hubd again on the same data directory and the
# same endpoint as the last start_hub, so running clients reconnect to it.
restart_hub() {
    HUB_BIND=$HUB_ENDPOINT start_hub "$DATA" "$@"
}

# json_field JSON KEY: prints a top-level field of a one-line JSON object.
json_field() {
    /usr/bin/python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print(json.dumps(v) if isinstance(v,(dict,list,bool)) or v is None else v)' "$1" "$2"
}

# wait_for COMMAND...: retries a command for up to 10 s (times HUB_TIMEOUT_SCALE). The
# command runs anew each try: wrap a check on "$(...)" in a function, or it is computed once.
wait_for() { wait_for_s 10 "$@"; }

# wait_for_s SECONDS COMMAND...: the same, for up to SECONDS (times HUB_TIMEOUT_SCALE).
wait_for_s() {
    local i tries=$(($1 * 10 * HUB_TIMEOUT_SCALE))
    shift
    for i in $(seq 1 "$tries"); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

# assert_exit EXPECTED_STATUS WHAT COMMAND...: runs COMMAND, checks its exit status.
# Leaves its stdout in $OUT and its stderr in $ERR.
assert_exit() {
    local want=$1 what=$2 status=0
    shift 2
    OUT=$("$@" 2>"$T/assert_exit.err") || status=$?
    ERR=$(cat "$T/assert_exit.err")
    [ "$status" = "$want" ] ||
        fail "$what: expected exit $want, got $status (stdout: $OUT; stderr: $ERR)"
}

# need_rawclient: the test needs hub-rawclient (tests/integration/rawclient.c).
need_rawclient() {
    : "${RAWCLIENT:?RAWCLIENT must name the hub-rawclient binary}"
}

# wait_lines FILE N [TRIES]: waits (0.1 s per try, default 100 tries, times
# HUB_TIMEOUT_SCALE) until FILE has at least N lines. Returns 1 if it does not.
wait_lines() {
    local i
    for i in $(seq 1 $((${3:-100} * HUB_TIMEOUT_SCALE))); do
        [ -f "$1" ] && [ "$(wc -l < "$1")" -ge "$2" ] && return 0
        sleep 0.1
    done
    return 1
}

# history_seqs CHANNEL [hubctl args...]: prints the seqs of CHANNEL's history, one a line.
history_seqs() {
    local ch=$1
    shift
    hubctl --json history "$ch" "$@" | json_lines_field seq
}

# json_lines_field KEY: prints KEY of every JSON object line read on stdin.
json_lines_field() {
    /usr/bin/python3 -c 'import json,sys
for line in sys.stdin:
    if line.strip(): print(json.loads(line).get(sys.argv[1]))' "$1"
}

# rss_kb PID: resident set size of a process in kB (VmRSS), 0 if it is gone.
rss_kb() {
    awk '/^VmRSS:/ {print $2; found=1} END {if (!found) print 0}' "/proc/$1/status" 2>/dev/null ||
        echo 0
}

# peak_rss_kb PID N: the largest VmRSS (kB) of N samples 0.1 s apart.
peak_rss_kb() {
    local peak=0 rss i
    for i in $(seq 1 "$2"); do
        rss=$(rss_kb "$1")
        [ "$rss" -gt "$peak" ] && peak=$rss
        sleep 0.1
    done
    echo "$peak"
}

# msg_lines: reads hubctl --json message lines on stdin and prints one summary line each:
# SEQ|CHANNEL|KIND|AUTHOR|TITLE|BODY|VERIFIED with the body JSON-escaped (so newlines show
# as \n). Fails if a message object lacks one of the fields CONTRACT.md promises.
msg_lines() {
    /usr/bin/python3 -c '
import json, re, sys
need = ["seq", "channel", "kind", "author", "author_key", "ts", "title", "body", "verified"]
for n, line in enumerate(sys.stdin, 1):
    if not line.strip():
        continue
    m = json.loads(line)
    missing = [k for k in need if k not in m]
    if missing:
        sys.exit("message line %d lacks %s: %s" % (n, missing, line.strip()))
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", m["ts"]):
        sys.exit("message line %d: ts %r is not RFC 3339" % (n, m["ts"]))
    print("%s|%s|%s|%s|%s|%s|%s" % (m["seq"], m["channel"], m["kind"], m["author"],
          m["title"], json.dumps(m["body"], ensure_ascii=False)[1:-1],
          json.dumps(m["verified"])))
'
}

# free_port: prints a loopback TCP port nothing listens on (just now), below the kernel's
# ephemeral port range (see start_hub).
free_port() {
    /usr/bin/python3 -c '
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(200):
    port = random.randint(10000, max(10001, low - 1))
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
else:
    raise SystemExit("free_port: no free port below %d" % low)
'
}

# expect_refusal CODE_NAME COMMAND...: the command exits 3 (refused by the hub) and its
# stderr names the code.
expect_refusal() {
    local want=$1 rc=0
    shift
    "$@" > "$T/out" 2> "$T/err" || rc=$?
    assert_eq 3 "$rc" "exit status of: $*"
    assert_contains "$(cat "$T/err")" "$want" "refusal reason of: $*"
}
