# What run-figures.sh and run-scale.sh share; they source it.

# bench_setup NAME BUILD_DIR OUT_DIR: sets prog, bench (BUILD_DIR's hub-bench) and out;
# exits 2 if hub-bench is not built; notes the machine in OUT_DIR/machine.txt.
bench_setup() {
    prog=$1 bench="$2/tests/bench/hub-bench" out=$3
    [ -x "$bench" ] || { echo "$prog: no $bench (build the hub-bench target)" >&2; exit 2; }
    mkdir -p "$out"
    { date -u +%FT%TZ; uname -srm; nproc; grep -m1 'model name' /proc/cpuinfo || true; uptime; } \
        > "$out/machine.txt"
}

# run NAME ARGS...: hub-bench ARGS --json > OUT_DIR/NAME.json. A run that fails is said on
# stderr and its figures kept (its problem field says why); the others still run.
run() {
    local name=$1; shift
    echo "$prog: $name: hub-bench $*" >&2
    local rc=0
    "$bench" "$@" --json > "$out/$name.json" || rc=$?
    [ $rc -eq 0 ] || echo "$prog: $name exited $rc (figures kept; see its problem field)" >&2
}
