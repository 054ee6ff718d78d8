#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time from seed inputs: run_fuzzer.sh BINARY SECONDS SEED…
# A seed "FILE:N" takes the first N bytes of FILE (model headers, without megabytes of weights).
set -euo pipefail
binary="$1"
seconds="$2"
shift 2
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
i=0
for seed in "$@"; do
  file="${seed%%:*}"
  if [[ "$seed" == *:* ]]; then head -c "${seed##*:}" "$file" >"$corpus/seed$i"; else cp "$file" "$corpus/seed$i"; fi
  i=$((i + 1))
done
"$binary" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 "$corpus"
