# Sourced by the shell tests: a scratch folder ($work), fail(), and
# start_rappeld, which starts the built rappeld on a free loopback port
# ($port) with its store in $work/db (and any extra flags given to it) and
# stops it (SIGTERM, by pid) on exit.
# Needs $build (the build folder) set before sourcing.
work=$(mktemp -d)
rappeld_pid=""
cleanup() {
  if [[ -n $rappeld_pid ]]; then kill -TERM "$rappeld_pid" 2>/dev/null || true; wait "$rappeld_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

start_rappeld() {
  # Made before rappeld's own redirection opens it: the loop below may read
  # it first (under set -e a missing file ended the test at once).
  : > "$work/rappeld.out"
  "$build/server/rappeld" --port 0 --data-dir "$work/db" "$@" > "$work/rappeld.out" 2>&1 &
  rappeld_pid=$!
  port=""
  for _ in $(seq 1 100); do
    port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\),.*/\1/p' "$work/rappeld.out")
    [[ -n $port ]] && break
    sleep 0.1
  done
  [[ -n $port ]] || fail "rappeld did not start: $(cat "$work/rappeld.out")"
}
