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
status=0
build/bin/llorch run --model "$models/gguf/stories260K.gguf" -n 120 --seed 42 "$@" \
  "Once upon a time" || status=$?
# The same screen in a browser: where it is (on stderr, so that piped stdout stays the story).
cat >&2 <<EOF

The same in your browser: start the stack with
  build/bin/llorch serve --model $models/gguf/stories260K.gguf --port 8080
and open http://127.0.0.1:8080/ (the chat page; the operator's view is http://127.0.0.1:8080/ui/system).
EOF
exit "$status"
