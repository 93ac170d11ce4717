#!/usr/bin/env bash
# Tampering with the stored log behind hubd's back (sqlite3 on DATA/hub.db while it is
# stopped) is caught by `hubctl verify`: exit 4, naming the first bad seq. An untouched
# log, stopped and started again, verifies. A log whose end is not the signed one takes
# no writes.
. "$(dirname "$0")/lib.sh"

# fresh_log NAME: a new hub in $T/NAME with 20 messages (odd seqs on updates, even on
# actions), verified, then stopped with SIGTERM.
fresh_log() {
    start_hub "$T/$1"
    local i seq ch
    for i in $(seq 1 20); do
        if [ $((i % 2)) = 1 ]; then ch=updates; else ch=actions; fi
        seq=$(hubctl publish "$ch" "message $i on $ch" --title "title $i") ||
            fail "$1: publish $i failed"
        assert_eq "$i" "$seq" "$1: seq of publish $i"
    done
    assert_exit 0 "$1: verify before tampering" hubctl verify
    assert_contains "$OUT" "ok" "$1: verify before tampering"
    stop_hub || fail "$1: hubd did not stop cleanly on SIGTERM"
}

# tamper NAME SQL: runs SQL on the stopped hub's database, then starts the hub again.
tamper() {
    sqlite3 "$T/$1/hub.db" "$2" || fail "$1: sqlite3 failed on: $2"
    start_hub "$T/$1"
}

# expect_damage NAME FIRST_BAD_SEQ REASON_WORD: verify exits 4 and names the seq.
expect_damage() {
    assert_exit 4 "$1: verify" hubctl verify
    assert_contains "$OUT" "first bad seq $2" "$1: verify output"
    assert_exit 4 "$1: verify --json" hubctl --json verify
    assert_eq false "$(json_field "$OUT" ok)" "$1: verify --json ok"
    assert_eq "$2" "$(json_field "$OUT" first_bad_seq)" "$1: verify --json first_bad_seq"
    assert_contains "$(json_field "$OUT" reason)" "$3" "$1: verify --json reason"
    echo "$1: $OUT"
}

# (0) control: stopped and started again without tampering, the log verifies
fresh_log control
start_hub "$T/control"
assert_exit 0 "control: verify after a restart" hubctl verify
assert_exit 0 "control: verify --json" hubctl --json verify
assert_eq true "$(json_field "$OUT" ok)" "control: verify --json ok"
assert_eq 20 "$(json_field "$OUT" messages)" "control: messages verified"
assert_eq 20 "$(json_field "$OUT" last_seq)" "control: last seq verified"
stop_hub || fail "control: hubd did not stop cleanly"

# (a) an edited body (seq 7): its signature no longer verifies
fresh_log edit
tamper edit "UPDATE messages SET body = CAST('message 7 on updates, edited' AS BLOB) WHERE seq = 7"
expect_damage edit 7 "signature"
assert_exit 4 "edit: verify updates (the edited message's channel)" hubctl verify updates
assert_contains "$OUT" "first bad seq 7" "edit: verify updates output"
FLAG=$(hubctl --json history updates --since 6 --limit 1 | json_lines_field verified)
assert_eq False "$FLAG" "edit: 'verified' of the edited message in history"
stop_hub || true

# (b) a deleted row (seq 5): the chain has a hole
fresh_log delete
tamper delete "DELETE FROM messages WHERE seq = 5"
expect_damage delete 5 "missing"
stop_hub || true

# (c) two rows' contents swapped (seqs 3 and 4, with their channel columns): each still
#     carries a valid author signature, but the chain breaks at 3
fresh_log reorder
tamper reorder "CREATE TEMP TABLE t AS SELECT seq, channel, header, body, sig FROM messages WHERE seq IN (3, 4);
UPDATE messages SET channel = (SELECT channel FROM t WHERE t.seq = 7 - messages.seq),
                    header = (SELECT header FROM t WHERE t.seq = 7 - messages.seq),
                    body = (SELECT body FROM t WHERE t.seq = 7 - messages.seq),
                    sig = (SELECT sig FROM t WHERE t.seq = 7 - messages.seq)
              WHERE seq IN (3, 4);"
