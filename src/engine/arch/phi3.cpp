// Phi-3: fused QKV and fused gate/up tensors (split by the loader), NEOX RoPE, a sliding window
// over every layer.
#include "engine/arch/architecture.hpp"

namespace llorch::engine {

const Architecture kPhi3{"phi3", "Phi-3", [](const GgufFile& f, ModelConfig& c) {
                           c.rope_style = RopeStyle::neox;
                           const auto window = arch_uint(f, c, "attention.sliding_window");
                           for (auto& layer : c.layers) layer.sliding_window = window.value_or(0);
                         }};

}  // namespace llorch::engine
