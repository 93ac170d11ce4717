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

# 3. A 50,000-character body (multi-byte, with & to escape) is cut within Slack's limits,
#    on a UTF-8 boundary, with an ellipsis.
"$PY" -c '
import json
body = ("Réunion € & 😀 " * 4000)[:50000]
print(json.dumps({"job_id": 3, "seq": 43, "channel": "c", "kind": "message", "author": "a", "title": "Long", "body": body}))' > "$T/long.jsonl"
out=$(run_host slack "$T/slack.conf" "$T/memos.json" < "$T/long.jsonl")
assert_eq done "$(field "$out" outcome)" "long body delivered (fake checks Slack's limits)"
"$PY" - "$API_LOG" <<'EOF2' || fail "long body cut"
import json, sys
raw = [json.loads(l) for l in open(sys.argv[1])][-1]["body"]
msg = json.loads(raw)
body = ("Réunion € & 😀 " * 4000)[:50000].replace("&", "&amp;")
sec = msg["blocks"][1]["text"]["text"]
assert len(sec.encode()) <= 3000 and len(msg["text"].encode()) <= 4000, (len(sec), len(msg["text"]))
assert sec.endswith("\u2026") and body.startswith(sec[:-1].rstrip()), sec[-40:]
assert not sec[:-1].endswith("&") and len(sec) > 2000, sec[-20:]
EOF2
ok "50,000-char body: section <= 3000 bytes, text <= 4000, UTF-8 and entity boundaries kept"

# 4. 429 with Retry-After: 2 -> retry at that time; then the retried job goes through.
control /_control/fail '{"status":429,"count":1,"retry_after":2,"body":"rate_limited"}'
out=$(printf '%s\n' '{"job_id":4,"seq":44,"channel":"c","kind":"message","author":"a","title":"t","body":"b"}' \
      '{"job_id":4,"attempt":2,"seq":44,"channel":"c","kind":"message","author":"a","title":"t","body":"b"}' \
      | run_host slack "$T/slack.conf" "$T/memos.json")
assert_eq retry "$(field "$(line 1 "$out")" outcome)" "429 -> retry"
assert_eq 2 "$(field "$(line 1 "$out")" retry_after_s)" "429 -> retry_after_s from Retry-After"
assert_eq done "$(field "$(line 2 "$out")" outcome)" "retried job delivered"

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

# 10. The webhook URL (the secret) never appears in a log line or result.
if grep -rl "SecretHookXyz" "$T"/*.err "$T"/*.out 2> /dev/null; then fail "webhook URL leaked"; fi
ok "webhook URL never logged"
echo "relay_slack: $CHECKS checks passed"
