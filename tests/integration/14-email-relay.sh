#!/bin/bash
# The email relay end to end: a real hubd, the real email plugin and a real SMTP server on
# loopback (Debian's aiosmtpd, tests/relay/smtp_server.py). Channel messages and action
# items are mailed, `owner` is the owner's directory address (and nobody once the owner has
# left), and mail waits while the server is down or hubd is killed: nothing lost, nothing
# twice.
source "$(dirname "$0")/lib.sh"
: "${PLUGIN_DIR:?PLUGIN_DIR must name the built plugins}"
RELAY_DIR=$(cd "$(dirname "$0")/../relay" && pwd)

# start_smtp [PORT]: the SMTP server spooling to $T/spool; sets SMTP_PORT, SMTP_PID.
start_smtp() {
    rm -f "$T/smtp.port"
    /usr/bin/python3 "$RELAY_DIR/smtp_server.py" "$T/smtp.port" "$T/spool" --port "${1:-0}" \
        2>> "$T/smtp.err" &
    SMTP_PID=$!
    BG_PIDS+=("$SMTP_PID")
    wait_for test -s "$T/smtp.port" || fail "the SMTP server did not start: $(cat "$T/smtp.err")"
    SMTP_PORT=$(cat "$T/smtp.port")
}
stop_smtp() { kill "$SMTP_PID" && wait "$SMTP_PID" 2> /dev/null || true; }
# mails: one line per mail received, in order: "SUBJECT|RCPT,RCPT".
mails() {
    /usr/bin/python3 - "$T/spool" << 'PY'
import email, email.policy, json, os, sys
spool = sys.argv[1]
names = sorted((n for n in os.listdir(spool) if n.endswith(".eml")), key=lambda n: int(n[:-4]))
for name in names:
    msg = email.message_from_bytes(open(os.path.join(spool, name), "rb").read(),
                                   policy=email.policy.default)
    env = json.load(open(os.path.join(spool, name[:-4] + ".json")))
    print("%s|%s" % (msg["Subject"], ",".join(sorted(env["rcpt_tos"]))))
PY
}
mailed() { [ "$(mails | grep -c "^$1|" || true)" -ge 1 ]; }
pending() { /usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])["outbox"].get("mail", 0))' "$(hubctl --json status)"; }
has_pending() { [ "$(pending)" -ge 1 ]; }

mkdir -p "$T/spool"
start_smtp
cat > "$T/hub.conf" << CONF
[hub]
plugin_dir = $PLUGIN_DIR

[relay.mail]
plugin = email
channels = announcements, actions
smtp_url = smtp://127.0.0.1:$SMTP_PORT/hub.test
from = Partnership hub <hub@hub.test>
to = team@partners.test, owner
timeout = 5
CONF
"$HUBD" --check-config -c "$T/hub.conf" > /dev/null || fail "config with an email relay"
start_hub "$T/data" -c "$T/hub.conf"
hubctl keygen "$T/ana.key" > /dev/null
hubctl partner add ana --key "$T/ana.key.pub" --email ana@foodbank.test > /dev/null

# A message on a carried channel goes to the team (owner: nobody, it is no action item);
# one on another channel is not mailed.
hubctl publish updates "not mailed" --title "Not mailed" > /dev/null
hubctl publish announcements "Kickoff on Monday at 10." --title "Kickoff" > /dev/null
wait_for mailed Kickoff || fail "the announcement was not mailed: $(mails) $(tail -5 "$T/hubd.log")"
# An action item goes to the team and its owner, found in the directory.
id=$(hubctl --key "$T/ana.key" action add "Send the budget" --owner ana --due +3d) ||
    fail "action add"
wait_for mailed "Send the budget" || fail "the action item was not mailed: $(mails)"
assert_eq "Kickoff|team@partners.test
Send the budget|ana@foodbank.test,team@partners.test" "$(mails)" "mails so far"

# The SMTP server is down for a while: the mail waits in the outbox, then goes once.
stop_smtp
hubctl publish announcements "Sent while the server was down." --title "While down" > /dev/null
wait_for has_pending || fail "no mail pending while the server is down: $(hubctl --json status)"
start_smtp "$SMTP_PORT"
wait_for_s 40 mailed "While down" || fail "the mail was not sent once the server came back: $(mails)"

# hubd killed with mail pending: after the restart it goes, once.
stop_smtp
hubctl publish announcements "Sent before a crash." --title "Before the crash" > /dev/null
wait_for has_pending || fail "no mail pending before the crash: $(hubctl --json status)"
stop_hub KILL || true
start_smtp "$SMTP_PORT"
restart_hub -c "$T/hub.conf"
wait_for_s 40 mailed "Before the crash" || fail "the pending mail was not sent after the restart: $(mails)"

# A partner who left is mailed no more: closing her item reaches the team only.
hubctl partner remove ana > /dev/null
hubctl action done "$id" --note "Handed over" > /dev/null || fail "action done"
wait_for mailed "Done: Send the budget" || fail "the closing was not mailed: $(mails)"
assert_eq "Kickoff|team@partners.test
Send the budget|ana@foodbank.test,team@partners.test
While down|team@partners.test
Before the crash|team@partners.test
Done: Send the budget|team@partners.test" "$(mails)" "every mail once, in order"
assert_eq 0 "$(pending)" "mail left in the outbox"
stop_hub || fail "hubd did not stop cleanly"
echo "PASS"
