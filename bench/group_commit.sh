#!/usr/bin/env bash
# Group commit: records per commit against throughput and acknowledgement
# latency (issue 6 §4). For each offered rate, a fresh rappeld ingests
# durable reminders (fsync before ack) for about 4 s; the engine's own
# counters give the mean records per commit, rappel-load the rate and the
# request latency (batch sent -> durable answer). Writes
# OUT/group_commit.dat and, with gnuplot, OUT/group_commit.png.
#   bench/group_commit.sh [OUT]        (default: bench/group_commit)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/group_commit}
build=${BUILD:-build}
mkdir -p "$out"
work=$(mktemp -d)
pid=""
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "# offered_per_s achieved_per_s records_per_commit p50_ms p99_ms batch" > "$out/group_commit.dat"
for spec in 10000:100 50000:100 100000:100 200000:100 400000:100 600000:100 0:100 0:1000; do
  rate=${spec%%:*}; batch=${spec##*:}
  rm -rf "$work/db"
  "$build/server/rappeld" --data-dir "$work/db" --port "$port" > "$work/log" 2>&1 & pid=$!
  sleep 0.5
  count=$(( rate == 0 ? 1000000 : rate * 4 ))
  "$build/bench/rappel-load" ingest --port "$port" --count "$count" --rate "$rate" --batch "$batch" \
    --quiet --json > "$work/load.json"
  "$build/tools/rappelctl" --port "$port" --json status > "$work/status.json"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  python3 - "$work/load.json" "$work/status.json" "$rate" "$batch" >> "$out/group_commit.dat" <<'PY'
import json, sys
load = json.load(open(sys.argv[1])); status = json.load(open(sys.argv[2]))
p = load["phases"][0]; l = p["latency_us"]
print(f'{sys.argv[3]} {p["per_second"]:.0f} {status["mean_records_per_commit"]:.1f} '
      f'{l["p50"] / 1000:.2f} {l["p99"] / 1000:.2f} {sys.argv[4]}')
PY
done
cat "$out/group_commit.dat"
if command -v gnuplot > /dev/null; then
  gnuplot <<GP
set terminal pngcairo size 900,500 noenhanced
set output "$out/group_commit.png"
set title "rappel group commit: records per commit vs throughput and ack latency (fsync before ack)"
set logscale x
set xlabel "records per commit (mean)"
set ylabel "acknowledged reminders/s"
set y2label "request latency (ms)"
set ytics nomirror
set y2tics
set key left top
plot "$out/group_commit.dat" using 3:2 with linespoints title "throughput", \
     "" using 3:5 axes x1y2 with linespoints title "p99 latency", \
     "" using 3:4 axes x1y2 with linespoints title "p50 latency"
GP
  echo "plot: $out/group_commit.png"
fi
