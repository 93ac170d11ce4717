#!/bin/bash
# Partners, rights and the closed door, against a real hubd: admission, roles, private
# channels that are never hinted at, administrator-only commands, removal taking effect
# at once, and the admin log covered by verify.
source "$(dirname "$0")/lib.sh"
start_hub

hubctl keygen "$T/fb.key" > /dev/null
hubctl keygen "$T/fund.key" > /dev/null
hubctl keygen "$T/stranger.key" > /dev/null

# An unknown key is refused at the door, and the hub logs the key.
expect_refusal FORBIDDEN hubctl --key "$T/stranger.key" --timeout 3 publish updates "hi"
wait_for grep -q "unknown CURVE key" "$T/hubd.log" || fail "refused key not logged"

hubctl partner add foodbank --key "$T/fb.key.pub" --org "Eastside Food Bank" \
    --email ops@foodbank.example --role service-provider --role convener > /dev/null
hubctl partner add cityfund --key "$(cat "$T/fund.key.pub")" --role funder > /dev/null
expect_refusal CONFLICT hubctl partner add foodbank --key "$T/stranger.key.pub"
expect_refusal CONFLICT hubctl partner add other --key "$T/fb.key.pub"
expect_refusal BAD_NAME hubctl partner add "Bad Name" --key "$T/stranger.key.pub"

# The directory is readable by every partner.
list=$(hubctl --key "$T/fund.key" --json partner list)
assert_eq 2 "$(echo "$list" | wc -l)" "partners listed"
show=$(hubctl --key "$T/fund.key" --json partner show foodbank)
assert_eq "Eastside Food Bank" "$(json_field "$show" org)" "org"
assert_eq "ops@foodbank.example" "$(json_field "$show" email)" "email"
assert_eq '["service-provider", "convener"]' "$(json_field "$show" roles)" "roles"
assert_contains "$(hubctl --key "$T/fund.key" partner show foodbank)" "service-provider,convener" \
    "roles as text"
assert_eq "$(cat "$T/fb.key.pub")" "$(json_field "$show" key)" "key"
expect_refusal NOT_FOUND hubctl partner show nobody

# Default rights: announcements by admin and conveners; updates by everyone.
hubctl --key "$T/fb.key" publish announcements "convener speaking" > /dev/null
expect_refusal FORBIDDEN hubctl --key "$T/fund.key" publish announcements "funder speaking"
hubctl --key "$T/fund.key" publish updates "funder update" > /dev/null

# A private channel: invisible to those who cannot read it.
hubctl channel create funders --publish funder --read funder > /dev/null
expect_refusal CONFLICT hubctl channel create funders
seq=$(hubctl --key "$T/fund.key" publish funders "grant round opens")
expect_refusal UNKNOWN_CHANNEL hubctl --key "$T/fb.key" publish funders "x"
expect_refusal UNKNOWN_CHANNEL hubctl --key "$T/fb.key" history funders
expect_refusal UNKNOWN_CHANNEL hubctl --key "$T/fb.key" subscribe funders updates
chans=$(hubctl --key "$T/fb.key" --json channel list)
case "$chans" in *funders*) fail "channel list hints at a private channel: $chans" ;; esac
all=$(hubctl --key "$T/fb.key" --json history '*' --limit 1000)
case "$all" in *"grant round"*) fail "history * leaked a private message" ;; esac
assert_contains "$(hubctl --key "$T/fund.key" --json history funders)" "grant round opens" \
    "funder reads its channel"
# verify and export of everything a partner may read: its seqs skip the private channel's
# messages, which is not a gap; the admin, who reads everything, gets the whole log.
hubctl publish updates "after the private one" > /dev/null
hubctl --key "$T/fb.key" verify > "$T/v.out" || fail "partner verify *: $(cat "$T/v.out")"
hubctl --key "$T/fb.key" export "$T/fb.export" > /dev/null
hubctl --key "$T/fb.key" verify --file "$T/fb.export" > "$T/v.out" ||
    fail "partner export verify: $(cat "$T/v.out")"
