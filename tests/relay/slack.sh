#!/bin/bash
# relay_slack: hub_slack.so against fake_api.py's webhook (INTEGRATIONS.md section 1):
# payload shape and escaping, cutting at Slack's limits, and the outcome of every failure.
source "$(dirname "$0")/lib.sh"

start_fake_api
HOOK_SECRET=T0001/B0001/SecretHookXyz123
secret "$T/webhook" "$API/services/$HOOK_SECRET"
printf 'webhook_url_file = %s\ntimeout = 1\n' "$T/webhook" > "$T/slack.conf"

# 1. A message: blocks (title, body, context with author and channel), text fallback,
#    & < > escaped so <!channel> and links cannot be injected.
out=$(run_host slack "$T/slack.conf" "$T/memos.json" <<'EOF2'
{"job_id":1,"seq":41,"channel":"announcements","kind":"message","author":"river-trust","title":"Budget & <plan>","body":"Hello <!channel> & see <http://evil.example|this>\n.line with a dot"}
EOF2
)
assert_eq done "$(field "$out" outcome)" "message delivered"
"$PY" - "$API_LOG" <<'EOF2' || fail "message payload"
import json, sys
req = [json.loads(l) for l in open(sys.argv[1])][-1]
assert req["method"] == "POST" and req["headers"]["content-type"].startswith("application/json"), req
msg = json.loads(req["body"])
blocks = msg["blocks"]
texts = [b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b]
assert texts[0] == "*Budget &amp; &lt;plan&gt;*", texts
assert texts[1] == "Hello &lt;!channel&gt; &amp; see &lt;http://evil.example|this&gt;\n.line with a dot", texts
ctx = [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]
assert "river-trust" in ctx[0] and "#announcements" in ctx[0] and "seq 41" in ctx[0], ctx
assert msg["text"].startswith("*Budget &amp; &lt;plan&gt;*\nHello &lt;!channel&gt;"), msg["text"]
raw = req["body"]
assert "<!channel>" not in raw and "<http" not in raw, raw
EOF2
ok "payload: title, body, author, channel sections; text fallback; &<> escaped"

# 2. An action item: owner and due date as fields.
out=$(run_host slack "$T/slack.conf" "$T/memos.json" <<'EOF2'
{"job_id":2,"seq":42,"channel":"actions","kind":"reminder","author":"hub","title":"","body":"Send the Q3 figures","action_id":7,"action_title":"Q3 figures","owner":"food-bank","due_ms":1796144400000,"status":"open"}
EOF2
)
assert_eq done "$(field "$out" outcome)" "reminder delivered"
"$PY" - "$API_LOG" <<'EOF2' || fail "action payload"
import json, sys
msg = json.loads([json.loads(l) for l in open(sys.argv[1])][-1]["body"])
assert msg["blocks"][0]["text"]["text"] == "*Reminder: Q3 figures*", msg["blocks"][0]
fields = [f["text"] for b in msg["blocks"] for f in b.get("fields", [])]
assert "*Owner*\nfood-bank" in fields and "*Due*\n2026-12-01 17:00 UTC" in fields, fields
EOF2
ok "action: owner and due date fields"

# A blank title or body makes no blank section (Block Kit refuses one).
out=$(echo '{"job_id":3,"seq":43,"channel":"updates","kind":"message","author":"a","title":"   ","body":"  \n\t "}' |
    run_host slack "$T/slack.conf" "$T/memos.json")
assert_eq done "$(field "$out" outcome)" "blank message delivered"
"$PY" - "$API_LOG" <<'EOF2' || fail "blank payload"
import json, sys
msg = json.loads([json.loads(l) for l in open(sys.argv[1])][-1]["body"])
texts = [b["text"]["text"] for b in msg["blocks"] if b["type"] == "section" and "text" in b]
assert texts == ["*New message*"], texts
EOF2
ok "blank title and body: no blank section"

