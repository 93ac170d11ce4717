#!/usr/bin/env bash
# Backup and observability: `hubctl export` writes the history with its signatures, chain
# and checkpoint; `hubctl verify --file` checks it with no hub running and catches an
# edited body, a deleted line and a forged hub key; `hubctl status --prometheus` is valid
# Prometheus text exposition.
. "$(dirname "$0")/lib.sh"

start_hub
HUB_PUB=$(cat "$DATA/hub.pub")

# Messages on several channels, with UTF-8, titles, quotes, backslashes and newlines.
hubctl publish updates "Food bank hours: 9–20h, café «open»" --title "Hours ✓" > /dev/null
hubctl publish actions 'a "quoted" \ backslash' --title 'Tïtle "q"' > /dev/null
printf 'line one\nline two\n\ttab\n\n' | hubctl publish announcements - > /dev/null
for i in $(seq 4 12); do
    case $((i % 3)) in 0) ch=updates ;; 1) ch=actions ;; *) ch=announcements ;; esac
    hubctl publish "$ch" "message $i — ünïcødé 🎉" --title "title $i" > /dev/null
done
HEAD=$(json_field "$(hubctl --json status)" head)

# --- status --prometheus (a slack relay is configured in no test hub here: the relay
#     families still have HELP/TYPE, and the parser below checks every sample line)
check_prometheus() {
    /usr/bin/python3 -c '
import re, sys
text = sys.stdin.read()
helps, types, samples = set(), set(), []
for line in text.splitlines():
    if line.startswith("# HELP "):
        helps.add(line.split()[2])
    elif line.startswith("# TYPE "):
        name, kind = line.split()[2:4]
        assert kind in ("gauge", "counter"), line
        types.add(name)
    elif line.startswith("#"):
        continue
    else:
        assert re.fullmatch(r"hubd_[a-z_]+(\{relay=\"[^\"]*\"\})? [0-9.e+-]+", line), "bad line: %r" % line
        samples.append(line.split("{")[0].split()[0])
for name in samples:
    assert name in helps and name in types, "no HELP/TYPE for %s" % name
need = {"hubd_up", "hubd_uptime_seconds", "hubd_messages_total", "hubd_refused_total",
        "hubd_db_bytes", "hubd_head_seq", "hubd_subscribers_behind", "hubd_outbox_dead"}
assert need <= set(samples), "missing: %s" % (need - set(samples))
for fam in ("hubd_relay_pending", "hubd_relay_dead", "hubd_relay_loaded",
            "hubd_relay_oldest_pending_seconds"):
    assert fam in helps and fam in types, "no family " + fam
assert "hubd_messages_total %s" % sys.argv[1] in text, "messages_total"
print(len(samples), "samples")
' "$1" || fail "status --prometheus does not parse: $(hubctl status --prometheus)"
}
assert_exit 0 "status --prometheus" hubctl status --prometheus
echo "$OUT" | check_prometheus "$HEAD"
assert_contains "$OUT" "# TYPE hubd_messages_total counter" "messages is a counter"
assert_exit 1 "status --json --prometheus" hubctl --json status --prometheus
assert_exit 0 "status (table)" hubctl status
assert_contains "$OUT" "db_bytes" "status table"

# --- export: the whole log and one channel
assert_exit 0 "export" hubctl export "$T/all.jsonl"
assert_contains "$OUT" "exported $HEAD messages" "export output"
[ -e "$T/all.jsonl.tmp" ] && fail "export left its .tmp file"
assert_exit 0 "export --json updates" hubctl --json export "$T/updates.jsonl" updates
assert_eq "$T/updates.jsonl" "$(json_field "$OUT" file)" "export --json file"
assert_eq "$HEAD" "$(json_field "$OUT" head)" "export --json head"
N_UPDATES=$(json_field "$OUT" messages)
assert_eq "$(history_seqs updates | wc -l)" "$N_UPDATES" "messages on updates"
assert_eq "$((HEAD + 1))" "$(wc -l < "$T/all.jsonl")" "lines of the export"
assert_eq '"hubd-export-v1"' "$(head -1 "$T/all.jsonl" | /usr/bin/python3 -c 'import json,sys; print(json.dumps(json.loads(sys.stdin.readline())["format"]))')" "format"

