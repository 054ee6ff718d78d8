#include <gtest/gtest.h>

#include "engine/forward.hpp"
#include "engine/model.hpp"
#include "engine/repack.hpp"
#include "reference_file.hpp"

namespace llorch::engine {
namespace {

using testing::models_dir;

TEST(ModelLoad, Stories260KFromBothFormatsHasTheSameShape) {
  const auto gguf = load_model(models_dir() + "/gguf/stories260K.gguf");
  const auto l2c = load_model(models_dir() + "/llama2c/stories260K.bin");
  for (const auto* m : {gguf.get(), l2c.get()}) {
    const ModelConfig& c = m->config;
    EXPECT_EQ(c.dim, 64u);
    EXPECT_EQ(c.hidden_dim, 172u);
    EXPECT_EQ(c.n_layers, 5u);
    EXPECT_EQ(c.n_heads, 8u);
    EXPECT_EQ(c.n_kv_heads, 4u);
    EXPECT_EQ(c.vocab_size, 512u);
    EXPECT_EQ(c.rope_dims, 8u);
    EXPECT_EQ(m->vocab.bos, 1);
    EXPECT_EQ(m->vocab.eos, 2);
  }
  EXPECT_EQ(gguf->config.context_length, 2048u);
  EXPECT_EQ(l2c->config.context_length, 512u);
  EXPECT_FALSE(gguf->tied_output);
  EXPECT_TRUE(l2c->tied_output);
  EXPECT_EQ(gguf->format, "GGUF v3");
  EXPECT_EQ(l2c->format, "llama2.c");
  // The same weights: pieces of the two vocabularies agree too.
  EXPECT_EQ(gguf->vocab.pieces, l2c->vocab.pieces);
}

TEST(ModelLoad, ContextLengthCanBeOverridden) {
  const auto m = load_model(models_dir() + "/gguf/stories260K.gguf", {.context_length = 16});
  EXPECT_EQ(m->config.context_length, 16u);
  ModelState state(m, 1);
  for (std::size_t pos = 0; pos < 16; ++pos) (void)state.forward(1, pos);
  EXPECT_THROW((void)state.forward(1, 16), std::out_of_range);
  EXPECT_THROW((void)state.forward(9999, 0), std::out_of_range);
}

TEST(ModelLoad, TinyRandomLlamaIsF16WithAnUntiedOutput) {
  const auto m = load_model(models_dir() + "/gguf/llama-2-tiny-random.gguf");
  EXPECT_EQ(m->layers[0].wq.type, TensorType::f16);
  EXPECT_EQ(m->output.type, TensorType::f16);
  EXPECT_FALSE(m->tied_output);
  EXPECT_EQ(m->config.vocab_size, 32000u);
}

TEST(ModelLoad, RequantizeLeavesRowsThatAreNotWholeBlocks) {
  auto m = load_model(models_dir() + "/gguf/stories260K.gguf");
  requantize(*m, TensorType::q4_0);
  EXPECT_EQ(m->layers[0].wq.type, TensorType::q4_0);
  EXPECT_EQ(m->layers[0].w_down.type, TensorType::f32);  // rows of 172 values
  EXPECT_EQ(m->layers[0].attn_norm.type, TensorType::f32);
  ModelState state(m, 1);
  const auto logits = state.forward(1, 0);
  // Still the reference's first token after BOS ("Once"): 4-bit weights keep the argmax here.
  EXPECT_EQ(std::max_element(logits.begin(), logits.end()) - logits.begin(), 403);
}

TEST(ModelLoad, RepackedQ4_0ComputesWhatGgufQ4_0Does) {
  // The GGUF file has its own output matrix; the llama2.c checkpoint shares the embedding's.
  for (const char* file : {"/gguf/stories260K.gguf", "/llama2c/stories260K.bin"}) {
    SCOPED_TRACE(file);
    auto m = load_model(models_dir() + file);
    requantize(*m, TensorType::q4_0);
    const auto gguf_logits = [&] {
      ModelState state(m, 1);
      const auto logits = state.forward(1, 0);
      return std::vector<float>(logits.begin(), logits.end());
    }();
    const std::size_t bytes = m->layers[0].wq.rows * m->layers[0].wq.row_bytes();
    const std::size_t repacked = repack_for_kernels(*m);
    EXPECT_GE(repacked, bytes * m->layers.size());
    EXPECT_EQ(m->layers[0].wq.type, TensorType::q4_0_planar);
    EXPECT_EQ(m->token_embedding.type, TensorType::q4_0_planar);
    EXPECT_EQ(m->output.type, TensorType::q4_0_planar);
    if (m->tied_output) {
      EXPECT_EQ(m->output.data, m->token_embedding.data);
    }
    EXPECT_EQ(m->layers[0].w_down.type, TensorType::f32);  // rows of 172 values: not Q4_0
    EXPECT_EQ(repack_for_kernels(*m), 0u);                 // nothing left to repack
    ModelState state(m, 1);
    const auto logits = state.forward(1, 0);
    ASSERT_EQ(logits.size(), gguf_logits.size());
    // The same integer sums; only float rounding in another order differs.
    for (std::size_t i = 0; i < logits.size(); ++i) {
      ASSERT_NEAR(logits[i], gguf_logits[i], 1e-3f * std::max(1.0f, std::abs(gguf_logits[i]))) << i;
    }
  }
}

}  // namespace
}  // namespace llorch::engine
