#include "engine/synth.hpp"

#include <fmt/format.h>

#include <cmath>
#include <vector>

#include "engine/gguf.hpp"
#include "engine/gguf_writer.hpp"
#include "engine/model_error.hpp"
#include "engine/quant.hpp"

namespace llorch::engine {

namespace {

// xorshift64*: random weights at memory speed (their values do not matter, only their bytes).
class FastRandom {
 public:
  explicit FastRandom(std::uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  float uniform(float scale) {  // in [-scale, scale)
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    const std::uint64_t bits = state_ * 0x2545F4914F6CDD1Dull;
    return (static_cast<float>(bits >> 40) * (1.0f / 8388608.0f) - 1.0f) * scale;
  }

 private:
  std::uint64_t state_;
};

void copy_tokenizer(const GgufFile& vocab, GgufWriter& out) {
  for (const auto& entry : vocab.metadata()) {
    // A named reference, not a structured binding: clang 14 cannot capture those in lambdas.
    const std::string& key = entry.first;
    const GgufValue& value = entry.second;
    if (key.rfind("tokenizer.", 0) != 0) continue;
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>) {
            out.add_string(key, v);
          } else if constexpr (std::is_same_v<T, bool>) {
            out.add_bool(key, v);
          } else if constexpr (std::is_same_v<T, double>) {
            out.add_float32(key, static_cast<float>(v));
          } else if constexpr (std::is_same_v<T, GgufArray>) {
            if (!v.strings.empty()) {
              out.add_strings(key, v.strings);
            } else if (!v.reals.empty()) {
              out.add_float32s(key, std::vector<float>(v.reals.begin(), v.reals.end()));
            } else if (!v.ints.empty()) {
              out.add_int32s(key, std::vector<std::int32_t>(v.ints.begin(), v.ints.end()));
            }
          } else {
            out.add_uint32(key, static_cast<std::uint32_t>(v));
          }
        },
        value);
  }
}

}  // namespace

std::optional<SynthShape> known_synth_shape(const std::string& name) {
  if (name == "tinyllama") return SynthShape{name, 2048, 5632, 22, 32, 4, 2048};
  if (name == "stories15m") return SynthShape{name, 288, 768, 6, 6, 6, 256};
  if (name == "stories110m") return SynthShape{name, 768, 2048, 12, 12, 12, 1024};
  return std::nullopt;
}