assert_contains "$(head -n 1 "$T/fb.export")" '"complete":false' "partner export is partial"
hubctl export "$T/all.export" > /dev/null
assert_contains "$(head -n 1 "$T/all.export")" '"complete":true' "admin export is whole"
# A line taken out of the whole log is a gap, found at its seq.
sed -i "/grant round opens/d" "$T/all.export"
out=$(hubctl --json verify --file "$T/all.export") && fail "a gap in the whole log verified"
assert_eq "$seq" "$(json_field "$out" first_bad_seq)" "gap found at the missing seq"
# Wildcards and prefixes are not channel names.
expect_refusal BAD_NAME hubctl --key "$T/fb.key" subscribe 'fund*'

# Administrator commands from a partner are refused and not logged.
before=$(hubctl --json history admin | wc -l)
expect_refusal FORBIDDEN hubctl --key "$T/fb.key" partner add x --key "$T/stranger.key.pub"
expect_refusal FORBIDDEN hubctl --key "$T/fb.key" channel create mine
assert_eq "$before" "$(hubctl --json history admin | wc -l)" "admin log unchanged"

# The admin channel is the record of administrator commands: only the administrator writes
# on it. 'admin' is no partner's role (in a rights list it names the administrator).
expect_refusal FORBIDDEN hubctl --key "$T/fund.key" publish admin "I admitted everyone"
expect_refusal BAD_REQUEST hubctl partner add mal --key "$T/stranger.key.pub" --role admin
assert_contains "$(cat "$T/err")" "'admin' is reserved" "why the role is refused"
expect_refusal NOT_FOUND hubctl partner show mal
assert_exit 0 "the administrator writes on admin" hubctl publish admin "a note for the record"
assert_eq $((before + 1)) "$(hubctl --json history admin | wc -l)" "admin log: the note only"

# Role lists: spaces around commas are trimmed; an empty list or item is a usage error
# (not "every partner"), and the hub refuses an empty list (BAD_REQUEST) whoever sends it.
assert_exit 0 "roles with spaces" hubctl channel create board --publish 'funder, convener' \
    --read ' funder ,convener'
board=$(hubctl --json channel list | grep '"name":"board"' || true)
assert_eq '["funder", "convener"]' "$(json_field "$board" publish)" "board's publish roles"
assert_eq '["funder", "convener"]' "$(json_field "$board" read)" "board's read roles"
assert_contains "$(hubctl channel list | grep '^board ')" "publish funder,convener" "rights as text"
for roles in "--publish=" "--publish=funder,,x" "--read=funder," "--read= , "; do
    assert_exit 1 "channel create $roles" hubctl channel create nobody "$roles"
    assert_contains "$ERR" "has an empty role" "why $roles is refused"
done
assert_exit 1 "partner add --role ''" hubctl partner add mal --key "$T/stranger.key.pub" --role ''
need_rawclient
"$RAWCLIENT" admin '{"op":"channel.create","name":"nobody","publish":[],"read":["*"]}' \
    > "$T/raw.out" 2>&1 || fail "hub-rawclient admin: $(cat "$T/raw.out")"
assert_contains "$(cat "$T/raw.out")" "BAD_REQUEST" "an empty publish list at the hub"
assert_contains "$(cat "$T/raw.out")" "empty list" "the hub's reason"
case "$(hubctl --json channel list)" in *'"nobody"'*) fail "a channel with an empty list was made" ;; esac
"$RAWCLIENT" admin '{"op":"nope"}' > "$T/raw.out" 2>&1 || fail "hub-rawclient admin: $(cat "$T/raw.out")"
assert_contains "$(cat "$T/raw.out")" "BAD_REQUEST unknown op 'nope'" "an unknown op, named as such"

# A follower that is removed while connected stops receiving at once.
"$HUBCTL" --key "$T/fb.key" --json subscribe updates --follow > "$T/follow.out" 2> "$T/follow.err" &
BG_PIDS+=($!)
sleep 1
hubctl publish updates "before removal" > /dev/null
wait_for grep -q "before removal" "$T/follow.out" || fail "follower did not get the message"
follower=$!
hubctl partner remove foodbank > /dev/null
expect_refusal NOT_FOUND hubctl partner remove foodbank
hubctl publish updates "after removal" > /dev/null
# The follower is told, and exits 3 (refused) with the reason, instead of waiting forever.
wait_for grep -q UNKNOWN_PARTNER "$T/follow.err" || fail "removed partner's follower not told"
rc=0
wait "$follower" || rc=$?
assert_eq 3 "$rc" "exit status of the removed partner's follower"
if grep -q "after removal" "$T/follow.out"; then fail "removed partner still receives"; fi
expect_refusal FORBIDDEN hubctl --key "$T/fb.key" --timeout 3 publish updates "still here?"
show=$(hubctl --json partner show foodbank)
assert_eq false "$(json_field "$show" current)" "removed partner is not current"

