#include "engine/forward.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <stdexcept>

#include "engine/kernels.hpp"
#include "engine/quant.hpp"
#include "engine/simd_kernels.hpp"

namespace llorch::engine {

namespace {

const float* f32(const Tensor& t) noexcept {
  return reinterpret_cast<const float*>(t.data);
}

void add_bias(float* y, const Tensor& bias, std::size_t n, std::size_t width) noexcept {
  if (!bias.present()) return;
  for (std::size_t t = 0; t < n; ++t)
    for (std::size_t i = 0; i < width; ++i) y[t * width + i] += f32(bias)[i];
}

// x → cap·tanh(x/cap).
void softcap(float* x, std::size_t n, float cap) noexcept {
  if (cap <= 0.0f) return;
  for (std::size_t i = 0; i < n; ++i) x[i] = cap * std::tanh(x[i] / cap);
}

float gelu_tanh(float x) noexcept {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
}

// h = act(h) * h2, elementwise over n values.
void gated(float* h, const float* h2, std::size_t n, Activation activation) noexcept {
  if (activation == Activation::gelu_tanh) {
    for (std::size_t i = 0; i < n; ++i) h[i] = gelu_tanh(h[i]) * h2[i];
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      const float g = h[i];
      h[i] = g * (1.0f / (1.0f + std::exp(-g))) * h2[i];
    }
  }
}

}  // namespace

ModelState::ModelState(std::shared_ptr<const Model> model, std::size_t threads, TensorType kv_type)
    : model_(std::move(model)), pool_(threads), kv_type_(kv_type) {
  const ModelConfig& c = model_->config;
  logits_.resize(c.vocab_size);
  // theta_i = base^(-2i / rope_dims) / factor_i for each rotated pair i, per layer's base.
  const std::size_t pairs = c.rope_dims / 2;
  rope_freq_.resize(c.n_layers * pairs);
  for (std::size_t l = 0; l < c.n_layers; ++l) {
    for (std::size_t i = 0; i < pairs; ++i) {
      float freq = 1.0f / std::pow(c.layers[l].rope_base,
                                   static_cast<float>(2 * i) / static_cast<float>(c.rope_dims));
      if (model_->rope_freqs.present()) freq /= f32(model_->rope_freqs)[i];
      rope_freq_[l * pairs + i] = freq;
    }
  }
}

void ModelState::check(const SequenceTokens& part) const {
  const ModelConfig& c = model_->config;
  if (part.tokens.empty()) throw std::invalid_argument("a forward pass needs at least one token");
  if (part.pos + part.tokens.size() > c.context_length) {
    throw std::out_of_range("position " + std::to_string(part.pos + part.tokens.size() - 1) +
                            " is past the context length " + std::to_string(c.context_length));
  }
  for (const TokenId token : part.tokens) {
    if (token < 0 || static_cast<std::size_t>(token) >= c.vocab_size) {
      throw std::out_of_range("token id " + std::to_string(token) + " is outside the vocabulary");
    }
  }
}

KvCache& ModelState::own_cache() {
  if (!cache_) cache_ = std::make_unique<KvCache>(model_->config, kv_type_);
  return *cache_;
}

std::span<const float> ModelState::forward(TokenId token, std::size_t pos) {
  return forward_batch(std::span<const TokenId>(&token, 1), pos);
}

std::span<const float> ModelState::forward_batch(std::span<const TokenId> tokens, std::size_t pos) {
  const SequenceTokens part{&own_cache(), tokens, pos};
  run(std::span(&part, 1));
  next_pos_ = pos + tokens.size();
  // Only the last position's logits are needed: they give the next token.
  const ModelConfig& c = model_->config;
  float* last = x_.data() + (tokens.size() - 1) * c.dim;
  rmsnorm(last, last, f32(model_->output_norm), c.dim, c.rms_eps);
  logits_.resize(c.vocab_size);
  matvec(model_->output, last, logits_.data(), &pool_);
  softcap(logits_.data(), c.vocab_size, c.final_softcap);
  return logits_;
}

std::span<const float> ModelState::forward_batch_all(std::span<const TokenId> tokens,
                                                     std::size_t pos) {
  const SequenceTokens part{&own_cache(), tokens, pos};
  run(std::span(&part, 1));
  next_pos_ = pos + tokens.size();
  const ModelConfig& c = model_->config;
  const std::size_t n = tokens.size();
  for (std::size_t t = 0; t < n; ++t) {
    float* row = x_.data() + t * c.dim;
    rmsnorm(row, row, f32(model_->output_norm), c.dim, c.rms_eps);
  }
  logits_.resize(n * c.vocab_size);
  project(model_->output, x_.data(), n, logits_.data());
  softcap(logits_.data(), logits_.size(), c.final_softcap);
  return logits_;
}

