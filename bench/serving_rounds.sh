#!/usr/bin/env bash
# The serving figures of bench/README.md: `llorch serve` on one model, then `serving_bench` with
# each client count in turn (one warm-up request first), ROUNDS times over, the server stopped at
# the end (also on failure).
#
#   bench/serving_rounds.sh MODEL.gguf [CLIENTS...]     (default clients: 1 4 8)
set -euo pipefail
cd "$(dirname "$0")/.."
model=$1
shift
clients=("${@:-1 4 8}")
[[ $# -eq 0 ]] && clients=(1 4 8)
rounds=${ROUNDS:-2}
port=${PORT:-18090}
name=$(basename "$model" .gguf)
build/bin/llorch serve --model "$model" --port "$port" --ctx 512 --slots 16 --threads 2 \
  >/tmp/llorch-serving-rounds.log 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  sleep 0.2
done
build/bin/serving_bench --url "http://127.0.0.1:$port" --model "$name" --clients 1 --requests 1 \
  --tokens 8 >/dev/null
for round in $(seq "$rounds"); do
  for n in "${clients[@]}"; do
    echo "round $round, $n client(s):"
    build/bin/serving_bench --url "http://127.0.0.1:$port" --model "$name" --clients "$n" \
      --requests 2 --tokens 64 | tail -1
  done
done
