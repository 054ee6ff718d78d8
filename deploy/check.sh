#!/usr/bin/env bash
# Checks deploy/ offline: every systemd unit with `systemd-analyze verify` (llorch's path pointed
# at the binary given, the pool config at examples/pool.toml), nats.conf with `nats-server -t`,
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
