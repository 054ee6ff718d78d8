// Llama 1/2/3.x and Mistral (written as `llama`), Mixtral (`llama` with experts): the defaults.
// Adjacent-pair RoPE; Llama 3.1's frequency divisors come as the rope_freqs tensor.
#include "engine/arch/architecture.hpp"

namespace llorch::engine {

const Architecture kLlama{
    "llama", "Llama", [](const GgufFile&, ModelConfig& c) { c.rope_style = RopeStyle::normal; }};

}  // namespace llorch::engine
