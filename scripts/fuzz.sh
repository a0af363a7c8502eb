#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS]: builds the libFuzzer fuzzers (tests/fuzz/) with
# clang, ASan and UBSan in ./build-fuzz (or $FUZZ_BUILD_DIR) and runs each for
# SECONDS (default 20) on its committed seed corpus, tests/fuzz/corpus/NAME/.
# New inputs go to a working copy in the build directory, never into the
# repository. Fails on the first crash, leak, timeout or out-of-memory, and
# says how to reproduce it. FUZZERS="dns_wire policy" runs only those.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
case "$seconds" in ''|*[!0-9]*) echo "fuzz: SECONDS must be a whole number, not '$seconds'" >&2; exit 2;; esac
build=${FUZZ_BUILD_DIR:-build-fuzz}
jobs=${JOBS:-$(nproc)}

cmake -S . -B "$build" -DAGENTTRACE_FUZZ=ON -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$jobs" --target fuzzers

# Every fuzzer has a seed corpus directory of its name.
fuzzers=${FUZZERS:-$(ls tests/fuzz/corpus)}
status=0
for name in $fuzzers; do
  seeds=tests/fuzz/corpus/$name
  work=$build/corpus/$name
  crashes=$build/crashes
  mkdir -p "$work" "$crashes"
  [ -d "$seeds" ] || { echo "fuzz: no seed corpus $seeds" >&2; status=1; continue; }
  [ -x "$build/tests/fuzz/fuzz_$name" ] || { echo "fuzz: no fuzzer fuzz_$name was built" >&2; status=1; continue; }
  echo "fuzz: $name for ${seconds}s"
  log=$build/fuzz-$name.log
  # -timeout: one input taking over 10 s is a hang; -rss_limit_mb bounds memory.
  if ! "$build/tests/fuzz/fuzz_$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$crashes/$name-" "$work" "$seeds" >"$log" 2>&1; then
    echo "fuzz: $name FAILED; the end of $log:" >&2
    tail -40 "$log" >&2
    echo "fuzz: reproduce with: $build/tests/fuzz/fuzz_$name $crashes/$name-<crash file>" >&2
    status=1
  else
    grep -h 'stat::number_of_executed_units\|stat::new_units_added' "$log" | tr '\n' ' ' | sed 's/^/fuzz:   /'
    echo
  fi
done
exit $status
