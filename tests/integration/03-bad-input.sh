#!/usr/bin/env bash
# Every kind of bad input is refused with its PROTOCOL.md section 5 error, stores nothing,
# and leaves the hub serving; a replay is stored once; garbage floods do not starve
# honest publishers. Uses hub-rawclient (rawclient.c) to send what hubctl never would.
. "$(dirname "$0")/lib.sh"
need_rawclient

start_hub
raw() { "$RAWCLIENT" --timeout 5000 "$@"; }
hub_head() { json_field "$(hubctl --json status)" head; }
hubctl keygen "$T/b.key" > /dev/null

STORED=0 # messages the hub should hold

# expect_refused WHAT ERROR_NAME RAWCLIENT_ARGS...: the hub answers ERROR_NAME, stores
# nothing, and an honest hubctl publish right after still works.
expect_refused() {
    local what=$1 name=$2 before out after seq
    shift 2
    before=$(hub_head)
    out=$(raw "$@") || fail "$what: hub-rawclient failed: $out"
    case "$out" in
        "ERROR "[0-9]*" $name "*) ;;
        *) fail "$what: expected 'ERROR <code> $name <reason>', got '$out'" ;;
    esac
    after=$(hub_head)
    assert_eq "$before" "$after" "$what: head after the refusal (nothing stored)"
    seq=$(hubctl publish updates "honest after $what") || fail "$what: honest publish after it failed"
    assert_eq "$((before + 1))" "$seq" "$what: seq of the honest publish after it"
    STORED=$((STORED + 1))
    echo "ok: $what -> $out"
}

# --- a correct raw publish is accepted (the client itself works)
OUT=$(raw publish updates "raw and proper") || fail "raw publish failed: $OUT"
assert_eq "ACK 1 0" "$OUT" "answer to a correct raw publish"
STORED=$((STORED + 1))

# --- signatures and authors
expect_refused "bad signature" BAD_SIGNATURE badsig updates "tampered in flight"
expect_refused "author is another key than the connection's" KEY_MISMATCH \
    --sign-key "$T/b.key" publish updates "signed by B, sent by A"

# --- sizes: header + body may be exactly max_message_bytes (65536), not one byte more
expect_refused "body over 65536 bytes" TOO_LARGE publish updates @size:70000
expect_refused "header + body = 65537 bytes" TOO_LARGE publish updates @total:65537
OUT=$(raw publish updates @total:65536) || fail "publish of exactly 65536 bytes failed: $OUT"
assert_eq "ACK $((STORED + 1)) 0" "$OUT" "answer to header + body = 65536 bytes"
STORED=$((STORED + 1))
# hubctl names the code the hub would give before sending: a title over 256 bytes is a
# bad header field, not a size limit
expect_refusal BAD_HEADER hubctl publish updates "long title" --title "$(printf 'a%.0s' {1..257})"

# --- malformed frames
expect_refused "envelope of 7 bytes" MALFORMED malformed env-short
expect_refused "envelope of 9 bytes" MALFORMED malformed env-long
expect_refused "bad magic" MALFORMED malformed bad-magic
expect_refused "unknown protocol version" VERSION malformed bad-version
expect_refused "unknown command" UNKNOWN_COMMAND malformed unknown-cmd
expect_refused "PUBLISH with 2 frames" MALFORMED malformed frame-count
expect_refused "PUBLISH with 23 frames" MALFORMED malformed too-many-frames
expect_refused "signature of 63 bytes" MALFORMED malformed sig-short
expect_refused "header that is not JSON" BAD_HEADER malformed header-not-json
expect_refused "header with a bad channel name" BAD_NAME malformed header-bad-channel
expect_refused "body that is not UTF-8" BAD_UTF8 malformed body-bad-utf8
expect_refused "PING with a frame" MALFORMED malformed ping-extra
expect_refused "CREDIT of 0" BAD_REQUEST malformed credit-zero
expect_refused "CREDIT of 3 bytes" MALFORMED malformed credit-short
expect_refused "unknown channel" UNKNOWN_CHANNEL publish no-such-channel "hello?"

# --- replay: the same frames twice are stored once, the second ack is flagged
OUT=$(raw replay updates "said twice") || fail "replay failed: $OUT"
SEQ=$((STORED + 1))
assert_eq "ACK $SEQ 0
ACK $SEQ 1" "$OUT" "answers to the same publish sent twice"
STORED=$((STORED + 1))
COPIES=$(hubctl --json history updates | grep -c '"body":"said twice"' || true)
assert_eq 1 "$COPIES" "copies of the replayed message in history"
assert_eq "$STORED" "$(hub_head)" "head after the replay"

# --- another message under a (ts, id) already stored is refused, not acked as the first
OUT=$(raw reuse updates "said once") || fail "reuse failed: $OUT"
SEQ=$((STORED + 1))
assert_contains "$OUT" "ACK $SEQ 0
ERROR 18 CONFLICT another message with this ts and id is stored (seq $SEQ)" \
    "answers to two bodies under one id"
STORED=$((STORED + 1))
assert_eq "$STORED" "$(hub_head)" "head after the reused id"

