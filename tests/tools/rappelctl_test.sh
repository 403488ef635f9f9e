#!/usr/bin/env bash
# rappelctl against a real rappeld on 127.0.0.1 (any free port): every
# subcommand, --json, and the exit codes. Usage: rappelctl_test.sh BUILD_DIR
set -euo pipefail
build=$1
source "$(dirname "$0")/rappeld_fixture.sh"
start_rappeld
ctl() { "$build/tools/rappelctl" --port "$port" "$@"; }

"$build/client/rappel-producer" --port "$port" --count 3 --spacing-ms 3600000 > "$work/producer.out"
key=$(sed -n 's/^producer: scheduled \([^,]*\),.*/\1/p' "$work/producer.out" | head -1)
[[ -n $key ]] || fail "producer scheduled nothing"

ctl ping | grep -qx pong || fail "ping"
ctl --json status > "$work/status.json"
grep -q '"pending": 3' "$work/status.json" || fail "status: $(cat "$work/status.json")"
ctl status | grep -q '^pending  *3$' || fail "status table"
# The operator views: by channel and tenant, due soon, store and garbage,
# commit batch sizes (due in 1 h, 2 h, 3 h: all three within a day).
for field in '"due_next_day": 3' '"tenants": 1' '"live_records": 3' '"garbage_records": 0' \
             '"leased": 0' '"dead_letters": 0' '"records_appended": 3' '"mean_records_per_commit": 3.0' \
             '"max_batches_per_commit": 1' '"tenant": 1' '"live": 3' '"log_bytes":' '"store_map_bytes":'; do
  grep -q "$field" "$work/status.json" || fail "status --json lacks $field: $(cat "$work/status.json")"
done
ctl status > "$work/status.txt"
grep -q '^due next day  *3$' "$work/status.txt" || fail "status table: due next day"
grep -Eq '^1  +3  +0$' "$work/status.txt" || fail "status table: tenant row"
grep -Eq '^sms  +[0-9]+  +0  +0$' "$work/status.txt" || fail "status table: channel row"
grep -Eq '^garbage  +0  +0$' "$work/status.txt" || fail "status table: garbage row"
grep -q '^records/commit    mean 3.0, max 3$' "$work/status.txt" || fail "status table: commit sizes"
ctl status --tenants 0 > /dev/null || fail "status --tenants 0"
grep -q '^waiting for rate  0 (reported late 0, of which expired 0)$' "$work/status.txt" \
  || fail "status table: rate line"
# Rate limits: set per channel and per tenant, shown, cleared.
ctl rate set sms 50/s --burst 100 | grep -qx 'sms, all tenants: 50/s burst 100' || fail "rate set"
ctl rate set sms 5/min --tenant 7 | grep -qx 'sms, tenant 7: 5/min burst 5' || fail "rate set --tenant"
ctl rates > "$work/rates.txt"
grep -Eq '^sms +all +50/s burst 100 +100 +0 +0 +0$' "$work/rates.txt" || fail "rates: $(cat "$work/rates.txt")"
grep -Eq '^sms +7 +5/min burst 5 +5 +0 +0 +0$' "$work/rates.txt" || fail "rates tenant: $(cat "$work/rates.txt")"
ctl --json rates > "$work/rates.json"
grep -q '"period_ms": 60000' "$work/rates.json" || fail "rates --json: $(cat "$work/rates.json")"
grep -q '"truncated": false' "$work/rates.json" || fail "rates --json truncated"
ctl --json status | grep -q '"rate_waiting": 0' || fail "status --json rate_waiting"
ctl rate clear sms --tenant 7 | grep -qx 'sms, tenant 7: no limit' || fail "rate clear --tenant"
ctl rate clear sms > /dev/null || fail "rate clear"
ctl rates | grep -qx '(no rate limits set)' || fail "rates after clear"
ctl inspect 1 "$key" > "$work/inspect.txt"
grep -Eq "^key +$key\$" "$work/inspect.txt" || fail "inspect table: $(cat "$work/inspect.txt")"
grep -Eq '^leased +no$' "$work/inspect.txt" || fail "inspect table: leased"
# Key listing: tenant 1's 3 keys, in order, by pages of 2 with the cursor.
ctl keys 1 > "$work/keys.txt"
[[ $(head -1 "$work/keys.txt") == KEY && $(wc -l < "$work/keys.txt") -eq 4 ]] || fail "keys: $(cat "$work/keys.txt")"
grep -qxF -- "$key" "$work/keys.txt" || fail "keys lacks $key"
sort -c <(tail -n +2 "$work/keys.txt") || fail "keys not in order"
ctl keys 1 --limit 2 > "$work/page1.txt"
cursor=$(sed -n "s/^more: --cursor '\(.*\)'\$/\1/p" "$work/page1.txt")
[[ $cursor == "$(sed -n 3p "$work/keys.txt")" ]] || fail "keys page 1: $(cat "$work/page1.txt")"
ctl keys 1 --limit 2 --cursor "$cursor" > "$work/page2.txt"
[[ $(tail -n 1 "$work/page2.txt") == "$(tail -n 1 "$work/keys.txt")" ]] || fail "keys page 2: $(cat "$work/page2.txt")"
grep -q '^more:' "$work/page2.txt" && fail "keys: a third page announced"
ctl --json keys 1 --prefix "$key" | grep -q "\"$key\"" || fail "keys --json --prefix"
[[ $(ctl keys 2 | wc -l) -eq 1 ]] || fail "keys of a tenant with none"
# --watch: status twice, the second under a time line; rates --json as JSON Lines.
ctl status --watch 0.2 --count 2 > "$work/watch.txt" || fail "status --watch"
[[ $(grep -c '^pending ' "$work/watch.txt") -eq 2 ]] || fail "status --watch: $(cat "$work/watch.txt")"
grep -Eq '^-- [0-9-]+ [0-9:]+ UTC --$' "$work/watch.txt" || fail "status --watch: no time line"
ctl --json rates --watch 0.1 --count 2 > "$work/watch.json" || fail "rates --watch"
[[ $(grep -c '^{"rows":' "$work/watch.json") -eq 2 && $(wc -l < "$work/watch.json") -eq 2 ]] \
  || fail "rates --json --watch: $(cat "$work/watch.json")"
