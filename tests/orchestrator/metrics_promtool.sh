#!/usr/bin/env bash
# Every process's /metrics passes `promtool check metrics` (Prometheus's own linter: names, types,
# help, suffixes), after a request so that every histogram and counter has values.
# Usage: metrics_promtool.sh LLORCH MODEL
set -uo pipefail
llorch="$1"
model="$2"
if ! command -v promtool >/dev/null 2>&1; then
  echo "FAIL: promtool is missing; scripts/install-deps.sh installs it (Debian's prometheus)"
  exit 1
fi
dir="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
export LLORCH_POOL_TOKEN="pool-token-for-the-promtool-check"
status=0

# url_of LOG TEXT: the address of the first server_bind whose human line holds TEXT.
url_of() {
  for _ in $(seq 1 300); do
    local url
    url="$(grep '"server_bind"' "$1" | grep -F "$2" | head -1 | sed -n 's/.*"target":"\(http:[^"]*\)".*/\1/p')"
    if [ -n "$url" ]; then
      echo "$url"
      return 0
    fi
    sleep 0.05
  done
  return 1
}

"$llorch" orchestrator --port 0 >"$dir/orchestrator.log" 2>&1 &
pids+=($!)
orchestrator="$(url_of "$dir/orchestrator.log" "Orchestrator API")" || { echo "FAIL: no orchestrator"; exit 1; }
printf 'heartbeat_interval_ms = 100\n[[workers]]\nmodel = "%s"\n' "$model" >"$dir/pool.toml"
"$llorch" pool-manager --port 0 --config "$dir/pool.toml" --orchestrator "$orchestrator" \
  >"$dir/pool.log" 2>&1 &
pids+=($!)
pool="$(url_of "$dir/pool.log" "Pool manager API")" || { echo "FAIL: no pool manager"; exit 1; }
worker="$(url_of "$dir/pool.log" "HTTP server listening")" || { echo "FAIL: no worker"; exit 1; }
for _ in $(seq 1 300); do
  curl -sf "$orchestrator/health" | grep -q '"workers_ready":1' && break
  sleep 0.05
done
curl -sf "$orchestrator/v1/completions" -H 'Content-Type: application/json' \
  -d '{"model":"stories260K","prompt":"Once","max_tokens":12}' >/dev/null ||
  { echo "FAIL: the request did not complete"; status=1; }

check() {  # check NAME URL [curl args…]
  local name="$1" url="$2"
  shift 2
  if ! curl -sf "$@" "$url/metrics" >"$dir/$name.metrics"; then
    echo "FAIL: $name: GET $url/metrics"
    status=1
    return
  fi
  if ! promtool check metrics <"$dir/$name.metrics" >"$dir/$name.promtool" 2>&1; then
    echo "FAIL: $name /metrics: $(cat "$dir/$name.promtool")"
    status=1
  else
    echo "ok: $name /metrics ($(grep -c '^# TYPE' "$dir/$name.metrics") metrics)"
  fi
}
check orchestrator "$orchestrator"
check pool "$pool" -H "Authorization: Bearer $LLORCH_POOL_TOKEN"
check worker "$worker"
exit "$status"
