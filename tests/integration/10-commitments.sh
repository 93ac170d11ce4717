#!/bin/bash
# Commitments against a real hubd with reminder offsets of seconds: the exact reminders
# of an item done before due and of one that goes overdue, rights to close, refusals,
# and a hub restarted between two reminders (none repeated, none skipped).
source "$(dirname "$0")/lib.sh"
cat > "$T/hub.conf" <<CONF
[reminders]
before = 12s, 6s
overdue_every = 3s
CONF
start_hub "$T/data" -c "$T/hub.conf"

# reminders ID: the slots of the reminders logged for an item, one per line.
reminders() {
    hubctl --json history actions --limit 1000 | /usr/bin/python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m["kind"] == "reminder" and m.get("action_id") == int(sys.argv[1]):
        print(m["action"]["slot"])' "$1"
}

hubctl keygen "$T/fb.key" > /dev/null
hubctl keygen "$T/other.key" > /dev/null
hubctl partner add foodbank --key "$T/fb.key.pub" --email ops@fb.example > /dev/null
hubctl partner add other --key "$T/other.key.pub" > /dev/null

expect_refusal UNKNOWN_PARTNER hubctl action add "x" --owner nobody --due +1h
expect_refusal UNKNOWN_PARTNER hubctl action add "x" --owner FOODBANK --due +1h
assert_exit 1 "a relative due time over 100 years" hubctl action add "x" --owner foodbank --due +36600d
assert_contains "$ERR" "up to 100 years" "why +36600d is refused"
assert_exit 1 "a due time after 9999" hubctl action add "x" --owner foodbank --due 9999-12-31T23:00:00-05:00
assert_contains "$ERR" "after 9999-12-31" "why a due time after 9999 is refused"
assert_exit 1 "an empty --status" hubctl action list --status ","
assert_exit 1 "a due time before 2000" hubctl action add "x" --owner foodbank --due 1999-12-31
assert_contains "$ERR" "before 2000-01-01" "why a due time before 2000 is refused"
expect_refusal BAD_REQUEST hubctl action add "" --owner foodbank --due +1h
expect_refusal BAD_REQUEST hubctl action add "   " --owner foodbank --due +1h
# A title is one line of text: a line break or an escape in it is refused, in any message.
expect_refusal BAD_HEADER hubctl action add $'Inject\r\nBcc: evil@x.test' --owner foodbank --due +1h
assert_contains "$(cat "$T/err")" "control character 0x0d at byte 6" "why a title with CR LF is refused"
expect_refusal BAD_HEADER hubctl publish updates "body" --title $'red \e[31m'
for when in tomorrow 2031-02-30 2031-1-5 2031-01-15T17:00:60Z 2031-01-15T24:00:00Z \
    2031-01-15T17:00:00+24:00 "+ 5s" "+5 s" +0s; do
    rc=0; hubctl action add "x" --owner foodbank --due "$when" 2> /dev/null || rc=$?
    assert_eq 1 "$rc" "bad WHEN '$when' is a usage error"
done
assert_exit 0 "a --status list with spaces" hubctl action list --status "open, done"
assert_exit 1 "--status given twice" hubctl action list --status open --status done
assert_exit 1 "an unknown global option" hubctl --bogus action list
assert_contains "$ERR" "unknown option '--bogus'" "named as an option"

# A commitment recorded late (due in 2020, or a second ago) is overdue at once: listed as
# overdue, and reminded of once now, as overdue, then every overdue_every (3 s) - not once
# per 3 s since 2020, and with no before-slot.
late=$(hubctl --json action add "Report on 2019" --owner foodbank --due 2020-01-01)
late_id=$(json_field "$late" id)
assert_eq overdue "$(json_field "$late" status)" "an item due in 2020"
just=$(hubctl --json action add "Call back" --owner foodbank --due "$(date -u -d '-1 sec' +%FT%TZ)")
just_id=$(json_field "$just" id)
assert_contains "$(hubctl --json action list --status overdue)" "Report on 2019" "listed overdue"
has_slots() { [ -n "$(slots "$1")" ]; } # has_slots ID: item ID has a reminder
# slots ID: "KIND SLOT_MS" of each reminder logged for item ID.
slots() {
    hubctl --json history actions --limit 1000 | /usr/bin/python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m["kind"] == "reminder" and m.get("action_id") == int(sys.argv[1]):
        print(m["action"]["slot"], m["action"]["slot_ms"])' "$1"
}
wait_for_s 20 has_slots "$late_id" || fail "no reminder of the item due in 2020"
wait_for_s 20 has_slots "$just_id" || fail "no reminder of the item due a second ago"
sleep 4
for item in "$late" "$just"; do
    id=$(json_field "$item" id)
    slots "$id" | /usr/bin/python3 -c '
