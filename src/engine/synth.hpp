// Synthetic models: a valid GGUF of a real model's exact shape and tensor types with random
// weights and a real tokenizer — how speed is measured when real weights cannot be downloaded
// (speed does not depend on the weights' values).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "engine/tensor_type.hpp"

namespace llorch::engine {

struct SynthShape {
  std::string name;
  std::size_t dim = 0;
  std::size_t hidden_dim = 0;
  std::size_t n_layers = 0;
  std::size_t n_heads = 0;
  std::size_t n_kv_heads = 0;
  std::size_t context_length = 0;
};

// tinyllama (TinyLlama-1.1B), stories15m, stories110m; nullopt for other names.
std::optional<SynthShape> known_synth_shape(const std::string& name);

struct SynthOptions {
  SynthShape shape;
  TensorType type = TensorType::q4_0;  // of the 2-D weights; norms stay F32
  // llama.cpp's medium K-quant mix (Q4_K_M, Q5_K_M): attn_v and ffn_down of some layers in Q6_K.
  bool medium_mix = false;
  std::string vocab_path;  // a GGUF whose tokenizer is copied
  std::string output_path;
  std::uint64_t seed = 1;
};

struct SynthReport {
  std::size_t vocab_size = 0;
  std::size_t tensors = 0;
  std::uint64_t bytes = 0;
  std::size_t fallback_tensors = 0;  // K-quant requested but rows are not whole super-blocks
};

// Writes the file. The output matrix is Q6_K when `type` is a 4-, 5- or 6-bit type (as llama.cpp's
// quantizer does), tensors whose rows are not whole K-quant super-blocks are Q8_0. Throws
// ModelError for an unusable vocab file or shape, std::system_error when writing fails.
// `progress` is called with the fraction done.
SynthReport synthesize_model(const SynthOptions& options,
                             const std::function<void(double)>& progress = {});

}  // namespace llorch::engine
