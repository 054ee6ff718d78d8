#!/usr/bin/env bash
# Ctrl-C or SIGTERM in `llorch run` cancels the task on the server: a generation of 2,000 tokens
# (the random Llama-2 model never stops early; it takes seconds) interrupted after a second ends
# with "Cancelled after N tokens" and exit code 130 (143 for SIGTERM), not with all 2,000 tokens.
# Usage: run_ctrl_c.sh LLORCH MODEL
set -uo pipefail
llorch="$1"
model="$2"
out="$(mktemp)"
err="$(mktemp)"
trap 'rm -f "$out" "$err"' EXIT
status=0
# expect_cancel SIGNAL CODE: a run interrupted after a second by SIGNAL cancels its task on the
# server (never all 2,000 tokens) and exits CODE.
expect_cancel() {
  "$llorch" run --model "$model" -n 2000 --temperature 1 "Hi" >"$out" 2>"$err" &
  local pid=$!
  sleep 1
  kill "-$1" "$pid"
  wait "$pid"
  local code=$?
  [ "$code" -eq "$2" ] || { echo "FAIL: SIG$1: exit code $code, expected $2"; status=1; }
  grep -q "Cancelled after" "$err" || { echo "FAIL: SIG$1: the task was not cancelled on the server"; status=1; }
  if grep -q "Done: 2000 tokens" "$err"; then
    echo "FAIL: SIG$1: the task ran to its end"
    status=1
  fi
}
expect_cancel INT 130   # Ctrl-C
expect_cancel TERM 143  # a service manager, `kill`
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
