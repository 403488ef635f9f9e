#!/usr/bin/env bash
# packaging/systemd: `systemd-analyze verify` finds nothing to say about
# rappeld.service (ExecStart= pointed at the built rappeld, which verify
# requires to exist), its hardening keeps the exposure `systemd-analyze
# security` rates at 2.0 or less, the flags its ExecStartPre= and ExecStart=
# give rappeld work, and systemd-sysusers makes the user it runs as.
# Exits 77 (skipped) only when systemd-analyze cannot run here at all.
#   systemd_unit_test.sh PACKAGING_DIR RAPPELD EXAMPLE_CONFIG
set -uo pipefail
packaging=$1 rappeld=$2 example=$3
work=$(mktemp -d)
pid=""
cleanup() {
  [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
failed=0
fail() { echo "FAIL: $*" >&2; failed=1; }

if ! systemd-analyze --version > /dev/null 2>&1; then
  echo "SKIP: systemd-analyze cannot run here (tools/install-deps installs systemd)"
  exit 77
fi

unit=$work/rappeld.service
sed "s|@RAPPELD@|$rappeld|g" "$packaging/systemd/rappeld.service.in" > "$unit"
grep -q '@[A-Z_]*@' "$unit" && fail "unsubstituted: $(grep '@[A-Z_]*@' "$unit")"

# verify exits 0 on an unknown key or a bad value and only prints it: any
# line naming the unit is a failure.
verify() { systemd-analyze verify "$1" 2>&1; }
out=$(verify "$unit"); rc=$?
[[ $rc -eq 0 ]] || fail "systemd-analyze verify exited $rc: $out"
if grep -q 'rappeld\.service' <<< "$out"; then fail "systemd-analyze verify: $out"; fi
# The check above sees a misspelled key (else it proves nothing).
mkdir -p "$work/typo"
sed 's/^ProtectSystem=/ProtectSystm=/' "$unit" > "$work/typo/rappeld.service"
grep -q "Unknown key 'ProtectSystm'" <<< "$(verify "$work/typo/rappeld.service")" ||
  fail "verify did not report a misspelled key"

# Exposure, as `systemd-analyze security` rates it (0 best, 10 worst).
out=$(systemd-analyze security --offline=yes --threshold=20 "$unit" 2>&1); rc=$?
[[ $rc -eq 0 ]] || fail "exposure above 2.0: $(grep -o 'Overall exposure level.*' <<< "$out")"

# The unit's own command lines, with the example configuration and a scratch
# store in place of /etc/rappel and /var/lib/rappel.
command_of() {
  grep "^$1=" "$unit" | head -1 | cut -d= -f2- |
    sed -e "s|/etc/rappel/rappeld.toml|$example|g" -e "s|/var/lib/rappel/|$work/state/|g"
}
read -ra pre <<< "$(command_of ExecStartPre)"
out=$("${pre[@]}" 2>&1); rc=$?
[[ $rc -eq 0 && $out == *"is valid"*"store $work/state/store"* ]] ||
  fail "ExecStartPre (${pre[*]}) exited $rc: $out"
read -ra start <<< "$(command_of ExecStart)"
"${start[@]}" --port 0 > "$work/rappeld.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  grep -q 'listening on' "$work/rappeld.log" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
grep -q "listening on .*store $work/state/store" "$work/rappeld.log" ||
  fail "ExecStart (${start[*]}) did not start: $(cat "$work/rappeld.log")"
kill -TERM "$pid" 2>/dev/null
wait "$pid"; rc=$?
pid=""
[[ $rc -eq 0 ]] || fail "rappeld exited $rc on SIGTERM: $(cat "$work/rappeld.log")"

# The user: what User= and StateDirectory= name, made by systemd-sysusers.
mkdir -p "$work/root/etc"
out=$(systemd-sysusers --root="$work/root" "$packaging/systemd/rappel.sysusers" 2>&1) ||
  fail "systemd-sysusers: $out"
user=$(grep '^User=' "$unit" | cut -d= -f2)
state=$(grep '^StateDirectory=' "$unit" | cut -d= -f2)
grep -q "^$user:x:[0-9]*:[0-9]*:.*:/var/lib/$state:/usr/sbin/nologin$" "$work/root/etc/passwd" ||
  fail "sysusers did not make $user with home /var/lib/$state: $(cat "$work/root/etc/passwd" 2>&1)"

[[ $failed -eq 0 ]] && echo "systemd_unit_test: rappeld.service verifies, runs as $user, exposure <= 2.0"
exit $failed
