// Gemma 2 and 3: embeddings scaled by √dim, GeGLU, sandwich norms (taken from the file), NEOX RoPE,
// queries scaled by 1/√head_size, local (sliding-window) and global layers.
#include <cmath>

#include "engine/arch/architecture.hpp"

namespace llorch::engine {

namespace {

void gemma_common(ModelConfig& c) {
  c.rope_style = RopeStyle::neox;
  c.activation = Activation::gelu_tanh;
  c.embedding_scale = std::sqrt(static_cast<float>(c.dim));
}

}  // namespace

// Gemma 2: sliding window on even layers, soft-capping of attention scores and final logits.
const Architecture kGemma2{
    "gemma2", "Gemma 2", [](const GgufFile& f, ModelConfig& c) {
      gemma_common(c);
      const auto window = arch_uint(f, c, "attention.sliding_window").value_or(4096);
      for (std::size_t l = 0; l < c.layers.size(); ++l)
        c.layers[l].sliding_window = l % 2 == 0 ? window : 0;
      c.attention_softcap =
          static_cast<float>(arch_real(f, c, "attn_logit_softcapping").value_or(50));
      c.final_softcap = static_cast<float>(arch_real(f, c, "final_logit_softcapping").value_or(30));
    }};

// Gemma 3: five local layers (RoPE base 10000) for each global one (the file's base); QK-norm.
const Architecture kGemma3{"gemma3", "Gemma 3", [](const GgufFile& f, ModelConfig& c) {
                             gemma_common(c);
                             const auto window =
                                 arch_uint(f, c, "attention.sliding_window").value_or(1024);
                             for (std::size_t l = 0; l < c.layers.size(); ++l) {
                               const bool local = (l + 1) % 6 != 0;
                               c.layers[l].sliding_window = local ? window : 0;
                               if (local) c.layers[l].rope_base = 10000.0f;
                             }
                             if (const auto cap = arch_real(f, c, "final_logit_softcapping"))
                               c.final_softcap = static_cast<float>(*cap);
                           }};

}  // namespace llorch::engine
