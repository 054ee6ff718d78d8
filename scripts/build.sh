#!/usr/bin/env bash
# Configures and builds one CMake preset (default: release, into build/). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"
jobs="${LLORCH_BUILD_JOBS:-$(nproc)}"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$jobs"
