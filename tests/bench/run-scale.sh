#!/bin/bash
# Runs the growth and memory measurements of tests/bench/README.md ("Growth and memory") and
# writes one JSON line per run to OUT_DIR (default ./bench-scale), then a summary. Usage:
#   tests/bench/run-scale.sh [BUILD_DIR] [OUT_DIR]
# Environment: FILL (default 10000000) messages in the big log, which is kept in BIG_DIR
# (default OUT_DIR/big-data) and reused when it already holds a database; ROUNDS (3) rounds
# of "empty hub, then big log" publish runs; MEM_MESSAGES (1000000) for the idle/stalled
# memory run; LIVE_MESSAGES (5000) for the run with 999 live subscribers.
# Filling 10,000,000 messages through hubd takes 10 to 30 minutes and ~9 GB of disk.
set -euo pipefail
. "$(dirname "$0")/run-lib.sh"
bench_setup run-scale "${1:-build}" "${2:-bench-scale}"
fill=${FILL:-10000000}
big=${BIG_DIR:-$out/big-data}
rounds=${ROUNDS:-3}

[ -e "$big/hub.db" ] || run fill --data-dir "$big" --fill "$fill" --subscribers 0 --messages 4
workload=(--publishers 4 --subscribers 1 --size 256 --messages 60000 --restarts 3)
for r in $(seq "$rounds"); do # interleaved, so that the machine's load hits both alike
    run "growth-empty-$r" "${workload[@]}"
    run "growth-big-$r" --data-dir "$big" "${workload[@]}"
done
run startup-big-cold --data-dir "$big" --subscribers 0 --messages 4 --restarts 3 --cold
run memory-idle --publishers 4 --subscribers 1 --idle-subscribers 998 --stalled 1 \
    --messages "${MEM_MESSAGES:-1000000}"
run memory-live --publishers 4 --subscribers 999 --stalled 1 --messages "${LIVE_MESSAGES:-5000}"

python3 - "$out" <<'PY'
import glob, json, os, sys
out = sys.argv[1]
for path in sorted(glob.glob(os.path.join(out, "*.json"))):
    name = os.path.basename(path)[:-5]
    try:
        d = json.load(open(path))
    except Exception as e:
        print(f"{name}: no result ({e})"); continue
    s = d.get("startup_ms") or {}
    starts = [s.get("pong_ms")] + [x["pong_ms"] for x in s.get("restarts", [])]
    rss = d.get("hubd_rss") or {}
    print(f"{name}: publish {d['publish_msgs_per_s']}/s, deliveries {d['deliveries_per_s']}/s, "
          f"log {d['hub_status']['messages'] if d.get('hub_status') else '?'} messages, "
          f"start-up to PONG {starts} ms, hubd RSS max {rss.get('max_kb')} kB "
          f"(VmHWM {d['hubd_peak_rss_kb']} kB), ok {d['ok']}")
PY
