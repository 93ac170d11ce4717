#!/usr/bin/env bash
# systemd/hubd.service: systemd-analyze verify finds nothing to say about it, and
# systemd-analyze security --offline=yes rates it at exposure 2.0 or lower ("OK" or better).
# Then what the unit relies on, with hubd started as systemd would: sd_notify READY=1 once
# the endpoint is bound, WATCHDOG=1 at half of WATCHDOG_USEC, STOPPING=1 on SIGTERM, SIGHUP
# reloading the config file (ExecReload=), journal priorities when stderr is the journal.
. "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
MAX_EXPOSURE=2.0

if ! command -v systemd-analyze > /dev/null; then
    echo "SKIP: systemd-analyze is not installed (Debian package systemd; tests/deps.sh installs it)"
    exit 0
fi

# --- the unit, with ExecStart= pointing at the hubd under test (verify wants it to exist)
unit=$T/hubd.service
sed "s|@HUB_SBINDIR@/hubd|$HUBD|g" "$SRC/systemd/hubd.service.in" > "$unit"
grep -n '@[A-Z_]*@' "$unit" && fail "unsubstituted @VARIABLE@ left in the unit"
for want in '^Type=notify$' '^ExecStart=[^ ]*hubd .*-c /*[^ ]*hubd.conf' '--data-dir' \
    '^ExecReload=/bin/kill -HUP \$MAINPID$' '^WatchdogSec=[1-9]' '^DynamicUser=yes$' \
    '^StateDirectory=hubd$' '^ConfigurationDirectory=hubd$' '^ProtectSystem=strict$' \
    '^ProtectHome=yes$' '^NoNewPrivileges=yes$' '^PrivateTmp=yes$' '^PrivateDevices=yes$' \
    '^RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6$' '^SystemCallFilter=@system-service$' \
    '^CapabilityBoundingSet=$'; do
    grep -qe "$want" "$unit" || fail "hubd.service lacks $want"
done

# Man pages are checked where they are installed (08-install); here they are not.
if ! systemd-analyze verify --man=no "$unit" > "$T/verify.log" 2>&1; then
    fail "systemd-analyze verify failed: $(cat "$T/verify.log")"
fi
# verify only warns (exit 0) about unknown keys and bad values: any word about our unit fails.
if grep -F "hubd.service" "$T/verify.log"; then
    fail "systemd-analyze verify complains about hubd.service"
fi
echo "systemd-analyze verify: clean"

if ! systemd-analyze security --offline=yes --no-pager "$unit" > "$T/security.log" 2>&1; then
    if grep -qi "offline" "$T/security.log" && grep -qi "unrecognized\|unknown option" "$T/security.log"; then
        echo "SKIP: this systemd-analyze cannot assess units offline: $(head -1 "$T/security.log")"
        exit 0
    fi
    fail "systemd-analyze security --offline=yes failed: $(cat "$T/security.log")"
fi
overall=$(grep -o 'Overall exposure level for hubd.service: [0-9.]* [A-Z]*' "$T/security.log") ||
    fail "no overall exposure in: $(tail -5 "$T/security.log")"
exposure=$(awk '{print $(NF-1)}' <<< "$overall")
echo "systemd-analyze security: exposure $exposure ($(awk '{print $NF}' <<< "$overall"))"
awk -v e="$exposure" -v max="$MAX_EXPOSURE" 'BEGIN { exit !(e <= max) }' ||
    fail "hubd.service exposure $exposure is above $MAX_EXPOSURE:
$(grep '✗' "$T/security.log")"

# --- hubd as systemd runs it: a notify socket, a watchdog, a config file, the journal
cat > "$T/listen.py" <<'PY'
import os, socket, sys, time
sock_path, log_path, endpoint_file = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sock_path + ".tmp")
os.rename(sock_path + ".tmp", sock_path)  # appears only once bound
with open(log_path, "a", buffering=1) as log:
    while True:
        for line in s.recv(4096).decode().splitlines():
            extra = ""
            if line == "READY=1":
                extra = " endpoint_file=%s" % ("yes" if os.path.exists(endpoint_file) else "no")
            log.write("%.3f %s%s\n" % (time.monotonic(), line, extra))
PY
DATA=$T/data
/usr/bin/python3 "$T/listen.py" "$T/notify.sock" "$T/notify.log" "$DATA/hubd.endpoint" &
BG_PIDS+=($!)
wait_for test -S "$T/notify.sock" || fail "notify listener did not start"

printf '[hub]\nlog_level = info\n' > "$T/hubd.conf"
: > "$T/hubd.log"
export NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=1000000
export JOURNAL_STREAM=$(stat -c '%d:%i' "$T/hubd.log")
start_hub "$DATA" -c "$T/hubd.conf" --foreground
unset NOTIFY_SOCKET WATCHDOG_USEC JOURNAL_STREAM

wait_for grep -q "READY=1" "$T/notify.log" || fail "no READY=1: $(cat "$T/notify.log")"
grep -q "READY=1 endpoint_file=yes" "$T/notify.log" ||
    fail "READY=1 came before the endpoint was bound: $(cat "$T/notify.log")"
assert_exit 0 "publish after READY" hubctl publish updates "under systemd"
assert_eq 1 "$OUT" "seq"

# Watchdog: WATCHDOG_USEC=1 s, so a ping every 0.5 s.
sleep 1.6
pings=$(grep -c "WATCHDOG=1" "$T/notify.log" || true)
[ "$pings" -ge 2 ] || fail "expected WATCHDOG=1 every 0.5 s, got $pings in 1.6 s: $(cat "$T/notify.log")"

# ExecReload= is SIGHUP: the file is read again, a bad file is refused and the hub runs on.
# What only a restart changes is said so, not silently ignored.
printf '[hub]\nlog_level = debug\nverify_threads = 7\n' > "$T/hubd.conf"
kill -HUP "$HUB_PID"
wait_for grep -q "configuration reloaded" "$T/hubd.log" || fail "SIGHUP did not reload the configuration"
grep -q "verify_threads is now 7 in the configuration: that takes a restart" "$T/hubd.log" ||
    fail "a setting that takes a restart was changed without a word"
printf '[hub]\nlog_level = loud\n' > "$T/hubd.conf"
kill -HUP "$HUB_PID"
wait_for grep -q "reload refused (the reasons are above); keeping the current configuration" "$T/hubd.log" ||
    fail "a bad configuration on SIGHUP was not reported"
kill -0 "$HUB_PID" || fail "hubd died on a bad configuration at reload"
assert_exit 0 "publish after the reloads" hubctl publish updates "still here"
assert_eq 2 "$OUT" "seq"

# Journal: with JOURNAL_STREAM naming its stderr, every log line starts with a priority.
# The config file's problems at reload are errors too: "<3>config: FILE:LINE: reason".
grep -q '^<5>router: listening on ' "$T/hubd.log" ||
    fail "no journal priority prefix (<5> notice) on the listening line"
grep -q "^<3>config: $T/hubd.conf:" "$T/hubd.log" ||
    fail "config problems at reload not logged as errors"
bad=$(grep -v '^<[3-7]>' "$T/hubd.log" | head -3 || true)
[ -z "$bad" ] || fail "log lines without a journal priority: $bad"

stop_hub TERM || fail "hubd did not stop cleanly on SIGTERM (status $?)"
wait_for grep -q "STOPPING=1" "$T/notify.log" || fail "no STOPPING=1 on SIGTERM: $(cat "$T/notify.log")"
echo "ok: exposure $exposure; notify: $(grep -c . "$T/notify.log") messages ($pings watchdog pings)"
