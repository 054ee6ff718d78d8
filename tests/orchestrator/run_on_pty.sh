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
# A prompt holding terminal control sequences (window title, clipboard write, screen clear, a bidi
# override) must not reach the terminal: the screen shows them made harmless.
hostile="$(mktemp)"
trap 'rm -f "$screen" "$hostile"' EXIT
prompt=$'Once \e]0;pwned\a\e]52;c;ZXZpbA==\a\e[2J\u202Eupon'
COLUMNS=100 LINES=40 script -qec "$llorch run --model $model -n 4 --seed 7 $(printf '%q' "$prompt")" "$hostile" >/dev/null
# (script's own first and last lines quote the command line; they are not llorch's output.)
for sequence in $'\e]0;' $'\e]52;' $'\e[2J' $'\u202E'; do
  if grep -av '^Script ' "$hostile" | grep -qaF -- "$sequence"; then
    echo "FAIL: the prompt's $(printf '%q' "$sequence") reached the terminal"
    status=1
  fi
done
if ! grep -qaF "Done: 4 tokens" "$hostile"; then
  echo "FAIL: the hostile prompt's run did not finish"
  status=1
fi
# TERM=dumb: no cursor movement (the piped screen, line by line); NO_COLOR: a terminal's log
# lines without colour (https://no-color.org).
dumb="$(mktemp)"
plain="$(mktemp)"
trap 'rm -f "$screen" "$hostile" "$dumb" "$plain"' EXIT
TERM=dumb COLUMNS=100 LINES=40 script -qec "$llorch run --model $model -n 4 --seed 7 Once" "$dumb" >/dev/null
if grep -q $'\x1b\[' "$dumb"; then
  echo "FAIL: TERM=dumb got escape sequences: $(grep -a $'\x1b\[' "$dumb" | head -2 | cat -v)"
  status=1
fi
grep -qaF "Done: 4 tokens" "$dumb" || { echo "FAIL: TERM=dumb run did not finish"; status=1; }
LLORCH_LOG=info NO_COLOR=1 script -qec "timeout 2 $llorch worker --model $model --port 0" "$plain" >/dev/null 2>&1 || true
grep -qaF "listening on" "$plain" || { echo "FAIL: the worker's log did not reach the terminal"; status=1; }
if grep -q $'\x1b\[3[0-9]m' "$plain"; then
  echo "FAIL: NO_COLOR still coloured: $(grep -a $'\x1b\[3' "$plain" | head -2 | cat -v)"
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "--- screen ---"
  cat -v "$screen" | tail -40
fi
exit "$status"