ctl --json inspect 1 "$key" | grep -q "\"key\": \"$key\"" || fail "inspect --json"

set +e
ctl inspect 1 no-such-key > /dev/null 2>&1; code=$?
[[ $code -eq 4 ]] || fail "inspect of a missing key exited $code, not 4"
ctl cancel 1 "$key" | grep -qx cancelled || fail "cancel"
ctl cancel 1 "$key" > /dev/null 2>&1; code=$?
[[ $code -eq 4 ]] || fail "second cancel exited $code, not 4"
ctl frobnicate > /dev/null 2> "$work/err"; code=$?
[[ $code -eq 2 ]] || fail "bad usage exited $code, not 2"
grep -q 'unknown command "frobnicate" (commands: status, keys, inspect' "$work/err" || fail "unknown command: $(cat "$work/err")"
# Under --json an error is one JSON object on stderr, stdout empty, the exit code kept.
ctl --json frobnicate > "$work/out" 2> "$work/err"; code=$?
[[ $code -eq 2 && ! -s $work/out ]] || fail "--json unknown command exited $code"
grep -q '^{"error":{"code":"INVALID_ARGUMENT","message":"unknown command' "$work/err" || fail "--json usage: $(cat "$work/err")"
ctl --json inspect 1 no-such-key > "$work/out" 2> "$work/err"; code=$?
[[ $code -eq 4 && ! -s $work/out ]] || fail "--json not found exited $code"
[[ $(wc -l < "$work/err") -eq 1 ]] && grep -q '^{"error":{"code":"NOT_FOUND","message":"' "$work/err" \
  || fail "--json not found: $(cat "$work/err")"