std::span<const float> ModelState::forward_sequences(std::span<const SequenceTokens> parts) {
  run(parts);
  const ModelConfig& c = model_->config;
  logits_.resize(parts.size() * c.vocab_size);
  // The last token of each part, gathered into consecutive rows, then one product for all.
  std::size_t end = 0;
  for (std::size_t p = 0; p < parts.size(); ++p) {
    end += parts[p].tokens.size();
    float* row = x_.data() + p * c.dim;
    const float* last = x_.data() + (end - 1) * c.dim;
    if (row != last) std::memmove(row, last, c.dim * sizeof(float));
    rmsnorm(row, row, f32(model_->output_norm), c.dim, c.rms_eps);
  }
  project(model_->output, x_.data(), parts.size(), logits_.data());
  softcap(logits_.data(), logits_.size(), c.final_softcap);
  return logits_;
}

void ModelState::run(std::span<const SequenceTokens> parts) {
  for (const auto& part : parts) check(part);  // every part before any cache changes
  for (const auto& part : parts) {
    if (!part.cache->prepare(part.pos, part.tokens.size())) {
      throw KvCacheFull("the KV cache has no free block for position " +
                        std::to_string(part.pos + part.tokens.size() - 1));
    }
  }
  tokens_.clear();
  token_cache_.clear();
  token_pos_.clear();
  for (const auto& part : parts) {
    for (std::size_t i = 0; i < part.tokens.size(); ++i) {
      tokens_.push_back(part.tokens[i]);
      token_cache_.push_back(part.cache);
      token_pos_.push_back(part.pos + i);
    }
  }
  const std::span<const TokenId> tokens(tokens_);
  const std::size_t n = tokens.size();
  const Model& m = *model_;
  const ModelConfig& c = m.config;
  x_.resize(n * c.dim);
  xb_.resize(n * c.dim);
  out_.resize(n * c.dim);
  q_.resize(n * c.q_dim());
  att_.resize(n * c.q_dim());
  k_.resize(n * c.kv_dim());
  v_.resize(n * c.kv_dim());
  h_.resize(n * c.hidden_dim);
  h2_.resize(n * c.hidden_dim);
  for (std::size_t t = 0; t < n; ++t) {
    float* row = x_.data() + t * c.dim;
    dequantize_row(m.token_embedding.type,
                   m.token_embedding.row(static_cast<std::size_t>(tokens[t])), row, c.dim);
    if (c.embedding_scale != 1.0f)
      for (std::size_t i = 0; i < c.dim; ++i) row[i] *= c.embedding_scale;
  }
  for (std::size_t l = 0; l < c.n_layers; ++l) layer(l, n);
  // Only now do the caches hold these positions whole (a pass that threw left them unrecorded).
  for (const auto& part : parts) part.cache->commit(part.tokens, part.pos);
}

void ModelState::project(const Tensor& w, const float* x, std::size_t n, float* y) {
  if (n == 1) {
    matvec(w, x, y, &pool_);
  } else {
    matmul(w, x, n, y, &pool_);
  }
}

