#!/usr/bin/env bash
# Installs every build and test dependency from Debian's packages. Idempotent: packages already
# present are skipped without touching the network.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  clang-14 libclang-rt-14-dev clang-format
  libboost1.81-dev nlohmann-json3-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev libhwy-dev prometheus-cpp-dev
  libtomlplusplus-dev libicu-dev
  prometheus curl  # promtool checks every /metrics; curl fetches them
  chromium fonts-noto-color-emoji  # the browser tests drive Debian's chromium (never a download)
  nats-server libnats-dev  # the shared state of several machines (--state nats://…)
  systemd  # systemd-analyze checks deploy/systemd
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Node.js and npm (the OpenAPI linter and schema validator, the browser tests): the machine's own
# when present.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  for p in nodejs npm; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi

install_npm_packages() {
  # contracts/, tests/browser/ and deploy/: pinned by package-lock.json; a no-op when node_modules
  # already matches it. puppeteer-core downloads no browser: the tests use Debian's chromium.
  local root dir
  root="$(cd "$(dirname "$0")/.." && pwd)"
  for dir in "$root/contracts" "$root/tests/browser" "$root/deploy"; do
    if [ ! -d "$dir/node_modules/.bin" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
      echo "install-deps: npm packages for ${dir#"$root"/}/"
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
  done
}

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  install_npm_packages
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
install_npm_packages
