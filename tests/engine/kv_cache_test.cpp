// The paged KV cache: block accounting, prefix caching (chained hashes, least-recently-used
// eviction, copy on write), preemption and resumption, and the cache types, against what the
// same tokens give computed from scratch.
#include "engine/kv_cache.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/forward.hpp"
#include "engine/generator.hpp"
#include "engine/model.hpp"
#include "reference_file.hpp"

namespace llorch::engine {
namespace {

using testing::models_dir;
constexpr std::size_t kBlock = KvBlockPool::kBlockTokens;

std::shared_ptr<const Model> stories() {
  static const std::shared_ptr<const Model> model =
      load_model(models_dir() + "/gguf/stories260K.gguf");
  return model;
}

std::vector<TokenId> some_tokens(std::size_t n, std::size_t seed) {
  std::vector<TokenId> tokens{1};
  for (std::size_t i = 1; i < n; ++i)
    tokens.push_back(static_cast<TokenId>(3 + (i * 7919 + seed * 104729) % 500));
  return tokens;
}

// The logits after `tokens`, computed in chunks of `chunk` into `cache` from position `from`.
std::vector<float> run(ModelState& state, KvCache& cache, std::span<const TokenId> tokens,
                       std::size_t from, std::size_t chunk = 7) {
  std::vector<float> logits;
  for (std::size_t pos = from; pos < tokens.size(); pos += chunk) {
    const SequenceTokens part{&cache, tokens.subspan(pos, std::min(chunk, tokens.size() - pos)),
                              pos};
    const auto out = state.forward_sequences(std::span(&part, 1));
    logits.assign(out.begin(), out.end());
  }
  return logits;
}

void expect_near(const std::vector<float>& a, const std::vector<float>& b, double tolerance) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], tolerance) << "logit " << i;
}

TEST(KvBlockPool, HandsEveryBlockOutOnceAndTakesItBack) {
  KvBlockPool pool(stories()->config, TensorType::f16, 4 * kBlock - 3, true);
  ASSERT_EQ(pool.total_blocks(), 4u);  // rounded up to whole blocks
  std::vector<BlockId> held;
  while (const auto b = pool.allocate()) held.push_back(*b);
  ASSERT_EQ(held.size(), 4u);
  std::sort(held.begin(), held.end());
  EXPECT_EQ(std::unique(held.begin(), held.end()), held.end());
  EXPECT_EQ(pool.available_blocks(), 0u);
  pool.retain(held[0]);
  pool.release(held[0]);
  EXPECT_EQ(pool.available_blocks(), 0u) << "a block held twice is free only when both let go";
  pool.release(held[0]);
  EXPECT_EQ(pool.available_blocks(), 1u);
  for (std::size_t i = 1; i < held.size(); ++i) pool.release(held[i]);
  EXPECT_EQ(pool.used_blocks(), 0u);
}

TEST(KvBlockPool, FindsPublishedBlocksByChainAndEvictsTheLeastRecentlyUsed) {
  KvBlockPool pool(stories()->config, TensorType::f16, 2 * kBlock, true);
  const auto a_tokens = some_tokens(kBlock, 1), b_tokens = some_tokens(kBlock, 2);
  const BlockId a = *pool.allocate(), b = *pool.allocate();
  const auto ha = KvBlockPool::chain(0, a_tokens), hb = KvBlockPool::chain(0, b_tokens);
  EXPECT_NE(KvBlockPool::chain(ha, b_tokens), hb) << "the same tokens after another prefix";
  pool.publish(a, ha, 0, a_tokens);
  pool.publish(b, hb, 0, b_tokens);
  pool.release(a);  // a first: the least recently used
  pool.release(b);
  EXPECT_EQ(pool.available_blocks(), 2u) << "cached blocks nobody holds can be taken";
  EXPECT_FALSE(pool.find(ha, 7, a_tokens)) << "a wrong parent must not match";
  auto other = a_tokens;
  other.back() += 1;
  EXPECT_FALSE(pool.find(ha, 0, other)) << "the tokens are compared, not only the hash";
  // Using b makes a the one to evict.
  ASSERT_EQ(pool.find(hb, 0, b_tokens), b);
  pool.release(b);
  EXPECT_EQ(pool.allocate(), a);
  EXPECT_FALSE(pool.find(ha, 0, a_tokens)) << "an evicted block is no longer cached";
  EXPECT_EQ(pool.find(hb, 0, b_tokens), b);
}

