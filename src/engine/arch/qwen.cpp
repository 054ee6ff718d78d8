// Qwen 2 (biases on Q, K and V, taken from the file) and Qwen 3 (per-head RMSNorm of Q and K
// before RoPE, taken from the file; no biases): NEOX RoPE.
#include "engine/arch/architecture.hpp"

namespace llorch::engine {

const Architecture kQwen2{"qwen2", "Qwen 2",
                          [](const GgufFile&, ModelConfig& c) { c.rope_style = RopeStyle::neox; }};

const Architecture kQwen3{"qwen3", "Qwen 3",
                          [](const GgufFile&, ModelConfig& c) { c.rope_style = RopeStyle::neox; }};

}  // namespace llorch::engine
