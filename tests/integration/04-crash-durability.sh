#!/usr/bin/env bash
# hubd killed with SIGKILL three times under load: every acknowledged message survives,
# exactly once, the log has no gap, verifies, and a following subscriber sees each message
# exactly once, in order, across the restarts (README: "a hub killed at any moment comes
# back with every acknowledged message, exactly once").
. "$(dirname "$0")/lib.sh"

PUBLISHERS=3
KILLS=3
RUN_S=2 # seconds of publishing between kills

start_hub
echo "hub on $HUB_ENDPOINT"

# A follower over the whole run; --since 0 so it cannot miss a message stored before its
# subscription took effect.
FOLLOW=$T/follow.out
"$HUBCTL" --json --timeout 2 subscribe updates --follow --since 0 > "$FOLLOW" 2> "$T/follow.err" &
FOLLOW_PID=$!
BG_PIDS+=("$FOLLOW_PID")

# Publisher p: publishes "pub P n I" until $T/stop exists; records "SEQ pub P n I" for each
# ack and "FAILED STATUS pub P n I" for each failure.
PUB_PIDS=()
for p in $(seq 1 $PUBLISHERS); do
    (
        i=0
        while [ ! -e "$T/stop" ] && [ "$i" -lt 100000 ]; do
            i=$((i + 1))
            body="pub $p n $i"
            status=0
            s=$("$HUBCTL" --timeout 3 publish updates "$body" 2>> "$T/pub$p.err") || status=$?
            if [ "$status" = 0 ]; then
                echo "$s $body" >> "$T/pub$p.acked"
            else
                echo "FAILED $status $body" >> "$T/pub$p.failed"
            fi
        done
    ) &
    PUB_PIDS+=($!)
done
BG_PIDS+=("${PUB_PIDS[@]}")

for k in $(seq 1 $KILLS); do
    sleep "$RUN_S"
    before=$(cat "$T"/pub*.acked 2>/dev/null | wc -l)
    kill -9 "$HUB_PID"
    wait "$HUB_PID" 2>/dev/null || true
    echo "kill $k: hubd $HUB_PID killed with $before acks so far"
    sleep 0.3
    restart_hub
    echo "kill $k: hubd restarted as $HUB_PID on $HUB_ENDPOINT"
done
sleep "$RUN_S"
touch "$T/stop"
for pid in "${PUB_PIDS[@]}"; do
    wait "$pid" || fail "publisher loop $pid failed"
done

cat "$T"/pub*.acked > "$T/acked"
cat "$T"/pub*.failed > "$T/failed" 2>/dev/null || true
NACKED=$(wc -l < "$T/acked")
NFAILED=$(wc -l < "$T/failed")
echo "acked: $NACKED publishes; failed: $NFAILED ($(cut -d' ' -f2 "$T/failed" | sort | uniq -c | xargs))"
[ "$NACKED" -ge 30 ] || fail "only $NACKED publishes were acked: the test proves little (see $T/pub*.err)"
# A publish interrupted by a crash either gets its ack after the restart or exits 2.
BADFAIL=$(awk '$2 != 2' "$T/failed" | head -3)
[ -z "$BADFAIL" ] || fail "publishes failed with a status other than 2: $BADFAIL; $(head -3 "$T"/pub*.err)"
DUP_ACKS=$(cut -d' ' -f1 "$T/acked" | sort -n | uniq -d | head -5 | xargs)
assert_eq "" "$DUP_ACKS" "seqs acked to two different publishes"

# The log: 1..head without a gap, every acked message at its acked seq, no message twice.
wait_for hubctl --json status > /dev/null || fail "the restarted hub does not answer"
HEAD=$(json_field "$(hubctl --json status)" head)
hubctl --json history updates > "$T/history.json" || fail "history failed after the crashes"
/usr/bin/python3 - "$T/history.json" "$T/acked" "$HEAD" << 'EOF' || fail "the log after the crashes is wrong (above)"
import json, sys
hist = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
head = int(sys.argv[3])
seqs = [m["seq"] for m in hist]
bad = False
def no(msg):
    global bad
    print("FAIL:", msg, file=sys.stderr)
    bad = True
if seqs != list(range(1, head + 1)):
    missing = sorted(set(range(1, head + 1)) - set(seqs))[:10]
    no("history seqs are not 1..%d: %d entries, missing %s, first entries %s"
       % (head, len(seqs), missing, seqs[:5]))
by_seq = {m["seq"]: m for m in hist}
bodies = {}
for m in hist:
    bodies.setdefault(m["body"], []).append(m["seq"])
twice = {b: s for b, s in bodies.items() if len(s) > 1}
if twice:
    no("messages stored more than once (body: seqs): %s" % list(twice.items())[:5])
unverified = [m["seq"] for m in hist if not m["verified"]]
if unverified:
    no("unverified messages: %s" % unverified[:10])
for line in open(sys.argv[2]):
    seq, body = line.rstrip("\n").split(" ", 1)
    m = by_seq.get(int(seq))
    if m is None:
        no("acked seq %s (%s) is not in history" % (seq, body))
    elif m["body"] != body:
        no("acked seq %s should hold %r, history has %r" % (seq, body, m["body"]))
print("log: %d messages, head %d, %d acked all present" % (len(hist), head,
      sum(1 for _ in open(sys.argv[2]))))
sys.exit(1 if bad else 0)
EOF
assert_exit 0 "verify after the crashes" hubctl verify
echo "verify: $OUT"

# The follower: catches up to the head, then every message once, in increasing order.
caught_up() { [ "$(tail -1 "$FOLLOW" | json_lines_field seq)" = "$HEAD" ]; }
for i in $(seq 1 150); do caught_up && break; sleep 0.1; done
caught_up || fail "the follower did not reach seq $HEAD in 15 s: last line $(tail -1 "$FOLLOW"); stderr: $(tail -5 "$T/follow.err")"
kill -0 "$FOLLOW_PID" || fail "the follower exited: $(tail -5 "$T/follow.err")"
kill -TERM "$FOLLOW_PID"
status=0
wait "$FOLLOW_PID" || status=$?
assert_eq 0 "$status" "exit status of the follower on SIGTERM"
echo "follower stderr: $(grep -c reconnecting "$T/follow.err" || true) reconnects"
json_lines_field seq < "$FOLLOW" > "$T/follow.seqs"
/usr/bin/python3 - "$T/follow.seqs" "$T/acked" "$HEAD" << 'EOF' || fail "the follower's output is wrong (above)"
import sys
seqs = [int(l) for l in open(sys.argv[1]) if l.strip()]
acked = {int(l.split(" ", 1)[0]) for l in open(sys.argv[2])}
head = int(sys.argv[3])
bad = False
for a, b in zip(seqs, seqs[1:]):
    if b <= a:
        print("FAIL: follower printed seq %d after seq %d" % (b, a), file=sys.stderr)
        bad = True
        break
missing = sorted(acked - set(seqs))
if missing:
    print("FAIL: follower never printed acked seqs %s" % missing[:10], file=sys.stderr)
    bad = True
if seqs != list(range(1, head + 1)):
    gaps = sorted(set(range(1, head + 1)) - set(seqs))[:10]
    print("FAIL: follower printed %d messages, expected 1..%d; missing %s"
          % (len(seqs), head, gaps), file=sys.stderr)
    bad = True
print("follower: %d messages, in order, once each" % len(seqs))
sys.exit(1 if bad else 0)
EOF
stop_hub || fail "hubd did not stop cleanly"
echo "PASS"
