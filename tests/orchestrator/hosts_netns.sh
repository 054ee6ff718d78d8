#!/usr/bin/env bash
# Several hosts on one machine: two pool managers, each in a network namespace of its own (a veth
# pair and addresses this test makes, 10.231.1.0/30 and 10.231.2.0/30), register through a real
# `nats-server -js`; an orchestrator in the root namespace reaches them over the veth links. A long
# task runs on each host; host 2's link is cut (its veth set down: packets vanish, no connection
# is closed). Its task must end with WORKER_LOST naming the cause, within seconds rather than at
# the relay's two-minute read timeout; host 1's task goes on; the next task goes to host 1.
# Needs root (network namespaces). Usage: hosts_netns.sh LLORCH MODEL
set -uo pipefail
llorch="$1"
model="$(realpath "$2")"
fail() { echo "FAIL: $*"; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "network namespaces need root"
command -v ip >/dev/null || fail "ip (iproute2) is missing"
nats_server="$(command -v nats-server)" || fail "nats-server is missing: run scripts/install-deps.sh"
command -v node >/dev/null || fail "node is missing: run scripts/install-deps.sh"

tag=$$
tmp="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  local deadline=$((SECONDS + 5))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  for i in 1 2; do
    # Whatever still runs on a host (a worker whose pool manager could not drain it) goes too.
    ip netns pids "llorch-h$i-$tag" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
    ip netns del "llorch-h$i-$tag" 2>/dev/null
    ip link del "llh$i-$tag" 2>/dev/null
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

# Two hosts: namespace llorch-hN-TAG, its end of the link 10.231.N.2, ours 10.231.N.1.
for i in 1 2; do
  ns="llorch-h$i-$tag"
  ip netns add "$ns" || fail "cannot create network namespace $ns"
  ip link add "llh$i-$tag" type veth peer name "lln$i-$tag" || fail "cannot create a veth pair"
  ip link set "lln$i-$tag" netns "$ns"
  ip addr add "10.231.$i.1/30" dev "llh$i-$tag"
  ip link set "llh$i-$tag" up
  ip netns exec "$ns" ip addr add "10.231.$i.2/30" dev "lln$i-$tag"
  ip netns exec "$ns" ip link set "lln$i-$tag" up
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" ip route add default via "10.231.$i.1"
done

json() {  # json FILE EXPRESSION: evaluates EXPRESSION on the parsed file (as `d`), prints it
  node -e "const d = JSON.parse(require('fs').readFileSync('$1', 'utf8')); console.log($2)"
}
wait_for() {  # wait_for SECONDS COMMAND…: until the command succeeds
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

# NATS on host 1's side of the link (every host reaches it through its default route).
token="nats-token-$tag-0123456789"
"$nats_server" -js -a 10.231.1.1 -p -1 -sd "$tmp/nats" --auth "$token" 2>"$tmp/nats.log" &
pids+=($!)
wait_for 10 grep -q "Listening for client connections" "$tmp/nats.log" || fail "nats-server did not start"
nats="nats://$(grep -o 'client connections on [0-9.:]*' "$tmp/nats.log" | awk '{print $4}')"
export LLORCH_NATS_TOKEN="$token" LLORCH_POOL_TOKEN="pool-token-$tag-0123456789" LLORCH_LOG_FORMAT=json

LLORCH_LOG_FORMAT=json "$llorch" orchestrator --host 10.231.1.1 --port 0 --state "$nats" \
  --registry-ttl-ms 2000 >"$tmp/orchestrator.log" 2>&1 &
pids+=($!)
wait_for 10 grep -q '"action":"server_bind"' "$tmp/orchestrator.log" || fail "the orchestrator did not bind"
url="http://$(grep -o '"address":"[^"]*"' "$tmp/orchestrator.log" | head -1 | cut -d'"' -f4)"

printf 'heartbeat_interval_ms = 200\n[[workers]]\nmodel = "%s"\nctx = 8192\n' "$model" >"$tmp/pool.toml"
for i in 1 2; do
  ip netns exec "llorch-h$i-$tag" "$llorch" pool-manager --host "10.231.$i.2" --port 0 \
    --pool-id "h$i" --config "$tmp/pool.toml" --state "$nats" --registry-ttl-ms 2000 \
    >"$tmp/pool$i.log" 2>&1 &
  pids+=($!)
done
ready_pools() {
  curl -s "$url/v1/pools" >"$tmp/pools.json" &&
    [ "$(json "$tmp/pools.json" "d.pools.filter(p => p.workers.some(w => w.state === 'ready')).length")" = 2 ]
}
wait_for 30 ready_pools || fail "the two hosts' pools did not become ready: $(cat "$tmp/pools.json")"

# A long task on each host (one slot each: the second goes to the other host): 8000 tokens take
# tens of seconds, so neither can end by itself before the cut (2000 sometimes did).
start_task() {  # start_task N: admits a long task, follows its stream into $tmp/events$N
  curl -s "$url/v2/tasks" -H 'Content-Type: application/json' \
    -d '{"prompt":"Hi","max_tokens":8000,"ignore_eos":true,"temperature":1,"on_disconnect":"continue"}' \
    >"$tmp/task$1.json"
  local id
  id="$(json "$tmp/task$1.json" d.job_id)"
  curl -sN "$url/v2/tasks/$id/events" >"$tmp/events$1" &
  pids+=($!)
  echo "$id"
}
t1="$(start_task 1)"
t2="$(start_task 2)"
running_on() {  # running_on ID HOST
  curl -s "$url/v2/tasks/$1" >"$tmp/state.json" &&
    [ "$(json "$tmp/state.json" "d.state + ' ' + d.pool_id")" = "running $2" ]
}
if running_on "$t1" h2; then
  on_h2="$t1" on_h1="$t2" events_h2="$tmp/events1"
else
  on_h2="$t2" on_h1="$t1" events_h2="$tmp/events2"
fi
wait_for 10 running_on "$on_h2" h2 || fail "no task runs on host 2: $(cat "$tmp/state.json")"
wait_for 10 running_on "$on_h1" h1 || fail "no task runs on host 1: $(cat "$tmp/state.json")"
sleep 0.5

# Cut host 2 off.
cut_at=$SECONDS
ip link set "llh2-$tag" down
ended_lost() {
  curl -s "$url/v2/tasks/$on_h2" >"$tmp/lost.json" &&
    [ "$(json "$tmp/lost.json" "d.state + ' ' + (d.error && d.error.code)")" = "failed WORKER_LOST" ]
}
wait_for 15 ended_lost || fail "host 2's task did not end WORKER_LOST within 15 s: $(cat "$tmp/lost.json")"
echo "host 2's task ended $((SECONDS - cut_at)) s after the cut: $(json "$tmp/lost.json" d.error.message)"
json "$tmp/lost.json" d.error.message | grep -q "pool h2 left the registry" ||
  fail "the cause is not named: $(json "$tmp/lost.json" d.error.message)"
grep -q '"code":"WORKER_LOST"' "$events_h2" || fail "the stream did not end with the error event"
grep -q '"action":"pool_deregister".*"target":"h2"' "$tmp/orchestrator.log" ||
  fail "the orchestrator did not narrate host 2's departure"

# Host 1 is untouched, and takes the next task.
curl -s "$url/v2/tasks/$on_h1" >"$tmp/other.json"
case "$(json "$tmp/other.json" d.state)" in
  running | completed) ;;
  *) fail "host 1's task was hurt: $(cat "$tmp/other.json")" ;;
esac
curl -s -X DELETE "$url/v2/tasks/$on_h1" >/dev/null
next="$(curl -s "$url/v2/tasks" -H 'Content-Type: application/json' -d '{"prompt":"Once","max_tokens":8}' |
  node -e "let s='';process.stdin.on('data',c=>s+=c).on('end',()=>console.log(JSON.parse(s).job_id))")"
curl -sN "$url/v2/tasks/$next/events" >/dev/null
curl -s "$url/v2/tasks/$next" >"$tmp/next.json"
[ "$(json "$tmp/next.json" "d.state + ' ' + d.pool_id")" = "completed h1" ] ||
  fail "the next task did not complete on host 1: $(cat "$tmp/next.json")"
echo "PASS: a cut host's task ends WORKER_LOST with its cause; new tasks go to the other host"
