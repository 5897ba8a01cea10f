#!/usr/bin/env bash
# `make soak`: the long runs that do not fit in `make test`, each reporting its figures.
#   1. 1,000 kill -9 rounds of a writing process, every acknowledged batch checked after each
#      (tests/crash_test.cc, PROXIMADB_CRASH_ROUNDS): about 2 minutes here;
#   2. 1,008 simulated power losses over 12 scenarios (tests/power_loss_test.cc,
#      PROXIMADB_POWER_LOSSES_EACH);
#   3. $SOAK_MINUTES (60) of mixed load on a real server over REST and gRPC, RSS sampled every
#      10 s, zero errors allowed (tests/soak/mixed_load.py);
#   4. every fuzz target for $SOAK_FUZZ_SECONDS (1800) each (scripts/fuzz.sh);
#   5. cluster mode's checked history (tests/e2e/cluster_test.py, docs/cluster.md#tests) through
#      $SOAK_CLUSTER_FAULTS (40) random faults: kill -9 of nodes and of log leaders, SIGSTOP
#      past a lease; on every shard on every node, then on shards with 2 copies of 3 nodes
#      (forwarded requests; a node also kept down until its shards are placed on the others,
#      then rebalancing moves shards back to it); then both again with the logs trimmed.
# Steps can be picked: scripts/soak.sh crash power mixed fuzz cluster
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="${BUILD_DIR:-$root/build}"
steps=("$@")
if [[ ${#steps[@]} -eq 0 ]]; then steps=(crash power mixed fuzz cluster); fi

for step in "${steps[@]}"; do
  echo "== soak: $step ($(date -u +%H:%M:%S))"
  case "$step" in
    crash)
      PROXIMADB_CRASH_ROUNDS="${SOAK_CRASH_ROUNDS:-1000}" "$build/bin/crash_test" \
        --gtest_filter=CrashTest.AcknowledgedWritesSurviveSigkill ;;
    power)
      PROXIMADB_POWER_LOSSES_EACH="${SOAK_POWER_LOSSES_EACH:-84}" "$build/bin/power_loss_test" \
        --gtest_filter='Scenarios/PowerLossTest.*' ;;
    mixed)
      "$root/clients/python/run-tests.sh" --version >/dev/null  # the client's virtualenv
      "$build/python-venv/bin/python" "$root/tests/soak/mixed_load.py" \
        --server "$build/bin/proximadb-server" --minutes "${SOAK_MINUTES:-60}" ;;
    fuzz)
      FUZZ_SECONDS="${SOAK_FUZZ_SECONDS:-1800}" "$root/scripts/fuzz.sh" ;;
    cluster)
      PROXIMADB_HISTORY_FAULTS="${SOAK_CLUSTER_FAULTS:-40}" python3 \
        "$root/tests/e2e/cluster_test.py" --server "$build/bin/proximadb-server" \
        ClusterTest.test_a_history_across_a_kill9_has_no_lost_write_or_stale_read \
        PlacementTest.test_a_history_across_a_kill9_has_no_lost_write_or_stale_read
      # The same with the logs trimmed, and flushes every 50 KB of WAL so that trims happen.
      PROXIMADB_HISTORY_TRIM=1 PROXIMADB_FLUSH__MAX_WAL_SIZE_MB=0.05 \
        PROXIMADB_HISTORY_FAULTS="${SOAK_CLUSTER_FAULTS:-40}" python3 \
        "$root/tests/e2e/cluster_test.py" --server "$build/bin/proximadb-server" \
        ClusterTest.test_a_history_across_a_kill9_has_no_lost_write_or_stale_read \
        PlacementTest.test_a_history_across_a_kill9_has_no_lost_write_or_stale_read ;;
    *) echo "unknown step $step (crash, power, mixed, fuzz, cluster)" >&2; exit 2 ;;
  esac
done
echo "== soak: all passed ($(date -u +%H:%M:%S))"
