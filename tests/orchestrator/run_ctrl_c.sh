#!/usr/bin/env bash
# Ctrl-C in `llorch run` cancels the task on the server: a generation of 2,000 tokens (the random
# Llama-2 model never stops early; it takes seconds) interrupted after a second ends with
# "Cancelled after N tokens" and exit code 130, not with all 2,000 tokens.
# Usage: run_ctrl_c.sh LLORCH MODEL
set -uo pipefail
llorch="$1"
model="$2"
out="$(mktemp)"
err="$(mktemp)"
trap 'rm -f "$out" "$err"' EXIT
"$llorch" run --model "$model" -n 2000 --temperature 1 "Hi" >"$out" 2>"$err" &
pid=$!
sleep 1
kill -INT "$pid"
wait "$pid"
code=$?
status=0
if [ "$code" -ne 130 ]; then
  echo "FAIL: exit code $code, expected 130 (interrupted)"
  status=1
fi
if ! grep -q "Cancelled after" "$err"; then
  echo "FAIL: the task was not cancelled on the server"
  status=1
fi
if grep -q "Done: 2000 tokens" "$err"; then
  echo "FAIL: the task ran to its end after Ctrl-C"
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "--- stderr ---"
  tail -n 20 "$err"
fi
exit "$status"