ctl --json status --tenants x > /dev/null 2> "$work/err"; code=$?
[[ $code -eq 2 ]] && grep -q '"code":"INVALID_ARGUMENT"' "$work/err" || fail "--json parse error: $code $(cat "$work/err")"
ctl compact extra > /dev/null 2>&1; code=$?
[[ $code -eq 2 ]] || fail "compact with an argument exited $code, not 2"
"$build/tools/rappelctl" --port 1 ping > /dev/null 2>&1; code=$?
[[ $code -eq 3 ]] || fail "unreachable exited $code, not 3"
"$build/tools/rappelctl" --port 1 compact > /dev/null 2>&1; code=$?
[[ $code -eq 3 ]] || fail "compact unreachable exited $code, not 3"
# Appointment subcommands check their input before connecting: against an
# unreachable port, bad input exits 2 and good input gets as far as 3.
off() { "$build/tools/rappelctl" --port 1 "$@" > /dev/null 2>&1; echo $?; }
echo '{"name": "Dr Martin", "tz": "Europe/Paris"}' > "$work/calendar.json"
echo '["not", "an", "object"]' > "$work/array.json"
[[ $(off calendar put 1 dr-martin --file "$work/calendar.json") -eq 3 ]] || fail "calendar put: good file"
[[ $(off calendar put 1 dr-martin --file "$work/array.json") -eq 2 ]] || fail "calendar put: a JSON array accepted"
[[ $(off calendar put 1 dr-martin --file "$work/missing.json") -eq 2 ]] || fail "calendar put: missing file accepted"
[[ $(echo '{"subject": "s", "body": "b"}' | off template put 1 reminder/sms/fr --file -) -eq 3 ]] || fail "template put from stdin"
[[ $(echo 'not json' | off patient put 1 p1 --file -) -eq 2 ]] || fail "patient put: bad stdin accepted"
[[ $(off template get 1 reminder/sms) -eq 2 ]] || fail "template: a two-part name accepted"
[[ $(off tenant get 1) -eq 3 ]] || fail "tenant get"
[[ $(off rate set sms 5/s --burst 10) -eq 3 ]] || fail "rate set: good input"
[[ $(off rate set sms fast) -eq 2 ]] || fail "rate set: a bad rate accepted"
[[ $(off rate set sms 0/s) -eq 2 ]] || fail "rate set: 0/s accepted"
[[ $(off rate set sms 5/2day) -eq 2 ]] || fail "rate set: a period over a day accepted"
[[ $(off rate set fax 5/s) -eq 2 ]] || fail "rate set: an unknown channel accepted"
[[ $(off tenant get 1 extra) -eq 2 ]] || fail "tenant get: an object id accepted"
[[ $(off absence 1 dr-martin --from 2026-03-02T08:00:00+01:00 --to 2026-03-02T12:00Z) -eq 3 ]] || fail "absence: ISO times"
[[ $(off absence 1 dr-martin --from 1772434800000 --to 1772449200000) -eq 3 ]] || fail "absence: unix ms"
[[ $(off absence 1 dr-martin --from 2026-03-02T08:00:00 --to 2026-03-02T12:00Z) -eq 2 ]] || fail "absence: a time without offset accepted"
[[ $(off absence 1 dr-martin --from 1772449200000 --to 1772434800000) -eq 2 ]] || fail "absence: --to before --from accepted"
[[ $(off delay 1 dr-martin --minutes 15) -eq 3 ]] || fail "delay"
[[ $(off delay 1 dr-martin --minutes 0) -eq 2 ]] || fail "delay: 0 minutes accepted"
[[ $(off appointment 1 appt-1) -eq 3 ]] || fail "appointment"
[[ $(off redeem some-token) -eq 3 ]] || fail "redeem"
[[ $(off credits show 1) -eq 3 ]] || fail "credits show"
[[ $(off credits add 1 500) -eq 3 ]] || fail "credits add"
[[ $(off credits add 1 0) -eq 2 ]] || fail "credits add: 0 accepted"
[[ $(off credits add 1 -5) -eq 2 ]] || fail "credits add: a negative amount accepted"
[[ $(off credits 1) -eq 2 ]] || fail "credits without show/add accepted"
[[ $(off patient-reply 1 p1 stop) -eq 3 ]] || fail "patient-reply stop"
[[ $(off patient-reply 1 p1 maybe) -eq 2 ]] || fail "patient-reply: an unknown reply accepted"
ctl replay 1 no-such-key > /dev/null 2>&1; code=$?
[[ $code -eq 4 ]] || fail "replay of a missing dead letter exited $code, not 4"
mkdir -p "$work/not-empty"; : > "$work/not-empty/data.mdb"
ctl backup "$work/not-empty" > /dev/null 2>&1; code=$?
[[ $code -eq 1 ]] || fail "backup into a store exited $code, not 1"
set -e