# 3. Long bodies are split over sections of at most 3,000 characters (Slack counts
#    characters, not bytes), cut on UTF-8 boundaries and never inside an entity; the
#    fake refuses what breaks Block Kit's published limits. check_sections (below) puts
#    the sections back together and compares them with the escaped body.
cat > "$T/sections.py" <<'EOF2'
import json, re, sys
log, jobs, n_req = sys.argv[1], sys.argv[2], int(sys.argv[3])
job = json.loads(open(jobs).readline())
msg = json.loads([json.loads(l) for l in open(log)][-n_req]["body"])
blocks = msg["blocks"]
esc = job["body"].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
body = [b["text"]["text"] for b in blocks[1:] if b["type"] == "section" and "text" in b]
note = " \u2026 (truncated; the whole message is seq %d in the hub's history)" % job["seq"]
cut = body[-1].endswith(note)
if cut:
    body[-1] = body[-1][: -len(note)]
at = 0
for sec in body:
    assert 0 < len(sec) <= 3000, len(sec)
    assert not re.sub(r"&(amp|lt|gt);", "", sec).count("&"), sec[-8:]  # whole entities only
    assert esc.startswith(sec, at), (at, sec[:40], esc[at:at + 40])
    at += len(sec)
    if at < len(esc) and esc[at] in " \n":
        at += 1  # the space the cut stopped at: the break between two sections
assert len(msg["text"]) <= 4000 and len(blocks) <= 50, (len(msg["text"]), len(blocks))
print("%d %d %s %d %d" % (len(blocks), len(body), "cut" if cut else "whole", at == len(esc), max(map(len, body))))
EOF2
check_sections() { # JOBS_FILE [NTH_REQUEST_FROM_THE_END]: "BLOCKS BODY_SECTIONS whole|cut ALL_SENT(1|0) LONGEST"
    "$PY" "$T/sections.py" "$API_LOG" "$1" "${2:-1}" || fail "sections of $1"
}
# long_case SEQ KIND BODY_PYTHON_EXPR EXPECTED WHAT: a job with that body (in
# $T/long-SEQ.jsonl) is delivered, and check_sections says EXPECTED.
long_case() {
    "$PY" -c '
import json, sys
body = eval(sys.argv[3])
print(json.dumps({"job_id": int(sys.argv[1]), "seq": int(sys.argv[1]), "channel": "c", "kind": sys.argv[2], "author": "a", "title": "Long", "body": body, "action_id": 7, "action_title": "Q3", "owner": "food-bank", "status": "open"}))' "$1" "$2" "$3" > "$T/long-$1.jsonl"
    out=$(run_host slack "$T/slack.conf" "$T/memos.json" < "$T/long-$1.jsonl")
    assert_eq done "$(field "$out" outcome)" "$5: delivered"
    assert_eq "$4" "$(check_sections "$T/long-$1.jsonl")" "$5"
}
# 9,799 characters of mixed text (accents, €, emoji, & to escape, CJK, newlines).
long_case 43 message '("Réunion € & 😀 partenaires, " * 200 + "会議の議事録と次の手順。\n" * 200 + "x" * 2000 + " end")[:9799]' \
    "6 4 whole 1 2998" "9,799-char body: all of it, in 4 sections of <= 3,000 characters"
# CJK has no spaces to cut at: 7,000 characters (21,000 bytes) make sections of exactly
# 3,000 characters, the limit being in characters (the fake refuses 3,001).
long_case 44 message '("漢字かな交じり文" * 875)[:7000]' \
    "5 3 whole 1 3000" "7,000 CJK characters in sections of 3,000"
# Nothing but entities and no space: cuts back up to an entity's start.
long_case 47 message '"x&<>" * 1500' \
    "10 8 whole 1 2997" "6,000 chars of & < > (21,000 escaped): no section cut inside an entity"
# A body too long for 50 blocks: an action item (so the fields take a block too), cut
# in its 47th body section, which says so and where the whole message is.
long_case 45 action '"Réunion & <b> 😀 " * 12000' \
    "50 47 cut 0 2999" "216,000-char body: 50 blocks, the last body section says it was cut"
