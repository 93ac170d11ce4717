#!/bin/bash
# Faults against a real hubd: a full disk (a small tmpfs), a frozen hub (SIGSTOP), the
# database locked by another process at start, a damaged database file, key files missing
# or mixed up on a data directory that holds a log. Each: a clear error, nothing
# acknowledged lost, and the hub serving again once the fault is gone.
source "$(dirname "$0")/lib.sh"
need_rawclient


# --- Full disk ------------------------------------------------------------------------
if mkdir -p "$T/full" && mount -t tmpfs -o size=1500k tmpfs "$T/full" 2> /dev/null; then
    # The hub must be gone before its tmpfs can be unmounted.
    trap 'kill -9 "${HUB_PIDS[@]}" 2>/dev/null; wait 2>/dev/null; umount "$T/full" 2>/dev/null; cleanup' EXIT
    start_hub "$T/full/data"
    rc=0
    "$RAWCLIENT" flood updates 100000 50 > "$T/flood.out" 2>&1 || rc=$?
    assert_eq 3 "$rc" "a flood into a full disk stops on a refusal"
    assert_contains "$(cat "$T/flood.out")" "STORAGE" "the refusal is a storage error"
    acked=$(sed -n 's/^FAILED at ack \([0-9]*\):.*/\1/p' "$T/flood.out")
    [ "$acked" -gt 100 ] || fail "only $acked messages fitted before the disk was full"
    grep -q "store: commit of .* failed: database or disk is full" "$T/hubd.log" ||
        fail "no precise log line for the full disk"
    kill -0 "$HUB_PID" || fail "hubd died on a full disk"
    # Reads are still served, and every acknowledged message is there.
    head=$(hubctl --json status | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["head"])')
    [ "$head" -ge "$acked" ] || fail "head $head is below the $acked acknowledged messages"
    hubctl history updates --limit 3 > /dev/null || fail "history on a full disk"
    # A rolled-back transaction frees some room, so a small publish may still fit; when
    # it does not, the refusal names the storage.
    rc=0
    hubctl publish updates "no room" > "$T/pub.out" 2> "$T/pub.err" || rc=$?
    case $rc in
        0) head=$(cat "$T/pub.out") ;;
        3) assert_contains "$(cat "$T/pub.err")" "STORAGE" "publish on a full disk says why" ;;
        *) fail "publish on a full disk: exit $rc: $(cat "$T/pub.err")" ;;
    esac
    # Space returns: publishing resumes where the log left off.
    mount -o remount,size=64m "$T/full"
    assert_exit 0 "publish after space returned" hubctl publish updates "room again"
    assert_eq $((head + 1)) "$OUT" "the next seq follows the last acknowledged one"
    hubctl verify > /dev/null || fail "verify after a full disk"
    stop_hub
    umount "$T/full"
    trap cleanup EXIT
else
    echo "SKIP full disk: cannot mount a tmpfs here (needs root)"
fi

# --- Frozen hub -----------------------------------------------------------------------
start_hub "$T/data"
kill -STOP "$HUB_PID"
started=$SECONDS
assert_exit 2 "publish to a frozen hub" hubctl --timeout 2 publish updates "anyone?"
[ $((SECONDS - started)) -le 10 ] || fail "the client took $((SECONDS - started)) s to give up"
assert_exit 2 "status of a frozen hub" hubctl --timeout 1 status
kill -CONT "$HUB_PID"
assert_exit 0 "publish after SIGCONT" hubctl publish updates "back"
stop_hub

# --- Commits stalled while a partner floods large messages -----------------------------
# Another process holds the write lock for 1.5 s (under hubd's 2 s busy timeout, so the
# commits wait and do not fail) while two connections pour in 300 messages of ~1 MB. The
# front door stops reading at its in-flight budget (64 MiB, hubctl status in_flight_bytes)
# instead of holding all of them (without the budget: 180-300 MB here); nothing is lost.
# The stall must outlast the flood's arrival and stay under the busy timeout: real time
# that a slowed-down run (valgrind, HUB_TIMEOUT_SCALE > 1) does not have.
if [ "$HUB_TIMEOUT_SCALE" -gt 1 ]; then
    echo "SKIP stalled commits under a flood: timing-bound, HUB_TIMEOUT_SCALE=$HUB_TIMEOUT_SCALE"