ctl --json dead-letters | grep -qx '\[\]' || fail "dead-letters should be empty"
mkdir "$work/backup"
ctl backup "$work/backup" | grep -q "backup written" || fail "backup"
[[ -s $work/backup/data.mdb ]] || fail "backup wrote no data.mdb"
ctl --json status | grep -q '"pending": 2' || fail "pending after cancel"
# The cancel left garbage (the cancelled version and its tombstone).
ctl --json status | grep -q '"garbage_records": 2' || fail "garbage after cancel"
ctl compact > "$work/compact.txt" || fail "compact"
grep -Eq '^before  +4  +[0-9]+$' "$work/compact.txt" || fail "compact table before: $(cat "$work/compact.txt")"
grep -Eq '^after  +2  +[0-9]+$' "$work/compact.txt" || fail "compact table after: $(cat "$work/compact.txt")"
ctl --json compact > "$work/compact.json" || fail "compact --json"
grep -q '"log_records_before": 2' "$work/compact.json" || fail "compact --json: $(cat "$work/compact.json")"
grep -q '"log_records_after": 2' "$work/compact.json" || fail "compact --json after"
ctl --json status | grep -q '"garbage_records": 0' || fail "garbage after compact"
ctl --json status | grep -q '"pending": 2' || fail "pending after compact"
# Appointments against the live server: configuration objects put and read
# back, refusals with their exit codes, and an unknown appointment.
cat > "$work/tenant.json" <<'JSON'
{"name": "Cabinet Dupont", "time_zone": "Europe/Paris", "reminder_offsets": ["48h", "24h"],
 "action_url": "https://r.example/a", "rebook_url": "https://book.example"}
JSON
ctl --json tenant put 1 --file "$work/tenant.json" > "$work/tenant.out" || fail "tenant put: $(cat "$work/tenant.out")"
grep -q '"name": "Cabinet Dupont"' "$work/tenant.out" || fail "tenant put echo: $(cat "$work/tenant.out")"
grep -q '"time_zone": "Europe/Paris"' "$work/tenant.out" || fail "tenant put echo: time zone"
grep -q '"48h' "$work/tenant.out" || fail "tenant put echo: offsets: $(cat "$work/tenant.out")"
grep -q '"secret"' "$work/tenant.out" && fail "tenant put echoed its token secret"
ctl --json tenant get 1 | grep -q '"name": "Cabinet Dupont"' || fail "tenant get"
ctl tenant get 1 > "$work/tenant.txt"
grep -Eq '^FIELD +VALUE$' "$work/tenant.txt" && grep -Eq '^name +Cabinet Dupont$' "$work/tenant.txt" \
  && grep -Eq '^reminder_offsets +48h, 24h$' "$work/tenant.txt" || fail "tenant get table: $(cat "$work/tenant.txt")"
echo '{"name": "Dr Martin"}' | ctl --json calendar put 1 dr-martin --file - | grep -q '"name": "Dr Martin"' || fail "calendar put"
echo '{"name": "Consultation", "mode": "on_site"}' | ctl --json type put 1 consult --file - | grep -q '"Consultation"' || fail "type put"
echo '{"first_name": "Jeanne", "last_name": "Roux", "mobile": "+33612345678"}' \
  | ctl --json patient put 1 p1 --file - | grep -q '"Jeanne"' || fail "patient put"
ctl --json calendar get 1 dr-martin | grep -q '"Dr Martin"' || fail "calendar get"
ctl --json absence 1 dr-martin --from 2026-03-02T08:00:00+01:00 --to 2026-03-02T12:00Z \
  | grep -q '"cancelled":0' || fail "absence over an empty calendar"
set +e
# Refused by rappelctl before sending (2), by rappeld (1), or unknown (4).
ctl tenant put 1 --file "$work/array.json" > /dev/null 2>&1; code=$?
[[ $code -eq 2 ]] || fail "tenant put of a JSON array exited $code, not 2"
echo '{"time_zone": "Mars/Olympus"}' | ctl --json tenant put 2 --file - > /dev/null 2> "$work/err"; code=$?
[[ $code -eq 1 ]] || fail "tenant put with a bad time zone exited $code, not 1"
grep -q INVALID_ARGUMENT "$work/err" || fail "bad time zone: $(cat "$work/err")"
echo '{"time_zone": "Europe/Paris", "remindr": ["2h"]}' | ctl --json tenant put 1 --file - > /dev/null 2>&1; code=$?
[[ $code -eq 1 ]] || fail "tenant put with an unknown field exited $code, not 1"
ctl --json tenant get 1 | grep -q '"name": "Cabinet Dupont"' || fail "a refused put changed the tenant"
# Sending hours (quiet hours) and closed dates, set with rappelctl.
echo '{"time_zone": "Europe/Paris", "sending_hours": {"mon": ["08:00-12:00", "14:00-19:00"]},
       "closed_dates": ["2026-12-25"]}' | ctl --json tenant put 3 --file - > "$work/hours.out" \
  || fail "tenant put with sending hours: $(cat "$work/hours.out")"