SWAPPED=$(sqlite3 "$T/reorder/hub.db" "SELECT CAST(body AS TEXT) FROM messages WHERE seq = 3")
assert_eq "message 4 on actions" "$SWAPPED" "reorder: body of seq 3 after the swap"
expect_damage reorder 3 "hash"
stop_hub || true

# (d) the last row deleted (tail truncation): only the signed checkpoint can tell
fresh_log truncate
tamper truncate "DELETE FROM messages WHERE seq = 20"
expect_damage truncate 20 "checkpoint"
# ... and hubd takes no writes on it: a publish would get seq 20 again, sign a checkpoint
# over the gap and make verify pass.
grep -q "the log ends at seq 19 but the hub signed it up to seq 20" "$T/hubd.log" ||
    fail "truncate: the damage was not logged at start"
assert_exit 3 "truncate: publish on a truncated log" hubctl publish updates "after the cut"
assert_contains "$ERR" "the hub takes no writes" "truncate: the refusal says why"
expect_damage truncate 20 "checkpoint"
stop_hub || true

# (e) the author column (a copy of the signed header's author, for the indexes) edited to
#     another partner's key: messages are still named after the key that signed them
fresh_log author
start_hub "$T/author"
BOB=$(hubctl keygen "$T/bob.key")
hubctl partner add bob --key "$BOB" > /dev/null
assert_eq 22 "$(hubctl --key "$T/bob.key" publish updates "bob's own message")" "author: bob's seq"
assert_eq 23 "$(hubctl publish updates "quoting bob's key" --title "cc $BOB")" "author: a title quoting bob's key"
stop_hub || fail "author: hubd did not stop cleanly"
tamper author "UPDATE messages SET author = (SELECT author FROM messages WHERE seq = 22) WHERE seq IN (7, 23)"
NAME=$(hubctl --json history updates --since 6 --limit 1 | json_lines_field author)
assert_eq admin "$NAME" "author: the name of a message whose author column was edited"
NAME=$(hubctl --json history updates --since 22 --limit 1 | json_lines_field author)
assert_eq admin "$NAME" "author: the name of an edited message whose title quotes the column's key"
NAME=$(hubctl --json history updates --since 21 --limit 1 | json_lines_field author)
assert_eq bob "$NAME" "author: the name of bob's own message"
stop_hub || true

# (f) the channel column (a copy of the signed header's, for the indexes) edited: seq 7,
#     signed for updates, moved to actions. Served as an actions message it would reach
#     partners with no read right on updates, and verify would pass (the client sees only
#     the signed header). The hub ends every read at that row with the reason instead.
fresh_log channel
tamper channel "UPDATE messages SET channel = 'actions' WHERE seq = 7"
for cmd in "history actions" "subscribe actions --since 0" "verify" "verify actions"; do
    rc=0
    OUT=$(hubctl $cmd 2>&1) || rc=$?
    [ "$rc" -ne 0 ] || fail "channel: $cmd exited 0 on a row moved to another channel: $OUT"
    assert_contains "$OUT" "seq 7 is stored as a message of channel 'actions' but was signed for 'updates'" \
        "channel: $cmd"
done
echo "channel: verify: $OUT (exit $rc)"
hubctl --json history actions > "$T/channel.out" 2> /dev/null || true
GOT=$(json_lines_field seq < "$T/channel.out" | xargs)
assert_eq "2 4 6" "$GOT" "channel: the actions messages before the damaged row are still served"
grep -q "reader: seq 7 is stored as a message of channel 'actions'" "$T/hubd.log" ||
    fail "channel: hubd did not log the damaged row"
stop_hub || true

# (g) hub time (not in the hash chain, shown as `ts`) edited: moved back to 2000 it goes
#     back along the log; moved on a year on the last message, it is after the checkpoint
#     that covers it. The hub's own times never go back (it keeps them monotonic).
fresh_log hubtime
tamper hubtime "UPDATE messages SET hub_ts_ms = 946684800000 WHERE seq = 7"
expect_damage hubtime 7 "hub time goes back"
stop_hub || true
fresh_log hubtime-end
tamper hubtime-end "UPDATE messages SET hub_ts_ms = hub_ts_ms + 31536000000 WHERE seq = 20"
expect_damage hubtime-end 20 "after the checkpoint"
stop_hub || true

echo "PASS"
