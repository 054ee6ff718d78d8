// Picks the next token from logits: repetition penalty, temperature, top-k, top-p, min-p; seeded
// and reproducible. With top-k and min-p off it is exactly llama2.c's run.c sampler (same RNG,
// same top-p rule), so its sampled reference outputs reproduce.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/vocabulary.hpp"

namespace llorch::engine {

struct SamplingParams {
  float temperature = 0.8f;         // <= 0: greedy (argmax, lowest id wins ties)
  int top_k = 40;                   // <= 0: off
  float top_p = 0.95f;              // <= 0 or >= 1: off
  float min_p = 0.05f;              // <= 0: off; keeps tokens with p >= min_p * p(max)
  float repetition_penalty = 1.0f;  // 1: off; > 1 discourages the last `repetition_window` tokens
  std::size_t repetition_window = 64;
  std::uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(SamplingParams params);

  // `logits` is modified (penalty, temperature). `history` is every token so far (prompt included).
  TokenId sample(std::span<float> logits, std::span<const TokenId> history);

  const SamplingParams& params() const noexcept { return params_; }

 private:
  float next_coin() noexcept;  // run.c's random_f32: xorshift64*, 24 bits, in [0, 1)

  SamplingParams params_;
  std::uint64_t state_;
  std::vector<std::pair<float, TokenId>> candidates_;  // reused between calls
};

}  // namespace llorch::engine
