// A loaded model: its shape and computation choices, its weights (views into the mapped file) and
// its vocabulary. Loading reads GGUF files of the architectures in architectures.hpp and
// llama2.c checkpoints.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/tensor_type.hpp"
#include "engine/vocabulary.hpp"

namespace llorch::engine {

enum class RopeStyle {
  normal,  // adjacent pairs (2i, 2i+1): Llama as llama.cpp's converters write it
  neox,    // halves (i, i + rope_dims/2): Qwen, Phi-3, Gemma
};

enum class Activation {
  silu,       // SwiGLU: silu(gate) * up
  gelu_tanh,  // GeGLU: gelu(gate) * up, tanh approximation (Gemma)
};

// What differs from one layer to the next (Gemma's alternating local and global attention).
struct LayerConfig {
  float rope_base = 10000.0f;
  std::size_t sliding_window = 0;  // keys this far back at most; 0: every earlier position
};

// The shape and the computation choices of a model: one transformer layer routine reads these
// (forward.cpp); each architecture's file sets them (architectures.cpp).
struct ModelConfig {
  std::string architecture = "llama";  // general.architecture
  std::size_t dim = 0;                 // embedding width
  std::size_t hidden_dim = 0;          // feed-forward width (of one expert)
  std::size_t n_layers = 0;
  std::size_t n_heads = 0;
  std::size_t n_kv_heads = 0;  // < n_heads: grouped-query attention
  std::size_t head_size = 0;   // per head; not always dim / n_heads (Gemma, Qwen 3)
  std::size_t vocab_size = 0;
  std::size_t context_length = 0;  // positions the KV cache holds
  std::size_t rope_dims = 0;       // leading dimensions of each head that RoPE rotates
  float rope_freq_base = 10000.0f;
  RopeStyle rope_style = RopeStyle::normal;
  float rope_attn_factor = 1.0f;  // rotated dimensions scaled by it (LongRoPE's attention factor)
  float rms_eps = 1e-5f;
  Activation activation = Activation::silu;
  float embedding_scale = 1.0f;    // token embeddings are multiplied by it (Gemma: √dim)
  float attention_scale = 0.0f;    // scores are q·k times this; 0: 1/√head_size
  float attention_softcap = 0.0f;  // scores become cap·tanh(score/cap); 0: none
  float final_softcap = 0.0f;      // logits likewise
  std::size_t n_experts = 0;       // mixture of experts: experts per layer (0: dense)
  std::size_t n_experts_used = 0;  // experts each token goes through
  std::vector<LayerConfig> layers;

  std::size_t head_dim() const noexcept { return head_size; }
  std::size_t q_dim() const noexcept { return head_size * n_heads; }
  std::size_t kv_dim() const noexcept { return head_size * n_kv_heads; }
};

// A weight matrix (or vector: rows == 1) stored row-major in its file's type. A row holds `cols`
// values (GGUF ne0). Not owning: the Model keeps the bytes alive.
struct Tensor {
  TensorType type = TensorType::f32;
  const std::byte* data = nullptr;
  std::size_t rows = 0;
  std::size_t cols = 0;