# Slack refuses messages below the published sums (msg_blocks_too_long): the message is
# sent again at once with the body cut to 3 sections; a short message is not resent.
control /_control/fail '{"status":400,"count":1,"body":"msg_blocks_too_long"}'
out=$(run_host slack "$T/slack.conf" "$T/memos.json" < "$T/long-43.jsonl")
assert_eq done "$(field "$out" outcome)" "msg_blocks_too_long: sent again shorter"
assert_eq "5 3 cut 0 2998" "$(check_sections "$T/long-43.jsonl")" "resent with 3 body sections, the last saying it was cut"
assert_eq "400 None" "$(tail -2 "$API_LOG" | "$PY" -c 'import json,sys; print(*[json.loads(l)["fault_status"] for l in sys.stdin])')" "one refused request, then the shorter one"
control /_control/fail '{"status":400,"count":1,"body":"invalid_blocks"}'
n=$(wc -l < "$API_LOG")
out=$(echo '{"job_id":46,"channel":"c","kind":"message","title":"t","body":"b"}' | run_host slack "$T/slack.conf" "$T/memos.json")
assert_eq dead "$(field "$out" outcome)" "invalid_blocks on a short message: dead"
assert_eq "$((n + 1))" "$(wc -l < "$API_LOG")" "a short message is not resent"

# 4. 429 with Retry-After: 2 -> retry at that time; then the retried job goes through.
control /_control/fail '{"status":429,"count":1,"retry_after":2,"body":"rate_limited"}'
out=$(printf '%s\n' '{"job_id":4,"seq":44,"channel":"c","kind":"message","author":"a","title":"t","body":"b"}' \
      '{"job_id":4,"attempt":2,"seq":44,"channel":"c","kind":"message","author":"a","title":"t","body":"b"}' \
      | run_host slack "$T/slack.conf" "$T/memos.json")
assert_eq retry "$(field "$(line 1 "$out")" outcome)" "429 -> retry"
assert_eq 2 "$(field "$(line 1 "$out")" retry_after_s)" "429 -> retry_after_s from Retry-After"
assert_eq done "$(field "$(line 2 "$out")" outcome)" "retried job delivered"

# 4b. Retry-After as an HTTP-date (RFC 9110 10.2.3): the seconds until then; "0" and a
# date already past are 1 s ("now"), not "the host decides".
when=$(date -u -d '+30 sec' '+%a, %d %b %Y %H:%M:%S GMT')
for case in "$when|2[89]|30" "0|1" "Wed, 21 Oct 2015 07:28:00 GMT|1"; do
    IFS='|' read -r header want <<< "$case"
    control /_control/fail "{\"status\":429,\"count\":1,\"retry_after\":\"$header\",\"body\":\"rate_limited\"}"
    out=$(echo '{"job_id":47,"channel":"c","kind":"message","title":"t","body":"b"}' | run_host slack "$T/slack.conf" "$T/memos.json")
    [[ "$(field "$out" retry_after_s)" =~ ^($want)$ ]] ||
        fail "Retry-After: $header -> retry_after_s $(field "$out" retry_after_s), expected $want"
done

# 4c. A post whose connection the service closes without an answer (it may have posted it)
# is not sent again behind our back by libcurl, as it would on a reused connection: the
# outcome is a retry, which hubd counts and the plugin is told of. Two jobs in one host, so
# the second could reuse the first's connection.
control /_control/fail '{"after":1,"count":1,"drop":true}'
n=$(wc -l < "$API_LOG")
out=$(printf '%s\n' '{"job_id":48,"channel":"c","kind":"message","title":"t","body":"first"}' \
      '{"job_id":49,"channel":"c","kind":"message","title":"t","body":"dropped"}' \
      | run_host slack "$T/slack.conf" "$T/memos.json")
assert_eq done "$(field "$(line 1 "$out")" outcome)" "the post before the drop"
assert_eq retry "$(field "$(line 2 "$out")" outcome)" "a post answered by a closed connection"
assert_eq "$((n + 2))" "$(wc -l < "$API_LOG")" "requests for the two posts (none sent again)"

