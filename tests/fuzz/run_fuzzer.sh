#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time from seed inputs: run_fuzzer.sh BINARY SECONDS SEED…
# A seed "FILE:N" takes the first N bytes of FILE (model headers, without megabytes of weights); a
# folder is a corpus kept in the repository (every file in it is replayed first); a FILE.dict is
# libFuzzer's dictionary for the target.
set -euo pipefail
binary="$1"
seconds="$2"
shift 2
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
i=0
options=()
for seed in "$@"; do
  file="${seed%%:*}"
  if [[ -d "$seed" ]]; then
    cp "$seed"/* "$corpus"/
  elif [[ "$seed" == *.dict ]]; then
    options+=("-dict=$seed")
  elif [[ "$seed" == *:* ]]; then
    head -c "${seed##*:}" "$file" >"$corpus/seed$i"
  else
    cp "$file" "$corpus/seed$i"
  fi
  i=$((i + 1))
done
"$binary" "${options[@]}" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 \
  -print_final_stats=1 "$corpus"