else
    printf '[hub]\nmax_message_bytes = 1048576\n' > "$T/budget.conf"
    start_hub "$T/budget" -c "$T/budget.conf"
    # The floods are signed before the lock is taken, and sent at once when it is.
    flood_pids=()
    for f in flood1 flood2; do
        "$RAWCLIENT" --timeout 30000 --size 1000000 --go "$T/budget.go" flood updates 150 150 \
            > "$T/$f.out" 2>&1 &
        flood_pids+=($!)
        BG_PIDS+=($!)
    done
    flood_ready() { grep -q READY "$T/flood1.out" && grep -q READY "$T/flood2.out"; }
    wait_for_s 60 flood_ready || fail "the floods were not built"
    /usr/bin/python3 -c '
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
time.sleep(1.5)
c.execute("COMMIT")' "$T/budget/hub.db" "$T/budget.locked" &
    BG_PIDS+=($!)
    wait_for test -f "$T/budget.locked" || fail "could not lock the database"
    # (|| true: a STATUS unanswered while the door holds back must not end the loop, set -e.)
    (while [ ! -f "$T/budget.done" ]; do "$HUBCTL" --timeout 1 --json status 2> /dev/null || true; done) \
        > "$T/budget.status" &
    BG_PIDS+=($!)
    touch "$T/budget.go"
    wait "${flood_pids[0]}" || fail "flood of large messages: $(cat "$T/flood1.out")"
    wait "${flood_pids[1]}" || fail "flood of large messages: $(cat "$T/flood2.out")"
    touch "$T/budget.done"
    wait "${BG_PIDS[@]}" 2> /dev/null || true
    for f in flood1 flood2; do
        assert_contains "$(cat "$T/$f.out")" "ACKED 150 DUPS 0" "every large message acked once ($f)"
    done
    assert_eq 300 "$(json_field "$(hubctl --json status)" head)" "messages stored after the stall"
    # Over the budget the front door stops reading, so STATUS waits too: what it answered is
    # at most the budget and one message; the log tells what was in flight when it held back.
    bound=$((64 * 1024 * 1024 + 1048576 + 4096))
    most=$(json_lines_field in_flight_bytes < "$T/budget.status" | sort -n | tail -1)
    [ "${most:-0}" -le $bound ] || fail "STATUS saw $most bytes in flight: over the 64 MiB budget"
    held=$(sed -n 's/.*holding back requests: [0-9]* messages, \([0-9]*\) bytes in flight.*/\1/p' \
        "$T/hubd.log" | sort -n | tail -1)
    [ -n "$held" ] || fail "the front door never held back: the flood did not reach the budget"
    [ "$held" -le $bound ] || fail "held back at $held bytes in flight: over the 64 MiB budget"
    echo "in flight: STATUS saw at most ${most:-0} bytes, held back at $held; hubd peak RSS $(awk '/^VmHWM:/ {print $2}' "/proc/$HUB_PID/status") kB"
    stop_hub
fi

# --- A commit that finds the database locked past hubd's 2 s busy wait ------------------
# Refused with STORAGE (not an ACK of seq 0), nothing stored, head and the action items
# untouched; the next publish, once the lock is gone, is stored with the next seq.
if [ "$HUB_TIMEOUT_SCALE" -gt 1 ]; then
    echo "SKIP a commit past the busy wait: timing-bound, HUB_TIMEOUT_SCALE=$HUB_TIMEOUT_SCALE"