# --- PUBLISHES (PROTOCOL.md 4.4): each record is judged on its own and answered under its
#     own request id (acks in one ACKS); a pack cut short or empty is refused whole
OUT=$(raw packs updates) || fail "packs failed: $OUT"
SEQ=$((STORED + 1))
assert_eq "REQ 11 ACK $SEQ 0
REQ 12 ERROR 8 BAD_SIGNATURE
REQ 13 ACK $SEQ 1
REQ 14 ERROR 7 BAD_HEADER
REQ 20 ERROR 1 MALFORMED
REQ 21 ERROR 1 MALFORMED" "$OUT" "answers to the records of PUBLISHES"
STORED=$((STORED + 1))
assert_eq 1 "$(hubctl --json history updates | grep -c '"body":"packed and good"' || true)" \
    "copies of the packed message in history"
assert_eq "$STORED" "$(hub_head)" "head after the packs (the cut one stored nothing)"
assert_eq 1 "$(hubctl --json history updates | grep -c '"body":"packed' || true)" \
    "packed messages in history (only the good one: none refused, none of the cut pack)"
OUT=$(raw --pack 50 flood updates 1000 300) || fail "packed flood failed: $OUT"
assert_contains "$OUT" "ACKED 1000 DUPS 0 FIRST $((STORED + 1)) LAST $((STORED + 1000)) " \
    "packed flood"
STORED=$((STORED + 1000))
# The client library's pipelining (hub_client_post/collect) sends PUBLISHES: 300 messages,
# every third posted twice, are 400 answers, 300 stored once each, 100 flagged copies.
OUT=$(raw post updates 300) || fail "post failed: $OUT"
assert_eq "POSTED 400 ANSWERS 400 ACKS 400 DUPS 100 DISTINCT 300" "$OUT" "posted publishes"
STORED=$((STORED + 300))
assert_eq "$STORED" "$(hub_head)" "head after the posted publishes"

# --- nothing refused was stored: history holds exactly the accepted messages, verified
N=$(hubctl --json history updates | wc -l)
assert_eq "$STORED" "$N" "messages in history after all refusals"
UNVERIFIED=$(hubctl --json history updates | grep -c '"verified":false' || true)
assert_eq 0 "$UNVERIFIED" "unverified messages in history"
assert_exit 0 "verify after the refusals" hubctl verify

# --- a garbage flood while honest publishers work: all 200 honest publishes are acked
#     and stored, and every garbage request gets its error answer
BASE=$STORED
PUB_PIDS=()
for p in 1 2 3 4; do
    (
        for i in $(seq 1 50); do
            if s=$("$HUBCTL" publish updates "honest $p/$i" 2>> "$T/pub$p.err"); then
                echo "$s" >> "$T/pub$p.seqs"
            else
                echo "FAILED $i status $?" >> "$T/pub$p.seqs"
            fi
        done
    ) &
    PUB_PIDS+=($!)
done
BG_PIDS+=("${PUB_PIDS[@]}")
rounds=0
while :; do
    rounds=$((rounds + 1))
    OUT=$("$RAWCLIENT" garbage 20000) || fail "garbage client round $rounds failed: $OUT"
    assert_eq "SENT 20000 ANSWERS 20000" "$OUT" "garbage client round $rounds"
    running=0
    for pid in "${PUB_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && running=1; done
    [ "$running" = 1 ] && [ "$rounds" -lt 30 ] || break
done
for pid in "${PUB_PIDS[@]}"; do wait "$pid" || fail "publisher $pid failed"; done
echo "garbage rounds of 20000 during the honest publishing: $rounds"
cat "$T"/pub?.seqs > "$T/acked"
grep FAILED "$T/acked" && fail "honest publishes failed during the garbage flood: $(grep FAILED "$T/acked" | head -3); $(cat "$T"/pub?.err | head -3)"
assert_eq 200 "$(wc -l < "$T/acked")" "honest publishes acked during the garbage flood"
assert_eq "$(seq $((BASE + 1)) $((BASE + 200)))" "$(sort -n "$T/acked")" "seqs acked during the garbage flood"
history_seqs updates --since "$BASE" > "$T/stored"
assert_eq "$(sort -n "$T/acked")" "$(cat "$T/stored")" "history after the garbage flood"
assert_eq 200 "$(hubctl --json history updates --since "$BASE" | grep -c '"body":"honest ')" \
    "honest bodies in history"
assert_exit 0 "verify after the garbage flood" hubctl verify
# Every refusal was answered and counted, but the log did not get a line for each: a
# client sending garbage at full speed must not fill the disk (100 lines per 10 s, then
# a summary). Those that were logged name the partner who sent them.
refusal_lines=$(grep -c "refused a request" "$T/hubd.log" || true)
[ "$refusal_lines" -le 1000 ] ||
    fail "$refusal_lines log lines for $((rounds * 20000)) garbage requests: refusals are not rate-limited"
grep "refused a request" "$T/hubd.log" | grep -q "from an unknown key" &&
    fail "garbage from a partner was logged as from an unknown key"
kill -0 "$HUB_PID" || fail "hubd died"
stop_hub || fail "hubd did not stop cleanly"
echo "PASS"
