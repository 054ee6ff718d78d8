// A loaded Llama-architecture model: its shape, its weights (views into the mapped file) and its
// vocabulary. Loading reads GGUF files and llama2.c checkpoints.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/tensor_type.hpp"
#include "engine/vocabulary.hpp"

namespace llorch::engine {

struct LlamaConfig {
  std::size_t dim = 0;         // embedding width
  std::size_t hidden_dim = 0;  // feed-forward width
  std::size_t n_layers = 0;
  std::size_t n_heads = 0;
  std::size_t n_kv_heads = 0;  // < n_heads: grouped-query attention
  std::size_t vocab_size = 0;
  std::size_t context_length = 0;  // positions the KV cache holds
  std::size_t rope_dims = 0;       // leading dimensions of each head that RoPE rotates
  float rope_freq_base = 10000.0f;
  float rms_eps = 1e-5f;

  std::size_t head_dim() const noexcept { return dim / n_heads; }
  std::size_t kv_dim() const noexcept { return head_dim() * n_kv_heads; }
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
};

struct LayerWeights {
  Tensor attn_norm;  // [dim]
  Tensor wq;         // [dim rows, dim cols]
  Tensor wk;         // [kv_dim rows, dim cols]
  Tensor wv;         // [kv_dim rows, dim cols]
  Tensor wo;         // [dim rows, dim cols]
  Tensor ffn_norm;   // [dim]
  Tensor w_gate;     // [hidden rows, dim cols]   (w1)
  Tensor w_up;       // [hidden rows, dim cols]   (w3)
  Tensor w_down;     // [dim rows, hidden cols]   (w2)
};

struct LoadOptions {
  std::optional<std::size_t> context_length;  // overrides the file's
  std::string tokenizer_path;                 // llama2.c only: "" looks beside the checkpoint
};

class Model {
 public:
  LlamaConfig config;
  Vocabulary vocab;
  Tensor token_embedding;  // [vocab rows, dim cols]
  std::vector<LayerWeights> layers;
  Tensor output_norm;  // [dim]
  Tensor output;       // [vocab rows, dim cols]; the embedding itself when tied
  bool tied_output = false;

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
  // One walk for both constnesses (Self is Model or const Model).
  template <typename Self, typename F>
  static void visit_tensors(Self& self, F& f) {
    f(self.token_embedding);
    for (auto& l : self.layers) {
      f(l.attn_norm);
      f(l.wq);
      f(l.wk);
      f(l.wv);
      f(l.wo);
      f(l.ffn_norm);
      f(l.w_gate);
      f(l.w_up);
      f(l.w_down);
    }
    f(self.output_norm);
    if (!self.tied_output) f(self.output);
  }
};

// Loads a GGUF file (by its magic) or else a llama2.c checkpoint. Throws ModelError naming the
// file and what is wrong: unreadable, malformed, not llama, a missing tensor, a shape that does
// not match the metadata, a tensor type llorch cannot compute with.
std::shared_ptr<Model> load_model(const std::string& path, const LoadOptions& options = {});

// Only the vocabulary of a model file (GGUF, including vocabulary-only files with no tensors, or a
// llama2.c checkpoint with its tokenizer file). Throws ModelError.
Vocabulary load_vocabulary(const std::string& path, const LoadOptions& options = {});

// Re-encodes every 2-D weight matrix whose rows are whole blocks of `type` (Q8_0, Q4_0, F16)
// into buffers the model owns; others stay as they are. For tests and `model` tools.
void requantize(Model& model, TensorType type);

}  // namespace llorch::engine