else
    start_hub "$T/busy"
    hubctl keygen "$T/busy-p.key" > /dev/null
    hubctl partner add bp --key "$T/busy-p.key.pub" > /dev/null
    head_before=$(json_field "$(hubctl --json status)" head)
    # lock_db SECONDS: another process holds the write lock that long (in the background).
    lock_db() {
        rm -f "$T/busy.locked"
        /usr/bin/python3 -c '
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
time.sleep(float(sys.argv[3]))
c.execute("COMMIT")' "$T/busy/hub.db" "$T/busy.locked" "$1" &
        lock_pid=$!
        BG_PIDS+=($lock_pid)
        wait_for test -f "$T/busy.locked" || fail "could not lock the database"
    }
    lock_db 3.5
    OUT=$("$RAWCLIENT" --timeout 8000 publish updates "while locked") || fail "rawclient: $OUT"
    assert_contains "$OUT" "ERROR 13 STORAGE" "a publish whose commit found the database locked"
    wait "$lock_pid" || true
    status=$(hubctl --json status)
    assert_eq "$head_before" "$(json_field "$status" head)" "head after the refused commit"
    assert_eq 0 "$(json_field "$status" open_actions)" "action items after the refused commit"
    assert_exit 0 "publish once the lock is gone" hubctl publish updates "after the lock"
    assert_eq "$((head_before + 1))" "$OUT" "seq of the publish after the lock"
    # hubctl sends its copy again after a third of --timeout (1.7 s): the first copy is
    # refused at 2 s, the second stored when the lock goes (3.5 s). The answer is the
    # second's ACK, not the first's refusal (a caller told 'refused' would retry, and
    # store the message twice).
    lock_db 3.5
    assert_exit 0 "a publish resent while the database is locked" \
        hubctl --timeout 5 publish updates "resent while locked"
    seq=$OUT
    wait "$lock_pid" || true
    assert_eq "$((head_before + 2))" "$seq" "seq of the resent publish"
    assert_eq 1 "$(hubctl --json history updates | grep -c '"body":"resent while locked"' || true)" \
        "copies of the resent publish"
    stop_hub
fi

# --- Database locked by another process at start --------------------------------------
/usr/bin/python3 -c '
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
time.sleep(20)' "$T/data/hub.db" "$T/locked" &
BG_PIDS+=($!)
wait_for test -f "$T/locked" || fail "could not lock the database"
rc=0
"$HUBD" --data-dir "$T/data" --endpoint 'tcp://127.0.0.1:*' > "$T/locked.log" 2>&1 || rc=$?
assert_eq 2 "$rc" "hubd on a locked database"
assert_contains "$(cat "$T/locked.log")" "is locked by another process" "the reason"

# --- A database file that is not one, or is damaged: a clear error, exit 2 --------------
mkdir -p "$T/garbage" "$T/cut"
echo "not a database" > "$T/garbage/hub.db"
head -c 20000 "$T/data/hub.db" > "$T/cut/hub.db"
for dir in garbage cut; do
    rc=0
    "$HUBD" --data-dir "$T/$dir" --endpoint 'tcp://127.0.0.1:*' > "$T/$dir.log" 2>&1 || rc=$?
    assert_eq 2 "$rc" "hubd on a $dir database"
    assert_contains "$(cat "$T/$dir.log")" "is not a usable hubd database" "the reason ($dir)"
done

# --- Key files on a data directory that holds a log -----------------------------------
# hubd_refuses WHAT NEEDLE: hubd on $T/keys exits 2 with NEEDLE in its log, and creates
# no key file.
hubd_refuses() {
    local rc=0 before
    before=$(ls "$T/keys" | grep -E 'key|pub$' || true)
    # (a hubd that starts instead is stopped after 10 s: exit 124)
    timeout 10 "$HUBD" --data-dir "$T/keys" --endpoint 'tcp://127.0.0.1:*' > "$T/keys.log" 2>&1 ||
        rc=$?
    assert_eq 2 "$rc" "hubd with $1"
    assert_contains "$(cat "$T/keys.log")" "$2" "the reason ($1)"
    assert_eq "$before" "$(ls "$T/keys" | grep -E 'key|pub$' || true)" "the key files after a refused start ($1)"
}
start_hub "$T/keys"
hubctl publish updates "before the keys move" > /dev/null
stop_hub
mkdir "$T/saved"
cp -p "$T/keys"/hub.key "$T/keys"/hub.key.pub "$T/keys"/hub.pub "$T/keys"/admin.key \
    "$T/keys"/admin.key.pub "$T/saved/"
