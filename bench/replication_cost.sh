#!/usr/bin/env bash
# What shipping the log to one standby costs: `rappel-load ingest` against a
# fresh rappeld alone (single), a fresh primary (--replication-port) with
# one connected asynchronous standby (--replica-of) (async), and the same
# with --sync-standbys 1 (sync), all on this machine. Each set runs every
# (build, setup) pair once, the order rotating from set to set; RUNS sets.
# BUILD_DIRS is one build directory or several separated by commas (old and
# new binaries interleaved); a build whose rappeld lacks --sync-standbys
# skips sync. Prints one line per run: build, setup, reminders/s, the CPU
# seconds of rappel-load, the primary and the standby over the run.
# Usage: bench/replication_cost.sh BUILD_DIRS [RUNS [COUNT]]   (bench/RESULTS.md)
#   SETUPS="single async sync" (default) picks the setups.
set -euo pipefail
IFS=, read -r -a builds <<< "$1"
runs=${2:-2}
count=${3:-300000}
read -r -a setups <<< "${SETUPS:-single async sync}"
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

run() {  # build setup
  local build=$1 setup=$2 rflags=()
  rm -rf "$work/db" "$work/standby"
  [[ $setup != single ]] && rflags=(--replication-port "$rport")
  [[ $setup == sync ]] && rflags+=(--sync-standbys 1)
  "$build/server/rappeld" --data-dir "$work/db" --port "$port" --token p=producer \
    --token replica-secret=replica "${rflags[@]}" > "$work/primary.out" 2>&1 &
  primary_pid=$!
  for _ in $(seq 1 100); do grep -qs listening "$work/primary.out" && break; sleep 0.1; done
  if [[ $setup != single ]]; then
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
  python3 - "$work/run.json" "$build" "$setup" "$((p1 - p0))" "$((s1 - s0))" "$tck" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
p = [p for p in j["phases"] if p["name"] == "ingest"][-1]
t = int(sys.argv[6])
print(f'{sys.argv[2]:24} {sys.argv[3]:6} {p["per_second"]:10.0f}/s  client_cpu {p["client_cpu_s"]:.2f} s'
      f'  primary_cpu {int(sys.argv[4]) / t:.2f} s  standby_cpu {int(sys.argv[5]) / t:.2f} s', flush=True)
PY
}

pairs=()
for b in "${builds[@]}"; do
  for s in "${setups[@]}"; do
    if [[ $s == sync ]] && ! "$b/server/rappeld" --help 2>&1 | grep -q -- --sync-standbys; then
      continue
    fi
    pairs+=("$b|$s")
  done
done
n=${#pairs[@]}
for i in $(seq 0 $((runs - 1))); do
  for j in $(seq 0 $((n - 1))); do
    pair=${pairs[$(((i + j) % n))]}
    run "${pair%%|*}" "${pair##*|}"
  done
done
