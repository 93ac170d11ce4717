#!/bin/bash
# relay_abi: the host refuses a plugin built for another ABI, or with a descriptor smaller
# than this ABI's, with a precise message and exit 3, before calling into it.
source "$(dirname "$0")/lib.sh"
: "${BAD_PLUGIN_DIR:?BAD_PLUGIN_DIR must name the directory of hub_badabi.so}"
: > "$T/empty.conf"

rc=0
"$PLUGIN_HOST" "$BAD_PLUGIN_DIR/hub_badabi.so" "$T/empty.conf" "$T/memos.json" < /dev/null > "$T/out" 2>&1 || rc=$?
assert_eq 3 "$rc" "wrong abi_version: exit 3"
assert_contains "$(cat "$T/out")" "hub_badabi.so refused: built for plugin ABI 2, this host speaks ABI 1" "wrong abi_version: message"

rc=0
"$PLUGIN_HOST" "$BAD_PLUGIN_DIR/hub_badsize.so" "$T/empty.conf" "$T/memos.json" < /dev/null > "$T/out" 2>&1 || rc=$?
assert_eq 3 "$rc" "short descriptor: exit 3"
assert_contains "$(cat "$T/out")" "hub_badsize.so refused: descriptor is 16 bytes, ABI 1 needs at least" "short descriptor: message"

rc=0
"$PLUGIN_HOST" "$T/no-such-plugin.so" "$T/empty.conf" "$T/memos.json" < /dev/null > "$T/out" 2>&1 || rc=$?
assert_eq 2 "$rc" "missing plugin: exit 2"

# The real plugins pass the check and export nothing but the descriptor.
for p in email slack trello; do
    [ -f "$PLUGIN_DIR/hub_$p.so" ] || continue
    syms=$(nm -D --defined-only "$PLUGIN_DIR/hub_$p.so" | awk '$2 != "A" && $3 !~ /^_/ {print $3}' | grep -v '^__' | tr '\n' ' ')
    assert_eq "hub_plugin_descriptor " "$syms" "hub_$p.so exports only the descriptor"
done
echo "relay_abi: $CHECKS checks passed"
