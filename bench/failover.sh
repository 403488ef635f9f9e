#!/usr/bin/env bash
# Failover time of a replicated shard: three rappeld and etcd on this
# machine (tests/replication/failover_test.cc, the kill test), the leader
# SIGKILLed under a producing load ROUNDS times; prints the time from each
# kill to the first write acknowledged by the new leader, then the median
# and the maximum. Lease TTL 2 s.
#
#   bench/failover.sh [--build DIR] [ROUNDS]     (default 20)
set -euo pipefail

build=build
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) break ;;
  esac
done
rounds=${1:-20}
report=$(mktemp /tmp/rappel-failover.XXXXXX)
trap 'rm -f "$report"' EXIT
RAPPEL_FAILOVER_ROUNDS=$rounds RAPPEL_FAILOVER_REPORT=$report \
  "$build/tests/failover_test" --gtest_filter='*KilledLeader*' > /dev/null
sort -n "$report" | awk '{ v[NR] = $1 } END {
  if (NR == 0) { print "no round"; exit 1 }
  printf "failover over %d rounds (ms, kill to first acknowledged write): median %d, max %d, min %d\n",
         NR, v[int((NR + 1) / 2)], v[NR], v[1] }'