# The export carries the exact bytes: body and title survive, byte for byte.
/usr/bin/python3 - "$T/all.jsonl" <<'PY' || fail "export content"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
head, msgs = lines[0], lines[1:]
assert head["channel"] == "*" and head["checkpoint"]["seq"] == len(msgs), head
assert [m["seq"] for m in msgs] == list(range(1, len(msgs) + 1))
assert msgs[0]["body"] == "Food bank hours: 9–20h, café «open»", msgs[0]["body"]
assert json.loads(msgs[0]["header"])["title"] == "Hours ✓"
assert msgs[1]["body"] == 'a "quoted" \\ backslash', msgs[1]["body"]
assert msgs[2]["body"] == "line one\nline two\n\ttab\n", msgs[2]["body"]
PY

stop_hub || fail "hubd did not stop cleanly"
# From here on no hub runs, and no endpoint or identity is given.
unset HUB_ENDPOINT HUB_KEY
kill -0 "$HUB_PID" 2>/dev/null && fail "hub still running"

# --- verify --file, offline
assert_exit 0 "verify --file" hubctl verify --file "$T/all.jsonl"
assert_contains "$OUT" "ok: $HEAD messages verified, chain intact to seq $HEAD" "verify --file"
assert_exit 0 "verify --file --json" hubctl --json verify --file "$T/all.jsonl"
assert_eq true "$(json_field "$OUT" ok)" "verify --file --json ok"
assert_eq "$HEAD" "$(json_field "$OUT" messages)" "verify --file --json messages"
assert_exit 0 "verify --file one channel" hubctl verify --file "$T/updates.jsonl"
assert_contains "$OUT" "ok: $N_UPDATES messages" "verify --file updates"
assert_exit 0 "verify --file CHANNEL of a whole export" hubctl verify --file "$T/all.jsonl" updates
assert_contains "$OUT" "ok: $N_UPDATES messages" "verify --file all.jsonl updates"
assert_exit 0 "verify --file with the key text" hubctl --hub-key "$HUB_PUB" verify --file "$T/all.jsonl"
assert_exit 0 "verify --file trusting the file's key" env -u HUB_SERVER_KEY "$HUBCTL" verify --file "$T/all.jsonl"
assert_contains "$ERR" "trusting the hub key the file names" "note without --hub-key"
assert_exit 1 "verify --file on a file that is not an export" hubctl verify --file "$DATA/hub.pub"
assert_exit 1 "verify --file on a missing file" hubctl verify --file "$T/nothing.jsonl"

# edit_line IN OUT SEQ PYTHON: copies IN to OUT, running PYTHON on message SEQ (as m).
edit_line() {
    /usr/bin/python3 - "$1" "$2" "$3" "$4" <<'PY'
import json, sys
src, dst, seq, code = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
out = []
for n, line in enumerate(open(src, encoding="utf-8")):
    m = json.loads(line)
    if n and m["seq"] == seq:
        exec(code)
        if m is None:
            continue
        line = json.dumps(m, ensure_ascii=False, separators=(",", ":")) + "\n"
    out.append(line)
open(dst, "w", encoding="utf-8").writelines(out)
PY
}

# expect_bad FILE SEQ REASON_WORD [hubctl args]: verify --file exits 4 and names SEQ.
expect_bad() {
    local file=$1 seq=$2 word=$3
    shift 3
    assert_exit 4 "verify --file $(basename "$file")" hubctl "$@" verify --file "$file"
    assert_contains "$OUT" "first bad seq $seq" "verify --file $(basename "$file")"
    assert_exit 4 "verify --file --json $(basename "$file")" hubctl "$@" --json verify --file "$file"
    assert_eq "$seq" "$(json_field "$OUT" first_bad_seq)" "first_bad_seq of $(basename "$file")"
    assert_contains "$(json_field "$OUT" reason)" "$word" "reason of $(basename "$file")"
    echo "$(basename "$file"): $OUT"
}

