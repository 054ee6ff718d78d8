#include "engine/sampler.hpp"

#include <gtest/gtest.h>

#include <map>

namespace llorch::engine {
namespace {

std::map<TokenId, int> histogram(SamplingParams params, const std::vector<float>& logits,
                                 int draws) {
  Sampler sampler(params);
  std::map<TokenId, int> counts;
  for (int i = 0; i < draws; ++i) {
    std::vector<float> l = logits;
    ++counts[sampler.sample(l, {})];
  }
  return counts;
}

const std::vector<float> kLogits{1.0f, 3.0f, 2.9f, 0.5f, -1.0f, 2.0f};

TEST(Sampler, GreedyPicksTheLowestIdAmongTies) {
  Sampler sampler({.temperature = 0.0f});
  std::vector<float> l{1.0f, 5.0f, 5.0f, 2.0f};
  EXPECT_EQ(sampler.sample(l, {}), 1);
}

TEST(Sampler, TopKKeepsOnlyTheKMostLikely) {
  const auto counts = histogram(
      {.temperature = 1.0f, .top_k = 2, .top_p = 1.0f, .min_p = 0.0f, .seed = 1}, kLogits, 2000);
  for (const auto& [id, n] : counts) EXPECT_TRUE(id == 1 || id == 2) << id;
  EXPECT_EQ(counts.size(), 2u);
}

TEST(Sampler, TopPKeepsTheNucleus) {
  // softmax(kLogits): p(1)=.36, p(2)=.33, p(5)=.13, p(0)=.05 …; 0.6 needs tokens 1 and 2.
  const auto counts = histogram(
      {.temperature = 1.0f, .top_k = 0, .top_p = 0.6f, .min_p = 0.0f, .seed = 2}, kLogits, 2000);
  for (const auto& [id, n] : counts) EXPECT_TRUE(id == 1 || id == 2) << id;
}

TEST(Sampler, MinPDropsUnlikelyTokens) {
  const auto counts = histogram(
      {.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.3f, .seed = 3}, kLogits, 3000);
  for (const auto& [id, n] : counts) EXPECT_TRUE(id == 1 || id == 2 || id == 5) << id;
  EXPECT_EQ(counts.size(), 3u);
}

TEST(Sampler, LowTemperatureConcentratesHighTemperatureSpreads) {
  const auto cold = histogram(
      {.temperature = 0.05f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f, .seed = 4}, kLogits, 1000);
  const auto hot = histogram(
      {.temperature = 5.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f, .seed = 4}, kLogits, 1000);
  EXPECT_GT(cold.at(1), 800);
  EXPECT_EQ(hot.size(), kLogits.size());
}

TEST(Sampler, RepetitionPenaltyDiscouragesRecentTokens) {
  Sampler sampler({.temperature = 0.0f, .repetition_penalty = 2.0f});
  std::vector<float> l{1.0f, 3.0f, 2.0f};
  const std::vector<TokenId> history{1};
  EXPECT_EQ(sampler.sample(l, history), 2);  // 3/2 = 1.5 < 2
}

TEST(Sampler, SameSeedSameSequence) {
  const SamplingParams p{.temperature = 1.0f, .top_k = 0, .top_p = 0.9f, .min_p = 0.0f, .seed = 42};
  Sampler a(p), b(p);
  for (int i = 0; i < 100; ++i) {
    std::vector<float> la = kLogits, lb = kLogits;
    ASSERT_EQ(a.sample(la, {}), b.sample(lb, {}));
  }
}

}  // namespace
}  // namespace llorch::engine
