# Sourced by tests/integration/lib.sh when HUB_VALGRIND is set: 1 runs hubd under valgrind
# memcheck, "all" hubctl too (~2 s more per hubctl call). HUBD and HUBCTL then name shims in
# $T/vg-bin that exec tests/valgrind/vg-exec.sh, which writes one log per process in
# $T/valgrind (and gives hubctl a longer default timeout, valgrind or not).
# valgrind_check (called by lib.sh's cleanup) fails the test on any error or definite or
# indirect leak in those logs, and copies them to $HUB_VALGRIND_KEEP/TEST/ if that is set.
# HUB_TIMEOUT_SCALE (default 10 here) stretches lib.sh's waits and hubctl's default timeout.
VG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export HUB_VALGRIND_LOGDIR=$T/valgrind
export HUB_TIMEOUT_SCALE=${HUB_TIMEOUT_SCALE:-10}
mkdir -p "$HUB_VALGRIND_LOGDIR" "$T/vg-bin"

# vg_shim REAL: writes a shim running REAL under valgrind and prints its path.
vg_shim() {
    local shim
    shim=$T/vg-bin/$(basename "$1")
    printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$VG_DIR/vg-exec.sh" "$1" > "$shim"
    chmod +x "$shim"
    echo "$shim"
}
HUBD=$(vg_shim "$HUBD")
HUBCTL=$(vg_shim "$HUBCTL")
export HUBD HUBCTL

valgrind_check() {
    if [ -n "${HUB_VALGRIND_KEEP:-}" ]; then
        local keep
        keep=$HUB_VALGRIND_KEEP/$(basename "$0" .sh)
        mkdir -p "$keep"
        cp "$HUB_VALGRIND_LOGDIR"/*.log "$keep/" 2> /dev/null || true
    fi
    bash "$VG_DIR/scan.sh" "$HUB_VALGRIND_LOGDIR"
}
