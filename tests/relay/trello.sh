#!/bin/bash
# relay_trello: hub_trello.so against fake_api.py's Trello routes (INTEGRATIONS.md section 3):
# one card per action item kept across restarts through the memo, comments, dueComplete,
# outcomes, and key/token only ever in the OAuth header.
source "$(dirname "$0")/lib.sh"

KEY=0123456789abcdef0123456789abcdef
TOKEN=ATTAsecretTokenValue0123456789abcdefXYZ
LIST=5f0a1b2c3d4e5f6a7b8c9d0e
start_fake_api --trello-key "$KEY" --trello-token "$TOKEN"
secret "$T/key" "$KEY"
secret "$T/token" "$TOKEN"
conf() { printf 'api_base = %s/1\nkey_file = %s\ntoken_file = %s\nlist_id = %s\ntimeout = 1\n' "$API" "$T/key" "$1" "$LIST"; }
conf "$T/token" > "$T/trello.conf"
M=$T/memos.json
DUE=1796144400000 # 2026-12-01T17:00:00Z
job() { # job ID KIND ACTION_ID [extra json]
    printf '{"job_id":%s,"seq":%s,"channel":"actions","kind":"%s","author":"river-trust","title":"Q3 figures","body":"Send the Q3 figures to the board","action_id":%s,"action_title":"Q3 figures","owner":"food-bank","due_ms":%s,"status":"open"%s}\n' "$1" "$((100 + $1))" "$2" "$3" "$DUE" "${4:-}"
}
cards() { curl -sS --max-time 5 "$API/_control/cards"; }
ncards() { cards | "$PY" -c "import json,sys; print(sum(1 for c in json.load(sys.stdin).values() if c['name']==sys.argv[1]))" "$1"; }
# nmarked ACTION_ID: the cards whose desc ends with that action item's marker.
nmarked() { cards | "$PY" -c "import json,sys; print(sum(1 for c in json.load(sys.stdin).values() if c['desc'].endswith('\nhubd action trello:' + sys.argv[1])))" "$1"; }
# card ID EXPR: a Python expression over the card `c` (the fake's record, with its comments).
card() { cards | "$PY" -c "import json,sys; c=json.load(sys.stdin)[sys.argv[1]]; print($2)" "$1"; }
# requests N: "METHOD PATH" of the last N requests, one a line, ids shown as {id}.
requests() { tail -"$1" "$API_LOG" | "$PY" -c '
import json, re, sys
for l in sys.stdin:
    r = json.loads(l)
    print(r["method"], re.sub("[0-9a-f]{24}", "{id}", r["path"]))'; }

# 1. action -> POST /1/cards with idList, name, desc, due; memo card:7 = the card id.
out=$(job 1 action 7 | run_host trello "$T/trello.conf" "$M")
assert_eq done "$(field "$out" outcome)" "action: card created"
assert_eq card:7 "$(field "$out" memo_key)" "action: memo key"
CARD=$(field "$out" memo_value)
[[ $CARD =~ ^[0-9a-f]{24}$ ]] || fail "memo value is not a card id: $CARD"
ok "memo value is the card id"
"$PY" - "$API_LOG" "$KEY" "$TOKEN" "$LIST" <<'EOF2' || fail "create request"
import json, sys
_, log, key, token, lst = sys.argv
req = [json.loads(l) for l in open(log)][-1]
assert (req["method"], req["path"], req["query"]) == ("POST", "/1/cards", {}), req
assert req["headers"]["authorization"] == 'OAuth oauth_consumer_key="%s", oauth_token="%s"' % (key, token)
p = json.loads(req["body"])
assert p["idList"] == lst and p["name"] == "Q3 figures" and p["due"] == "2026-12-01T17:00:00.000Z", p
assert p["desc"].startswith("Send the Q3 figures to the board\n"), p["desc"]
for part in ("#7", "#actions", "food-bank", "river-trust", "2026-12-01 17:00 UTC"):
    assert part in p["desc"], (part, p["desc"])
assert p["desc"].endswith("\nhubd action trello:7"), p["desc"]  # the marker: relay NAME:action id
EOF2
ok "create: idList, name, desc with context and marker, ISO due, OAuth header, nothing in the query"
assert_eq 1 "$(wc -l < "$API_LOG")" "action, first attempt: one request (no look in the list)"

# 2. A restart (a new host process, same memos): the action job again and a reminder
#    reuse the card: a comment, never a second card.
out=$( (job 1 action 7; job 2 reminder 7) | run_host trello "$T/trello.conf" "$M")
assert_eq done "$(field "$(line 1 "$out")" outcome)" "repeated action job: done"
assert_eq "" "$(field "$(line 1 "$out")" memo_key)" "repeated action job: no new memo"
assert_eq done "$(field "$(line 2 "$out")" outcome)" "reminder: done"
assert_eq 1 "$(nmarked 7)" "one card for action 7 after restart and reminder"
last=$(tail -1 "$API_LOG")
assert_eq "/1/cards/$CARD/actions/comments" "$(field "$last" path)" "reminder: comment on the same card"
assert_contains "$(field "$last" body)" "Send the Q3 figures" "reminder: comment text"

# 3. done -> PUT dueComplete=true, then the note as a comment.
out=$(job 3 action-done 7 ',"status":"done","note":"Sent on Monday – merci"' | run_host trello "$T/trello.conf" "$M")
assert_eq done "$(field "$out" outcome)" "done: delivered"
"$PY" - "$API" "$CARD" "$API_LOG" <<'EOF2' || fail "done state"
import json, sys, urllib.request
card = json.load(urllib.request.urlopen(sys.argv[1] + "/_control/cards"))[sys.argv[2]]
assert card["dueComplete"] is True, card
assert card["comments"][-1] == "Done by river-trust: Sent on Monday – merci", card["comments"]
reqs = [json.loads(l) for l in open(sys.argv[3])][-2:]
assert reqs[0]["method"] == "PUT" and json.loads(reqs[0]["body"]) == {"dueComplete": True}, reqs[0]
EOF2
ok "done: dueComplete=true and the note as a comment"

# 3b. done and cancel set the card's flag (PUT, idempotent), then comment: when the
#     comment fails the retry sets the flag again, harmlessly, and comments once (a
#     comment before the PUT was posted twice when the PUT failed).
# partial_failure ACTION KIND FLAG COMMENT: the second request of KIND's job fails (500).
partial_failure() {
    local card
    card=$(field "$(job "$1" action "$1" | run_host trello "$T/trello.conf" "$M")" memo_value)
    control /_control/fail '{"after":1,"status":500,"count":1,"body":"Internal error"}'
    out=$(job $(($1 + 1)) "$2" "$1" ',"note":"sent"' | run_host trello "$T/trello.conf" "$M")
    assert_eq retry "$(field "$out" outcome)" "$2: the second request fails: retry"
    out=$(job $(($1 + 1)) "$2" "$1" ',"note":"sent","attempt":2' | run_host trello "$T/trello.conf" "$M")
    assert_eq done "$(field "$out" outcome)" "$2 retried: delivered"
    assert_eq "True ['$4']" "$(card "$card" "c['$3'], c['comments']")" "$2 after a partial failure: $3, one comment"
    assert_eq "PUT /1/cards/{id}
POST /1/cards/{id}/actions/comments" "$(requests 2)" "$2: PUT $3, then the comment"
}
partial_failure 20 action-done dueComplete "Done by river-trust: sent"
partial_failure 22 action-cancel closed "Cancelled by river-trust: sent"

# 4. Messages that are not action items cost no request.
n=$(wc -l < "$API_LOG")
out=$(echo '{"job_id":4,"channel":"announcements","kind":"message","title":"hi","body":"x"}' | run_host trello "$T/trello.conf" "$M")
assert_eq done "$(field "$out" outcome)" "message: done"
assert_eq "$n" "$(wc -l < "$API_LOG")" "message: no request"

# 5. A reminder whose card is unknown (the item's own job died) looks for one in the list,
#    then creates it, with what the job knows of the item; if the comment then fails, the
#    memo still comes back with the retry, so the retry comments on that card.
control /_control/fail '{"after":2,"status":500,"count":1,"body":"Internal error"}'
out=$(job 5 reminder 8 ',"body":"Reminder: due in 1 day","status":"overdue"' | run_host trello "$T/trello.conf" "$M")
assert_eq retry "$(field "$out" outcome)" "create ok, comment 500: retry"
assert_eq card:8 "$(field "$out" memo_key)" "the memo comes back with the retry"
assert_eq "GET /1/lists/{id}/cards
POST /1/cards
POST /1/cards/{id}/actions/comments" "$(requests 3)" "late create: look in the list, create, comment"
C8=$(field "$out" memo_value)
"$PY" - "$API" "$C8" <<'EOF2' || fail "late-created card"
import json, sys, urllib.request
c = json.load(urllib.request.urlopen(sys.argv[1] + "/_control/cards"))[sys.argv[2]]
assert c["name"] == "Q3 figures" and c["due"] == "2026-12-01T17:00:00.000Z", c
d = c["desc"]
assert d.startswith("Q3 figures\n\nStatus: overdue. This card was made by the item's reminder: "
                    "its own message, with the detail, is seq 8 in the hub's history.\n"), d
for part in ("Action item #8 ", "#actions", "Owner: food-bank", "Due: 2026-12-01 17:00 UTC"):
    assert part in d, (part, d)
assert "Agreed by" not in d and "Reminder: due" not in d, d  # the reminder's author and text are not the item's
assert d.endswith("\nhubd action trello:8"), d
EOF2
ok "late-created card: name, due, a description of the item, the marker"
out=$(job 5 reminder 8 ',"attempt":2' | run_host trello "$T/trello.conf" "$M")
assert_eq done "$(field "$out" outcome)" "retried reminder: done"
assert_eq 1 "$(nmarked 8)" "one card for action 8"

# 6. 429 on create: retry in Trello's next window (no Retry-After): 10 s, no memo.
control /_control/fail '{"status":429,"count":1}'
out=$(job 6 action 9 | run_host trello "$T/trello.conf" "$M")
assert_eq retry "$(field "$out" outcome)" "429: retry"
assert_eq 10 "$(field "$out" retry_after_s)" "429: retry_after_s 10"
assert_contains "$(field "$out" error)" "API_TOKEN_LIMIT_EXCEEDED" "429: Trello's error text"
assert_eq "" "$(field "$out" memo_key)" "429: no memo"

# 7. Permanent errors: a bad token (401), a card deleted on Trello (404).
secret "$T/badtoken" "wrongtoken"
conf "$T/badtoken" > "$T/bad.conf"
out=$(job 7 action 10 | run_host trello "$T/bad.conf" "$M")
assert_eq dead "$(field "$out" outcome)" "401: dead"
assert_eq "trello: create card: HTTP 401 invalid token" "$(field "$out" error)" "401: Trello's text"

# 7b. A card deleted on Trello (404 for the stored id): the job makes it again, returns
#     the new memo and carries on; the next job uses the new card.
curl -sS --max-time 5 -X DELETE -H "Authorization: OAuth oauth_consumer_key=\"$KEY\", oauth_token=\"$TOKEN\"" "$API/1/cards/$CARD" > /dev/null
assert_eq 0 "$(nmarked 7)" "card of action 7 deleted on Trello"
out=$( (job 24 reminder 7; job 25 action-done 7 ',"note":"sent"') | run_host trello "$T/trello.conf" "$M")
assert_eq done "$(field "$(line 1 "$out")" outcome)" "reminder for a deleted card: done"
assert_eq card:7 "$(field "$(line 1 "$out")" memo_key)" "deleted card: the new card's memo"
NEW7=$(field "$(line 1 "$out")" memo_value)
[ "$NEW7" != "$CARD" ] || fail "the memo still names the deleted card"
assert_eq done "$(field "$(line 2 "$out")" outcome)" "the next job: done on the new card"
assert_eq "True 2 True" "$(card "$NEW7" 'c["dueComplete"], len(c["comments"]), c["desc"].endswith("hubd action trello:7")')" "new card: the reminder's and the done's comments, the marker"
assert_eq 1 "$(nmarked 7)" "one card for action 7 again"
echo '{"card:11": "aaaaaaaaaaaaaaaaaaaaaaaa"}' > "$T/gone.json"
out=$(job 8 action-done 11 | run_host trello "$T/trello.conf" "$T/gone.json")
assert_eq done "$(field "$out" outcome)" "a stored id Trello never knew: a new card, done"
assert_eq card:11 "$(field "$out" memo_key)" "a stored id Trello never knew: the new memo"

# 8. Trello stored the card but its id never reached the memo (the reply timed out, was a
#    500, or the connection dropped, as when hubd dies mid-request): the retry (attempt 2)
#    finds the card by the marker in its desc and adopts it instead of making a twin.
#    Action 120 comes after 12: its marker must not match card 12's as a prefix.
n=0
for case in "12 Lost reply {\"count\":1,\"delay\":3}" \
            "13 Failed reply {\"status\":500,\"perform\":true,\"count\":1}" \
            "120 Dropped reply {\"drop\":true,\"count\":1}"; do
    set -- $case
    id=$1 name="$2 $3" fault=$4
    n=$((n + 1))
    control /_control/fail "$fault"
    out=$(job $((30 + n)) action "$id" ",\"action_title\":\"$name\"" | run_host trello "$T/trello.conf" "$M")
    assert_eq retry "$(field "$out" outcome)" "$name: retry"
    assert_eq "" "$(field "$out" memo_key)" "$name: no memo"
    assert_eq 1 "$(ncards "$name")" "$name: Trello has the card"
    out=$(job $((30 + n)) action "$id" ",\"action_title\":\"$name\",\"attempt\":2" | run_host trello "$T/trello.conf" "$M")
    assert_eq done "$(field "$out" outcome)" "$name: the retry is done"
    assert_eq "GET /1/lists/{id}/cards" "$(requests 1)" "$name: the retry looked in the list and made nothing"
    assert_eq 1 "$(ncards "$name")" "$name: still one card"
    assert_eq "$name" "$(card "$(field "$out" memo_value)" 'c["name"]')" "$name: the memo names that card"
done
# A retry with nothing to adopt (the first attempt never reached Trello) creates the card.
control /_control/fail '{"status":503,"count":1}'
out=$(job 34 action 14 ',"action_title":"Never made"' | run_host trello "$T/trello.conf" "$M")
assert_eq retry "$(field "$out" outcome)" "503 on create: retry"
out=$(job 34 action 14 ',"action_title":"Never made","attempt":2' | run_host trello "$T/trello.conf" "$M")
assert_eq "done card:14" "$(field "$out" outcome) $(field "$out" memo_key)" "retry with nothing to adopt: created"
assert_eq "GET /1/lists/{id}/cards
POST /1/cards" "$(requests 2)" "retry: looked in the list, then created"
assert_eq 1 "$(ncards 'Never made')" "one card for action 14"

# 9. Config refusals.
printf 'api_base = %s/1\nkey_file = %s\ntoken_file = %s\nlist_id = not-a-list\n' "$API" "$T/key" "$T/token" > "$T/badlist.conf"
rc=0
"$PLUGIN_HOST" "$PLUGIN_DIR/hub_trello.so" "$T/badlist.conf" "$M" < /dev/null 2> "$T/badlist.out" || rc=$?
assert_eq 2 "$rc" "bad list_id refused at init"
assert_contains "$(cat "$T/badlist.out")" "list_id must be a Trello id" "refusal says why"
printf 'api_base = %s/1\nkey_file = %s\ntoken_file = %s\nlist_id = %s\n' "${API/\/\////me:pw@}" "$T/key" "$T/token" 0123456789abcdef01234567 > "$T/userinfo.conf"
rc=0
"$PLUGIN_HOST" "$PLUGIN_DIR/hub_trello.so" "$T/userinfo.conf" "$M" < /dev/null 2> "$T/userinfo.out" || rc=$?
assert_eq 2 "$rc" "credentials in api_base refused at init"
assert_contains "$(cat "$T/userinfo.out")" "api_base must not hold a user name or password" "refusal says why"

# 10. Pacing by Trello's rate-limit headers: with 2 requests per 3 s for the token, the
#     second reply says none remain; the third job is a paced retry without a request
#     (never a 429), and once the window has passed it goes through.
control /_control/limits '{"token_max":2,"interval_ms":3000}'
before=$(wc -l < "$API_LOG")
out=$( (job 40 action 60; job 41 action 61; job 42 action 62) | run_host trello "$T/trello.conf" "$M")
assert_eq "done done retry" "$(for i in 1 2 3; do field "$(line $i "$out")" outcome; done | xargs)" \
    "two jobs in the window, the third paced"
wait_s=$(field "$(line 3 "$out")" retry_after_s)
[ "$wait_s" -ge 1 ] && [ "$wait_s" -le 3 ] || fail "paced retry after $wait_s s, not within the 3 s window"
ok "paced retry after ${wait_s} s"
assert_contains "$(field "$(line 3 "$out")" error)" "rate limit per token" "the paced retry says why"
assert_eq 2 "$(($(wc -l < "$API_LOG") - before))" "requests made for three jobs in a window of two"
sleep "$wait_s"
out=$(job 42 action 62 | run_host trello "$T/trello.conf" "$M")
assert_eq done "$(field "$out" outcome)" "the paced job once the window passed"
assert_eq 0 "$(tail -n +$((before + 1)) "$API_LOG" | grep -c '"fault_status": 429' || true)" \
    "429 answers while paced"
control /_control/limits '{"token_max":100,"interval_ms":10000}'

# 10b. A create answered 429 made nothing: its retry creates at once, without first
#      looking in the list for a card an earlier attempt made (a request less).
control /_control/fail '{"status":429,"count":1}'
out=$( (job 50 action 70; job 50 action 70 ',"attempt":2') | run_host trello "$T/trello.conf" "$M")
assert_eq "retry done" "$(for i in 1 2; do field "$(line $i "$out")" outcome; done | xargs)" \
    "a create answered 429, then its retry"
assert_eq "POST /1/cards
POST /1/cards" "$(requests 2)" "the retry of a create answered 429 does not look in the list"
assert_eq 1 "$(nmarked 70)" "one card for action 70"

# 11. Key and token never in a URL, a log line or a result.
"$PY" - "$API_LOG" "$KEY" "$TOKEN" <<'EOF2' || fail "secret in a URL"
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    url = r["path"] + json.dumps(r["query"])
    assert sys.argv[2] not in url and sys.argv[3] not in url and "key" not in r["query"], r
EOF2
ok "key/token never in a URL"
if grep -l -e "$KEY" -e "$TOKEN" "$T"/*.err "$T"/*.out "$M" 2> /dev/null; then fail "key or token logged"; fi
ok "key/token never logged"
echo "relay_trello: $CHECKS checks passed"
