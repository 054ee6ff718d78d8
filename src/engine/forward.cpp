#include "engine/forward.hpp"

#include <cmath>
#include <cstring>
#include <stdexcept>

#include "engine/kernels.hpp"
#include "engine/quant.hpp"

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
    matvec(w.wq, xb_.data(), q_.data(), &pool_);
    matvec(w.wk, xb_.data(), k_.data(), &pool_);
    matvec(w.wv, xb_.data(), v_.data(), &pool_);

    // RoPE on adjacent pairs of the first rope_dims dimensions of every head (GGUF "normal" RoPE,
    // the layout llama2.c uses and llama.cpp's converters produce for Llama).
    const std::size_t hd = c.head_dim();
    for (std::size_t i = 0; i < c.rope_dims; i += 2) {
      const float angle = static_cast<float>(pos) * rope_freq_[i / 2];
      const float fcr = std::cos(angle);
      const float fci = std::sin(angle);
      for (std::size_t h = 0; h < c.n_heads; ++h) {
        float* q = q_.data() + h * hd + i;
        const float q0 = q[0], q1 = q[1];
        q[0] = q0 * fcr - q1 * fci;
        q[1] = q0 * fci + q1 * fcr;
      }
      for (std::size_t h = 0; h < c.n_kv_heads; ++h) {
        float* k = k_.data() + h * hd + i;
        const float k0 = k[0], k1 = k[1];
        k[0] = k0 * fcr - k1 * fci;
        k[1] = k0 * fci + k1 * fcr;
      }
    }
    const std::size_t cache_row = (l * c.context_length + pos) * c.kv_dim();
    std::memcpy(key_cache_.data() + cache_row, k_.data(), c.kv_dim() * sizeof(float));
    std::memcpy(value_cache_.data() + cache_row, v_.data(), c.kv_dim() * sizeof(float));

    attention(l, pos);
    matvec(w.wo, xb_.data(), xb2_.data(), &pool_);
    for (std::size_t i = 0; i < c.dim; ++i) x_[i] += xb2_[i];

    // Feed-forward block: RMSNorm, SwiGLU (silu(gate) * up), down projection.
    rmsnorm(xb_.data(), x_.data(), reinterpret_cast<const float*>(w.ffn_norm.data), c.dim,
            c.rms_eps);
    matvec(w.w_gate, xb_.data(), hb_.data(), &pool_);
    matvec(w.w_up, xb_.data(), hb2_.data(), &pool_);
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

void LlamaState::attention(std::size_t layer, std::size_t pos) {
  const LlamaConfig& c = model_->config;
  const std::size_t hd = c.head_dim();
  const std::size_t kv_dim = c.kv_dim();
  const std::size_t group = c.n_heads / c.n_kv_heads;  // query heads per KV head
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const float* keys = key_cache_.data() + layer * c.context_length * kv_dim;
  const float* values = value_cache_.data() + layer * c.context_length * kv_dim;

  for (std::size_t h = 0; h < c.n_heads; ++h) {
    const float* q = q_.data() + h * hd;
    float* att = att_.data() + h * c.context_length;
    const std::size_t kv_offset = (h / group) * hd;
    for (std::size_t t = 0; t <= pos; ++t) {
      const float* k = keys + t * kv_dim + kv_offset;
      float score = 0.0f;
      for (std::size_t i = 0; i < hd; ++i) score += q[i] * k[i];
      att[t] = score * scale;
    }
    softmax(att, pos + 1);
    float* out = xb_.data() + h * hd;
    std::memset(out, 0, hd * sizeof(float));
    for (std::size_t t = 0; t <= pos; ++t) {
      const float* v = values + t * kv_dim + kv_offset;
      const float a = att[t];
      for (std::size_t i = 0; i < hd; ++i) out[i] += a * v[i];
    }
  }
}

}  // namespace llorch::engine
