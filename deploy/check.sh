#!/usr/bin/env bash
# Checks deploy/ offline: every systemd unit with `systemd-analyze verify` (llorch's path pointed
# at the binary given, the pool config at examples/pool.toml), the NATS configurations (one host,
# a three-host cluster, the one in the Kubernetes ConfigMap) with `nats-server -t`,
# that llorch takes every flag the units pass, and the Kubernetes manifests against the API's
# schemas (deploy/node_modules, installed by scripts/install-deps.sh). Usage: deploy/check.sh LLORCH
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
llorch="$(realpath "$1")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
status=0
for unit in "$here"/systemd/*.service; do
  sed "s#/usr/local/bin/llorch#$llorch#; s#/etc/llorch/pool.toml#$here/../examples/pool.toml#" \
    "$unit" >"$tmp/$(basename "$unit")"
done
if ! systemd-analyze verify "$tmp"/*.service; then
  echo "FAIL: systemd-analyze verify"
  status=1
fi
if ! LLORCH_NATS_TOKEN=check nats-server -c "$here/systemd/nats.conf" -t; then
  echo "FAIL: nats.conf"
  status=1
fi
routes="LLORCH_NATS_ROUTE_A=nats-route://10.0.0.1:6222 LLORCH_NATS_ROUTE_B=nats-route://10.0.0.2:6222"
routes+=" LLORCH_NATS_ROUTE_C=nats-route://10.0.0.3:6222"
# shellcheck disable=SC2086  # the variables, word by word
if ! env LLORCH_NATS_TOKEN=check LLORCH_NATS_NAME=nats-a $routes \
  nats-server -c "$here/systemd/nats-cluster.conf" -t; then
  echo "FAIL: nats-cluster.conf"
  status=1
fi
# The ConfigMap's nats.conf: the indented block under `nats.conf: |`.
awk '/^  nats.conf: \|/{f=1;next} /^  [a-z.]+: \|/{f=0} f{sub(/^    /,"");print}' \
  "$here/kubernetes/llorch.yaml" >"$tmp/nats-k8s.conf"
if ! grep -q '^cluster {' "$tmp/nats-k8s.conf" ||
  ! POD_NAME=nats-0 LLORCH_NATS_TOKEN=check nats-server -c "$tmp/nats-k8s.conf" -t; then
  echo "FAIL: the nats.conf of deploy/kubernetes/llorch.yaml"
  status=1
fi
# Every llorch flag the units pass exists (an unknown one makes llorch exit 2 before anything).
for unit in "$tmp"/llorch-orchestrator.service "$tmp"/llorch-pool-manager.service; do
  command=$(sed -n '/^ExecStart=/,/[^\\]$/p' "$unit" | sed 's/^ExecStart=//; s/\\$//' | tr '\n' ' ')
  # shellcheck disable=SC2086  # the unit's command line, word by word
  "${command%% *}" ${command#* } --help >/dev/null 2>"$tmp/err"
  if [ $? -ne 0 ]; then
    echo "FAIL: $(basename "$unit"): $(cat "$tmp/err")"
    status=1
  fi
done
if [ ! -d "$here/node_modules/kubernetes-models" ]; then
  echo "FAIL: deploy/node_modules is missing: run scripts/install-deps.sh"
  status=1
elif ! node "$here/validate-kubernetes.mjs"; then
  status=1
fi
[ $status -eq 0 ] && echo "deploy/: units, nats.conf, llorch flags and manifests check out"
exit $status
