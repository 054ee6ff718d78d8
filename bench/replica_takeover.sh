#!/usr/bin/env bash
# How long a takeover takes: two `llorch orchestrator --state` replicas and a pool manager with
# one stories260K worker, on a real nats-server -js on 127.0.0.1. Each round starts a long task,
# `kill -9`s the replica relaying it and times, from the kill, until a reader following the task
# through the other replica gets its ORCHESTRATOR_LOST event; the killed replica is started again
# for the next round. Prints each round and the median, for the given entry lifetime.
#   bench/replica_takeover.sh [ROUNDS] [REGISTRY_TTL_MS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
ttl=${2:-2000}
llorch=build/bin/llorch
model="$(realpath ../shared/models/gguf/stories260K.gguf)"
tmp="$(mktemp -d)"
declare -A pid
trap 'for p in "${pid[@]}"; do kill -9 "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$tmp"' EXIT
printf 'heartbeat_interval_ms = 200\n[[workers]]\nmodel = "%s"\nctx = 8192\n' "$model" >"$tmp/pool.toml"
export LLORCH_NATS_TOKEN=bench-nats-token-0123456789 LLORCH_LOG_FORMAT=json

# shellcheck source=bench/nats_stack.sh
. bench/nats_stack.sh
now_ms() { echo $(($(date +%s%N) / 1000000)); }

start_nats "$tmp"
pid[nats]=$nats_pid
state=(--state "$nats" --registry-ttl-ms "$ttl")
declare -A url
start_replica() {  # start_replica NAME
  "$llorch" orchestrator --port 0 --replica-id "$1" "${state[@]}" >"$tmp/$1.log" 2>&1 &
  pid[$1]=$!
  url[$1]="http://$(bound "$tmp/$1.log")"
}
start_replica replica-a
start_replica replica-b
"$llorch" pool-manager --port 0 --config "$tmp/pool.toml" "${state[@]}" >"$tmp/pool.log" 2>&1 &
pid[pool]=$!
until curl -s "${url[replica-a]}/v1/pools" | grep -q '"state":"ready"'; do sleep 0.05; done

times=()
echo "| round | replica killed | kill → ORCHESTRATOR_LOST at the reader (ms) |"
echo "|---|---|---|"
for round in $(seq "$rounds"); do
  id=$(curl -s -X POST "${url[replica-a]}/v2/tasks" -H 'content-type: application/json' \
    -d '{"prompt":"Once","max_tokens":8000,"ignore_eos":true,"on_disconnect":"continue"}' |
    grep -o '"job_id":"[^"]*"' | cut -d'"' -f4)
  holder=""
  deadline=$(($(now_ms) + 30000))
  until [ -n "$holder" ]; do
    if [ "$(now_ms)" -gt "$deadline" ]; then
      echo "task $id never ran: $(curl -s "${url[replica-b]}/v2/tasks/$id")" >&2
      tail -5 "$tmp"/replica-*.log >&2
      exit 1
    fi
    holder=$(curl -s "${url[replica-b]}/v2/tasks/$id" |
      grep -o '"state":"running".*"worker_id":"[^"]*".*"replica":"[^"]*"' |
      grep -o '"replica":"[^"]*"' | cut -d'"' -f4 || true)
  done
  other=replica-a
  [ "$holder" = replica-a ] && other=replica-b
  killed=$(now_ms)
  kill -9 "${pid[$holder]}"
  # grep stops reading at the event; curl's broken pipe is expected.
  { curl -sN --max-time 60 "${url[$other]}/v2/tasks/$id/events" || true; } |
    grep -q -m1 ORCHESTRATOR_LOST
  took=$(($(now_ms) - killed))
  times+=("$took")
  echo "| $round | $holder | $took |"
  wait "${pid[$holder]}" 2>/dev/null || true  # reaped quietly
  start_replica "$holder"
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "median over $rounds rounds with --registry-ttl-ms $ttl: $median ms"
