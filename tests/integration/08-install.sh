#!/usr/bin/env bash
# cmake --install into a temporary prefix, then use what landed there: the installed hubd
# (finding its plugin directory under the prefix without being told) and hubctl against
# each other, the man pages, the unit, the example config, the headers, the libraries and
# hubclient.pc, and a partner's tiny C program built with pkg-config against the install.
# Builds its own copy of the tree (one build, -j2, only what is installed).
. "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)

# The copy built here has no sanitizers, so the sanitizer run would repeat the same thing.
if grep -qa __asan_init "$HUBD"; then
    echo "SKIP: the install test runs in the normal (non-sanitizer) build only"
    exit 0
fi

P=$T/prefix
B=$T/build
started=$SECONDS
cmake -S "$SRC" -B "$B" -DCMAKE_INSTALL_PREFIX="$P" -DHUB_WERROR=ON -DBUILD_TESTING=OFF \
    > "$T/configure.log" 2>&1 || { cat "$T/configure.log"; fail "cmake configure"; }
grep -q "scdoc not found" "$T/configure.log" && fail "scdoc is missing: no man pages (tests/deps.sh installs it)"
cmake --build "$B" -j2 --target hubd hubctl hubclient hubproto man hub_email hub_slack hub_trello \
    > "$T/build.log" 2>&1 ||
    { tail -40 "$T/build.log"; fail "build"; }
cmake --install "$B" > "$T/install.log" 2>&1 || { cat "$T/install.log"; fail "cmake --install"; }
echo "configure + build + install: $((SECONDS - started)) s"

# --- what landed where (GNUInstallDirs)
export PKG_CONFIG_PATH=
pc=$(find "$P" -name hubclient.pc -path '*/pkgconfig/*' | head -1)
[ -n "$pc" ] || fail "hubclient.pc not installed"
export PKG_CONFIG_PATH=$(dirname "$pc")
LIBDIR=$(pkg-config --variable=libdir hubclient)
INCDIR=$(pkg-config --variable=includedir hubclient)
assert_eq "$P" "$(pkg-config --variable=prefix hubclient)" "hubclient.pc prefix"
assert_eq "$(dirname "$(dirname "$pc")")" "$LIBDIR" "hubclient.pc libdir"
for f in sbin/hubd bin/hubctl; do
    [ -x "$P/$f" ] || fail "$f not installed"
done
for f in "$LIBDIR/libhubclient.a" "$LIBDIR/libhubproto.a" \
         "$INCDIR"/hubd/{hub_client.h,hub_err.h,hub_frame.h,hub_keys.h,hub_sig.h,hub_text.h} \
         "$P"/share/man/{man8/hubd.8,man5/hubd.conf.5,man1/hubctl.1} \
         "$P/lib/systemd/system/hubd.service" "$P/share/doc/hubd/hubd.conf.example" \
         "$P/etc/hubd/hubd.conf"; do
    [ -s "$f" ] || fail "not installed: ${f#$P/}"