void ModelState::layer(std::size_t l, std::size_t n) {
  const ModelConfig& c = model_->config;
  const LayerWeights& w = model_->layers[l];
  const std::size_t dim = c.dim, q_dim = c.q_dim(), kv_dim = c.kv_dim(), hs = c.head_size;

  // Attention block: norm, Q/K/V (+ biases, + per-head norms), RoPE, cache, attention, output
  // projection (+ its norm), residual.
  for (std::size_t t = 0; t < n; ++t)
    rmsnorm(xb_.data() + t * dim, x_.data() + t * dim, f32(w.attn_norm), dim, c.rms_eps);
  if (n == 1) {
    // The input is quantized once and the threads meet once for all three.
    const MatvecJob qkv[] = {{&w.wq, q_.data()}, {&w.wk, k_.data()}, {&w.wv, v_.data()}};
    matvec_many(qkv, xb_.data(), &pool_);
  } else {
    matmul(w.wq, xb_.data(), n, q_.data(), &pool_);
    matmul(w.wk, xb_.data(), n, k_.data(), &pool_);
    matmul(w.wv, xb_.data(), n, v_.data(), &pool_);
  }
  add_bias(q_.data(), w.bq, n, q_dim);
  add_bias(k_.data(), w.bk, n, kv_dim);
  add_bias(v_.data(), w.bv, n, kv_dim);
  if (w.q_norm.present()) {
    for (std::size_t i = 0; i < n * c.n_heads; ++i)
      rmsnorm(q_.data() + i * hs, q_.data() + i * hs, f32(w.q_norm), hs, c.rms_eps);
  }
  if (w.k_norm.present()) {
    for (std::size_t i = 0; i < n * c.n_kv_heads; ++i)
      rmsnorm(k_.data() + i * hs, k_.data() + i * hs, f32(w.k_norm), hs, c.rms_eps);
  }
  // Every token's keys and values go into its sequence's cache first: a token attends to the
  // batch's positions of its sequence up to its own.
  for (std::size_t t = 0; t < n; ++t) {
    rope(q_.data() + t * q_dim, c.n_heads, l, token_pos_[t]);
    rope(k_.data() + t * kv_dim, c.n_kv_heads, l, token_pos_[t]);
    token_cache_[t]->store(l, token_pos_[t], k_.data() + t * kv_dim, v_.data() + t * kv_dim);
  }
  // Every (token, head) pair is independent once the caches hold the batch: split them over the
  // pool — also for one token, whose heads over a long context are most of a decode step.
  std::size_t work = 0;  // multiply-adds, to keep short attention off the pool
  for (std::size_t t = 0; t < n; ++t) work += (token_pos_[t] + 1) * q_dim * 2;
  const auto heads = [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      const std::size_t t = i / c.n_heads, h = i % c.n_heads;
      attention(*token_cache_[t], l, token_pos_[t], h, q_.data() + t * q_dim,
                att_.data() + t * q_dim);
    }
  };
  if (work >= 65536) {
    pool_.parallel_for(n * c.n_heads, heads);
  } else {
    heads(0, n * c.n_heads);
  }
  project(w.wo, att_.data(), n, out_.data());
  if (w.post_attn_norm.present()) {
    for (std::size_t t = 0; t < n; ++t)
      rmsnorm(out_.data() + t * dim, out_.data() + t * dim, f32(w.post_attn_norm), dim, c.rms_eps);
  }
  for (std::size_t i = 0; i < n * dim; ++i) x_[i] += out_[i];

  // Feed-forward block: norm, dense or mixture of experts (+ its norm), residual.
  for (std::size_t t = 0; t < n; ++t)
    rmsnorm(xb_.data() + t * dim, x_.data() + t * dim, f32(w.ffn_norm), dim, c.rms_eps);
  if (w.experts.empty()) {
    feed_forward(w, n);
  } else {
    mixture_of_experts(w, n);
  }
  if (w.post_ffn_norm.present()) {
    for (std::size_t t = 0; t < n; ++t)
      rmsnorm(out_.data() + t * dim, out_.data() + t * dim, f32(w.post_ffn_norm), dim, c.rms_eps);
  }
  for (std::size_t i = 0; i < n * dim; ++i) x_[i] += out_[i];
}

void ModelState::feed_forward(const LayerWeights& w, std::size_t n) {
  const ModelConfig& c = model_->config;
  if (n == 1) {
    const MatvecJob gate_up[] = {{&w.w_gate, h_.data()}, {&w.w_up, h2_.data()}};
    matvec_many(gate_up, xb_.data(), &pool_);
  } else {
    matmul(w.w_gate, xb_.data(), n, h_.data(), &pool_);
    matmul(w.w_up, xb_.data(), n, h2_.data(), &pool_);
  }
  gated(h_.data(), h2_.data(), n * c.hidden_dim, c.activation);
  project(w.w_down, h_.data(), n, out_.data());
}

void ModelState::mixture_of_experts(const LayerWeights& w, std::size_t n) {
  // Each token: the router's softmax over the experts, the top n_experts_used of them with their
  // weights renormalised to sum to 1, and the weighted sum of those experts' feed-forwards.
  const ModelConfig& c = model_->config;
  const std::size_t experts = c.n_experts, hidden = c.hidden_dim, dim = c.dim;
  expert_scratch_.resize(experts + 2 * hidden + dim);
  float* router = expert_scratch_.data();
  float* gate = router + experts;
  float* up = gate + hidden;
  float* down = up + hidden;
  std::vector<std::size_t> order(experts);
  for (std::size_t t = 0; t < n; ++t) {
    const float* in = xb_.data() + t * dim;
    float* out = out_.data() + t * dim;
    matvec(w.router, in, router, &pool_);
    softmax(router, experts);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(c.n_experts_used),
                      order.end(), [&](std::size_t a, std::size_t b) {
                        return router[a] > router[b] || (router[a] == router[b] && a < b);
                      });
    float total = 0.0f;
    for (std::size_t k = 0; k < c.n_experts_used; ++k) total += router[order[k]];
    std::fill(out, out + dim, 0.0f);
    for (std::size_t k = 0; k < c.n_experts_used; ++k) {
      const ExpertWeights& e = w.experts[order[k]];
      const MatvecJob gate_up[] = {{&e.w_gate, gate}, {&e.w_up, up}};
      matvec_many(gate_up, in, &pool_);
      gated(gate, up, hidden, c.activation);
      matvec(e.w_down, gate, down, &pool_);
      const float weight = router[order[k]] / total;
      for (std::size_t i = 0; i < dim; ++i) out[i] += weight * down[i];
    }
  }
}