import datetime, sys
item = int(sys.argv[1])
rows = [line.split() for line in sys.stdin]
kinds = {k for k, _ in rows}
ms = [int(s) for _, s in rows]
if kinds != {"overdue"}:
    sys.exit("item %d: reminder kinds %s, expected overdue only" % (item, sorted(kinds)))
if not 1 <= len(ms) <= 4:
    sys.exit("item %d: %d reminders in ~5 s, expected one, then one per 3 s" % (item, len(ms)))
# Counted from when it was recorded (its due time is past): the next reminder comes a whole
# overdue_every after the first, never a moment later.
created = int(datetime.datetime.fromisoformat(sys.argv[2].replace("Z", "+00:00")).timestamp() * 1000 + 0.5)
if any((b - a) % 3000 or b <= a for a, b in zip(ms, ms[1:])) or (ms[0] - created) % 3000:
    sys.exit("item %d: slots %s are not recorded (%d) + k * 3 s, in order" % (item, ms, created))
' "$id" "$(json_field "$item" created)" ||
        fail "reminders of late item $id: $(slots "$id" | tr '\n' ' ')"
done
just_created=$(/usr/bin/python3 -c 'import datetime, sys
print(int(datetime.datetime.fromisoformat(sys.argv[1].replace("Z", "+00:00")).timestamp() * 1000 + 0.5))' \
    "$(json_field "$just" created)")
assert_eq "overdue $just_created" "$(slots "$just_id" | sed -n 1p)" \
    "the first reminder of an item due a second ago: when it was recorded, as overdue"
hubctl action done "$late_id" > /dev/null
hubctl action done "$just_id" > /dev/null

# Item A: done before due. Item B: goes overdue.
a=$(hubctl --json action add "Send the budget" --owner foodbank --due +16s --detail "Q3")
a_id=$(json_field "$a" id)
assert_eq open "$(json_field "$a" status)" "new item status"
assert_eq foodbank "$(json_field "$a" owner)" "owner"
b_id=$(hubctl --key "$T/other.key" action add "Book the venue" --owner foodbank --due +5s)

# A's slots: +4s, +10s, due +16s. B's: due +5s (both before-slots precede its creation),
# then every 3s. Close A between its first two slots: wait for the first, then close.
has_reminders() { [ "$(reminders "$1" | wc -l)" -ge "$2" ]; } # has_reminders ID N
until_count() { # until_count ID N: waits (up to 40 s) until item ID has N reminders
    wait_for_s 40 has_reminders "$1" "$2" ||
        fail "item $1 did not get $2 reminders: $(reminders "$1" | tr '\n' ' ')"
}
until_count "$a_id" 1
# Only the owner, the creator or the administrator may close an item.
expect_refusal FORBIDDEN hubctl --key "$T/other.key" action done "$a_id"
hubctl --key "$T/fb.key" action done "$a_id" --note "sent it" > /dev/null
expect_refusal CONFLICT hubctl action done "$a_id"
expect_refusal NOT_FOUND hubctl action done 9999

until_count "$b_id" 3
got_a=$(reminders "$a_id" | tr '\n' ' ')
assert_eq "before " "$got_a" "reminders of the item done before due"
got_b=$(reminders "$b_id" | tr '\n' ' ')
case "$got_b" in
    "due overdue overdue"*) ;;
    *) fail "reminders of the overdue item: expected 'due overdue overdue ...', got '$got_b'" ;;