done
if [ -d "$SRC/plugins" ] && ls "$SRC"/plugins/*.h > /dev/null 2>&1; then
    for h in "$SRC"/plugins/*.h; do
        [ -s "$INCDIR/hubd/$(basename "$h")" ] || fail "plugin header $(basename "$h") not installed"
    done
fi

# --- the binaries run from the prefix
HUBD=$P/sbin/hubd
HUBCTL=$P/bin/hubctl
assert_exit 0 "installed hubd --version" "$HUBD" --version
assert_eq "hubd $(sed -n 's/^project(hubd VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")" "$OUT" \
    "installed hubd --version"
assert_exit 0 "installed hubctl --version" "$HUBCTL" --version
assert_contains "$OUT" "hubctl " "installed hubctl --version"
# Its default plugin directory follows the prefix: compiled in, not passed.
grep -qaF "$LIBDIR/hubd/plugins" "$HUBD" ||
    fail "installed hubd does not default to the plugin directory $LIBDIR/hubd/plugins"
if [ -d "$LIBDIR/hubd/plugins" ]; then
    echo "plugins installed: $(cd "$LIBDIR/hubd/plugins" && echo *)"
fi

# --- the installed configuration files are valid
assert_exit 0 "hubd --check-config on the installed hubd.conf" "$HUBD" --check-config -c "$P/etc/hubd/hubd.conf"
assert_exit 0 "hubd --check-config on hubd.conf.example" "$HUBD" --check-config -c "$P/share/doc/hubd/hubd.conf.example"

# --- the unit names the installed hubd
unit=$P/lib/systemd/system/hubd.service
grep -q "^ExecStart=$P/sbin/hubd " "$unit" || fail "hubd.service does not run $P/sbin/hubd: $(grep ExecStart= "$unit")"
if command -v systemd-analyze > /dev/null && command -v man > /dev/null; then
    # With MANPATH on the prefix, verify also finds the Documentation= man pages.
    MANPATH=$P/share/man systemd-analyze verify "$unit" > "$T/verify.log" 2>&1 ||
        fail "systemd-analyze verify of the installed unit: $(cat "$T/verify.log")"
fi

# --- the man pages render, and man finds them under the prefix
if command -v man > /dev/null; then
    for page in hubd.8 hubd.conf.5 hubctl.1; do
        name=${page%.*}
        section=${page##*.}
        MANPATH=$P/share/man man -w "$section" "$name" > /dev/null 2>&1 || fail "man does not find $name($section)"
        text=$(MANPATH=$P/share/man MANWIDTH=80 man "$section" "$name" 2> "$T/man.err") ||
            fail "man $section $name: $(cat "$T/man.err")"
        [ ! -s "$T/man.err" ] || fail "man $section $name warns: $(cat "$T/man.err")"
        assert_contains "$text" "SYNOPSIS" "man $section $name"
        assert_contains "$text" "SEE ALSO" "man $section $name"
    done
fi

# --- installed hubd and hubctl against each other
start_hub "$T/data"
assert_exit 0 "installed hubctl publish" "$HUBCTL" publish updates "Installed and running" --title "install"
assert_eq 1 "$OUT" "seq of the first publish"
assert_exit 0 "installed hubctl history" "$HUBCTL" --json history updates
assert_eq "Installed and running" "$(json_lines_field body <<< "$OUT")" "history after publish"

# --- a partner's program, built against the installed header and hubclient.pc
cat > "$T/partner.c" <<'C'
#include <hub_client.h>
#include <stdio.h>
#include <string.h>

int
main (int argc, char **argv)
{
    if (argc != 5) {
        fprintf (stderr, "usage: partner ENDPOINT HUB_PUB KEY_FILE TEXT\n");
        return 1;
    }
    hub_identity_t id;
    uint8_t hub_pk[HUB_PUBKEY_BYTES];
    char why[256] = "";
    if (hub_identity_load (argv[3], &id, why, sizeof why) != HUB_OK ||
        hub_key_resolve (argv[2], hub_pk) != HUB_OK) {
        fprintf (stderr, "partner: keys: %s\n", why);
        return 1;
    }
    hub_client_t *client = hub_client_new (argv[1], &id, hub_pk, 5000);
    if (!client)
        return 1;
    uint64_t seq = 0;
    hub_err_t err = hub_client_publish (client, "updates", "message", "from C", argv[4],
                                        strlen (argv[4]), NULL, &seq, NULL);
    if (err != HUB_OK)
        fprintf (stderr, "partner: %s: %s\n", hub_strerror (err), hub_client_last_reason (client));
    else
        printf ("%llu\n", (unsigned long long)seq);
    hub_client_destroy (&client);
    return err == HUB_OK ? 0 : 2;
}
C
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror -o "$T/partner" "$T/partner.c" $(pkg-config --cflags --libs hubclient) \
    2> "$T/cc.log" || fail "building against the installed hubclient: $(cat "$T/cc.log")"
assert_exit 0 "partner program publishes" "$T/partner" "$HUB_ENDPOINT" "$DATA/hub.pub" "$DATA/admin.key" "Hello from C"
assert_eq 2 "$OUT" "seq of the partner program's message"
assert_exit 0 "history shows the partner program's message" "$HUBCTL" --json history updates --since 1
assert_eq "from C|Hello from C|true" "$(msg_lines <<< "$OUT" | cut -d'|' -f6,5,7)" "history"
assert_exit 0 "installed hubctl verify" "$HUBCTL" verify

stop_hub || fail "installed hubd did not stop cleanly (status $?)"
echo "ok: installed in $((SECONDS - started)) s"
