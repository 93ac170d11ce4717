#!/usr/bin/env bash
# Publish on several channels, read it back (history, subscribe --since, --follow), keys,
# and hubctl's exit statuses (CONTRACT.md: 0 ok, 1 usage, 2 unreachable, 3 refused).
. "$(dirname "$0")/lib.sh"

# --- help and version, without any hub
for bin in "$HUBCTL" "$HUBD"; do
    assert_exit 0 "$(basename "$bin") --version" "$bin" --version
    assert_contains "$OUT" "0." "$(basename "$bin") --version output"
    assert_exit 0 "$(basename "$bin") --help" "$bin" --help
    assert_contains "$OUT" "$(basename "$bin")" "$(basename "$bin") --help output"
done

start_hub
ADMIN_KEY=$(hubctl pubkey "$DATA/admin.key")

# --- publish: seqs are 1, 2, 3, ... across channels
assert_exit 0 "publish announcements" hubctl publish announcements "Welcome, partners" --title "Kickoff"
assert_eq 1 "$OUT" "seq of the first publish"
assert_exit 0 "publish updates (UTF-8)" hubctl publish updates "Café réunion – due" --title "Réunion"
assert_eq 2 "$OUT" "seq of the UTF-8 publish"
# (From stdin one final line ending is dropped, as `echo` adds one: here the second stays.)
OUT=$(printf 'line one\nline two ✓\n\n' | hubctl publish actions - --title "Follow-up") ||
    fail "publish from stdin failed"
assert_eq 3 "$OUT" "seq of the stdin publish"
assert_exit 0 "publish updates" hubctl publish updates "Second update"
assert_eq 4 "$OUT" "seq"
assert_exit 0 "publish actions" hubctl publish actions "Call Ana by Friday"
assert_eq 5 "$OUT" "seq"
assert_exit 0 "publish with several words" hubctl publish updates Food bank open late
assert_eq 6 "$OUT" "seq"

# --- refused by the hub: exit 3 with the reason on stderr; nothing stored
assert_exit 3 "publish to an unknown channel" hubctl publish no-such-channel "x"
assert_contains "$ERR" "UNKNOWN_CHANNEL" "stderr of a refused publish"

# --- history per channel, in order, with the right seqs
A="admin"
H=$(hubctl --json history updates | msg_lines) || fail "history updates: bad output"
assert_eq "2|updates|message|$A|Réunion|Café réunion – due|true
4|updates|message|$A||Second update|true
6|updates|message|$A||Food bank open late|true" "$H" "history updates"
H=$(hubctl --json history actions | msg_lines) || fail "history actions: bad output"
assert_eq '3|actions|message|admin|Follow-up|line one\nline two ✓\n|true
5|actions|message|admin||Call Ana by Friday|true' "$H" "history actions"
H=$(hubctl --json history announcements | msg_lines) || fail "history announcements: bad output"
assert_eq "1|announcements|message|$A|Kickoff|Welcome, partners|true" "$H" "history announcements"
H=$(hubctl --json history updates --since 2 --limit 1 | msg_lines) || fail "history page"
assert_eq "4|updates|message|$A||Second update|true" "$H" "history updates --since 2 --limit 1"

# --- subscribe CH1 CH2 --since 0: exactly their messages, in seq order, verified
S=$(hubctl --json subscribe updates actions --since 0 | msg_lines) ||
    fail "subscribe --since 0: bad output"
assert_eq "2|updates|message|$A|Réunion|Café réunion – due|true
3|actions|message|$A|Follow-up|line one\nline two ✓\n|true
4|updates|message|$A||Second update|true
5|actions|message|$A||Call Ana by Friday|true
6|updates|message|$A||Food bank open late|true" "$S" "subscribe updates actions --since 0"
S=$(hubctl --json subscribe actions updates --since 3 | msg_lines) || fail "subscribe --since 3"
assert_eq "4 5 6" "$(echo "$S" | cut -d'|' -f1 | xargs)" "seqs of subscribe --since 3"
KEYS=$(hubctl --json subscribe announcements --since 0 | json_lines_field author_key)
assert_eq "$ADMIN_KEY" "$KEYS" "author_key of the admin's message"

# --- subscribe --follow: gets what is published after it, exits 0 on SIGTERM
FOLLOW=$T/follow.out
"$HUBCTL" --json subscribe updates announcements --follow > "$FOLLOW" 2> "$T/follow.err" &
FOLLOW_PID=$!
BG_PIDS+=("$FOLLOW_PID")
subscribed() { [ "$(json_field "$(hubctl --json status)" subscribers)" -ge 1 ]; }
wait_for subscribed || fail "the follower never subscribed (status: $(hubctl --json status))"
hubctl publish updates "live one" > /dev/null
hubctl publish actions "not followed" > /dev/null
hubctl publish announcements "live two" --title "Live" > /dev/null
hubctl publish updates "live three" > /dev/null
wait_lines "$FOLLOW" 3 ||
    fail "follower: expected 3 lines within 10 s, got: $(cat "$FOLLOW") (stderr: $(cat "$T/follow.err"))"
sleep 0.3 # anything extra (a duplicate, the actions message) would show by now
F=$(msg_lines < "$FOLLOW") || fail "follower: bad output"
assert_eq "7|updates|message|$A||live one|true
9|announcements|message|$A|Live|live two|true
10|updates|message|$A||live three|true" "$F" "follower output"
kill -TERM "$FOLLOW_PID"
status=0
wait "$FOLLOW_PID" || status=$?
assert_eq 0 "$status" "exit status of subscribe --follow on SIGTERM"
# A subscriber that left is no longer counted, even with nothing published since: a
# disconnect makes the hub probe its subscribers at once, not at its 10 s sweep.
unsubscribed() { [ "$(json_field "$(hubctl --json status)" subscribers)" = 0 ]; }
wait_for_s 3 unsubscribed || fail "a subscriber that left is still counted: $(hubctl --json status)"

