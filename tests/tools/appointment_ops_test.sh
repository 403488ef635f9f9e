#!/usr/bin/env bash
# Operating one appointment without writing code, against a real rappeld on
# 127.0.0.1: rappelctl appointment book (flags and JSON), move, cancel (each
# kind), status set and cleared, send-now, their tables and --json, bad
# input exiting 2; rappel-worker --outcome, each outcome seen at the
# server; rappel-platform --start-in over its range.
# Usage: appointment_ops_test.sh BUILD_DIR
set -euo pipefail
build=$1
source "$(dirname "$0")/rappeld_fixture.sh"
start_rappeld
ctl() { "$build/tools/rappelctl" --port "$port" "$@"; }
# A field of a JSON document on stdin: jf '["outcome"]'.
jf() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
start=$(python3 -c "import time; print(int(time.time()*1000) + 5*86400000)")  # in 5 days

echo '{"time_zone": "Europe/Paris", "reminder_offsets": ["48h", "24h"], "min_lead": "0s",
       "notify_practitioner": true}' | ctl tenant put 1 --file - > /dev/null
echo '{"name": "Dr Martin", "email": "m@example.org"}' | ctl calendar put 1 cal --file - > /dev/null
echo '{"name": "Consultation", "mode": "on_site"}' | ctl type put 1 consult --file - > /dev/null
echo '{"first_name": "Jeanne", "mobile": "+33612345678"}' | ctl patient put 1 p1 --file - > /dev/null

# Book from flags: created, the table lists the confirmation (sms) and the
# e-mail left out for want of an address.
ctl appointment book --tenant 1 --id A1 --calendar cal --type consult --patient p1 \
  --start "$start" --duration 30m > "$work/book.txt" || fail "book: $(cat "$work/book.txt")"
grep -q '^book 1/A1: created, revision 1, ' "$work/book.txt" || fail "book line: $(cat "$work/book.txt")"
grep -Eq '^planned +confirmation +sms ' "$work/book.txt" || fail "book table: $(cat "$work/book.txt")"
grep -Eq '^omitted +confirmation +email +- +no e-mail address: sent by sms instead$' "$work/book.txt" || fail "book omitted"
grep -Eq '^planned +reminder +sms ' "$work/book.txt" || fail "book: reminders"
[[ $(ctl --json appointment 1 A1 | jf '["appointment"]["end_ms"] - '"$start") == 1800000 ]] || fail "book: --duration"

# Book from JSON (an AppointmentUpsert of two items, on stdin), --json out.
printf '{"items": [{"tenant": 1, "id": "A2", "calendar": "cal", "type": "consult", "patient": "p1",
  "start_ms": %s, "end_ms": %s, "version": 3, "notes": "fasting"},
  {"tenant": 1, "id": "A3", "calendar": "cal", "type": "consult", "patient": "p1",
  "start_ms": %s, "booked_online": true}]}' "$start" "$((start + 1200000))" "$start" \
  | ctl --json appointment book --from-json - > "$work/book.json" || fail "book --from-json"
python3 - "$work/book.json" <<'EOF' || fail "book --from-json output: $(cat "$work/book.json")"
import json, sys
text = open(sys.argv[1]).read()
docs = []
dec = json.JSONDecoder()
i = 0
while i < len(text):
    if text[i].isspace(): i += 1; continue
    d, i = dec.raw_decode(text, i); docs.append(d)
assert [d["id"] for d in docs] == ["A2", "A3"], docs
assert all(d["outcome"] == "created" for d in docs)
kinds = {(m["what"], m["kind"], m["channel"]) for m in docs[0]["messages"]}
assert ("planned", "confirmation", "sms") in kinds and ("planned", "practitioner", "email") in kinds, kinds
EOF
[[ $(ctl --json appointment 1 A2 | jf '["appointment"]["notes"]') == fasting ]] || fail "book --from-json: notes"

# Move: the change notice; the version goes up by itself.
ctl appointment move --tenant 1 --id A1 --start "$((start + 86400000))" > "$work/move.txt" \
  || fail "move: $(cat "$work/move.txt")"
