#!/usr/bin/env bash
# rappelctl against a real rappeld on 127.0.0.1 (any free port): every
# subcommand, --json, and the exit codes. Usage: rappelctl_test.sh BUILD_DIR
set -euo pipefail
build=$1
work=$(mktemp -d)
rappeld_pid=""
cleanup() {
  if [[ -n $rappeld_pid ]]; then kill -TERM "$rappeld_pid" 2>/dev/null || true; wait "$rappeld_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$build/server/rappeld" --port 0 --data-dir "$work/db" > "$work/rappeld.out" 2>&1 &
rappeld_pid=$!
for _ in $(seq 1 100); do
  port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\),.*/\1/p' "$work/rappeld.out")
  [[ -n $port ]] && break
  sleep 0.1
done
[[ -n ${port:-} ]] || fail "rappeld did not start: $(cat "$work/rappeld.out")"
ctl() { "$build/tools/rappelctl" --port "$port" "$@"; }

"$build/client/rappel-producer" --port "$port" --count 3 --spacing-ms 3600000 > "$work/producer.out"
key=$(sed -n 's/^producer: scheduled \([^,]*\),.*/\1/p' "$work/producer.out" | head -1)
[[ -n $key ]] || fail "producer scheduled nothing"

ctl ping | grep -qx pong || fail "ping"
ctl --json status > "$work/status.json"
grep -q '"pending": 3' "$work/status.json" || fail "status: $(cat "$work/status.json")"
ctl status | grep -q '^pending  *3$' || fail "status table"
ctl inspect 1 "$key" | grep -q "recipient" || fail "inspect"
ctl --json inspect 1 "$key" | grep -q "\"key\": \"$key\"" || fail "inspect --json"

set +e
ctl inspect 1 no-such-key > /dev/null 2>&1; code=$?
[[ $code -eq 4 ]] || fail "inspect of a missing key exited $code, not 4"
ctl cancel 1 "$key" | grep -qx cancelled || fail "cancel"
ctl cancel 1 "$key" > /dev/null 2>&1; code=$?
[[ $code -eq 4 ]] || fail "second cancel exited $code, not 4"
ctl frobnicate > /dev/null 2>&1; code=$?
[[ $code -eq 2 ]] || fail "bad usage exited $code, not 2"
"$build/tools/rappelctl" --port 1 ping > /dev/null 2>&1; code=$?
[[ $code -eq 3 ]] || fail "unreachable exited $code, not 3"
set -e

ctl --json dead-letters | grep -qx '\[\]' || fail "dead-letters should be empty"
mkdir "$work/backup"
ctl backup "$work/backup" | grep -q "backup written" || fail "backup"
[[ -s $work/backup/data.mdb ]] || fail "backup wrote no data.mdb"
ctl --json status | grep -q '"pending": 2' || fail "pending after cancel"
echo "rappelctl: all checks passed"
