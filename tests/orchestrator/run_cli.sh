#!/usr/bin/env bash
# `llorch run`, `serve` and `orchestrator` as a user types them, off a terminal: where the text and
# the narration go, --json and --quiet, and the message (and exit code) of each mistake.
# Usage: run_cli.sh LLORCH MODEL
set -uo pipefail
llorch="$1"
model="$2"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
status=0
fail() {
  echo "FAIL: $*"
  status=1
}
# expect_exit CODE NAME -- COMMAND…: the exit code, and stdout/stderr kept as $dir/NAME.{out,err}.
expect_exit() {
  local code="$1" name="$2"
  shift 3
  "$@" >"$dir/$name.out" 2>"$dir/$name.err"
  local got=$?
  [ "$got" -eq "$code" ] || fail "$name: exit $got, expected $code; stderr: $(head -c 600 "$dir/$name.err")"
}
has() {  # has FILE TEXT
  grep -qF -- "$2" "$1" || fail "$(basename "$1") lacks: $2"
}
lacks() {
  ! grep -qF -- "$2" "$1" || fail "$(basename "$1") should not hold: $2"
}

# Piped: the story on stdout, narration on stderr.
expect_exit 0 piped -- "$llorch" run --model "$model" -n 12 --seed 3 "Once upon a time"
[ -s "$dir/piped.out" ] || fail "piped: no text on stdout"
lacks "$dir/piped.out" "Request validated"
has "$dir/piped.err" "✅ Request validated"
has "$dir/piped.err" "⏳ Queued at position 1"
has "$dir/piped.err" "🏁 Done: 12 tokens"

# --quiet: the text alone.
expect_exit 0 quiet -- "$llorch" run --model "$model" -n 12 --seed 3 -q "Once upon a time"
cmp -s "$dir/piped.out" "$dir/quiet.out" || fail "quiet: different text for the same seed"
[ ! -s "$dir/quiet.err" ] || fail "quiet: stderr not empty: $(head -c 300 "$dir/quiet.err")"

# --json: one event per line, in order, the terminal one last.
expect_exit 0 json -- "$llorch" run --model "$model" -n 5 --json --mode cute "Once"
grep -qv '^{"type":"' "$dir/json.out" && fail "json: a line that is not an event: $(grep -v '^{"type":"' "$dir/json.out" | head -1)"
[ "$(grep -c '"type":"token"' "$dir/json.out")" -eq 5 ] || fail "json: not 5 token events"
tail -n 1 "$dir/json.out" | grep -q '^{"type":"end"' || fail "json: the last line is not the end event"

# Mistakes: each names the problem and the fix.
expect_exit 1 unreachable -- "$llorch" run --server http://127.0.0.1:9 "Once"
has "$dir/unreachable.err" "cannot reach the orchestrator at http://127.0.0.1:9"
has "$dir/unreachable.err" "llorch serve --model"
expect_exit 1 token -- env -u NO_SUCH_TOKEN_VAR "$llorch" orchestrator --port 0 --api-token-env NO_SUCH_TOKEN_VAR
has "$dir/token.err" "NO_SUCH_TOKEN_VAR is not set"
expect_exit 1 pool_url -- "$llorch" orchestrator --port 0 --pool ftp://example
has "$dir/pool_url.err" "--pool ftp://example"
"$llorch" run --model "$model" --server http://127.0.0.1:9 "x" >/dev/null 2>"$dir/both.err" && fail "--model with --server accepted"
has "$dir/both.err" "excludes"
"$llorch" serve --model /no/such/model.gguf >/dev/null 2>"$dir/serve.err" && fail "serve accepted a missing model"
has "$dir/serve.err" "/no/such/model.gguf"
# Usage mistakes exit 2 and say what was wrong.
expect_exit 2 usage_unknown -- "$llorch" nosuch
has "$dir/usage_unknown.err" "nosuch"
expect_exit 2 usage_missing -- "$llorch" run
has "$dir/usage_missing.err" "prompt is required"
expect_exit 2 usage_range -- "$llorch" worker --model "$model" --port 0 --slots 0
has "$dir/usage_range.err" "--slots"
expect_exit 0 usage_help -- "$llorch" run --help

# The address to connect to is printed whatever the log level.
LLORCH_LOG=warn timeout 3 "$llorch" serve --model "$model" --port 0 >"$dir/quiet_serve.out" 2>&1
has "$dir/quiet_serve.out" "Orchestrator API"
has "$dir/quiet_serve.out" "listening on http://127.0.0.1:"
lacks "$dir/quiet_serve.out" "Model loaded"
# A file that is no model: run ends at once with the loader's words, not a hang.
echo "text, not a model" >"$dir/broken.gguf"
start=$(date +%s)
expect_exit 1 broken -- timeout 30 "$llorch" run --model "$dir/broken.gguf" "Once"
[ $(( $(date +%s) - start )) -le 10 ] || fail "run --model on a broken file took over 10 s"
has "$dir/broken.err" "MODEL_UNAVAILABLE"
has "$dir/broken.err" "neither a GGUF file nor a llama2.c checkpoint"
exit "$status"
