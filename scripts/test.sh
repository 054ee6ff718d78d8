#!/usr/bin/env bash
# Every test on a fresh machine: install dependencies, then build and run the whole suite twice —
# a release build and an AddressSanitizer + UndefinedBehaviorSanitizer build — and then the
# libFuzzer targets for a short run each (clang). Exits non-zero when anything fails. Set
# LLORCH_TEST_PRESETS to run a subset (e.g. "release").
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh || exit 1

presets=(${LLORCH_TEST_PRESETS:-release asan fuzz})
jobs="${LLORCH_TEST_JOBS:-$(nproc)}"
status=0
summary=()
for preset in "${presets[@]}"; do
  echo "=== ${preset}: build"
  if ! scripts/build.sh "$preset"; then
    summary+=("${preset}: BUILD FAILED")
    status=1
    continue
  fi
  echo "=== ${preset}: test"
  log=$(mktemp)
  ctest --preset "$preset" -j "$jobs" --timeout 600 2>&1 | tee "$log"
  result=${PIPESTATUS[0]}
  summary+=("${preset}: $(grep -E 'tests passed|tests failed' "$log" | tail -n 1)")
  rm -f "$log"
  [ "$result" -eq 0 ] || status=1
done

echo "=== summary"
printf '%s\n' "${summary[@]}"
exit "$status"