# 5. 500 -> retry.
control /_control/fail '{"status":500,"count":1,"body":"rollup_error"}'
out=$(echo '{"job_id":5,"channel":"c","kind":"message","title":"t","body":"b"}' | run_host slack "$T/slack.conf" "$T/memos.json")
assert_eq retry "$(field "$out" outcome)" "500 -> retry"
assert_contains "$(field "$out" error)" "rollup_error" "500 error text"

# 6. Permanent errors -> dead with Slack's text.
for case in "404 no_service" "410 channel_is_archived" "400 invalid_payload" "403 action_prohibited"; do
    set -- $case
    control /_control/fail "{\"status\":$1,\"count\":1,\"body\":\"$2\"}"
    out=$(echo '{"job_id":6,"channel":"c","kind":"message","title":"t","body":"b"}' | run_host slack "$T/slack.conf" "$T/memos.json")
    assert_eq dead "$(field "$out" outcome)" "$1 -> dead"
    assert_eq "slack: HTTP $1 $2" "$(field "$out" error)" "$1 error carries Slack's text"
done

# 7. Timeout: the fake holds its answer 3 s, the plugin waits 1 s -> retry.
control /_control/fail '{"count":1,"delay":3}'
start=$(date +%s)
out=$(echo '{"job_id":7,"channel":"c","kind":"message","title":"t","body":"b"}' | run_host slack "$T/slack.conf" "$T/memos.json")
assert_eq retry "$(field "$out" outcome)" "timeout -> retry"
assert_contains "$(field "$out" error)" "imed out" "timeout error text"
[ $(( $(date +%s) - start )) -le 3 ] || fail "timeout not bounded by the timeout key"
ok "timeout bounded by timeout = 1"

# 8. Nobody listening -> retry.
dead_port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
secret "$T/webhook-down" "http://127.0.0.1:$dead_port/services/$HOOK_SECRET"
printf 'webhook_url_file = %s\ntimeout = 2\n' "$T/webhook-down" > "$T/down.conf"
out=$(echo '{"job_id":8,"channel":"c","kind":"message","title":"t","body":"b"}' | run_host slack "$T/down.conf" "$T/memos.json")
assert_eq retry "$(field "$out" outcome)" "connection refused -> retry"

# 8b. curl errors: a name that does not resolve can pass (retry); a URL curl cannot use
#     and a certificate that does not verify will not (dead, saying what to check, never
#     quoting the URL).
hook_at() { # NAME URL: a config whose webhook is URL
    secret "$T/webhook-$1" "$2"
    printf 'webhook_url_file = %s\ntimeout = 2\n' "$T/webhook-$1" > "$T/$1.conf"
}
hook_at nxdomain "http://hubd-relay-test.invalid/services/$HOOK_SECRET"
out=$(echo '{"job_id":8,"channel":"c","kind":"message","title":"t","body":"b"}' | run_host slack "$T/nxdomain.conf" "$T/memos.json")
assert_eq retry "$(field "$out" outcome)" "unresolvable host -> retry"
hook_at badport "http://127.0.0.1:99999/services/$HOOK_SECRET"
out=$(echo '{"job_id":8,"channel":"c","kind":"message","title":"t","body":"b"}' | run_host slack "$T/badport.conf" "$T/memos.json")
assert_eq dead "$(field "$out" outcome)" "malformed URL -> dead"
assert_contains "$(field "$out" error)" "the configured URL cannot be used" "malformed URL: says what to fix"
if command -v openssl > /dev/null; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
        -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
        -keyout "$T/tls.key" -out "$T/tls.crt" 2> "$T/openssl.out"
    "$PY" "$HERE/fake_api.py" "$T/tls.port" "$T/tls.log" --tls "$T/tls.crt" "$T/tls.key" 2> "$T/fake_tls.err" &
    BG_PIDS+=($!)
    hook_at selfsigned "https://127.0.0.1:$(wait_port_file "$T/tls.port" $!)/services/$HOOK_SECRET"
    out=$(echo '{"job_id":8,"channel":"c","kind":"message","title":"t","body":"b"}' | run_host slack "$T/selfsigned.conf" "$T/memos.json")
    assert_eq dead "$(field "$out" outcome)" "certificate that does not verify -> dead"
    assert_contains "$(field "$out" error)" "TLS certificate does not verify" "certificate: says what to check"
