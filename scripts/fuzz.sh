#!/usr/bin/env bash
# `make fuzz`: builds the fuzz targets with clang's libFuzzer, AddressSanitizer and
# UndefinedBehaviorSanitizer in $FUZZ_BUILD_DIR (build-fuzz), then runs each target for
# $FUZZ_SECONDS (60) from its checked-in seeds (fuzz/corpus/<target>) plus what earlier runs
# found (build-fuzz/corpus/<target>). A crash, a leak, a timeout (10 s) or running out of
# memory (2 GiB) stops the run; the input is saved as build-fuzz/crashes/<target>/... and the
# script fails. Copy such an input into fuzz/regressions/<target>/ with the fix (fuzz/README.md).
#
#   scripts/fuzz.sh [target ...]          # all six targets by default
#   FUZZ_SECONDS=600 scripts/fuzz.sh rest_fuzz
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="${FUZZ_BUILD_DIR:-$root/build-fuzz}"
seconds="${FUZZ_SECONDS:-60}"
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  targets=(filter_fuzz rest_fuzz config_fuzz wal_fuzz segment_fuzz manifest_fuzz)
fi

"$root/scripts/install-deps.sh" --fuzz
if [[ ! -f "$build/build.ninja" ]]; then
  CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$build" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROXIMADB_FUZZ=ON -DPROXIMADB_BUILD_TESTS=OFF
fi
cmake --build "$build" -j "${JOBS:-2}" --target "${targets[@]}"

failed=()
for t in "${targets[@]}"; do
  mkdir -p "$build/corpus/$t" "$build/crashes/$t"
  echo "== $t: ${seconds} s"
  # The first corpus directory receives what the run finds; the checked-in seeds stay as they are.
  if ! "$build/bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$build/crashes/$t/" \
      "$build/corpus/$t" "$root/fuzz/corpus/$t" 2>"$build/$t.log"; then
    failed+=("$t")
    tail -40 "$build/$t.log"
  fi
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "$build/$t.log" | sed "s/^/$t /"
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: failures in ${failed[*]} (inputs in $build/crashes/)" >&2
  exit 1
fi
echo "fuzz: no crash in ${targets[*]}"
