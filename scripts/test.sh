#!/usr/bin/env bash
# Every test on a fresh machine: install dependencies, then build and run the whole suite twice —
# a release build and an AddressSanitizer + UndefinedBehaviorSanitizer build — and then the
# libFuzzer targets for a short run each (clang). Exits non-zero when anything fails. Set
# LLORCH_TEST_PRESETS to run a subset (e.g. "release").
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh || exit 1
if [ ! -f ../shared/models/gguf/stories260K.gguf ]; then
  echo "test.sh: $(cd .. && pwd)/shared/models is missing: the tests read the shared models there; check the project out beside shared/"
  exit 1
fi

presets=(${LLORCH_TEST_PRESETS:-release asan fuzz})
jobs="${LLORCH_TEST_JOBS:-$(nproc)}"
status=0
summary=()
passed_total=0
failed_total=0
for preset in "${presets[@]}"; do
  echo "=== ${preset}: build"
  if ! scripts/build.sh "$preset"; then
    summary+=("${preset}: BUILD FAILED")
    status=1
    continue
  fi
  echo "=== ${preset}: test"
  log=$(mktemp)
  ctest --preset "$preset" -j "$jobs" --timeout 600 --output-on-failure 2>&1 | tee "$log"
  result=${PIPESTATUS[0]}
  line=$(grep -E 'tests passed|tests failed' "$log" | tail -n 1)
  summary+=("${preset}: ${line}")
  if [[ "$line" =~ ([0-9]+)\ tests\ failed\ out\ of\ ([0-9]+) ]]; then
    failed_total=$((failed_total + BASH_REMATCH[1]))
    passed_total=$((passed_total + BASH_REMATCH[2] - BASH_REMATCH[1]))
  else
    status=1  # no summary: ctest did not run
  fi
  rm -f "$log"
  [ "$result" -eq 0 ] || status=1
done

echo "=== summary"
printf '%s\n' "${summary[@]}"
echo "total: ${passed_total} passed, ${failed_total} failed"
exit "$status"