// A sequence that takes another's cached blocks gets the logits of computing them, and writing
// into a block it shares makes a private copy: the other sequence's positions stay as they were.
TEST(KvCache, ACachedPrefixGivesTheLogitsOfComputingIt) {
  const auto model = stories();
  ModelState state(model, 2);
  KvBlockPool pool(model->config, TensorType::f32, 512, true);
  const auto shared = some_tokens(3 * kBlock + 5, 3);
  KvCache a(pool);
  ASSERT_TRUE(a.prepare(0, shared.size()));
  (void)run(state, a, shared, 0);

  auto continued = shared;
  for (TokenId t : {11, 12, 13, 14, 15}) continued.push_back(t);
  KvCache b(pool);
  const std::size_t reused = b.adopt_prefix(continued, continued.size() - 1);
  EXPECT_EQ(reused, 3 * kBlock) << "whole blocks only";
  const auto with_reuse = run(state, b, continued, reused);
  KvCache alone(model->config);
  expect_near(with_reuse, run(state, alone, continued, 0), 1e-4);

  // b rewrites a position inside the second block it took from a: a copy, not a's block.
  const std::size_t pos = kBlock + 3;
  auto diverged = std::vector<TokenId>(continued.begin(), continued.begin() + pos);
  diverged.push_back(99);
  (void)run(state, b, diverged, pos);
  auto a_more = shared;
  a_more.push_back(42);
  KvCache fresh(model->config);
  expect_near(run(state, a, a_more, shared.size()), run(state, fresh, a_more, 0), 1e-4);
}

// Preemption gives the blocks up; resuming recomputes what is not cached any more and goes on
// with exactly the tokens the sequence would have generated undisturbed.
TEST(KvCache, APreemptedSequenceResumesWithTheSameTokens) {
  const auto model = stories();
  const auto tokenizer = Tokenizer::create(model->vocab);
  GenerationRequest request;
  request.prompt = "Once upon a time, there was a little dog";
  request.max_new_tokens = 60;
  request.sampling.temperature = 0;
  request.progress_every = 0;
  Generator generator(model, 2);
  const auto expected = generator.generate(request).tokens;
  ASSERT_EQ(expected.size(), 60u);

  for (const bool prefix_caching : {true, false}) {
    ModelState state(model, 2);
    KvBlockPool pool(model->config, TensorType::f16, 512, prefix_caching);
    KvCache cache(pool);
    Sequence sequence(model, *tokenizer, request, {}, cache);
    sequence.begin();
    sequence.start_prompt(cache, 0);
    Sequence* running[] = {&sequence};
    std::size_t steps = 0;
    std::size_t resumed_with = 0;
    while (!sequence.done()) {
      if (++steps == 30 || steps == 45) {
        sequence.preempt();
        cache.clear();
        resumed_with = cache.adopt_prefix(sequence.tokens(), sequence.tokens().size() - 1);
        sequence.start_prompt(cache, resumed_with);
      }
      ASSERT_GT(run_batch_step(state, running, 16), 0u);
      ASSERT_LT(steps, 500u);
    }
    EXPECT_EQ(sequence.result().tokens, expected) << "prefix caching " << prefix_caching;
    if (prefix_caching) {
      EXPECT_GT(resumed_with, 0u);
    } else {
      EXPECT_EQ(resumed_with, 0u);
    }
  }
}

TEST(KvCache, APoolWithoutBlocksSaysSoInsteadOfWriting) {
  const auto model = stories();
  ModelState state(model, 1);
  KvBlockPool pool(model->config, TensorType::f16, 2 * kBlock, true);
  KvCache cache(pool);
  const auto tokens = some_tokens(2 * kBlock + 1, 4);
  EXPECT_FALSE(cache.prepare(0, tokens.size()));
  const SequenceTokens part{&cache, tokens, 0};
  EXPECT_THROW((void)state.forward_sequences(std::span(&part, 1)), KvCacheFull);
}

// The cache types against F32: F16 and Q8_0 keys and values move the logits a little, not more.
TEST(KvCache, F16AndQ8_0StayCloseToF32) {
  const auto model = load_model(models_dir() + "/arch/tiny-llama-types-f32.gguf");
  const auto tokens = some_tokens(40, 5);
  const auto logits_with = [&](TensorType type) {
    ModelState state(model, 1, type);
    std::vector<float> out;
    for (std::size_t pos = 0; pos < tokens.size(); pos += 8) {
      const auto l = state.forward_batch(
          std::span<const TokenId>(tokens).subspan(pos, std::min<std::size_t>(8, 40 - pos)), pos);
      out.assign(l.begin(), l.end());
    }
    return out;
  };
  const auto f32 = logits_with(TensorType::f32);
  double scale = 0;
  for (float v : f32) scale = std::max(scale, double{std::fabs(v)});
  expect_near(logits_with(TensorType::f16), f32, 0.01 * scale);
  expect_near(logits_with(TensorType::q8_0), f32, 0.05 * scale);
  EXPECT_NE(logits_with(TensorType::q8_0), f32) << "the q8_0 cache was not used";
}

TEST(KvCache, Q8_0NeedsHeadsOfWholeBlocks) {
  // stories260K's heads have 8 values: a Q8_0 block holds 32.
  EXPECT_THROW(KvBlockPool(stories()->config, TensorType::q8_0, 64, true), std::invalid_argument);
}

}  // namespace
}  // namespace llorch::engine
