// The batched prompt against the token-by-token forward pass, and synthetic models: written,
// read back with the real shape and types, and run.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <vector>

#include "engine/forward.hpp"
#include "engine/generator.hpp"
#include "engine/model.hpp"
#include "engine/simd_kernels.hpp"
#include "engine/synth.hpp"
#include "reference_file.hpp"
#include "type_name.hpp"

namespace llorch::engine {
namespace {

using testing::models_dir;

// The logits of the last of `tokens`, token by token and as batches of `batch`.
void expect_batch_equals_single(const std::shared_ptr<const Model>& model, std::size_t batch,
                                double tolerance) {
  std::vector<TokenId> tokens;
  for (std::size_t i = 0; i < 37; ++i)
    tokens.push_back(static_cast<TokenId>((i * 7919 + 1) % model->config.vocab_size));
  ModelState single(model, 2);
  std::vector<float> expected;
  for (std::size_t pos = 0; pos < tokens.size(); ++pos) {
    const auto logits = single.forward(tokens[pos], pos);
    expected.assign(logits.begin(), logits.end());
  }
  ModelState batched(model, 2);
  std::span<const float> logits;
  for (std::size_t pos = 0; pos < tokens.size(); pos += batch) {
    const std::size_t n = std::min(batch, tokens.size() - pos);
    logits = batched.forward_batch(std::span<const TokenId>(tokens).subspan(pos, n), pos);
  }
  ASSERT_EQ(batched.position(), tokens.size());
  ASSERT_EQ(logits.size(), expected.size());
  double scale = 0.0;
  for (float v : expected) scale = std::max(scale, double{std::fabs(v)});
  for (std::size_t i = 0; i < expected.size(); ++i)
    ASSERT_NEAR(logits[i], expected[i], tolerance * std::max(1.0, scale)) << "logit " << i;
  // And the next token continues from the batch's cache as from the single steps'.
  const auto next_single = single.forward(5, tokens.size());
  const std::vector<float> a(next_single.begin(), next_single.end());
  const auto next_batched = batched.forward(5, tokens.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    ASSERT_NEAR(next_batched[i], a[i], tolerance * std::max(1.0, scale)) << "next logit " << i;
}

TEST(BatchedPrompt, EqualsTokenByTokenOnStories260K) {
  const std::shared_ptr<const Model> model = load_model(models_dir() + "/gguf/stories260K.gguf");
  for (std::size_t batch : {2, 5, 16, 64}) expect_batch_equals_single(model, batch, 1e-4);
}

TEST(BatchedPrompt, RejectsPositionsPastTheContextAndUnknownTokens) {
  const std::shared_ptr<const Model> model =
      load_model(models_dir() + "/gguf/stories260K.gguf", {.context_length = 8});
  ModelState state(model, 1);
  const std::vector<TokenId> nine(9, 1);
  EXPECT_THROW((void)state.forward_batch(nine, 0), std::out_of_range);
  const std::vector<TokenId> bad{1, 99999};
  EXPECT_THROW((void)state.forward_batch(bad, 0), std::out_of_range);
}

class SynthesizedModel : public ::testing::TestWithParam<TensorType> {
 protected:
  void SetUp() override {
    path_ = (std::filesystem::temp_directory_path() /
             ("llorch-synth-" + std::to_string(::getpid()) + ".gguf"))
                .string();
  }
  void TearDown() override { std::filesystem::remove(path_); }
  std::string path_;
};

TEST_P(SynthesizedModel, HasTheShapeAndTypesAskedForAndRuns) {
  const TensorType type = GetParam();
  SynthOptions options;
  options.shape = {"custom", 256, 512, 2, 4, 2, 64};
  options.type = type;
  options.vocab_path = models_dir() + "/vocab/ggml-vocab-llama-spm.gguf";
  options.output_path = path_;
  const SynthReport report = synthesize_model(options);
  EXPECT_EQ(report.vocab_size, 32000u);
  EXPECT_EQ(report.tensors, 2u + 2 * 9u + 1u);

  const std::shared_ptr<const Model> model = load_model(path_);
  const ModelConfig& c = model->config;
  EXPECT_EQ(c.dim, 256u);
  EXPECT_EQ(c.hidden_dim, 512u);
  EXPECT_EQ(c.n_layers, 2u);
  EXPECT_EQ(c.n_heads, 4u);
  EXPECT_EQ(c.n_kv_heads, 2u);
  EXPECT_EQ(c.context_length, 64u);
  EXPECT_EQ(c.vocab_size, 32000u);
  // Q4_0 is repacked for the kernels at load.
  const TensorType loaded = type == TensorType::q4_0 ? TensorType::q4_0_planar : type;
  EXPECT_EQ(model->layers[0].wq.type, loaded);
  EXPECT_EQ(model->layers[1].w_down.type, loaded);
  const bool low_bit = type == TensorType::q4_0 || type == TensorType::q4_k;
  EXPECT_EQ(model->output.type, low_bit ? TensorType::q6_k : type);
  EXPECT_EQ(model->vocab.size(), 32000u);

  // Runs, with finite logits, and the batched prompt agrees with single steps.
  ModelState state(model, 1);
  const auto logits = state.forward(1, 0);
  for (float v : logits) ASSERT_TRUE(std::isfinite(v));
  // Batched and single steps compute the same sums in another order. Activations quantized with
  // one scale per 256 values (the K-quants' kernels) can flip one int8 rounding on an ulp of
  // difference, which moves logits by up to a few hundredths of the largest (seen: 1.6 %); a
  // wrong batch path moves them by whole units.
  expect_batch_equals_single(model, 8, uses_super_blocks(type) ? 3e-2 : 2e-3);
}

INSTANTIATE_TEST_SUITE_P(Types, SynthesizedModel,
                         ::testing::Values(TensorType::f16, TensorType::q8_0, TensorType::q4_0,
                                           TensorType::q4_k),
                         TypeParamName());

TEST(Synth, KnownShapesAreTheRealModels) {
  const auto tiny = known_synth_shape("tinyllama");
  ASSERT_TRUE(tiny);
  EXPECT_EQ(tiny->dim, 2048u);
  EXPECT_EQ(tiny->hidden_dim, 5632u);
  EXPECT_EQ(tiny->n_layers, 22u);
  EXPECT_EQ(tiny->n_heads, 32u);
  EXPECT_EQ(tiny->n_kv_heads, 4u);
  EXPECT_TRUE(known_synth_shape("stories15m"));
  EXPECT_TRUE(known_synth_shape("stories110m"));
  EXPECT_FALSE(known_synth_shape("gpt-5"));
}

}  // namespace
}  // namespace llorch::engine

namespace llorch::engine {
namespace {

// Continuous batching: sequences of different prompts and lengths, in one forward pass per step
// (some still reading their prompt while others generate), give each the tokens it gets alone.
TEST(ContinuousBatching, EverySequenceGetsWhatItGetsAlone) {
  const auto model = load_model(testing::models_dir() + "/gguf/stories260K.gguf");
  const std::vector<std::string> prompts{"Once upon a time", "Lily", "The cat sat on the mat and",
                                         "", "A big red ball rolled down the hill. Tom ran"};
  const auto request_for = [](const std::string& prompt, std::size_t max) {
    GenerationRequest r;
    r.prompt = prompt;
    r.max_new_tokens = max;
    r.sampling.temperature = 0.0f;
    r.progress_every = 0;
    return r;
  };
  std::vector<std::vector<TokenId>> alone;
  Generator generator(model, 2);
  for (std::size_t i = 0; i < prompts.size(); ++i)
    alone.push_back(generator.generate(request_for(prompts[i], 20 + 7 * i)).tokens);

  const auto tokenizer = Tokenizer::create(model->vocab);
  ModelState state(model, 2);
  std::vector<std::unique_ptr<KvCache>> caches;
  std::vector<std::unique_ptr<Sequence>> sequences;
  std::vector<Sequence*> running;
  std::size_t steps = 0;
  // Sequences join one step apart, as requests arrive; a budget of 6 tokens a step cuts the
  // prompts into chunks between other sequences' decode tokens.
  for (std::size_t i = 0; i < prompts.size() || !running.empty(); ++steps) {
    if (i < prompts.size()) {
      caches.push_back(std::make_unique<KvCache>(model->config));
      sequences.push_back(std::make_unique<Sequence>(model, *tokenizer,
                                                     request_for(prompts[i], 20 + 7 * i),
                                                     GenerationHooks{}, *caches.back()));
      sequences.back()->begin();
      running.push_back(sequences.back().get());
      ++i;
    }
    ASSERT_GT(run_batch_step(state, running, 6), 0u);
    std::erase_if(running, [](Sequence* s) { return s->done(); });
    ASSERT_LT(steps, 1000u);
  }
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(sequences[i]->result().tokens, alone[i]) << "prompt \"" << prompts[i] << "\"";
    EXPECT_EQ(sequences[i]->result().tokens.size(), 20 + 7 * i);
  }
}

}  // namespace
}  // namespace llorch::engine
