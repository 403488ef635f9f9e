#!/usr/bin/env bash
# What TLS costs: `rappel-load ingest` and `rappel-load fire` against a fresh
# rappeld (empty store), plain TCP and TLS interleaved (which goes first
# alternates from one set to the next), RUNS sets. Prints one line per run:
# scenario, transport, reminders/s, rappel-load's CPU seconds and rappeld's
# (user + system from /proc/PID/stat, over the run). The certificate (EC
# P-256, made here with openssl) is verified by the client; no client
# certificate.
# Usage: bench/tls_cost.sh BUILD_DIR [RUNS [COUNT]]   (bench/RESULTS.md)
set -euo pipefail
build=$1
runs=${2:-3}
count=${3:-300000}
port=${PORT:-7611}
work=$(mktemp -d)
rappeld_pid=""
cleanup() {
  if [[ -n $rappeld_pid ]]; then kill -TERM "$rappeld_pid" 2>/dev/null || true; wait "$rappeld_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

(
  cd "$work"
  key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
  key ca
  openssl req -x509 -new -key ca.key -out ca.pem -days 2 -subj /CN=bench-ca 2>/dev/null
  key server
  openssl req -new -key server.key -out server.csr -subj /CN=localhost 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > server.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
    -days 2 -extfile server.ext 2>/dev/null
)
tck=$(getconf CLK_TCK)

run() {  # transport scenario
  local transport=$1 scenario=$2 sflags=() cflags=()
  if [[ $transport == tls ]]; then
    sflags=(--tls-cert-file "$work/server.pem" --tls-key-file "$work/server.key")
    cflags=(--ca "$work/ca.pem")
  fi
  rm -rf "$work/db"
  : > "$work/rappeld.out"
  "$build/server/rappeld" --data-dir "$work/db" --port "$port" "${sflags[@]}" > "$work/rappeld.out" 2>&1 &
  rappeld_pid=$!
  for _ in $(seq 1 100); do grep -q listening "$work/rappeld.out" && break; sleep 0.1; done
  local before after
  before=$(awk '{print $14 + $15}' "/proc/$rappeld_pid/stat")
  "$build/bench/rappel-load" "$scenario" --count "$count" --port "$port" --quiet --json \
    "${cflags[@]}" > "$work/run.json"
  after=$(awk '{print $14 + $15}' "/proc/$rappeld_pid/stat")
  kill -TERM "$rappeld_pid"; wait "$rappeld_pid" || true; rappeld_pid=""
  python3 - "$work/run.json" "$scenario" "$transport" "$(( after - before ))" "$tck" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
p = [p for p in j["phases"] if p["name"] == sys.argv[2]][-1]
print(f'{sys.argv[2]:7} {sys.argv[3]:5} {p["per_second"]:10.0f}/s  client_cpu {p["client_cpu_s"]:.2f} s'
      f'  rappeld_cpu {int(sys.argv[4]) / int(sys.argv[5]):.2f} s')
PY
}

for i in $(seq 1 "$runs"); do
  for scenario in ingest fire; do
    if (( i % 2 )); then order="plain tls"; else order="tls plain"; fi
    for transport in $order; do run "$transport" "$scenario"; done
  done
done