else
    echo "skip - no openssl: the certificate case is not tested"
fi

# Pace: Slack takes about one post a second per webhook, short bursts allowed. Of 7 jobs
#    in a row, 4 go at once and then one a second: post k (from 0) is at least k - 3 s
#    after the first (a slow machine only spaces them more).
: > "$API_LOG"
out=$(for i in 1 2 3 4 5 6 7; do
    echo '{"job_id":'$((70 + i))',"seq":'$i',"channel":"c","kind":"message","title":"","body":"paced '$i'"}'
done | run_host slack "$T/slack.conf" "$T/memos.json")
assert_eq "done done done done done done done" "$(while read -r r; do field "$r" outcome; done <<< "$out" | tr '\n' ' ' | sed 's/ $//')" "paced posts delivered"
"$PY" - "$API_LOG" <<'EOF2' || fail "posts not paced: $(cat "$API_LOG" | wc -l) requests"
import json, sys
t = [json.loads(l)["t"] for l in open(sys.argv[1])]
assert len(t) == 7, len(t)
late = [(k, round(t[k] - t[0], 2)) for k in range(4, 7) if t[k] - t[0] < k - 3 - 0.05]
assert not late, late
EOF2
ok "posts paced: a burst of 4, then one a second"

# 9. Config refusals: a world-readable URL file, a missing key, a key of no use.
secret "$T/webhook-open" "$API/services/$HOOK_SECRET"
chmod 644 "$T/webhook-open"
printf 'webhook_url_file = %s\n' "$T/webhook-open" > "$T/open.conf"
rc=0
"$PLUGIN_HOST" "$PLUGIN_DIR/hub_slack.so" "$T/open.conf" "$T/memos.json" < /dev/null 2> "$T/open.out" || rc=$?
assert_eq 2 "$rc" "world-readable webhook file refused at init"
assert_contains "$(cat "$T/open.out")" "readable by group or others" "refusal says why"
: > "$T/empty.conf"
rc=0
"$PLUGIN_HOST" "$PLUGIN_DIR/hub_slack.so" "$T/empty.conf" "$T/memos.json" < /dev/null 2> "$T/empty.out" || rc=$?
assert_eq 2 "$rc" "missing webhook_url_file refused at init"
assert_contains "$(cat "$T/empty.out")" "webhook_url_file is not set" "refusal names the key"
{ cat "$T/slack.conf"; echo 'webhook_url = x'; } > "$T/typo.conf"
rc=0
"$PLUGIN_HOST" "$PLUGIN_DIR/hub_slack.so" "$T/typo.conf" "$T/memos.json" < /dev/null 2> "$T/typo.out" || rc=$?
assert_eq 2 "$rc" "a key init does not ask for is refused (as hubd does)"
assert_contains "$(cat "$T/typo.out")" "unknown key 'webhook_url'" "refusal names the key"

secret "$T/webhook-space" "$API/services/SecretHookXyz extra"
printf 'webhook_url_file = %s\n' "$T/webhook-space" > "$T/space.conf"
rc=0
"$PLUGIN_HOST" "$PLUGIN_DIR/hub_slack.so" "$T/space.conf" "$T/memos.json" < /dev/null 2> "$T/space.out" || rc=$?
assert_eq 2 "$rc" "a webhook file holding an unusable URL refused at init"
assert_contains "$(cat "$T/space.out")" "does not hold a usable URL" "refusal says why"

# 10. The webhook URL (the secret) never appears in a log line or result.
if grep -rl "SecretHookXyz" "$T"/*.err "$T"/*.out 2> /dev/null; then fail "webhook URL leaked"; fi
ok "webhook URL never logged"
echo "relay_slack: $CHECKS checks passed"