# --- keygen / pubkey
assert_exit 0 "keygen" hubctl keygen "$T/partner.key"
GEN=$OUT
assert_eq 43 "${#GEN}" "length of the key text printed by keygen"
assert_exit 0 "pubkey" hubctl pubkey "$T/partner.key"
assert_eq "$GEN" "$OUT" "pubkey of the new key file"
assert_eq "$GEN" "$(cat "$T/partner.key.pub")" "contents of FILE.pub"
assert_eq 600 "$(stat -c %a "$T/partner.key")" "mode of the secret key file"
BEFORE=$(sha256sum < "$T/partner.key")
assert_exit 1 "keygen over an existing file" hubctl keygen "$T/partner.key"
assert_eq "$BEFORE" "$(sha256sum < "$T/partner.key")" "secret key file after a refused keygen"
assert_exit 0 "pubkey after a refused keygen" hubctl pubkey "$T/partner.key"
assert_eq "$GEN" "$OUT" "pubkey after a refused keygen"
assert_exit 0 "keygen --json" hubctl --json keygen "$T/other.key"
assert_eq "$(hubctl pubkey "$T/other.key")" "$(json_field "$OUT" public_key)" "keygen --json public_key"

# --- a key the hub has not admitted is refused (exit 3), and nothing is stored
assert_exit 3 "publish with a key that is not a partner" hubctl --key "$T/partner.key" publish updates "from a stranger"
assert_exit 0 "status after a refused stranger" hubctl --json status
assert_eq 10 "$(json_field "$OUT" head)" "head after a stranger's refused publish"
# --- a hub that is not the one we hold the key of: exit 2 once its handshakes fail, long
#     before the timeout (--timeout 60)
START=$(date +%s)
assert_exit 2 "status with a wrong hub key" hubctl --hub-key "$T/other.key.pub" --timeout 60 status
assert_contains "$ERR" "wrong hub key?" "why"
[ $(($(date +%s) - START)) -le 20 ] || fail "a wrong hub key took the whole --timeout"

# --- bad usage: exit 1
assert_exit 1 "unknown command" hubctl frobnicate
assert_exit 1 "publish without a channel" hubctl publish
assert_exit 1 "subscribe without a channel" hubctl subscribe
assert_exit 1 "unknown option" hubctl --no-such-option status
assert_exit 1 "--timeout without a value" hubctl status --timeout
assert_exit 1 "history --limit not a number" hubctl history updates --limit many
assert_exit 1 "keygen without FILE" hubctl keygen
assert_exit 1 "an option given twice" hubctl history updates --limit 1 --limit 2
assert_contains "$ERR" "given twice" "the reason"
# a channel named twice is subscribed once
assert_exit 0 "subscribe to a channel named twice" hubctl --json subscribe updates updates --since 0

# --- nothing listens: exit 2, within the timeout
PORT=$(free_port)
START=$(date +%s)
assert_exit 2 "publish with no hub listening" timeout 20 "$HUBCTL" --hub "tcp://127.0.0.1:$PORT" --timeout 1 publish updates "lost"
assert_exit 2 "history with no hub listening" timeout 20 "$HUBCTL" --hub "tcp://127.0.0.1:$PORT" --timeout 1 history updates
assert_exit 2 "status with no hub listening" timeout 20 "$HUBCTL" --hub "tcp://127.0.0.1:$PORT" --timeout 1 status
ELAPSED=$(($(date +%s) - START))
[ "$ELAPSED" -le 12 ] || fail "three commands with --timeout 1 took ${ELAPSED}s (expected <= 12)"

# --- `echo TEXT | hubctl publish CH -` publishes TEXT (so does CRLF input)
seq=$(echo "echoed text" | hubctl publish updates -) || fail "publish from echo"
body=$(hubctl --json history updates --since $((seq - 1)) --limit 1 | json_lines_field body)
assert_eq "echoed text" "$body" "the body published from echo"
seq=$(printf 'crlf text\r\n' | hubctl publish updates) || fail "publish of CRLF stdin"
got=$(hubctl --json history updates --since $((seq - 1)) --limit 1 | /usr/bin/python3 -c 'import json,sys; print(repr(json.loads(sys.stdin.readline())["body"]))')
assert_eq "'crlf text'" "$got" "the body published from CRLF stdin"
# Text that starts with a dash is text, not an unknown option; "-x" still is an option.
seq=$(hubctl publish updates "-5" --title "- minus") || fail "publish of '-5'"
got=$(hubctl --json history updates --since $((seq - 1)) --limit 1)
assert_eq "-5" "$(json_field "$got" body)" "the body '-5'"
assert_eq "- minus" "$(json_field "$got" title)" "the title '- minus'"
assert_exit 1 "publish with an unknown option" hubctl publish updates -x
assert_contains "$ERR" "unknown option '-x'" "why -x is refused"

# --- the whole log is intact, and nothing refused was stored
assert_exit 0 "verify" hubctl verify
assert_exit 0 "status" hubctl --json status
assert_eq 13 "$(json_field "$OUT" head)" "head after 13 accepted publishes"
stop_hub || fail "hubd did not stop cleanly"
[ -e "$DATA/hubd.endpoint" ] && fail "a clean stop left hubd.endpoint, naming an endpoint nobody listens on"

# --- a data directory whose parents are missing is made, as mkdir -p would, and private
start_hub "$T/deep/er/data"
assert_eq 700 "$(stat -c %a "$T/deep/er/data")" "mode of a new nested data directory"
stop_hub || fail "hubd on a nested data directory did not stop cleanly"
echo "PASS"
