#!/usr/bin/env bash
# What the NATS path costs: the same stack — `llorch orchestrator` and one `llorch pool-manager`
# with a stories260K worker, on 127.0.0.1 — with everything in the orchestrator (the pool
# registering over HTTP with --orchestrator) and with everything on a real nats-server -js
# (--state on both: the pool registry, the task queue, the task records and every event, which
# the client reads back through the event log). Prints, for each: how long from starting the pool
# manager until the orchestrator lists its ready worker, and serving_bench's time to first token,
# inter-token time and per-request token rate (1 client, REQUESTS requests).
#   bench/nats_registry.sh [REQUESTS]
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-20}
llorch=build/bin/llorch
model="$(realpath ../shared/models/gguf/stories260K.gguf)"
tmp="$(mktemp -d)"
pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap 'stop_all; rm -rf "$tmp"' EXIT
printf 'heartbeat_interval_ms = 1000\n[[workers]]\nmodel = "%s"\n' "$model" >"$tmp/pool.toml"
export LLORCH_POOL_TOKEN=bench-pool-token-0123456789 LLORCH_NATS_TOKEN=bench-nats-token-0123456789
export LLORCH_ORCHESTRATOR_TOKEN=bench-orchestrator-token-0123 LLORCH_LOG_FORMAT=json

# shellcheck source=bench/nats_stack.sh
. bench/nats_stack.sh
ready_ms() {  # ready_ms URL START_NS: ms from START_NS until URL lists a ready worker
  until curl -s "$1/v1/pools" | grep -q '"state":"ready"'; do sleep 0.01; done
  echo $((($(date +%s%N) - $2) / 1000000))
}

run() {  # run NAME ORCHESTRATOR_ARGS POOL_ARGS
  "$llorch" orchestrator --port 0 $2 >"$tmp/orchestrator.log" 2>&1 &
  pids+=($!)
  local url="http://$(bound "$tmp/orchestrator.log")"
  local start
  start=$(date +%s%N)
  # shellcheck disable=SC2086
  "$llorch" pool-manager --port 0 --config "$tmp/pool.toml" ${3//URL/$url} >"$tmp/pool.log" 2>&1 &
  pids+=($!)
  local ready
  ready=$(ready_ms "$url" "$start")
  local line
  line=$(build/bin/serving_bench --url "$url" --model stories260K --clients 1 \
    --requests "$requests" --tokens 64 | tail -1)
  echo "| $1 | $ready ${line}"
  stop_all
}

start_nats "$tmp"

echo "| state | pool start → worker listed (ms) | clients | requests | aggregate tok/s | TTFT median / p99 ms | inter-token median / p99 ms | per-request tok/s median |"
echo "|---|---|---|---|---|---|---|---|"
for round in 1 2; do
  run "embedded (round $round)" "" "--orchestrator URL"
  run "NATS (round $round)" "--state $nats" "--state $nats"
done
kill "$nats_pid"