SynthReport synthesize_model(const SynthOptions& o, const std::function<void(double)>& progress) {
  const SynthShape& s = o.shape;
  if (s.dim == 0 || s.hidden_dim == 0 || s.n_layers == 0 || s.n_heads == 0 || s.n_kv_heads == 0 ||
      s.context_length == 0 || s.dim % s.n_heads != 0 || s.n_heads % s.n_kv_heads != 0 ||
      (s.dim / s.n_heads) % 2 != 0) {
    throw ModelError(fmt::format(
        "shape {}: dim {} must split into {} heads of an even size, and {} heads into {} KV "
        "heads; every number must be positive",
        s.name, s.dim, s.n_heads, s.n_heads, s.n_kv_heads));
  }
  const GgufFile vocab = GgufFile::open(o.vocab_path);
  const GgufArray* tokens = vocab.get_array("tokenizer.ggml.tokens");
  if (tokens == nullptr || tokens->strings.empty()) {
    throw ModelError(o.vocab_path +
                     ": no tokenizer.ggml.tokens; give a GGUF that has a tokenizer "
                     "(e.g. ../shared/models/vocab/ggml-vocab-llama-spm.gguf)");
  }
  SynthReport report;
  report.vocab_size = tokens->strings.size();
  const std::size_t kv_dim = s.dim / s.n_heads * s.n_kv_heads;

  GgufWriter out;
  out.add_string("general.architecture", "llama");
  out.add_string("general.name",
                 fmt::format("llorch synthetic {} {}", s.name, traits(o.type).name));
  out.add_uint32("llama.context_length", static_cast<std::uint32_t>(s.context_length));
  out.add_uint32("llama.embedding_length", static_cast<std::uint32_t>(s.dim));
  out.add_uint32("llama.feed_forward_length", static_cast<std::uint32_t>(s.hidden_dim));
  out.add_uint32("llama.block_count", static_cast<std::uint32_t>(s.n_layers));
  out.add_uint32("llama.attention.head_count", static_cast<std::uint32_t>(s.n_heads));
  out.add_uint32("llama.attention.head_count_kv", static_cast<std::uint32_t>(s.n_kv_heads));
  out.add_uint32("llama.rope.dimension_count", static_cast<std::uint32_t>(s.dim / s.n_heads));
  out.add_float32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  copy_tokenizer(vocab, out);

  FastRandom random(o.seed);
  const bool low_bit = o.type == TensorType::q4_0 || o.type == TensorType::q4_k ||
                       o.type == TensorType::q5_k || o.type == TensorType::q6_k;
  // llama.cpp's rule for the _M mixes: the first and last eighth of the layers and every third
  // one between them keep attn_v and ffn_down in Q6_K.
  const auto more_bits = [&](std::size_t l) {
    const std::size_t n = s.n_layers;
    return o.medium_mix && (l < n / 8 || l >= 7 * n / 8 || (l - n / 8) % 3 == 2);
  };
  std::uint64_t values_total = 0;
  std::uint64_t values_done = 0;
  values_total += 2 * static_cast<std::uint64_t>(report.vocab_size) * s.dim;
  values_total +=
      s.n_layers * (2ull * s.dim * s.dim + 2ull * kv_dim * s.dim + 3ull * s.hidden_dim * s.dim);

  const auto matrix = [&](const std::string& name, std::size_t cols, std::size_t rows,
                          TensorType type) {
    if (cols % traits(type).block_elements != 0) {
      type = TensorType::q8_0;
      ++report.fallback_tensors;
      if (cols % 32 != 0) type = TensorType::f16;
    }
    const TypeTraits& t = traits(type);
    const std::size_t row_bytes = cols / t.block_elements * t.block_bytes;
    std::vector<std::byte> data(rows * row_bytes);
    std::vector<float> row(cols);
    // Scaled like trained weights (≈ 1/sqrt(cols)), so activations stay in range.
    const float scale = 1.7f / std::sqrt(static_cast<float>(cols));
    for (std::size_t r = 0; r < rows; ++r) {
      for (float& v : row) v = random.uniform(scale);
      quantize_row(type, row.data(), data.data() + r * row_bytes, cols);
    }
    out.add_tensor(name, {cols, rows}, static_cast<std::uint32_t>(type), data);
    report.bytes += data.size();
    ++report.tensors;
    values_done += static_cast<std::uint64_t>(rows) * cols;
    if (progress) progress(static_cast<double>(values_done) / static_cast<double>(values_total));
  };
  const auto norm = [&](const std::string& name) {
    std::vector<float> ones(s.dim, 1.0f);
    out.add_tensor(name, {s.dim}, static_cast<std::uint32_t>(TensorType::f32),
                   std::as_bytes(std::span(ones)));
    report.bytes += s.dim * sizeof(float);
    ++report.tensors;
  };

  matrix("token_embd.weight", s.dim, report.vocab_size, o.type);
  for (std::size_t l = 0; l < s.n_layers; ++l) {
    const auto name = [&](const char* what) { return fmt::format("blk.{}.{}.weight", l, what); };
    norm(name("attn_norm"));
    matrix(name("attn_q"), s.dim, s.dim, o.type);
    matrix(name("attn_k"), s.dim, kv_dim, o.type);
    matrix(name("attn_v"), s.dim, kv_dim, more_bits(l) ? TensorType::q6_k : o.type);
    matrix(name("attn_output"), s.dim, s.dim, o.type);
    norm(name("ffn_norm"));
    matrix(name("ffn_gate"), s.dim, s.hidden_dim, o.type);
    matrix(name("ffn_up"), s.dim, s.hidden_dim, o.type);
    matrix(name("ffn_down"), s.hidden_dim, s.dim, more_bits(l) ? TensorType::q6_k : o.type);
  }
  norm("output_norm.weight");
  matrix("output.weight", s.dim, report.vocab_size, low_bit ? TensorType::q6_k : o.type);
  out.write(o.output_path);
  return report;
}

}  // namespace llorch::engine
