#!/usr/bin/env bash
# `llorch run --model M PROMPT` on a pseudo-terminal (util-linux `script`): the screen must show the
# narration pane (orchestrator and worker narration) and the output pane with generated text.
# Usage: run_on_pty.sh LLORCH MODEL
set -euo pipefail
llorch="$1"
model="$2"
screen="$(mktemp)"
trap 'rm -f "$screen"' EXIT
COLUMNS=100 LINES=40 script -qec "$llorch run --model $model -n 24 --seed 7 'Once upon a time'" "$screen" >/dev/null
status=0
expect() {
  if ! grep -qF -- "$1" "$screen"; then
    echo "FAIL: the screen lacks: $1"
    status=1
  fi
}
expect "Inference request: \"Once upon a time\""
expect "[Narration]"
expect "Queued at position 1"
expect "Dispatched to worker-cpu-r1"
expect "Request validated"
expect "Tokenized prompt"
expect "[Output]"
expect "Done: 24 tokens"
# The terminal path redraws in place (cursor movement), unlike the piped one.
if ! grep -q $'\x1b\[J' "$screen"; then
  echo "FAIL: no in-place redraw (ESC[J) on a terminal"
  status=1
fi
# Generated words appear in the output pane.
if ! grep -aE '^│ .*[a-z]+ [a-z]+' "$screen" | grep -qv 'Request\|Queued\|Dispatched\|Relaying\|Tokenized\|Reset\|Starting\|Generated\|Complete\|admitted'; then
  echo "FAIL: no generated text in the output pane"
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "--- screen ---"
  cat -v "$screen" | tail -40
fi
exit "$status"