grep -q '^move 1/A1: modified, revision 2' "$work/move.txt" || fail "move line: $(cat "$work/move.txt")"
grep -Eq '^planned +change +sms ' "$work/move.txt" || fail "move table: $(cat "$work/move.txt")"
grep -Eq '^planned +reminder +sms ' "$work/move.txt" || fail "move: reminders re-timed"
ctl --json appointment 1 A1 > "$work/a1.json"
[[ $(jf '["appointment"]["version"]' < "$work/a1.json") == 2 ]] || fail "move: version"
[[ $(jf '["appointment"]["end_ms"] - '"$((start + 86400000))" < "$work/a1.json") == 1800000 ]] \
  || fail "move: the duration kept"

# Status set and cleared.
ctl --json appointment status --tenant 1 --id A1 --set waiting_room > "$work/status.json"
[[ $(jf '["status"]' < "$work/status.json") == waiting_room ]] || fail "status --set: $(cat "$work/status.json")"
ctl appointment status --tenant 1 --id A1 --clear | grep -q '^status cleared 1/A1: modified' \
  || fail "status --clear"
[[ $(ctl --json appointment 1 A1 | jf '["appointment"]["status"]') == none ]] || fail "status not cleared"

# Send a kind now: planned now on sms, the e-mail left out by the default grid; --json.
ctl --json appointment send-now --tenant 1 --id A1 --kind reminder > "$work/send.json" \
  || fail "send-now: $(cat "$work/send.json")"
python3 - "$work/send.json" <<'EOF' || fail "send-now --json: $(cat "$work/send.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["outcome"] == "updated" and d["revision"] == 4, d
m = [(x["what"], x["kind"], x["channel"], x["reason"]) for x in d["messages"]]
assert ("planned", "reminder", "sms", "sent now on request") in m, m
assert ("omitted", "reminder", "email", "left out by the kind channels of the tenant") in m, m
assert all(x["occurrence"] >= 2**31 for x in d["messages"]), d
EOF
ctl appointment send-now --tenant 1 --id A1 --kind practitioner | grep -Eq '^planned +practitioner +email ' \
  || fail "send-now practitioner"

# Cancel, each kind; a cancellation notice each time.
for by in practitioner patient reschedule; do
  id=A1; [[ $by == patient ]] && id=A2; [[ $by == reschedule ]] && id=A3
  ctl appointment cancel --tenant 1 --id $id --by $by > "$work/cancel.txt" || fail "cancel --by $by"
  kind=cancellation; [[ $by == patient ]] && kind=patient_cancel_ack
  grep -Eq "^planned +$kind +sms " "$work/cancel.txt" || fail "cancel --by $by: $(cat "$work/cancel.txt")"
done
[[ $(ctl --json appointment 1 A1 | jf '["appointment"]["lifecycle"]') == cancelled_by_practitioner ]] || fail "lifecycle 1"
[[ $(ctl --json appointment 1 A2 | jf '["appointment"]["lifecycle"]') == cancelled_by_patient ]] || fail "lifecycle 2"
[[ $(ctl --json appointment 1 A3 | jf '["appointment"]["lifecycle"]') == to_reschedule ]] || fail "lifecycle 3"

# Refusals: the server's with exit 1 and the reason; bad input 2, before
# connecting; an unknown appointment 4.
set +e
ctl appointment send-now --tenant 1 --id A1 --kind reminder > /dev/null 2> "$work/err"; code=$?
[[ $code -eq 1 ]] || fail "send-now on a cancelled appointment exited $code"
grep -q 'cannot send reminder now: appointment is cancelled' "$work/err" || fail "send-now refusal: $(cat "$work/err")"
ctl appointment cancel --tenant 1 --id A1 --by patient > /dev/null 2>&1; code=$?
[[ $code -eq 1 ]] || fail "a second cancel exited $code"
ctl appointment cancel --tenant 1 --id nope --by patient > /dev/null 2>&1; code=$?
[[ $code -eq 4 ]] || fail "cancel of an unknown appointment exited $code"
bad() {  # bad input: exit 2 and a message, even with rappeld unreachable
  "$build/tools/rappelctl" --port 1 "$@" > /dev/null 2> "$work/err"; local c=$?
  [[ $c -eq 2 && -s $work/err ]] || fail "$* exited $c: $(cat "$work/err")"
}
bad appointment book --tenant 1 --id X --calendar cal --type consult --patient p1 --start tomorrow
bad appointment book --tenant 1 --id X --calendar cal --type consult --patient p1 --start "$start" --duration 30x
bad appointment book --tenant 1 --id X --calendar cal --type consult --start "$start"
bad appointment book --tenant 1 --id X --calendar cal --type consult --patient p1 --start "$start" --channels sms,fax
echo '{"tenant": 1, "id": "X", "calendar": "c", "type": "t", "patient": "p", "start": 1}' > "$work/typo.json"
bad appointment book --from-json "$work/typo.json"
grep -q 'appointment.start: unknown field' "$work/err" || fail "unknown field message: $(cat "$work/err")"
bad appointment book --from-json "$work/missing.json"
bad appointment cancel --tenant 1 --id A1 --by nobody
bad appointment status --tenant 1 --id A1
bad appointment status --tenant 1 --id A1 --set seen --clear
bad appointment send-now --tenant 1 --id A1 --kind postcard
bad appointment move --tenant 1 --id A1 --start "$start" --end "$((start - 1))"
bad appointment
set -e

