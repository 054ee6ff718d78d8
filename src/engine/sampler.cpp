#include "engine/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "engine/kernels.hpp"

namespace llorch::engine {

Sampler::Sampler(SamplingParams params) : params_(params), state_(params.seed) {}

float Sampler::next_coin() noexcept {
  state_ ^= state_ >> 12;
  state_ ^= state_ << 25;
  state_ ^= state_ >> 27;
  const auto u32 = static_cast<std::uint32_t>((state_ * 0x2545F4914F6CDD1DULL) >> 32);
  return static_cast<float>(u32 >> 8) / 16777216.0f;
}

TokenId Sampler::sample(std::span<float> logits, std::span<const TokenId> history) {
  const std::size_t n = logits.size();
  if (params_.repetition_penalty != 1.0f && params_.repetition_penalty > 0.0f) {
    const std::size_t window = std::min(history.size(), params_.repetition_window);
    std::unordered_set<TokenId> seen(history.end() - static_cast<std::ptrdiff_t>(window),
                                     history.end());
    for (TokenId id : seen) {
      if (id < 0 || static_cast<std::size_t>(id) >= n) continue;
      float& l = logits[static_cast<std::size_t>(id)];
      l = l > 0.0f ? l / params_.repetition_penalty : l * params_.repetition_penalty;
    }
  }
  if (params_.temperature <= 0.0f) {
    return static_cast<TokenId>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  for (float& l : logits) l /= params_.temperature;
  softmax(logits.data(), n);

  const bool top_k = params_.top_k > 0 && static_cast<std::size_t>(params_.top_k) < n;
  const bool top_p = params_.top_p > 0.0f && params_.top_p < 1.0f;
  const bool min_p = params_.min_p > 0.0f;
  const float coin = next_coin();
  if (!top_k && !top_p && !min_p) {
    // run.c's sample_mult: walk the distribution in id order.
    float cdf = 0.0f;
    for (std::size_t i = 0; i < n; ++i) {
      cdf += logits[i];
      if (coin < cdf) return static_cast<TokenId>(i);
    }
    return static_cast<TokenId>(n - 1);
  }

  candidates_.clear();
  float floor = 0.0f;
  if (min_p) floor = params_.min_p * *std::max_element(logits.begin(), logits.end());
  // run.c's top-p pre-filter: tokens below (1 - p) / (n - 1) cannot be in the nucleus.
  if (top_p) floor = std::max(floor, (1.0f - params_.top_p) / static_cast<float>(n - 1));
  for (std::size_t i = 0; i < n; ++i) {
    if (logits[i] >= floor) candidates_.emplace_back(logits[i], static_cast<TokenId>(i));
  }
  if (candidates_.empty()) candidates_.emplace_back(logits[0], 0);
  const auto by_probability = [](const auto& a, const auto& b) { return a.first > b.first; };
  std::stable_sort(candidates_.begin(), candidates_.end(), by_probability);
  if (top_k && candidates_.size() > static_cast<std::size_t>(params_.top_k)) {
    candidates_.resize(static_cast<std::size_t>(params_.top_k));
  }
  // Keep the smallest prefix whose mass exceeds p (run.c: the first index where it does).
  float mass = 0.0f;
  std::size_t keep = candidates_.size();
  for (std::size_t i = 0; i < candidates_.size(); ++i) {
    mass += candidates_[i].first;
    if (top_p && mass > params_.top_p) {
      keep = i + 1;
      break;
    }
  }
  const float r = coin * mass;
  float cdf = 0.0f;
  for (std::size_t i = 0; i < keep; ++i) {
    cdf += candidates_[i].first;
    if (r < cdf) return candidates_[i].second;
  }
  return candidates_[keep - 1].second;
}

}  // namespace llorch::engine
