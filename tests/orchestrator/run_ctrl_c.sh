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
# SIGTERM (a service manager, `kill`): the same, exit code 143.
"$llorch" run --model "$model" -n 2000 --temperature 1 "Hi" >"$out" 2>"$err.term" &
pid=$!
sleep 1
kill -TERM "$pid"
wait "$pid"
code=$?
[ "$code" -eq 143 ] || { echo "FAIL: SIGTERM: exit code $code, expected 143"; status=1; }
grep -q "Cancelled after" "$err.term" || { echo "FAIL: SIGTERM did not cancel the task"; status=1; }
rm -f "$err.term"
# On a pseudo-terminal, Ctrl-C as a user types it: the byte 0x03 through the terminal's line
# discipline, which sends SIGINT to the foreground process.
if command -v script >/dev/null 2>&1; then
  screen="$(mktemp)"
  (sleep 1.5; printf '\003'; sleep 5) |
    timeout 60 script -qec "$llorch run --model $model -n 2000 --temperature 1 Hi" "$screen" >/dev/null
  code=$?
  [ "$code" -eq 130 ] || { echo "FAIL: Ctrl-C on a terminal: exit code $code, expected 130"; status=1; }
  grep -aq "Cancelled after" "$screen" || { echo "FAIL: Ctrl-C on a terminal did not cancel"; status=1; }
  if grep -aq "Done: 2000 tokens" "$screen"; then
    echo "FAIL: Ctrl-C on a terminal: the task ran to its end"
    status=1
  fi
  rm -f "$screen"
fi
if [ "$status" -ne 0 ]; then
  echo "--- stderr ---"
  tail -n 20 "$err"
fi
exit "$status"