# rappel-worker --outcome: each outcome, seen at the server. One raw
# reminder due now per outcome, one worker run per outcome.
worker() { "$build/client/rappel-worker" --port "$port" --outcome "$1" --exit-after 1 --max-seconds 20 > "$work/worker.out" 2>&1 \
  || fail "rappel-worker --outcome $1: $(cat "$work/worker.out")"; }
dead() { ctl --json dead-letters | python3 -c "import json,sys; print(len(json.load(sys.stdin)))"; }
schedule_one() { "$build/client/rappel-producer" --port "$port" --count 1 --spacing-ms 0 > "$work/producer.out"; }
# The appointments' messages first: sms ones are due now (the cancellations).
"$build/client/rappel-worker" --port "$port" --exit-after 100 --max-seconds 3 > /dev/null 2>&1 || true
for outcome in sent delivered opened; do
  schedule_one; worker $outcome
  grep -q "worker: 1 messages acked $outcome" "$work/worker.out" || fail "worker --outcome $outcome: $(cat "$work/worker.out")"
  [[ $(ctl --json status | jf '["leased"] + 0') == 0 ]] || fail "--outcome $outcome: still leased"
done
[[ $(dead) == 0 ]] || fail "a dead letter after sent/delivered/opened"
schedule_one; worker failed
[[ $(dead) == 1 ]] || fail "--outcome failed: no dead letter"
schedule_one; worker retry
[[ $(ctl --json status | jf '["retrying"]') -ge 1 ]] || fail "--outcome retry: nothing retrying: $(ctl --json status)"
"$build/client/rappel-worker" --port "$port" --outcome bogus > /dev/null 2>&1 && fail "--outcome bogus accepted"
"$build/client/rappel-worker" --help | grep -q -- '--outcome' || fail "worker --help lacks --outcome"

# rappel-platform --start-in: its whole range (over 24.8 days: the 32-bit
# product overflowed), beyond it exit 2 with a message.
"$build/client/rappel-platform" --port "$port" --tenant 9 --id far --start-in 31536000 --no-demo > "$work/platform.out" \
  || fail "platform --start-in 365 days: $(cat "$work/platform.out")"
far=$(ctl --json appointment 9 far | jf '["appointment"]["start_ms"]')
now=$(python3 -c "import time; print(int(time.time()*1000))")
python3 -c "import sys; d = ($far - $now) / 1000 - 31536000; sys.exit(0 if -60 < d < 60 else 1)" \
  || fail "platform: start $far is not 365 days from now ($now)"
set +e
"$build/client/rappel-platform" --port "$port" --start-in 31536001 > /dev/null 2> "$work/err"; code=$?
[[ $code -eq 2 ]] || fail "--start-in beyond the range exited $code"
grep -q 'start-in' "$work/err" || fail "--start-in message: $(cat "$work/err")"
"$build/client/rappel-platform" --port "$port" --start-in 99999999999999999999 > /dev/null 2>&1; code=$?
[[ $code -eq 2 ]] || fail "--start-in overflowing exited $code"
set -e
echo "appointment_ops_test: ok"
