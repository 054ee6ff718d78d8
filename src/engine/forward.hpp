// The Llama forward pass, one token at a time or a batch of prompt tokens, with a KV cache
// (llama2.c's run.c, generalised to every weight type and to RoPE/GQA settings from the model's
// metadata).
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "engine/model.hpp"
#include "engine/thread_pool.hpp"

namespace llorch::engine {

// The activations and KV cache of one sequence. Owns its buffers; not thread-safe (one sequence,
// one engine thread; the pool splits work inside a step).
class LlamaState {
 public:
  LlamaState(std::shared_ptr<const Model> model, std::size_t threads = 1);

  // Runs `token` at position `pos` (0-based; every earlier position must have run) and returns
  // the logits over the vocabulary. Throws std::out_of_range past the context length.
  std::span<const float> forward(TokenId token, std::size_t pos);

  // Runs `tokens` at positions pos, pos+1, … as one batch — every weight matrix is read once for
  // all of them — and returns the logits of the last one. The prompt goes through this.
  std::span<const float> forward_batch(std::span<const TokenId> tokens, std::size_t pos);

  // Forgets every position (the KV cache is overwritten from position 0 on).
  void reset() noexcept { next_pos_ = 0; }
  std::size_t position() const noexcept { return next_pos_; }
  const Model& model() const noexcept { return *model_; }

 private:
  // One position's attention over the cache up to `pos`: `query` [dim] in, `result` [dim] out,
  // `scores` [context] scratch. Reads only the cache, so positions can run on several threads.
  void attention(std::size_t layer, std::size_t pos, const float* query, float* result,
                 float* scores) const;
  void rope(float* q, float* k, std::size_t pos) const noexcept;

  std::shared_ptr<const Model> model_;
  ThreadPool pool_;
  // Shapes (c = config): x, xb, xb2: [dim]; q: [dim]; hb, hb2: [hidden]; att: [n_heads, context];
  // key_cache, value_cache: [layers, context, kv_dim]; logits: [vocab]; rope_freq: [rope_dims/2].
  std::vector<float> x_, xb_, xb2_, q_, k_, v_, hb_, hb2_, att_, logits_, rope_freq_;
  std::vector<float> key_cache_, value_cache_;
  // forward_batch's activations, one row per token (grown on demand).
  std::vector<float> batch_x_, batch_xb_, batch_q_, batch_k_, batch_v_, batch_h_, batch_h2_,
      batch_out_, batch_scores_;
  std::size_t next_pos_ = 0;
};

}  // namespace llorch::engine
