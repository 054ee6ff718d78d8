#!/usr/bin/env bash
# The main job on a fresh machine: install dependencies, build, and run one narrated request on
# the bundled test model through the whole stack (orchestrator, pool manager, worker), as
# `llorch run --model` starts it for the request. On a terminal it draws the narration pane and
# the output pane; piped, the story goes to stdout and the narration to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release
models="${LLORCH_MODELS:-../shared/models}"
exec build/bin/llorch run --model "$models/gguf/stories260K.gguf" -n 120 --seed 42 "$@" \
  "Once upon a time"
