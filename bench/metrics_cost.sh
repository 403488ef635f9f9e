#!/usr/bin/env bash
# What metrics cost: `rappel-load ingest` and `rappel-load fire` against a
# fresh rappeld (empty store), metrics off (--metrics-port -1) and on
# (--metrics-port MPORT, scraped by curl every second, 15 times Prometheus's
# default rate), interleaved (which goes first alternates from one set to
# the next), RUNS sets, the same binary. Prints one line per run: scenario,
# metrics, reminders/s, rappel-load's CPU seconds and rappeld's (user +
# system from /proc/PID/stat, over the run).
# BASE=PATH adds a third mode, "base": the rappeld at PATH (e.g. one built
# before the histograms) with metrics off, to see what keeping them costs
# (they are kept whether the listener is on or not).
# Usage: [BASE=rappeld] bench/metrics_cost.sh BUILD_DIR [RUNS [COUNT_INGEST [COUNT_FIRE]]]
# (bench/RESULTS.md)
set -euo pipefail
build=$1
runs=${2:-3}
count_ingest=${3:-300000}
count_fire=${4:-200000}
port=${PORT:-7621}
mport=${MPORT:-7622}
work=$(mktemp -d)
rappeld_pid=""
scraper_pid=""
cleanup() {
  if [[ -n $scraper_pid ]]; then kill "$scraper_pid" 2>/dev/null || true; wait "$scraper_pid" 2>/dev/null || true; fi
  if [[ -n $rappeld_pid ]]; then kill -TERM "$rappeld_pid" 2>/dev/null || true; wait "$rappeld_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

tck=$(getconf CLK_TCK)

run() {  # metrics scenario
  local metrics=$1 scenario=$2 count=$count_ingest mp=-1 bin=$build/server/rappeld
  [[ $metrics == base ]] && bin=$BASE
  [[ $scenario == fire ]] && count=$count_fire
  [[ $metrics == on ]] && mp=$mport
  rm -rf "$work/db"
  : > "$work/rappeld.out"
  "$bin" --data-dir "$work/db" --port "$port" --metrics-port "$mp" > "$work/rappeld.out" 2>&1 &
  rappeld_pid=$!
  for _ in $(seq 1 100); do grep -q listening "$work/rappeld.out" && break; sleep 0.1; done
  if [[ $metrics == on ]]; then
    ( while sleep 1; do curl -s -o /dev/null "http://127.0.0.1:$mport/metrics" || true; done ) &
    scraper_pid=$!
  fi
  local before after
  before=$(awk '{print $14 + $15}' "/proc/$rappeld_pid/stat")
  "$build/bench/rappel-load" "$scenario" --count "$count" --port "$port" --quiet --json > "$work/run.json"
  after=$(awk '{print $14 + $15}' "/proc/$rappeld_pid/stat")
  if [[ -n $scraper_pid ]]; then kill "$scraper_pid"; wait "$scraper_pid" 2>/dev/null || true; scraper_pid=""; fi
  kill -TERM "$rappeld_pid"; wait "$rappeld_pid" || true; rappeld_pid=""
  python3 - "$work/run.json" "$scenario" "$metrics" "$(( after - before ))" "$tck" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
p = [p for p in j["phases"] if p["name"] == sys.argv[2]][-1]
print(f'{sys.argv[2]:7} metrics {sys.argv[3]:4} {p["per_second"]:10.0f}/s  client_cpu {p["client_cpu_s"]:.2f} s'
      f'  rappeld_cpu {int(sys.argv[4]) / int(sys.argv[5]):.2f} s', flush=True)
PY
}

for i in $(seq 1 "$runs"); do
  for scenario in ingest fire; do
    order="off on${BASE:+ base}"
    if (( i % 2 == 0 )); then order=$(echo "$order" | tr ' ' '\n' | tac | tr '\n' ' '); fi
    for metrics in $order; do run "$metrics" "$scenario"; done
  done
done
