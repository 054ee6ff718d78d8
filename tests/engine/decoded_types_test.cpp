// The block-decoded weight types (block_decoders.hpp) on real rows of llama.cpp's quantized files:
// the SIMD integer product equals the plain C++ one (the same integer sums), both are within what
// int8 activations lose of the float reference, and the batched kernel gives every row and token
// what the one-row product gives.
#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <cmath>
#include <random>

#include "engine/block_decoders.hpp"
#include "engine/kernels.hpp"
#include "engine/model.hpp"
#include "engine/quant.hpp"
#include "engine/simd_kernels.hpp"
#include "reference_file.hpp"

namespace llorch::engine {
namespace {

// A 2-D weight of `type` in that type's file of shared/models/arch (the _m mixes hold several
// types: the first tensor of the type is taken).
struct Sample {
  std::shared_ptr<Model> model;
  const Tensor* tensor = nullptr;
};

Sample sample(const std::string& file, TensorType type) {
  Sample s{load_model(testing::models_dir() + "/arch/tiny-llama-types-" + file + ".gguf"), nullptr};
  s.model->for_each_tensor([&](const Tensor& t) {
    if (s.tensor == nullptr && t.type == type && t.rows > 1) s.tensor = &t;
  });
  return s;
}

struct TypeFile {
  TensorType type;
  const char* file;
};

class DecodedType : public ::testing::TestWithParam<TypeFile> {};

TEST_P(DecodedType, IntegerKernelsAgreeOnRealRows) {
  const auto [type, file] = GetParam();
  const Sample s = sample(file, type);
  ASSERT_NE(s.tensor, nullptr) << "no " << traits(type).name << " tensor in " << file;
  const Tensor& w = *s.tensor;
  ASSERT_TRUE(is_integer_decoded(type));
  ASSERT_TRUE(uses_quantized_activations(type));
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  constexpr std::size_t kTokens = 3;
  std::vector<float> xs(kTokens * w.cols);
  for (auto& v : xs) v = normal(rng);
  std::vector<QuantizedActivations> qx(kTokens);
  for (std::size_t t = 0; t < kTokens; ++t)
    qx[t].quantize(xs.data() + t * w.cols, w.cols, uses_super_blocks(type));

  std::vector<float> batched(kTokens * w.rows);
  simd_matmul_quantized(type, w.row(0), w.row_bytes(), w.rows, qx.data(), kTokens, batched.data(),
                        w.rows);
  std::vector<float> decoded(w.cols);
  for (std::size_t r = 0; r < w.rows; ++r) {
    dequantize_row(type, w.row(r), decoded.data(), w.cols);
    for (std::size_t t = 0; t < kTokens; ++t) {
      const float* x = xs.data() + t * w.cols;
      double magnitude = 0.0;
      for (std::size_t i = 0; i < w.cols; ++i) magnitude += std::abs(double{decoded[i]} * x[i]);
      const float simd = simd_dot_quantized(type, w.row(r), qx[t]);
      const float scalar = scalar_dot_quantized(type, w.row(r), qx[t]);
      ASSERT_NEAR(simd, scalar, 1e-5 * magnitude + 1e-6) << "row " << r;
      ASSERT_NEAR(batched[t * w.rows + r], simd, 1e-5 * magnitude + 1e-6) << "row " << r;
      ASSERT_NEAR(scalar, dot_row(type, w.row(r), x, w.cols), 0.02 * magnitude + 1e-5)
          << "row " << r;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Types, DecodedType,
    ::testing::Values(TypeFile{TensorType::q4_1, "q4_1"}, TypeFile{TensorType::q5_0, "q5_0"},
                      TypeFile{TensorType::q5_1, "q5_1"}, TypeFile{TensorType::q2_k, "q2_k"},
                      TypeFile{TensorType::q3_k, "q3_k_m"}, TypeFile{TensorType::q5_k, "q5_k_m"},
                      TypeFile{TensorType::iq4_nl, "iq4_nl"},
                      TypeFile{TensorType::iq4_xs, "iq4_xs"}),
    [](const auto& param_info) { return std::string(traits(param_info.param.type).name); });

TEST(DecodedType, Bf16IsTheTopHalfOfAFloat) {
  const std::uint16_t bits[4] = {0x3F80, 0xC000, 0x0000, 0x4049};  // 1, -2, 0, 3.140625
  float out[4];
  dequantize_row(TensorType::bf16, reinterpret_cast<const std::byte*>(bits), out, 4);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -2.0f);
  EXPECT_EQ(out[2], 0.0f);
  EXPECT_EQ(out[3], 3.140625f);
}

}  // namespace
}  // namespace llorch::engine
