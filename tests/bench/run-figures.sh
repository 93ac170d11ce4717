#!/bin/bash
# Runs the figure set of tests/bench/README.md and writes one JSON line per run to OUT_DIR
# (default ./bench-figures), then prints a short summary. Usage:
#   tests/bench/run-figures.sh [BUILD_DIR] [OUT_DIR]
# BUILD_DIR defaults to ./build; set CATCHUP=200000 for a shorter catch-up run.
set -euo pipefail
. "$(dirname "$0")/run-lib.sh"
bench_setup run-figures "${1:-build}" "${2:-bench-figures}"
catchup=${CATCHUP:-1000000}

run p4-s1     --publishers 4 --subscribers 1 --size 256 --messages 100000 --against mosquitto --raw-fanout 1
run p4-s100   --publishers 4 --subscribers 100 --size 256 --messages 20000 --raw-fanout 100
run p4-s100-paced --publishers 4 --subscribers 100 --size 256 --messages 20000 --rate 400
run catchup   --publishers 4 --size 256 --catchup "$catchup"

python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
for name in ("p4-s1", "p4-s100", "p4-s100-paced", "catchup"):
    path = os.path.join(out, name + ".json")
    try:
        d = json.load(open(path))
    except Exception as e:
        print(f"{name}: no result ({e})"); continue
    line = (f"{name}: publish {d['publish_msgs_per_s']}/s, deliveries {d['deliveries_per_s']}/s, "
            f"p50/p99/max {d['p50_us']}/{d['p99_us']}/{d['max_us']} us, "
            f"delivered {d['delivered_min']}..{d['delivered_max']} of {d['messages']}, "
            f"hubd RSS {d['hubd_peak_rss_kb']} kB, verify(2 thr) {d['verify_2thread_per_s']}/s, ok {d['ok']}")
    if 'catchup' in d:
        c = d['catchup']; line += f"; replay {c['replay_msgs_per_s']}/s = {c['replay_vs_publish']} x publish"
    if 'raw_fanout' in d:
        line += f"; raw fan-out {d['raw_fanout']['deliveries_per_s']}/s"
    if 'mosquitto' in d:
        m = d['mosquitto']; line += f"; mosquitto publish {m['publish_msgs_per_s']}/s deliveries {m['deliveries_per_s']}/s delivered_min {m['delivered_min']}"
    print(line)
PY
