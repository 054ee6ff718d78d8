#!/usr/bin/env bash
# Runs the worker integration tests with a fresh record of everything they receive, then validates
# that record against contracts/openapi.yaml. Usage: check-received.sh INTEGRATION_TEST_BINARY
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
record="$(mktemp --suffix=.jsonl)"
trap 'rm -f "$record"' EXIT
LLORCH_EVENTS_LOG="$record" "$1" --gtest_brief=1
node "$here/validate-received.mjs" "$record"
