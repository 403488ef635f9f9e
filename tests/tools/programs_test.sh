#!/usr/bin/env bash
# Every program given follows the conventions of server/common/program.h:
# --version prints "<name> <x.y.z> (commit <hash>)" and exits 0, --help
# exits 0, an unknown flag exits 2 with a reason and a pointer to --help.
#   programs_test.sh PROGRAM...
set -uo pipefail
failed=0
fail() { echo "FAIL: $*" >&2; failed=1; }
for program in "$@"; do
  name=$(basename "$program")
  out=$("$program" --version 2>&1); rc=$?
  [[ $rc -eq 0 ]] || fail "$name --version exited $rc"
  [[ $out =~ ^$name\ [0-9]+\.[0-9]+\.[0-9]+\ \(commit\ ([0-9a-f]+(-modified)?|unknown)\)$ ]] ||
    fail "$name --version printed: $out"
  "$program" --help >/dev/null 2>&1; rc=$?
  [[ $rc -eq 0 ]] || fail "$name --help exited $rc"
  out=$("$program" --no-such-flag 2>&1); rc=$?
  [[ $rc -eq 2 ]] || fail "$name --no-such-flag exited $rc (want 2)"
  [[ $out == *--help* ]] || fail "$name does not point at --help: $out"
done
[[ $failed -eq 0 ]] && echo "programs_test: $# programs follow the conventions"
exit $failed
