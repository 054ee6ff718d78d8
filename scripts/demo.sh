#!/usr/bin/env bash
# The main job on a fresh machine: install dependencies, build, and run a narrated generation on
# the bundled test model. The story goes to stdout; the narration (what llorch is doing) to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release
models="${LLORCH_MODELS:-../shared/models}"
exec build/bin/llorch generate --model "$models/gguf/stories260K.gguf" \
  -p "Once upon a time" -n 120 --temp 0.8 --seed 42 "$@"
