#!/usr/bin/env bash
# The main job on a fresh machine: install dependencies, build, and run a narrated generation.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release
exec build/bin/llorch demo --tokens 20 "$@"