# An edited body (seq 7): its signature no longer verifies.
edit_line "$T/all.jsonl" "$T/edited.jsonl" 7 'm["body"] = m["body"] + " (edited)"'
expect_bad "$T/edited.jsonl" 7 "signature"
edit_line "$T/updates.jsonl" "$T/updates-edited.jsonl" 1 'm["body"] = "Food bank closed"'
expect_bad "$T/updates-edited.jsonl" 1 "signature"

# A deleted line (seq 5): the chain has a hole.
edit_line "$T/all.jsonl" "$T/deleted.jsonl" 5 'm = None'
expect_bad "$T/deleted.jsonl" 5 "missing"

# The last line deleted: only the signed checkpoint can tell.
head -n "$HEAD" "$T/all.jsonl" > "$T/truncated.jsonl"
expect_bad "$T/truncated.jsonl" "$HEAD" "checkpoint"

# Deleting seq 3 and recomputing every later hash (the chain is public arithmetic) gives
# a consistent chain, but one that no longer reaches the hub's signed checkpoint.
/usr/bin/python3 - "$T/all.jsonl" "$T/rechained.jsonl" <<'PY'
import hashlib, json, struct, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
head, msgs = lines[0], lines[1:]
del msgs[2]  # seq 3
prev = bytes(32)
for n, m in enumerate(msgs, 1):
    h, b = m["header"].encode(), m["body"].encode()
    signed = b"hubd/msg/v1\0" + struct.pack(">I", len(h)) + h + struct.pack(">I", len(b)) + b
    m["seq"], m["prev_hash"] = n, prev.hex()
    prev = hashlib.blake2b(prev + struct.pack(">Q", n) + signed + bytes.fromhex(m["sig"]),
                           digest_size=32).digest()
    m["hash"] = prev.hex()
head["messages"] = len(msgs)
with open(sys.argv[2], "w", encoding="utf-8") as f:
    for m in [head] + msgs:
        f.write(json.dumps(m, ensure_ascii=False, separators=(",", ":")) + "\n")
PY
expect_bad "$T/rechained.jsonl" "$HEAD" "checkpoint"

# A forged export: every line intact, but the file names another hub key and carries a
# checkpoint signed by it. Against the real hub key, it fails.
hubctl keygen "$T/forger.key" > /dev/null
FORGER=$(cat "$T/forger.key.pub")
/usr/bin/python3 - "$T/all.jsonl" "$T/forged.jsonl" "$FORGER" <<'PY'
import json, sys
lines = open(sys.argv[1], encoding="utf-8").readlines()
head = json.loads(lines[0])
head["hub_key"] = sys.argv[3]
head["checkpoint"]["hub_key"] = sys.argv[3]
lines[0] = json.dumps(head, separators=(",", ":")) + "\n"
open(sys.argv[2], "w", encoding="utf-8").writelines(lines)
PY
assert_exit 4 "verify --file of a forged export" hubctl verify --file "$T/forged.jsonl"
assert_contains "$OUT" "not the trusted" "forged export"
assert_exit 4 "verify --file with a wrong --hub-key" hubctl --hub-key "$FORGER" verify --file "$T/all.jsonl"
assert_contains "$OUT" "FAIL" "wrong --hub-key"
# Next to a hub-data/hub.pub (hubctl's default hub key), that key is the one trusted.
mkdir -p "$T/beside/hub-data"
echo "$FORGER" > "$T/beside/hub-data/hub.pub"
rc=0
(cd "$T/beside" && env -u HUB_SERVER_KEY "$HUBCTL" verify --file "$T/all.jsonl" > "$T/beside.out" 2>&1) || rc=$?
assert_eq 4 "$rc" "verify --file beside another hub's hub-data/hub.pub"
# Trusting the forged file's own key, its checkpoint signature still fails.
assert_exit 4 "verify --file forged, no --hub-key" env -u HUB_SERVER_KEY "$HUBCTL" verify --file "$T/forged.jsonl"

# --- a hub that is down: status --prometheus says hubd_up 0 and exits 2
assert_exit 2 "status --prometheus, hub down" hubctl --key "$DATA/admin.key" \
    --hub "tcp://127.0.0.1:$(free_port)" --timeout 0.5 status --prometheus
assert_contains "$OUT" "hubd_up 0" "hubd_up when the hub is down"

echo "PASS"