void ModelState::rope(float* v, std::size_t heads, std::size_t layer,
                      std::size_t pos) const noexcept {
  const ModelConfig& c = model_->config;
  const std::size_t pairs = c.rope_dims / 2;
  const float* freq = rope_freq_.data() + layer * pairs;
  // normal: adjacent pairs (2i, 2i+1); neox: the halves' pairs (i, i + rope_dims/2).
  const std::size_t stride = c.rope_style == RopeStyle::neox ? pairs : 1;
  for (std::size_t i = 0; i < pairs; ++i) {
    const float angle = static_cast<float>(pos) * freq[i];
    const float fcr = std::cos(angle) * c.rope_attn_factor;
    const float fci = std::sin(angle) * c.rope_attn_factor;
    const std::size_t first = c.rope_style == RopeStyle::neox ? i : 2 * i;
    for (std::size_t h = 0; h < heads; ++h) {
      float* p = v + h * c.head_size + first;
      const float v0 = p[0], v1 = p[stride];
      p[0] = v0 * fcr - v1 * fci;
      p[stride] = v0 * fci + v1 * fcr;
    }
  }
}

void ModelState::attention(const KvCache& cache, std::size_t layer, std::size_t pos,
                           std::size_t head, const float* query, float* result) const {
  const ModelConfig& c = model_->config;
  const std::size_t hs = c.head_size;
  const std::size_t group = c.n_heads / c.n_kv_heads;  // query heads per KV head
  const float scale =
      c.attention_scale > 0.0f ? c.attention_scale : 1.0f / std::sqrt(static_cast<float>(hs));
  const TensorType type = cache.type();
  // One position's keys (or values) of a layer are a row of `stride` bytes, this head's part at
  // kv_offset; a block's positions follow one another row by row.
  const std::size_t stride = cache.pool().row_bytes();
  const std::size_t kv_offset = (head / group) * (stride / c.n_kv_heads);
  // A sliding window sees the `window` positions up to its own.
  const std::size_t window = c.layers[layer].sliding_window;
  const std::size_t first = window > 0 && pos + 1 > window ? pos + 1 - window : 0;
  const std::size_t count = pos + 1 - first;
  // Each pool thread's own scratch: the scores, and for Q8_0 keys the query quantized to int8
  // (as llama.cpp does).
  thread_local std::vector<float> scores;
  thread_local QuantizedActivations quantized_query;
  scores.resize(count);
  float* att = scores.data();

  const float* q = query + head * hs;
  // Runs of a block's positions go to the kernels at once (one dispatch per 16 positions).
  const auto run_end = [&](std::size_t t) {
    return std::min(pos + 1, (t / KvBlockPool::kBlockTokens + 1) * KvBlockPool::kBlockTokens);
  };
  if (type == TensorType::q8_0) {
    quantized_query.quantize(q, hs);
    for (std::size_t t = first; t <= pos; t = run_end(t)) {
      simd_dot_rows_quantized(cache.key(layer, t) + kv_offset, stride, run_end(t) - t,
                              quantized_query, att + (t - first));
    }
  } else {
    for (std::size_t t = first; t <= pos; t = run_end(t)) {
      simd_dot_rows(type, cache.key(layer, t) + kv_offset, stride, run_end(t) - t, q, hs,
                    att + (t - first));
    }
  }
  for (std::size_t i = 0; i < count; ++i) att[i] *= scale;
  softcap(att, count, c.attention_softcap);
  simd_softmax(att, count);
  float* out = result + head * hs;
  std::memset(out, 0, hs * sizeof(float));
  for (std::size_t t = first; t <= pos; t = run_end(t)) {
    simd_axpy_rows(type, att + (t - first), cache.value(layer, t) + kv_offset, stride,
                   run_end(t) - t, out, hs);
  }
}

}  // namespace llorch::engine
