#!/usr/bin/env bash
# rappel-load against a real rappeld on 127.0.0.1 (any free port): every
# scenario (appointments too) runs small, reports what it did (--json), and exits 0; nothing is
# lost or delivered twice; an unreachable server exits 3; --histogram and
# --series-csv files add up to the requests made.
# Usage: rappel_load_test.sh BUILD_DIR
set -euo pipefail
build=$1
source "$(dirname "$0")/rappeld_fixture.sh"
start_rappeld
load() { "$build/bench/rappel-load" --port "$port" --quiet --max-seconds 60 "$@"; }

load ingest --count 5000 --batch 100 --json > "$work/ingest.json" || fail "ingest: $(cat "$work/ingest.json")"
grep -q '"name": "ingest"' "$work/ingest.json" || fail "ingest phase missing"
grep -q '"ok": 5000' "$work/ingest.json" || fail "ingest count: $(cat "$work/ingest.json")"
grep -q '"commit":' "$work/ingest.json" || fail "no header"
grep -q '"p999":' "$work/ingest.json" || fail "no percentiles"

load cancel --count 3000 --batch 100 --json > "$work/cancel.json" || fail "cancel: $(cat "$work/cancel.json")"
[[ $(grep -c '"ok": 3000' "$work/cancel.json") -eq 2 ]] || fail "cancel counts: $(cat "$work/cancel.json")"

load fire --count 4000 --batch 200 --lead-ms 1500 --json > "$work/fire.json" || fail "fire: $(cat "$work/fire.json")"
grep -q '"acked": 4000' "$work/fire.json" || fail "fire acks: $(cat "$work/fire.json")"
grep -q '"duplicates": 0' "$work/fire.json" || fail "fire duplicates: $(cat "$work/fire.json")"

load mixed --rate 2000 --duration 2 --batch 50 --cancel-fraction 0.25 --json > "$work/mixed.json" \
  || fail "mixed: $(cat "$work/mixed.json")"
grep -q '"expected": 3000' "$work/mixed.json" || fail "mixed expected 4000 - 1000 cancelled: $(cat "$work/mixed.json")"
grep -q '"acked": 3000' "$work/mixed.json" || fail "mixed acks: $(cat "$work/mixed.json")"

# Appointments: objects set up, a seed, then 2000 mixed events, all acknowledged.
load appointments --count 2000 --tenants 2 --patients 200 --seed 500 --json > "$work/appointments.json" \
  || fail "appointments: $(cat "$work/appointments.json")"
grep -A3 '"name": "appointments"' "$work/appointments.json" > "$work/appointments.phase"
grep -q '"ok": 2000' "$work/appointments.phase" || fail "appointments count: $(cat "$work/appointments.json")"
grep -Eq '"per_second": [1-9]' "$work/appointments.phase" || fail "appointments rate: $(cat "$work/appointments.json")"
grep -Eq '"planned_per_event": [1-9]' "$work/appointments.json" || fail "nothing planned: $(cat "$work/appointments.json")"
grep -q '"errors": {}' "$work/appointments.json" || fail "appointments errors: $(cat "$work/appointments.json")"

# Fairness: two tenants under an SMS limit (set and cleared over the
# protocol); everything delivered once, each tenant's lag reported.
load fairness --count 2000 --b-count 100 --sms-rate 4000 --json > "$work/fairness.json" \
  || fail "fairness: $(cat "$work/fairness.json")"
grep -q '"acked": 2100' "$work/fairness.json" || fail "fairness acks: $(cat "$work/fairness.json")"
grep -q '"duplicates": 0' "$work/fairness.json" || fail "fairness duplicates: $(cat "$work/fairness.json")"
grep -q '"name": "tenant-2"' "$work/fairness.json" || fail "fairness: no tenant-2 row"
grep -q '"tenant_2_fair_share_ms": 50' "$work/fairness.json" || fail "fairness: no summary"
if [[ -x "$build/tools/rappelctl" ]]; then
  "$build/tools/rappelctl" --port "$port" rates | grep -qx '(no rate limits set)' \
    || fail "fairness left a rate limit behind"
