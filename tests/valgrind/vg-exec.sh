#!/bin/bash
# vg-exec.sh REAL_BINARY [ARGS...]: runs REAL_BINARY under valgrind memcheck with its log in
# $HUB_VALGRIND_LOGDIR/NAME.PID.log. tests/valgrind/hook.sh points HUBD and HUBCTL at
# two-line shims that exec this, so the PID a test sees is the process valgrind runs.
# hubctl runs under valgrind only with HUB_VALGRIND=all, and never when the test gives
# --timeout (the test then measures how soon hubctl gives up); otherwise it gets a longer
# default timeout, valgrind or not, as hubd is slower under valgrind.
# A memory error or a definite/indirect leak makes the process exit 99 (and the log says
# why); tests/valgrind/scan.sh reads the logs. Any tests/valgrind/*.supp file is passed as
# a suppression file (there is none today), and HUB_VALGRIND_OPTS adds valgrind options
# (e.g. --track-origins=yes when chasing an uninitialised value).
set -euo pipefail
real=$1
shift
: "${HUB_VALGRIND_LOGDIR:?HUB_VALGRIND_LOGDIR must name the log directory}"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
name=$(basename "$real")
if [ "$name" = hubctl ]; then
    # A test that gives --timeout measures time (how soon hubctl gives up): that call runs
    # as it is. Any other gets hubctl's default wait (5 s, HUB_CLIENT_TIMEOUT_DEFAULT in
    # clients/hub_client.h) scaled, as hubd is slower under valgrind.
    case " $* " in
        *" --timeout "* | *" --timeout="*) exec "$real" "$@" ;;
    esac
    set -- --timeout "$((5 * ${HUB_TIMEOUT_SCALE:-1}))" "$@"
    [ "${HUB_VALGRIND:-}" = all ] || exec "$real" "$@"
fi
supp=()
for f in "$here"/*.supp; do
    [ -e "$f" ] && supp+=("--suppressions=$f")
done
exec valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --num-callers=30 \
    ${HUB_VALGRIND_OPTS:-} "${supp[@]}" --log-file="$HUB_VALGRIND_LOGDIR/$name.%p.log" \
    "$real" "$@"
