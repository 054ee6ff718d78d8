#!/usr/bin/env bash
# Runs integration tests with a fresh record of everything they receive, then validates that
# record against contracts/openapi.yaml. Usage: check-received.sh TEST_BINARY…
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
record="$(mktemp --suffix=.jsonl)"
trap 'rm -f "$record"' EXIT
for binary in "$@"; do
  LLORCH_EVENTS_LOG="$record" "$binary" --gtest_brief=1
done
node "$here/validate-received.mjs" "$record"