rm "$T/keys/hub.key" "$T/keys/hub.key.pub"
hubd_refuses "hub.key missing" "hub.key is missing, but $T/keys/hub.db holds a log"
assert_contains "$(cat "$T/keys.log")" "restore hub.key from the backup" "what to do"
rm "$T/keys/hub.pub"
hubd_refuses "hub.key and hub.pub missing" "restore hub.key from the backup"
hubctl keygen "$T/keys/hub.key" > /dev/null # another key in its place
hubd_refuses "another hub.key" "hub.db was written by another hub key"
rm "$T/keys/hub.key" "$T/keys/hub.key.pub"
cp -p "$T/saved/hub.key" "$T/saved/hub.key.pub" "$T/keys/"
hubctl keygen "$T/other.key" > /dev/null
cp "$T/other.key.pub" "$T/keys/hub.pub"
hubd_refuses "a stale hub.pub" "hub.pub does not hold the public key of $T/keys/hub.key"
cp -p "$T/saved/hub.pub" "$T/keys/hub.pub"
# admin.key kept off the host: admin.key.pub is all the hub needs.
mv "$T/keys/admin.key" "$T/admin.key"
start_hub "$T/keys"
[ ! -e "$T/keys/admin.key" ] || fail "hubd wrote an admin.key"
assert_eq "$(cat "$T/saved/admin.key.pub")" "$(cat "$T/keys/admin.key.pub")" "admin.key.pub kept"
grep -q "administrator public key .* from $T/keys/admin.key.pub" "$T/hubd.log" ||
    fail "the log does not say where the administrator key came from"
assert_exit 0 "the administrator away from the host" \
    hubctl --key "$T/admin.key" channel create offhost
hubctl --key "$T/admin.key" verify > /dev/null || fail "verify with the hub key restored"
stop_hub
# admin.key without admin.key.pub: the public half is written again.
mv "$T/admin.key" "$T/keys/admin.key"
rm "$T/keys/admin.key.pub"
start_hub "$T/keys"
assert_eq "$(cat "$T/saved/admin.key.pub")" "$(cat "$T/keys/admin.key.pub")" "admin.key.pub rewritten"
assert_eq 644 "$(stat -c %a "$T/keys/admin.key.pub")" "admin.key.pub's mode"
assert_exit 0 "the administrator after admin.key.pub came back" hubctl partner list
stop_hub
mv "$T/keys/admin.key" "$T/keys/admin.key.pub" "$T/saved/"
hubd_refuses "no administrator key" "restore admin.key.pub (or admin.key) from the backup"
hubctl keygen "$T/keys/admin.key" > /dev/null
cp "$T/saved/admin.key.pub" "$T/keys/admin.key.pub"
hubd_refuses "admin.key and admin.key.pub of two keys" "admin.key.pub does not hold the public key"
# A new hub.db (empty, or no message yet) is a new hub: keys are created as on a first start.
mkdir "$T/newdb"
: > "$T/newdb/hub.db"
start_hub "$T/newdb"
for f in hub.key hub.pub admin.key admin.key.pub; do
    [ -s "$T/newdb/$f" ] || fail "no $f created next to an empty hub.db"
done
stop_hub
rm "$T/newdb"/hub.key "$T/newdb"/hub.key.pub "$T/newdb"/hub.pub "$T/newdb"/admin.key*
start_hub "$T/newdb"
assert_exit 0 "a hub whose database has no message yet, with new keys" hubctl publish updates "new"
stop_hub
echo "ok: faults"