# A partner who left can come back, with its own name and key only.
expect_refusal CONFLICT hubctl partner add foodbank --key "$T/stranger.key.pub"
expect_refusal CONFLICT hubctl partner add foodbank2 --key "$T/fb.key.pub"
hubctl partner add foodbank --key "$T/fb.key.pub" --role convener > /dev/null
show=$(hubctl --json partner show foodbank)
assert_eq true "$(json_field "$show" current)" "a partner who came back is current"
assert_exit 0 "the partner who came back publishes" hubctl --key "$T/fb.key" publish updates "back"
hubctl partner remove foodbank > /dev/null

# History stays attributed; the admin log is in the chain and verifies.
assert_contains "$(hubctl --json history announcements)" '"author":"foodbank"' "attribution"
admin_log=$(hubctl --json history admin)
assert_contains "$admin_log" "partner.add" "admission logged"
assert_contains "$admin_log" "partner.remove" "removal logged"
hubctl verify > /dev/null || fail "verify after admin commands"

# A partner given the role 'admin' by a hub from before it was refused (its directory
# row says so) gets nothing from it: not the admin channel, not the administrator's
# announcements.
stop_hub
sqlite3 "$DATA/hub.db" "UPDATE partners SET roles = 'funder,admin' WHERE name = 'cityfund'"
restart_hub
expect_refusal FORBIDDEN hubctl --key "$T/fund.key" publish admin "I admitted everyone"
expect_refusal FORBIDDEN hubctl --key "$T/fund.key" publish announcements "as an admin"
assert_exit 0 "its other roles still count" hubctl --key "$T/fund.key" publish funders "still a funder"

# The hub kept serving throughout.
hubctl --key "$T/fund.key" publish updates "still serving" > /dev/null
echo "ok: partners and rights"

# A big directory: its listing (here about 100 KB) is more than the 64 KiB of a request's
# JSON frame; an answer may be up to 16 MiB (PROTOCOL.md 3), so partner list still works.
org=$(printf 'Organisation %.0s' $(seq 1 14))
roles=()
for r in $(seq 1 16); do roles+=(--role "role-number-$r-of-a-long-list-of-roles"); done
for i in $(seq 1 100); do
    hubctl keygen "$T/big$i.key" > /dev/null
    hubctl partner add "big$i" --key "$T/big$i.key.pub" --org "$org $i" "${roles[@]}" > /dev/null ||
        fail "partner add big$i"
done
assert_exit 0 "partner list of a big directory" hubctl --json partner list
[ "${#OUT}" -gt 65536 ] || fail "the directory listing is only ${#OUT} bytes: not past 64 KiB"
assert_eq 102 "$(echo "$OUT" | wc -l)" "partners listed"
echo "ok: a directory of $(echo "$OUT" | wc -l) partners, ${#OUT} bytes listed"

# A channel partners write to and only the backbone reads (--publish '*' --read admin):
# listed for them, their publishes taken, reading it FORBIDDEN (not UNKNOWN_CHANNEL, as
# for a channel they may neither read nor publish on), history * without it.
hubctl keygen "$T/writer.key" > /dev/null
hubctl partner add writer --key "$T/writer.key.pub" --role service-provider > /dev/null
hubctl channel create inbox --publish '*' --read admin > /dev/null
inbox_seq=$(hubctl --key "$T/writer.key" publish inbox "a note for the backbone only") ||
    fail "a partner with the publish right alone could not publish: $inbox_seq"
expect_refusal "may publish on channel 'inbox' but not read it" hubctl --key "$T/writer.key" history inbox
expect_refusal FORBIDDEN hubctl --key "$T/writer.key" subscribe inbox
assert_contains "$(hubctl --key "$T/writer.key" channel list)" "inbox" "the inbox is listed for its writers"
all=$(hubctl --key "$T/writer.key" --json history '*' --limit 1000)
case "$all" in *"backbone only"*) fail "history * showed a channel the partner may not read" ;; esac
assert_contains "$(hubctl --json history inbox)" "\"seq\":$inbox_seq" "the administrator reads the inbox"
echo "ok: an inbox channel (seq $inbox_seq)"
