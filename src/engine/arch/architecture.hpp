// The architectures llorch runs, one small file each (arch/<name>.cpp): what each sets on the
// model config beyond the keys every GGUF model has (`<arch>.embedding_length`, `.block_count`,
// `.attention.head_count`, …, read once by the loader). Tensor names are llama.cpp's, the same
// for every architecture; the loader takes the optional ones (biases, QK-norm, sandwich norms,
// fused QKV and gate/up, experts, rope_freqs) wherever a file has them.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "engine/gguf.hpp"
#include "engine/model.hpp"

namespace llorch::engine {

struct Architecture {
  std::string_view name;  // general.architecture
  // What a model of this family is, for people ("Gemma 2").
  std::string_view family;
  // Sets the family's choices on `config`, whose common fields (shape, RoPE base, epsilon,
  // experts) the loader has read; `key(suffix)` is "<arch>.<suffix>".
  void (*configure)(const GgufFile& file, ModelConfig& config);
};

extern const Architecture kLlama;
extern const Architecture kQwen2;
extern const Architecture kQwen3;
extern const Architecture kPhi3;
extern const Architecture kGemma2;
extern const Architecture kGemma3;

// Every architecture, by name.
std::span<const Architecture* const> architectures();
const Architecture* find_architecture(std::string_view name);
// "gemma2, gemma3, llama, phi3, qwen2, qwen3": from the table, for messages and `model info`.
std::string supported_architectures();

// Helpers for the architecture files: "<arch>.<suffix>" read as a number, when present.
std::optional<double> arch_real(const GgufFile& file, const ModelConfig& config,
                                std::string_view suffix);
std::optional<std::uint64_t> arch_uint(const GgufFile& file, const ModelConfig& config,
                                       std::string_view suffix);

}  // namespace llorch::engine
