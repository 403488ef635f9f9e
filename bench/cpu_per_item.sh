#!/usr/bin/env bash
# CPU time per item of rappeld (all its threads, and its io thread) and of
# the load client, for one rappel-load workload against a fresh rappeld.
#
#   bench/cpu_per_item.sh [--build DIR] [--port P] ingest|fire [COUNT]
#
# ingest: over the whole run. fire: from the idle wait before the fire time
# to the last ack (the ingest before it is left out). The io thread is the
# thread that used the most CPU over that span. Prints one line.
set -euo pipefail

build=build
port=7431
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) break ;;
  esac
done
workload=${1:?usage: cpu_per_item.sh [--build DIR] [--port P] ingest|fire [COUNT]}
count=${2:-1000000}
case "$workload" in ingest|fire) ;; *) echo "unknown workload $workload" >&2; exit 2 ;; esac

dir=$(mktemp -d /tmp/rappel-cpu.XXXXXX)
"$build/server/rappeld" --data-dir "$dir/db" --port "$port" > "$dir/log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
  "$build/tools/rappelctl" --port "$port" ping > /dev/null 2>&1 && break
  sleep 0.05
done

ticks() { awk '{print $14 + $15}' "$1"; }
# "tid ticks" for every thread of rappeld
threads() { for t in /proc/"$pid"/task/*; do echo "$(basename "$t") $(ticks "$t/stat")"; done; }

"$build/bench/rappel-load" "$workload" --port "$port" --count "$count" --quiet --json \
  > "$dir/out.json" &
load=$!
if [[ $workload == fire ]]; then
  # The ingest takes well under the fire lead (2 s + count / 150 000 s).
  sleep "$(awk -v n="$count" 'BEGIN {print 1.5 + n / 150000 * 0.85}')"
fi
proc0=$(ticks /proc/"$pid"/stat)
threads > "$dir/threads0"
wait "$load"
proc1=$(ticks /proc/"$pid"/stat)
threads > "$dir/threads1"
# The io thread: the largest delta.
io_ticks=$(awk 'NR == FNR {t0[$1] = $2; next} {d = $2 - t0[$1]; if (d > m) m = d} END {print m + 0}' \
  "$dir/threads0" "$dir/threads1")
hz=$(getconf CLK_TCK)

python3 - "$dir/out.json" "$workload" "$count" "$proc0" "$proc1" 0 "$io_ticks" "$hz" <<'PY'
import json, sys
out, workload, count, p0, p1, i0, i1, hz = sys.argv[1:]
count, hz = int(count), int(hz)
j = json.load(open(out))
phase = [p for p in j["phases"] if p["name"] == workload][0]
us = lambda ticks: ticks / hz * 1e6 / count
client = phase.get("client_cpu_s")
print(f"{workload} {int(phase['per_second'])}/s rappeld_us_per_item {us(int(p1) - int(p0)):.3f} "
      f"io_thread_us_per_item {us(int(i1) - int(i0)):.3f} "
      f"client_us_per_item {client * 1e6 / count if client is not None else float('nan'):.3f}")
PY
