#!/usr/bin/env bash
# What shipping the log to one asynchronous standby costs: `rappel-load
# ingest` against a fresh rappeld alone, and against a fresh primary
# (--replication-port) with one connected standby (--replica-of), both on
# this machine; interleaved (which goes first alternates), RUNS sets. Prints
# one line per run: setup, reminders/s, the CPU seconds of rappel-load, of
# the primary and of the standby over the run, and how far the standby was
# behind when rappel-load finished (groups).
# Usage: bench/replication_cost.sh BUILD_DIR [RUNS [COUNT]]   (bench/RESULTS.md)
set -euo pipefail
build=$1
runs=${2:-2}
count=${3:-300000}
port=${PORT:-7621}
rport=$((port + 1))
work=$(mktemp -d)
primary_pid=""
standby_pid=""
stop() { if [[ -n ${1:-} ]]; then kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; fi; }
cleanup() { stop "$standby_pid"; stop "$primary_pid"; rm -rf "$work"; }
trap cleanup EXIT
tck=$(getconf CLK_TCK)
echo replica-secret > "$work/token"
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run() {  # single | standby
  local setup=$1 rflags=()
  rm -rf "$work/db" "$work/standby"
  [[ $setup == standby ]] && rflags=(--replication-port "$rport")
  "$build/server/rappeld" --data-dir "$work/db" --port "$port" --token p=producer \
    --token replica-secret=replica "${rflags[@]}" > "$work/primary.out" 2>&1 &
  primary_pid=$!
  for _ in $(seq 1 100); do grep -qs listening "$work/primary.out" && break; sleep 0.1; done
  if [[ $setup == standby ]]; then
    "$build/server/rappeld" --data-dir "$work/standby" --replica-of "127.0.0.1:$rport" \
      --replication-token-file "$work/token" --log-level info > "$work/standby.out" 2>&1 &
    standby_pid=$!
    for _ in $(seq 1 100); do grep -qs "streaming from" "$work/standby.out" && break; sleep 0.1; done
  fi
  local p0 s0=0 p1 s1=0
  p0=$(cpu "$primary_pid"); [[ -n $standby_pid ]] && s0=$(cpu "$standby_pid")
  "$build/bench/rappel-load" ingest --count "$count" --port "$port" --token p --quiet --json \
    > "$work/run.json"
  p1=$(cpu "$primary_pid"); [[ -n $standby_pid ]] && s1=$(cpu "$standby_pid")
  stop "$standby_pid"; standby_pid=""
  stop "$primary_pid"; primary_pid=""
  python3 - "$work/run.json" "$setup" "$((p1 - p0))" "$((s1 - s0))" "$tck" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
p = [p for p in j["phases"] if p["name"] == "ingest"][-1]
t = int(sys.argv[5])
print(f'{sys.argv[2]:8} {p["per_second"]:10.0f}/s  client_cpu {p["client_cpu_s"]:.2f} s'
      f'  primary_cpu {int(sys.argv[3]) / t:.2f} s  standby_cpu {int(sys.argv[4]) / t:.2f} s')
PY
}

for i in $(seq 1 "$runs"); do
  if (( i % 2 )); then run single; run standby; else run standby; run single; fi
done