esac
assert_contains "$(hubctl --json action list --status overdue)" "Book the venue" "overdue listed"
assert_contains "$(hubctl --json action list --status done)" "sent it" "done note kept"
case "$(hubctl --json action list --status overdue)" in *"Send the budget"*)
    fail "a done item listed as overdue" ;;
esac

# Restart between two overdue reminders: none repeated, none skipped.
n_before=$(reminders "$b_id" | wc -l)
stop_hub
sleep 1
start_hub "$T/data" -c "$T/hub.conf"
sleep 4
n_after=$(reminders "$b_id" | wc -l)
[ "$n_after" -gt "$n_before" ] || fail "no reminder after restart ($n_before -> $n_after)"
dups=$(hubctl --json history actions --limit 1000 | /usr/bin/python3 -c '
import json, sys, collections
c = collections.Counter()
for line in sys.stdin:
    m = json.loads(line)
    if m["kind"] == "reminder": c[(m["action_id"], m["action"]["slot_ms"])] += 1
print(sum(1 for v in c.values() if v > 1))')
assert_eq 0 "$dups" "reminders sent twice"

# Down past several slots: one reminder on start, not one per missed interval. Of the
# slots that fell while the hub was down, exactly one is reminded of.
n1=$(reminders "$b_id" | wc -l)
stop_hub
down_ms=$(date +%s%3N)
sleep 10
start_hub "$T/data" -c "$T/hub.conf"
# Up from the moment it listens (from its log, which has the line before the endpoint file
# exists: a start may take a while, under ASan, and a slot that falls during it was missed
# too).
up_ms=$(grep "router: listening on" "$T/hubd.log" | tail -1 | /usr/bin/python3 -c '
import datetime, sys
stamp = sys.stdin.read().split()[0].rstrip("Z")
t = datetime.datetime.fromisoformat(stamp).replace(tzinfo=datetime.timezone.utc)
print(int(t.timestamp() * 1000))')
until_count "$b_id" $((n1 + 1))
missed=$(hubctl --json history actions --limit 1000 | /usr/bin/python3 -c '
import json, sys
n = 0
for line in sys.stdin:
    m = json.loads(line)
    if m["kind"] == "reminder" and m["action_id"] == int(sys.argv[1]) \
            and int(sys.argv[2]) < m["action"]["slot_ms"] <= int(sys.argv[3]):
        n += 1
print(n)' "$b_id" "$down_ms" "$up_ms")
assert_eq 1 "$missed" "reminders sent for the slots missed while down"

hubctl --key "$T/fb.key" action done "$b_id" > /dev/null
n3=$(reminders "$b_id" | wc -l)
sleep 4
assert_eq "$n3" "$(reminders "$b_id" | wc -l)" "reminders after done"
hubctl verify > /dev/null || fail "verify"

# The actions table is derived from the log: thrown away and rebuilt, it is the same.
hubctl --json action list > "$T/before.json"
hubctl --json partner list >> "$T/before.json"
stop_hub
"$HUBD" --data-dir "$T/data" --rebuild >> "$T/hubd.log" 2>&1 || fail "hubd --rebuild"
# A rebuild or backup of a directory with no hub in it is refused, and makes no keys there.
for what in "--rebuild" "--backup $T/nothing.db"; do
    rc=0
    "$HUBD" --data-dir "$T/nohub" $what > "$T/nohub.log" 2>&1 || rc=$?
    assert_eq 2 "$rc" "hubd $what on a directory with no hub"
    assert_contains "$(cat "$T/nohub.log")" "$T/nohub" "why $what is refused"
    [ -e "$T/nohub/hub.key" ] && fail "hubd $what made a hub key in an empty directory"
done
start_hub "$T/data" -c "$T/hub.conf"
hubctl --json action list > "$T/after.json"
hubctl --json partner list >> "$T/after.json"
diff "$T/before.json" "$T/after.json" > /dev/null || fail "rebuilt state differs: $(diff "$T/before.json" "$T/after.json")"
echo "ok: commitments"