grep -q '"14:00-19:00"' "$work/hours.out" || fail "sending hours echo: $(cat "$work/hours.out")"
grep -q '"2026-12-25"' "$work/hours.out" || fail "closed dates echo: $(cat "$work/hours.out")"
echo '{"sending_hours": {"mon": ["12:00-08:00"]}}' | ctl --json tenant put 3 --file - > /dev/null 2> "$work/err"; code=$?
[[ $code -eq 1 ]] || fail "tenant put with a backwards range exited $code, not 1"
grep -q sending_hours "$work/err" || fail "backwards range: $(cat "$work/err")"
echo '{"name": "x"}' | ctl --json calendar put 9 c --file - > /dev/null 2>&1; code=$?
[[ $code -eq 4 ]] || fail "calendar put for an unknown tenant exited $code, not 4"
ctl --json calendar get 1 nobody > /dev/null 2>&1; code=$?
[[ $code -eq 4 ]] || fail "get of an unknown calendar exited $code, not 4"
# A dry run of a hypothetical appointment a week ahead: what it would send.
start=$(( $(date +%s) * 1000 + 7 * 86400000 ))
ctl dry-run 1 --calendar dr-martin --type consult --patient p1 --start "$start" > "$work/dry.out" \
  || fail "dry-run: $(cat "$work/dry.out")"
# A table: the confirmation by SMS (the patient has no e-mail address: the
# fallback), the reminder's e-mail left out by the tenant's kind channels.
grep -Eq 'confirmation +sms' "$work/dry.out" || fail "dry-run lists no SMS confirmation: $(cat "$work/dry.out")"
grep -q 'no e-mail address: sent by sms instead' "$work/dry.out" || fail "dry-run gives no reason for e-mail: $(cat "$work/dry.out")"
grep -Eq 'reminder +email +left out by the kind channels of the tenant' "$work/dry.out" \
  || fail "dry-run does not say which rule left the reminder's e-mail out: $(cat "$work/dry.out")"
grep -q '^credits: 0 (not metered)' "$work/dry.out" || fail "dry-run gives no total: $(cat "$work/dry.out")"
ctl --json dry-run 1 --calendar dr-martin --type consult --patient p1 --start "$start" > "$work/dry.json" \
  || fail "dry-run --json: $(cat "$work/dry.json")"
grep -q '"credits_total": 0' "$work/dry.json" || fail "dry-run --json has no total: $(cat "$work/dry.json")"
ctl dry-run 1 --calendar nobody --type consult --patient p1 --start "$start" > /dev/null 2>&1; code=$?
[[ $code -eq 4 ]] || fail "dry-run on an unknown calendar exited $code, not 4"
ctl dry-run 1 --calendar dr-martin --type consult --patient p1 --start tomorrow > /dev/null 2>&1; code=$?
[[ $code -eq 2 ]] || fail "dry-run with a bad time exited $code, not 2"
ctl appointment 1 nope > /dev/null 2>&1; code=$?
[[ $code -eq 4 ]] || fail "appointment of an unknown id exited $code, not 4"
ctl absence 1 nobody --from 1772434800000 --to 1772449200000 > /dev/null 2>&1; code=$?
[[ $code -eq 4 ]] || fail "absence on an unknown calendar exited $code, not 4"
ctl redeem not-a-token > /dev/null 2>&1; code=$?
[[ $code -eq 1 ]] || fail "redeem of garbage exited $code, not 1"
ctl --json credits show 77 > /dev/null 2>&1; code=$?
[[ $code -eq 4 ]] || fail "credits of an unknown tenant exited $code, not 4"
ctl patient-reply 1 nobody stop > /dev/null 2>&1; code=$?
[[ $code -eq 4 ]] || fail "patient-reply of an unknown patient exited $code, not 4"
set -e
# Credits: a metered tenant, credits added, the ledger shown; STOP and START.
echo '{"time_zone": "Europe/Paris", "metered": true, "credit_alert_below": 10}' \
  | ctl --json tenant put 4 --file - > /dev/null || fail "metered tenant put"
