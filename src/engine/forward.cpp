#include "engine/forward.hpp"

#include <cmath>
#include <cstring>
#include <stdexcept>

#include "engine/kernels.hpp"
#include "engine/quant.hpp"
#include "engine/simd_kernels.hpp"

namespace llorch::engine {

LlamaState::LlamaState(std::shared_ptr<const Model> model, std::size_t threads)
    : model_(std::move(model)), pool_(threads) {
  const LlamaConfig& c = model_->config;
  x_.resize(c.dim);
  xb_.resize(c.dim);
  xb2_.resize(c.dim);
  q_.resize(c.dim);
  k_.resize(c.kv_dim());
  v_.resize(c.kv_dim());
  hb_.resize(c.hidden_dim);
  hb2_.resize(c.hidden_dim);
  att_.resize(c.n_heads * c.context_length);
  logits_.resize(c.vocab_size);
  key_cache_.resize(c.n_layers * c.context_length * c.kv_dim());
  value_cache_.resize(c.n_layers * c.context_length * c.kv_dim());
  // theta_i = base^(-2i / rope_dims) for each rotated pair i of a head.
  for (std::size_t i = 0; i < c.rope_dims / 2; ++i) {
    rope_freq_.push_back(1.0f / std::pow(c.rope_freq_base, static_cast<float>(2 * i) /
                                                               static_cast<float>(c.rope_dims)));
  }
}

std::span<const float> LlamaState::forward(TokenId token, std::size_t pos) {
  const Model& m = *model_;
  const LlamaConfig& c = m.config;
  if (pos >= c.context_length) {
    throw std::out_of_range("position " + std::to_string(pos) + " is past the context length " +
                            std::to_string(c.context_length));
  }
  if (token < 0 || static_cast<std::size_t>(token) >= c.vocab_size) {
    throw std::out_of_range("token id " + std::to_string(token) + " is outside the vocabulary");
  }
  dequantize_row(m.token_embedding.type, m.token_embedding.row(static_cast<std::size_t>(token)),
                 x_.data(), c.dim);

  for (std::size_t l = 0; l < c.n_layers; ++l) {
    const LayerWeights& w = m.layers[l];
    // Attention block: RMSNorm, Q/K/V projections, RoPE, cache, attention, output projection.
    rmsnorm(xb_.data(), x_.data(), reinterpret_cast<const float*>(w.attn_norm.data), c.dim,
            c.rms_eps);
    const MatvecJob qkv[] = {{&w.wq, q_.data()}, {&w.wk, k_.data()}, {&w.wv, v_.data()}};
    matvec_many(qkv, xb_.data(), &pool_);

    rope(q_.data(), k_.data(), pos);
    const std::size_t cache_row = (l * c.context_length + pos) * c.kv_dim();
    std::memcpy(key_cache_.data() + cache_row, k_.data(), c.kv_dim() * sizeof(float));
    std::memcpy(value_cache_.data() + cache_row, v_.data(), c.kv_dim() * sizeof(float));

    attention(l, pos, q_.data(), xb_.data(), att_.data());
    matvec(w.wo, xb_.data(), xb2_.data(), &pool_);
    for (std::size_t i = 0; i < c.dim; ++i) x_[i] += xb2_[i];

    // Feed-forward block: RMSNorm, SwiGLU (silu(gate) * up), down projection.
    rmsnorm(xb_.data(), x_.data(), reinterpret_cast<const float*>(w.ffn_norm.data), c.dim,
            c.rms_eps);
    const MatvecJob gate_up[] = {{&w.w_gate, hb_.data()}, {&w.w_up, hb2_.data()}};
    matvec_many(gate_up, xb_.data(), &pool_);
    for (std::size_t i = 0; i < c.hidden_dim; ++i) {
      const float g = hb_[i];
      hb_[i] = g * (1.0f / (1.0f + std::exp(-g))) * hb2_[i];
    }
    matvec(w.w_down, hb_.data(), xb_.data(), &pool_);
    for (std::size_t i = 0; i < c.dim; ++i) x_[i] += xb_[i];
  }

  rmsnorm(x_.data(), x_.data(), reinterpret_cast<const float*>(m.output_norm.data), c.dim,
          c.rms_eps);
  matvec(m.output, x_.data(), logits_.data(), &pool_);
  next_pos_ = pos + 1;
  return logits_;
}

void LlamaState::rope(float* q, float* k, std::size_t pos) const noexcept {
  // RoPE on adjacent pairs of the first rope_dims dimensions of every head (GGUF "normal" RoPE,
  // the layout llama2.c uses and llama.cpp's converters produce for Llama).
  const LlamaConfig& c = model_->config;
  const std::size_t hd = c.head_dim();
  for (std::size_t i = 0; i < c.rope_dims; i += 2) {
    const float angle = static_cast<float>(pos) * rope_freq_[i / 2];
    const float fcr = std::cos(angle);
    const float fci = std::sin(angle);
    for (std::size_t h = 0; h < c.n_heads; ++h) {
      float* v = q + h * hd + i;
      const float v0 = v[0], v1 = v[1];
      v[0] = v0 * fcr - v1 * fci;
      v[1] = v0 * fci + v1 * fcr;
    }
    for (std::size_t h = 0; h < c.n_kv_heads; ++h) {
      float* v = k + h * hd + i;
      const float v0 = v[0], v1 = v[1];
      v[0] = v0 * fcr - v1 * fci;
      v[1] = v0 * fci + v1 * fcr;
    }
  }
}

std::span<const float> LlamaState::forward_batch(std::span<const TokenId> tokens, std::size_t pos) {
  if (tokens.size() == 1) return forward(tokens[0], pos);
  const Model& m = *model_;
  const LlamaConfig& c = m.config;
  const std::size_t n = tokens.size();
  if (n == 0) throw std::invalid_argument("forward_batch needs at least one token");
  if (pos + n > c.context_length) {
    throw std::out_of_range("positions up to " + std::to_string(pos + n - 1) +
                            " are past the context length " + std::to_string(c.context_length));
  }
  for (const TokenId token : tokens) {
    if (token < 0 || static_cast<std::size_t>(token) >= c.vocab_size) {
      throw std::out_of_range("token id " + std::to_string(token) + " is outside the vocabulary");
    }
  }
  const std::size_t dim = c.dim;
  const std::size_t kv_dim = c.kv_dim();
  const std::size_t hidden = c.hidden_dim;
  // Batch buffers: one row per token.
  batch_x_.resize(n * dim);
  batch_xb_.resize(n * dim);
  batch_q_.resize(n * dim);
  batch_k_.resize(n * kv_dim);
  batch_v_.resize(n * kv_dim);
  batch_h_.resize(n * hidden);
  batch_h2_.resize(n * hidden);
  batch_out_.resize(n * dim);
  batch_scores_.resize(n * c.context_length);
  for (std::size_t t = 0; t < n; ++t) {
    dequantize_row(m.token_embedding.type,
                   m.token_embedding.row(static_cast<std::size_t>(tokens[t])),
                   batch_x_.data() + t * dim, dim);
  }

  for (std::size_t l = 0; l < c.n_layers; ++l) {
    const LayerWeights& w = m.layers[l];
    const auto* attn_norm = reinterpret_cast<const float*>(w.attn_norm.data);
    for (std::size_t t = 0; t < n; ++t)
      rmsnorm(batch_xb_.data() + t * dim, batch_x_.data() + t * dim, attn_norm, dim, c.rms_eps);
    matmul(w.wq, batch_xb_.data(), n, batch_q_.data(), &pool_);
    matmul(w.wk, batch_xb_.data(), n, batch_k_.data(), &pool_);
    matmul(w.wv, batch_xb_.data(), n, batch_v_.data(), &pool_);
    // Every position's keys and values go into the cache first: token t attends to the batch's
    // positions up to its own.
    for (std::size_t t = 0; t < n; ++t) {
      rope(batch_q_.data() + t * dim, batch_k_.data() + t * kv_dim, pos + t);
      const std::size_t cache_row = (l * c.context_length + pos + t) * kv_dim;
      std::memcpy(key_cache_.data() + cache_row, batch_k_.data() + t * kv_dim,
                  kv_dim * sizeof(float));
      std::memcpy(value_cache_.data() + cache_row, batch_v_.data() + t * kv_dim,
                  kv_dim * sizeof(float));
    }
    // Positions are independent once the cache holds the batch: split them over the pool.
    pool_.parallel_for(n, [&](std::size_t begin, std::size_t end) {
      for (std::size_t t = begin; t < end; ++t) {
        attention(l, pos + t, batch_q_.data() + t * dim, batch_xb_.data() + t * dim,
                  batch_scores_.data() + t * c.context_length);
      }
    });
    matmul(w.wo, batch_xb_.data(), n, batch_out_.data(), &pool_);
    for (std::size_t i = 0; i < n * dim; ++i) batch_x_[i] += batch_out_[i];

    const auto* ffn_norm = reinterpret_cast<const float*>(w.ffn_norm.data);
    for (std::size_t t = 0; t < n; ++t)
      rmsnorm(batch_xb_.data() + t * dim, batch_x_.data() + t * dim, ffn_norm, dim, c.rms_eps);
    matmul(w.w_gate, batch_xb_.data(), n, batch_h_.data(), &pool_);
    matmul(w.w_up, batch_xb_.data(), n, batch_h2_.data(), &pool_);
    for (std::size_t i = 0; i < n * hidden; ++i) {
      const float g = batch_h_[i];
      batch_h_[i] = g * (1.0f / (1.0f + std::exp(-g))) * batch_h2_[i];
    }
    matmul(w.w_down, batch_h_.data(), n, batch_out_.data(), &pool_);
    for (std::size_t i = 0; i < n * dim; ++i) batch_x_[i] += batch_out_[i];
  }

  // Only the last position's logits are needed: they give the next token.
  rmsnorm(x_.data(), batch_x_.data() + (n - 1) * dim,
          reinterpret_cast<const float*>(m.output_norm.data), dim, c.rms_eps);
  matvec(m.output, x_.data(), logits_.data(), &pool_);
  next_pos_ = pos + n;
  return logits_;
}

void LlamaState::attention(std::size_t layer, std::size_t pos, const float* query, float* result,
                           float* scores) const {
  const LlamaConfig& c = model_->config;
  const std::size_t hd = c.head_dim();
  const std::size_t kv_dim = c.kv_dim();
  const std::size_t group = c.n_heads / c.n_kv_heads;  // query heads per KV head
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const float* keys = key_cache_.data() + layer * c.context_length * kv_dim;
  const float* values = value_cache_.data() + layer * c.context_length * kv_dim;

  for (std::size_t h = 0; h < c.n_heads; ++h) {
    const float* q = query + h * hd;
    float* att = scores;  // reused head after head
    const std::size_t kv_offset = (h / group) * hd;
    for (std::size_t t = 0; t <= pos; ++t) {
      const float* k = keys + t * kv_dim + kv_offset;
      att[t] = simd_dot(TensorType::f32, reinterpret_cast<const std::byte*>(k), q, hd) * scale;
    }
    softmax(att, pos + 1);
    float* out = result + h * hd;
    std::memset(out, 0, hd * sizeof(float));
    for (std::size_t t = 0; t <= pos; ++t) {
      const float* v = values + t * kv_dim + kv_offset;
      const float a = att[t];
      for (std::size_t i = 0; i < hd; ++i) out[i] += a * v[i];
    }
  }
}

}  // namespace llorch::engine
