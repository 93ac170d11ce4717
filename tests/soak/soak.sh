#!/bin/bash
# Soak test (by hand, not in CI): steady publishing, subscribers joining and leaving,
# periodic kill -9 and restart of hubd, for a bounded time. At the end every acknowledged
# message is in the log exactly once, seqs have no gap, `hubctl verify` passes, and the
# hub's RSS after each restart's warm-up did not grow from the first round to the last.
#
#   tests/soak/soak.sh BUILD_DIR [MINUTES]      (default 30; e.g. build 30)
set -euo pipefail
BUILD=$(cd "${1:?usage: soak.sh BUILD_DIR [MINUTES]}" && pwd)
MINUTES=${2:-30}
export HUBD=$BUILD/hubd/hubd HUBCTL=$BUILD/clients/hubctl
source "$(dirname "$0")/../integration/lib.sh"

start_hub "$T/data"
port=${HUB_ENDPOINT##*:}
export HUB_BIND="tcp://127.0.0.1:$port" # restarts keep the endpoint, so clients reconnect

publisher() { # publisher N: publishes until told to stop, logging acked seqs
    local i=0
    while [ ! -f "$T/stop" ]; do
        i=$((i + 1))
        seq=$(hubctl --timeout 5 publish updates "soak $1-$i" 2> /dev/null) && echo "$seq" >> "$T/acked.$1"
    done
}
for p in 1 2 3; do publisher "$p" & BG_PIDS+=($!); done

rss_log=()
deadline=$((SECONDS + MINUTES * 60))
round=0
while [ $SECONDS -lt $deadline ]; do
    round=$((round + 1))
    # A subscriber joins for a while and leaves; one follows throughout the round. The
    # binary itself, not the hubctl function: killing the function's subshell left the
    # follower running (reconnecting forever) after the soak.
    "$HUBCTL" --json subscribe updates --follow > "$T/follow.$round" 2> /dev/null &
    follower=$!
    BG_PIDS+=($follower)
    sleep 20
    hubctl subscribe updates --since $((RANDOM % 100)) > /dev/null 2>&1 || true
    rss_log+=("$(awk '/VmRSS/ {print $2}' /proc/$HUB_PID/status)")
    sleep 20
    kill -TERM "$follower" 2> /dev/null || true
    kill -9 "$HUB_PID"
    wait "$HUB_PID" 2> /dev/null || true
    start_hub "$T/data"
    echo "round $round: head $(hubctl --json status | sed 's/.*"head":\([0-9]*\).*/\1/'), rss ${rss_log[-1]} kB"
done
touch "$T/stop"
wait "${BG_PIDS[@]}" 2> /dev/null || true

cat "$T"/acked.* | sort -n > "$T/acked"
/usr/bin/python3 - "$T/acked" <<'PY' || fail "acked messages missing or duplicated"
import json, os, subprocess, sys
acked = [int(x) for x in open(sys.argv[1])]
seqs, since = [], 0
while True:
    out = subprocess.run([os.environ["HUBCTL"], "--json", "history", "updates", "--since", str(since),
                          "--limit", "1000"], capture_output=True, text=True, check=True).stdout
    page = [json.loads(l)["seq"] for l in out.splitlines()]
    if not page:
        break
    seqs += page
    since = page[-1]
assert len(seqs) == len(set(seqs)), "a seq twice in history"
missing = set(acked) - set(seqs)
assert not missing, f"{len(missing)} acked messages missing"
assert seqs == list(range(1, len(seqs) + 1)), "gap in seqs"
print(f"{len(acked)} acked, {len(seqs)} stored, none missing or twice")
PY
hubctl verify || fail "verify"
echo "RSS per round (kB): ${rss_log[*]}"
[ "${rss_log[-1]}" -le $(( ${rss_log[0]} * 3 / 2 + 4096 )) ] || fail "RSS grew"
echo "ok: soak ($round rounds)"