ctl --json credits add 4 250 > "$work/credits.out" || fail "credits add: $(cat "$work/credits.out")"
grep -q '"balance": 250' "$work/credits.out" || fail "credits add: $(cat "$work/credits.out")"
ctl --json credits show 4 | grep -q '"forecast"' || fail "credits show has no forecast"
ctl --json credits add 4 50 | grep -q '"added": 300' || fail "credits add does not add up"
ctl patient-reply 1 p1 stop | grep -q "stop applied" || fail "patient-reply stop"
ctl patient-reply 1 p1 start | grep -q "start applied" || fail "patient-reply start"
ctl ping | grep -qx pong || fail "ping after the refusals"
# (--help to a file: grep -q leaving early would end rappelctl by SIGPIPE.)
ctl --help > "$work/help.txt"
grep -q compact "$work/help.txt" || fail "--help does not list compact"
# Every positional of every subcommand says what it is: a line under
# Positionals: with a description after the name, type and REQUIRED.
for sub in keys inspect cancel replay backup "rate set" "rate clear" "tenant get" "calendar put" \
           appointment dry-run absence delay redeem "credits show" "credits add" patient-reply \
           "messages summary" "messages list" "messages outcome"; do
  # (CLI11 puts a description after two spaces or more, or on the next,
  # deeper indented line.)
  ctl $sub --help | awk '/^[A-Z]/ { if (undescribed) bad = 1; undescribed = 0; p = /^Positionals:/; next }
    p && /^  [a-z]/ { if (undescribed) bad = 1; sub(/ +$/, ""); undescribed = split($0, parts, /  +/) < 3; next }
    p && /^      +[^ ]/ { undescribed = 0 }
    END { exit bad || undescribed }' || fail "$sub --help: a positional without a description"
done
grep -q 'RAPPEL_TOKEN' "$work/help.txt" || fail "--help does not name RAPPEL_TOKEN"
grep -q 'shows in `ps`' "$work/help.txt" || fail "--help does not warn about --token"

# The environment: RAPPEL_PORT, the flag over it.
RAPPEL_PORT=$port "$build/tools/rappelctl" ping | grep -qx pong || fail "RAPPEL_PORT"
RAPPEL_HOST=127.0.0.1 RAPPEL_PORT=1 "$build/tools/rappelctl" --port "$port" ping | grep -qx pong \
  || fail "--port does not win over RAPPEL_PORT"
# Tokens: rappeld again, on the same store, with an admin token and one
# for tenant 2 only.
kill -TERM "$rappeld_pid"; wait "$rappeld_pid" || true
start_rappeld --token adm1n=admin --token t2=admin:2
export RAPPEL_PORT=$port
ctl0() { "$build/tools/rappelctl" "$@"; }
set +e
ctl0 ping > /dev/null 2> "$work/err"; code=$?
[[ $code -eq 1 ]] && grep -q 'unknown token' "$work/err" || fail "no token: exit $code $(cat "$work/err")"
RAPPEL_TOKEN=adm1n ctl0 ping | grep -qx pong || fail "RAPPEL_TOKEN"
printf 'adm1n\n' > "$work/token"
ctl0 --token-file "$work/token" ping | grep -qx pong || fail "--token-file"
RAPPEL_TOKEN_FILE=$work/token ctl0 ping | grep -qx pong || fail "RAPPEL_TOKEN_FILE"
RAPPEL_TOKEN=wrong ctl0 --token-file "$work/token" ping | grep -qx pong || fail "--token-file over RAPPEL_TOKEN"
RAPPEL_TOKEN=adm1n ctl0 --token wrong ping > /dev/null 2>&1; code=$?
[[ $code -eq 1 ]] || fail "--token does not win over RAPPEL_TOKEN: $code"
ctl0 --token-file "$work/missing" ping > /dev/null 2>&1; code=$?
[[ $code -eq 2 ]] || fail "a missing token file exited $code, not 2"
# A token for tenant 2 lists tenant 2's keys, not tenant 1's.
RAPPEL_TOKEN=t2 ctl0 keys 2 > /dev/null || fail "keys with a tenant-2 token"
RAPPEL_TOKEN=t2 ctl0 --json keys 1 > /dev/null 2> "$work/err"; code=$?
[[ $code -eq 1 ]] && grep -q '"code":"PERMISSION_DENIED"' "$work/err" || fail "keys 1 with a tenant-2 token: $code $(cat "$work/err")"
[[ $(RAPPEL_TOKEN=adm1n ctl0 keys 1 | wc -l) -eq 3 ]] || fail "keys after the restart"
set -e
for sub in tenant calendar type patient template appointment absence delay redeem credits patient-reply; do
  grep -q "^  $sub " "$work/help.txt" || fail "--help does not list $sub"
done
echo "rappelctl: all checks passed"
