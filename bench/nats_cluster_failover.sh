#!/usr/bin/env bash
# What losing one NATS server costs: three nats-server -js on 127.0.0.1 routed into one JetStream
# cluster, an orchestrator and a pool manager (one stories260K worker) with --state-replicas 3.
# Each round starts a fresh cluster and stack, runs a task, `kill -9`s the server leading the
# event stream LLORCH_EVENTS (the worst one to lose), then posts a task every 200 ms and times,
# from the kill, the first one admitted (202) and its end read back. Prints each round and the
# medians.
#   bench/nats_cluster_failover.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
llorch=build/bin/llorch
model="$(realpath ../shared/models/gguf/stories260K.gguf)"
tmp="$(mktemp -d)"
pids=()
stop_all() {  # every process of the round (disowned: bash says nothing of their end)
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do while kill -0 "$p" 2>/dev/null; do sleep 0.05; done; done
  pids=()
}
trap 'stop_all; rm -rf "$tmp"' EXIT
printf 'heartbeat_interval_ms = 500\n[[workers]]\nmodel = "%s"\nslots = 2\n' "$model" >"$tmp/pool.toml"
export LLORCH_NATS_TOKEN=bench-nats-token-0123456789 LLORCH_LOG_FORMAT=json

# shellcheck source=bench/nats_stack.sh
. bench/nats_stack.sh
now_ms() { echo $(($(date +%s%N) / 1000000)); }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
post() {  # post URL: the answer's body, a space, its status
  curl -s -m 15 -X POST "$1/v2/tasks" -H 'content-type: application/json' \
    -d '{"prompt":"Once","max_tokens":8}' -w ' %{http_code}' || echo " 000"
}
ended() {  # ended URL ANSWER: whether the task's stream reads to its end event
  local id
  id=$(echo "$2" | grep -o '"job_id":"[^"]*"' | cut -d'"' -f4)
  for _ in $(seq 50); do
    curl -sN -m 15 "$1/v2/tasks/$id/events" | grep -q '^event: end' && return 0
    sleep 0.2
  done
  return 1
}

admitted=()
finished=()
echo "| round | server killed | kill → task admitted (ms) | kill → its end read (ms) |"
echo "|---|---|---|---|"
for round in $(seq "$rounds"); do
  declare -a client=() route=() monitor=() spid=()
  for i in 0 1 2; do
    client[i]=$(free_port)
    route[i]=$(free_port)
    monitor[i]=$(free_port)
  done
  routes="nats://127.0.0.1:${route[0]},nats://127.0.0.1:${route[1]},nats://127.0.0.1:${route[2]}"
  for i in 0 1 2; do
    nats-server -js -a 127.0.0.1 -p "${client[i]}" -m "${monitor[i]}" -sd "$tmp/r$round/n$i" \
      --auth "$LLORCH_NATS_TOKEN" --server_name "n$i" --cluster_name bench \
      --cluster "nats://127.0.0.1:${route[i]}" --routes "$routes" 2>"$tmp/n$i.log" &
    spid[i]=$!
    pids+=("$!")
    disown "$!"
  done
  until curl -s "127.0.0.1:${monitor[0]}/jsz" | grep -q '"leader": *"n'; do sleep 0.1; done
  state=(--state "nats://127.0.0.1:${client[0]},nats://127.0.0.1:${client[1]},nats://127.0.0.1:${client[2]}" --state-replicas 3)
  "$llorch" orchestrator --port 0 --replica-id bench "${state[@]}" >"$tmp/orch.log" 2>&1 &
  pids+=("$!")
  disown "$!"
  url="http://$(bound "$tmp/orch.log")"
  "$llorch" pool-manager --port 0 --config "$tmp/pool.toml" "${state[@]}" >"$tmp/pool.log" 2>&1 &
  pids+=("$!")
  disown "$!"
  until curl -s "$url/v1/pools" | grep -q '"state":"ready"'; do sleep 0.1; done
  answer=$(post "$url")
  ended "$url" "${answer% *}" || { echo "the first task did not run" >&2; exit 1; }

  leader=$(curl -s "127.0.0.1:${monitor[0]}/jsz?accounts=true&streams=true" | python3 -c '
import json, sys
for a in json.load(sys.stdin)["account_details"]:
    for s in a["stream_detail"]:
        if s["name"] == "LLORCH_EVENTS": print(s["cluster"]["leader"][1:])')
  killed=$(now_ms)
  kill -9 "${spid[leader]}"
  until answer=$(post "$url"); [ "${answer##* }" = 202 ]; do
    [ $(($(now_ms) - killed)) -gt 60000 ] && { echo "nothing admitted in 60 s" >&2; exit 1; }
    sleep 0.2
  done
  in=$(($(now_ms) - killed))
  ended "$url" "${answer% *}" || { echo "the task after the kill did not end" >&2; exit 1; }
  out=$(($(now_ms) - killed))
  admitted+=("$in")
  finished+=("$out")
  echo "| $round | n$leader | $in | $out |"
  stop_all
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "median over $rounds rounds: admitted after $(median "${admitted[@]}") ms, ended after $(median "${finished[@]}") ms"
