#!/usr/bin/env bash
# The kernel figures of bench/README.md: `llorch bench` on TinyLlama-shape synthetic models of
# every weight type the issue names, at 1 and 2 threads, pp64/tg32 and pp512/tg128, medians of
# REPS repetitions, with the CPU, its flags and the kernel target printed by each run.
#
#   bench/kernel_matrix.sh [MODEL_DIR] [extra llorch bench options, e.g. --kernels AVX2]
#
# Models missing from MODEL_DIR (default /tmp) are written first with `llorch model synth`.
set -euo pipefail
cd "$(dirname "$0")/.."
llorch=${LLORCH:-build/bin/llorch}
dir=${1:-/tmp}
shift || true
reps=${REPS:-3}
vocab=../shared/models/vocab/ggml-vocab-llama-spm.gguf
for type in q4_0 q8_0 q4_k_m q5_k_m q6_k bf16; do
  model="$dir/tl-$type.gguf"
  [[ -f $model ]] || "$llorch" model synth --shape tinyllama --type "$type" --vocab "$vocab" -o "$model"
done
for threads in 1 2; do
  for type in q4_0 q8_0 q4_k_m q5_k_m q6_k bf16; do
    for shape in "-p 64 -n 32" "-p 512 -n 128"; do
      # shellcheck disable=SC2086  # the shape is two options
      "$llorch" bench -m "$dir/tl-$type.gguf" $shape -t "$threads" -r "$reps" "$@"
      echo
    done
  done
done