fi

# Appointment messages all due at once, with every gate on (credits, rate
# limits, consent, caps, sending hours): each one delivered and acked once.
load appointment-fire --count 1000 --tenants 2 --patients 100 --gates --lead-ms 1500 --json \
  > "$work/afire.json" || fail "appointment-fire: $(cat "$work/afire.json")"
grep -q '"gates": true' "$work/afire.json" || fail "appointment-fire: gates off"
grep -q '"messages_planned": 3000' "$work/afire.json" || fail "appointment-fire planned: $(cat "$work/afire.json")"
grep -q '"acked": 3000' "$work/afire.json" || fail "appointment-fire acks: $(cat "$work/afire.json")"
grep -q '"errors": {}' "$work/afire.json" || fail "appointment-fire errors: $(cat "$work/afire.json")"

# --rate with --histogram and --series-csv: 40 requests of 100; each
# latency's buckets sum to the requests made, the corrected one (from the
# intended send time) too; the series counts every item once.
load ingest --count 4000 --batch 100 --rate 20000 --histogram "$work/hist.csv" \
  --series-csv "$work/series.csv" --json > "$work/rate.json" || fail "ingest --rate: $(cat "$work/rate.json")"
[[ -s "$work/hist.csv" ]] || fail "no histogram file"
grep -qx 'phase,latency,lo_us,hi_us,count' "$work/hist.csv" || fail "histogram header: $(head -3 "$work/hist.csv")"
awk -F, '!/^#/ && NR > 2 && !($3 ~ /^[0-9]+$/ && $4 > $3 && $5 > 0) {bad = 1} END {exit bad}' "$work/hist.csv" \
  || fail "histogram rows do not parse: $(cat "$work/hist.csv")"
for latency in request corrected; do
  total=$(awk -F, -v l="$latency" '$1 == "ingest" && $2 == l {n += $5} END {print n + 0}' "$work/hist.csv")
  [[ $total -eq 40 ]] || fail "histogram $latency total $total, not 40 requests: $(cat "$work/hist.csv")"
done
grep -q '"corrected_latency_us"' "$work/rate.json" || fail "no corrected latency under --rate"
read -r items requests < <(awk -F, '$1 == "ingest" {o += $3; r += $5} END {print o + 0, r + 0}' "$work/series.csv")
[[ $items -eq 4000 && $requests -eq 40 ]] || fail "series: $items items, $requests requests: $(cat "$work/series.csv")"
if command -v gnuplot > /dev/null; then
  python3 "$(dirname "$0")/../../bench/plot_histogram.py" "$work/hist.csv" --out "$work/hist.png" \
    > "$work/plot.txt" || fail "plot_histogram: $(cat "$work/plot.txt")"
  grep -q '^ingest  *request  *count  *40 ' "$work/plot.txt" || fail "plot_histogram counts: $(cat "$work/plot.txt")"
  [[ -s "$work/hist.png" ]] || fail "plot_histogram wrote no PNG"
fi
load ingest --count 1000 --batch 100 --rate 10000 > "$work/rate.txt" || fail "ingest --rate human"
grep -q '^  corrected .*intended send time' "$work/rate.txt" || fail "no corrected row: $(cat "$work/rate.txt")"

# The human report has the header and a row per phase.
load ingest --count 1000 > "$work/human.txt" || fail "human report"
grep -q '^machine: ' "$work/human.txt" || fail "no machine line"
grep -q '^ingest  *1000 ' "$work/human.txt" || fail "no ingest row: $(cat "$work/human.txt")"

set +e
"$build/bench/rappel-load" --port 1 --quiet ingest --count 10 > /dev/null 2>&1; code=$?
[[ $code -eq 3 ]] || fail "unreachable exited $code, not 3"
"$build/bench/rappel-load" nonsense > /dev/null 2>&1; code=$?
[[ $code -ne 0 ]] || fail "an unknown scenario was accepted"
set -e
echo "rappel_load_test: ok"
