// The forward pass: one transformer-layer routine, driven by the model's config (norms, biases,
// QK-norm, RoPE style and base per layer, sliding windows, soft-capping, SwiGLU or GeGLU, dense or
// mixture-of-experts feed-forward), run on a batch of consecutive tokens of one sequence — one
// token while generating, up to a prompt batch while reading the prompt — with a KV cache.
#pragma once

#include <memory>
#include <span>
#include <stdexcept>
#include <vector>

#include "engine/kv_cache.hpp"
#include "engine/model.hpp"
#include "engine/thread_pool.hpp"

namespace llorch::engine {

// Consecutive tokens of one sequence, for a forward pass over several sequences at once: the
// tokens at positions pos, pos+1, … with `cache` holding every earlier position.
struct SequenceTokens {
  KvCache* cache;
  std::span<const TokenId> tokens;
  std::size_t pos;
};

// A forward pass whose sequence's cache could not get a block for its positions.
struct KvCacheFull : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The activations of a forward pass, and the KV cache of a sequence of its own. Owns its
// buffers; not thread-safe (one engine thread; the pool splits work inside a step).
class ModelState {
 public:
  // `kv_type`: the single-sequence API's cache (f32, f16 or q8_0).
  ModelState(std::shared_ptr<const Model> model, std::size_t threads = 1,
             TensorType kv_type = TensorType::f32);

  // Runs `token` at position `pos` (0-based; every earlier position must have run) and returns
  // the logits over the vocabulary. Throws std::out_of_range past the context length.
  std::span<const float> forward(TokenId token, std::size_t pos);

  // Runs `tokens` at positions pos, pos+1, … as one batch — every weight matrix is read once for
  // all of them — and returns the logits of the last one. The prompt goes through this.
  std::span<const float> forward_batch(std::span<const TokenId> tokens, std::size_t pos);

  // The same, returning the logits of every token: tokens.size() rows of the vocabulary size
  // (`llorch logits`, perplexity).
  std::span<const float> forward_batch_all(std::span<const TokenId> tokens, std::size_t pos);

  // Several sequences in one batch: every weight is read once for all their tokens; each token
  // attends over its own sequence's cache. Returns the logits of each part's last token, one row
  // of the vocabulary size per part, in order.
  std::span<const float> forward_sequences(std::span<const SequenceTokens> parts);

  // Forgets every position (the KV cache is overwritten from position 0 on). Every forward
  // pass throws KvCacheFull when a part's cache cannot get the blocks its positions need (the
  // worker's scheduler reserves them first; a cache of its own always has them).
  void reset() noexcept { next_pos_ = 0; }
  std::size_t position() const noexcept { return next_pos_; }
  const Model& model() const noexcept { return *model_; }

 private:
  // The parts' tokens through every layer; leaves the final hidden states in x_ (one row per
  // token, parts in order).
  void run(std::span<const SequenceTokens> parts);
  // One transformer layer over the batch's n tokens (x_ in place); token t is at position
  // token_pos_[t] of token_cache_[t].
  void layer(std::size_t l, std::size_t n);
  void feed_forward(const LayerWeights& w, std::size_t n);
  void mixture_of_experts(const LayerWeights& w, std::size_t n);
  // One head of one position's attention over the cache up to `pos`: reads `query` [q_dim] and
  // the cache, writes that head's part of `result` [q_dim]. Reads only the cache, so heads and
  // positions can run on several threads.
  void attention(const KvCache& cache, std::size_t layer, std::size_t pos, std::size_t head,
                 const float* query, float* result) const;
  // Rotates the first rope_dims dimensions of each of `heads` heads of `v` for position `pos`.
  void rope(float* v, std::size_t heads, std::size_t layer, std::size_t pos) const noexcept;
  // y = x·Wᵀ for n rows of x: the matrix-vector kernels for one token, the batched ones else.
  void project(const Tensor& w, const float* x, std::size_t n, float* y);
  void check(const SequenceTokens& part) const;

  std::shared_ptr<const Model> model_;
  ThreadPool pool_;
  // One row per token of the batch (grown on demand): x, xb, out [dim]; q, att [q_dim];
  // k, v [kv_dim]; h, h2 [hidden].
  std::vector<float> x_, xb_, out_, q_, att_, k_, v_, h_, h2_;
  std::vector<float> logits_;     // [vocab], or [tokens × vocab] from forward_batch_all
  std::vector<float> rope_freq_;  // [layers × rope_dims/2]
  // The single-sequence API's cache, made on its first use: a state that only runs
  // forward_sequences (the worker's engine loop, Generator) never holds one.
  KvCache& own_cache();
  std::unique_ptr<KvCache> cache_;
  TensorType kv_type_;
  std::vector<TokenId> tokens_;         // the batch's tokens, parts in order
  std::vector<KvCache*> token_cache_;   // per token of the batch: its sequence's cache
  std::vector<std::size_t> token_pos_;  // per token of the batch: its position
  std::vector<float> expert_scratch_;   // mixture of experts: one token's work
  std::size_t next_pos_ = 0;
};

}  // namespace llorch::engine