  std::size_t row_bytes() const noexcept {
    const TypeTraits& t = traits(type);
    return cols / t.block_elements * t.block_bytes;
  }
  const std::byte* row(std::size_t r) const noexcept { return data + r * row_bytes(); }
  bool present() const noexcept { return data != nullptr; }
  // Rows [first, first + count): a fused tensor's parts (Q, K and V; gate and up; one expert).
  Tensor rows_slice(std::size_t first, std::size_t count) const noexcept {
    return Tensor{type, row(first), count, cols};
  }
};

// One expert of a mixture-of-experts layer: a SwiGLU feed-forward of its own.
struct ExpertWeights {
  Tensor w_gate;  // [hidden rows, dim cols]
  Tensor w_up;    // [hidden rows, dim cols]
  Tensor w_down;  // [dim rows, hidden cols]
};

// A layer's weights; optional ones are absent (present() false) when the architecture has none.
struct LayerWeights {
  Tensor attn_norm;       // [dim]
  Tensor wq;              // [q_dim rows, dim cols]
  Tensor wk;              // [kv_dim rows, dim cols]
  Tensor wv;              // [kv_dim rows, dim cols]
  Tensor bq, bk, bv;      // optional biases [q_dim], [kv_dim], [kv_dim] (Qwen 2)
  Tensor q_norm, k_norm;  // optional per-head RMSNorm weights [head_size] (Qwen 3, Gemma 3)
  Tensor wo;              // [dim rows, q_dim cols]
  Tensor post_attn_norm;  // optional, on the attention's output before the residual (Gemma)
  Tensor ffn_norm;        // [dim]
  Tensor w_gate;          // [hidden rows, dim cols]   (w1); absent with experts
  Tensor w_up;            // [hidden rows, dim cols]   (w3); absent with experts
  Tensor w_down;          // [dim rows, hidden cols]   (w2); absent with experts
  Tensor router;          // [experts rows, dim cols] with experts
  std::vector<ExpertWeights> experts;
  Tensor post_ffn_norm;  // optional, on the feed-forward's output before the residual (Gemma)
};

struct LoadOptions {
  std::optional<std::size_t> context_length;  // overrides the file's
  std::string tokenizer_path;                 // llama2.c only: "" looks beside the checkpoint
};

class Model {
 public:
  ModelConfig config;
  Vocabulary vocab;
  Tensor token_embedding;  // [vocab rows, dim cols]
  std::vector<LayerWeights> layers;
  Tensor output_norm;  // [dim]
  Tensor output;       // [vocab rows, dim cols]; the embedding itself when tied
  bool tied_output = false;
  // Optional [rope_dims/2]: each frequency's divisor — Llama 3.1's rope_freqs, or Phi-3's
  // LongRoPE factors (the short ones up to the original context, the long ones beyond it).
  Tensor rope_freqs;

  std::string path;
  std::string format;         // "GGUF v3", "llama2.c"
  std::string chat_template;  // tokenizer.chat_template (Jinja), "" when the file has none
  std::size_t file_bytes = 0;
  std::size_t repacked_bytes = 0;  // weights copied into the kernels' layouts at load (repack.hpp)
  std::vector<std::pair<std::string, std::string>> metadata;  // for `model info`: key, value

  // Keeps mappings and owned buffers alive (weights point into them).
  std::vector<std::shared_ptr<const void>> storage;

  std::size_t weight_bytes() const;
  // Type name -> number of weight matrices of that type, for people.
  std::vector<std::pair<std::string, std::size_t>> tensor_type_counts() const;
  // Calls f(Tensor&) for every weight matrix and vector.
  template <typename F>
  void for_each_tensor(F&& f) {
    visit_tensors(*this, f);
  }
  template <typename F>
  void for_each_tensor(F&& f) const {
    visit_tensors(*this, f);
  }

 private:
  // One walk for both constnesses (Self is Model or const Model); absent tensors are skipped.
  template <typename Self, typename F>
  static void visit_tensors(Self& self, F& f) {
    const auto visit = [&f](auto& t) {
      if (t.present()) f(t);
    };
    visit(self.token_embedding);
    for (auto& l : self.layers) {
      for (auto* t : {&l.attn_norm, &l.wq, &l.wk, &l.wv, &l.bq, &l.bk, &l.bv, &l.q_norm, &l.k_norm,
                      &l.wo, &l.post_attn_norm, &l.ffn_norm, &l.w_gate, &l.w_up, &l.w_down,
                      &l.router, &l.post_ffn_norm})
        visit(*t);
      for (auto& e : l.experts) {
        visit(e.w_gate);
        visit(e.w_up);
        visit(e.w_down);
      }
    }
    visit(self.output_norm);
    if (!self.tied_output) visit(self.output);
    visit(self.rope_freqs);
  }
};

// Loads a GGUF file (by its magic) or else a llama2.c checkpoint. Throws ModelError naming the
// file and what is wrong: unreadable, malformed, an architecture llorch does not run (the message
// lists those it does), a missing tensor, a shape that does not match the metadata, a tensor type
// llorch cannot compute with.
std::shared_ptr<Model> load_model(const std::string& path, const LoadOptions& options = {});

// Only the vocabulary of a model file (GGUF, including vocabulary-only files with no tensors, or a
// llama2.c checkpoint with its tokenizer file). Throws ModelError.
Vocabulary load_vocabulary(const std::string& path, const LoadOptions& options = {});

// Re-encodes every 2-D weight matrix whose rows are whole blocks of `type` (Q8_0, Q4_0, F16)
// into buffers the model owns; others stay as they are. For tests and `model` tools.
void requantize(Model& model, TensorType type);

}  // namespace llorch::engine
