// The SIMD kernels against the plain C++ ones on random sizes and values (float dot products on
// lengths that are not multiples of the vector width), and the K-quant layouts decoded exactly as
// GGUF defines them.
#include "engine/simd_kernels.hpp"

#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "engine/kernels.hpp"
#include "engine/quant.hpp"
#include "type_name.hpp"

namespace llorch::engine {
namespace {

std::vector<float> random_values(std::size_t n, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = normal(rng);
  return v;
}

std::vector<std::byte> stored(TensorType type, const std::vector<float>& values) {
  const TypeTraits& t = traits(type);
  std::vector<std::byte> row(values.size() / t.block_elements * t.block_bytes);
  quantize_row(type, values.data(), row.data(), values.size());
  return row;
}

TEST(SimdKernels, SayWhichTargetTheyRunOn) {
  const std::string_view target = simd_target_name();
  EXPECT_FALSE(target.empty());
  std::printf("SIMD target: %.*s\n", static_cast<int>(target.size()), target.data());
}

class QuantizedDot : public ::testing::TestWithParam<TensorType> {};

TEST_P(QuantizedDot, SimdEqualsScalarAndTheFloatReference) {
  const TensorType type = GetParam();
  std::mt19937 rng(11);
  for (int round = 0; round < 60; ++round) {
    // Whole blocks; for 32-value blocks any count, so that kernels taking several blocks a step
    // meet every tail.
    const std::size_t block = traits(type).block_elements;
    const std::size_t n = block == 32 ? 32 * (1 + rng() % 90) : kSuperBlock * (1 + rng() % 12);
    const auto w = random_values(n, rng, 0.3f);
    auto x = random_values(n, rng);
    if (round % 5 == 0) std::fill(x.begin(), x.begin() + 32, 0.0f);  // an all-zero block
    const auto row = stored(type, w);
    QuantizedActivations qx;
    qx.quantize(x.data(), n, uses_super_blocks(type));

    const float scalar = scalar_dot_quantized(type, row.data(), qx);
    const float simd = simd_dot_quantized(type, row.data(), qx);
    std::vector<float> decoded(n);
    dequantize_row(type, row.data(), decoded.data(), n);
    double magnitude = 0.0;
    for (std::size_t i = 0; i < n; ++i) magnitude += std::abs(double{decoded[i]} * double{x[i]});
    // The same integer sums: only the order of float additions differs.
    ASSERT_NEAR(simd, scalar, 1e-5 * magnitude + 1e-6) << "n=" << n;
    // Against float activations: within what int8 activations lose.
    ASSERT_NEAR(scalar, dot_row(type, row.data(), x.data(), n), 0.02 * magnitude + 1e-5)
        << "n=" << n;
  }
}

INSTANTIATE_TEST_SUITE_P(QuantizedTypes, QuantizedDot,
                         ::testing::Values(TensorType::q8_0, TensorType::q4_0,
                                           TensorType::q4_0_planar, TensorType::q4_k,
                                           TensorType::q6_k),
                         TypeParamName());

class QuantizedMatmul : public ::testing::TestWithParam<TensorType> {};

// The batched prompt's kernel (tiles of tokens, blocks of rows) gives every row and token what
// one dot product gives, on shapes with every kind of tail: token counts that are not whole
// tiles, block counts that are not whole steps, row counts that are not whole row blocks.
TEST_P(QuantizedMatmul, EqualsOneDotPerRowAndToken) {
  const TensorType type = GetParam();
  const TypeTraits& t = traits(type);
  std::mt19937 rng(17);
  for (int round = 0; round < 12; ++round) {
    const std::size_t n =
        t.block_elements == 32 ? 32 * (1 + rng() % 40) : kSuperBlock * (1 + rng() % 4);
    const std::size_t rows = 1 + rng() % 70;
    // Decode-sized batches (one dot per row and token) and prompt-sized ones (tiles).
    const std::size_t tokens = round % 2 == 0 ? 1 + rng() % 20 : 64 + rng() % 20;
    const std::size_t row_bytes = n / t.block_elements * t.block_bytes;
    std::vector<std::byte> matrix(rows * row_bytes);
    for (std::size_t r = 0; r < rows; ++r) {
      const auto w = random_values(n, rng, 0.3f);
      quantize_row(type, w.data(), matrix.data() + r * row_bytes, n);
    }
    std::vector<QuantizedActivations> xs(tokens);
    for (auto& x : xs) x.quantize(random_values(n, rng).data(), n, uses_super_blocks(type));
    std::vector<float> out(tokens * rows);
    simd_matmul_quantized(type, matrix.data(), row_bytes, rows, xs.data(), tokens, out.data(),
                          rows);
    for (std::size_t k = 0; k < tokens; ++k) {
      for (std::size_t r = 0; r < rows; ++r) {
        const std::byte* row = matrix.data() + r * row_bytes;
        const float one = scalar_dot_quantized(type, row, xs[k]);
        ASSERT_NEAR(out[k * rows + r], one, 1e-4 * (std::abs(one) + std::sqrt(double(n))))
            << "n=" << n << " rows=" << rows << " tokens=" << tokens << " row " << r << " token "
            << k;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(QuantizedTypes, QuantizedMatmul,
                         ::testing::Values(TensorType::q8_0, TensorType::q4_0,
                                           TensorType::q4_0_planar, TensorType::q4_k,
                                           TensorType::q6_k),
                         TypeParamName());

TEST(SimdKernels, FloatDotsHandleEveryTailLength) {
  std::mt19937 rng(5);
  for (std::size_t n = 1; n < 300; n += 1 + rng() % 7) {
    const auto w = random_values(n, rng);
    const auto x = random_values(n, rng);
    double magnitude = 0.0;
    for (std::size_t i = 0; i < n; ++i) magnitude += std::abs(double{w[i]} * double{x[i]});
    for (TensorType type : {TensorType::f32, TensorType::f16}) {
      const auto row = stored(type, w);
      ASSERT_NEAR(simd_dot(type, row.data(), x.data(), n), dot_row(type, row.data(), x.data(), n),
                  1e-5 * magnitude + 1e-6)
          << traits(type).name << " n=" << n;
    }
  }
}

TEST(SimdKernels, ActivationsQuantizeToInt8WithSums) {
  std::vector<float> x(64);
  for (std::size_t i = 0; i < 64; ++i) x[i] = static_cast<float>(i) - 20.0f;
  QuantizedActivations qx;
  qx.quantize(x.data(), 64);
  EXPECT_FLOAT_EQ(qx.d[0], 20.0f / 127.0f);
  EXPECT_EQ(qx.q[0], -127);
  EXPECT_FLOAT_EQ(qx.d[1], 43.0f / 127.0f);
  EXPECT_EQ(qx.q[63], 127);
  for (std::size_t g = 0; g < 4; ++g) {
    int sum = 0;
    for (std::size_t i = 16 * g; i < 16 * g + 16; ++i) sum += qx.q[i];
    EXPECT_EQ(qx.sums16[g], sum);
  }
}

TEST(SimdKernels, ActivationsQuantizeInSuperBlocksWhenAsked) {
  std::vector<float> x(512);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 256) - 100.0f;
  QuantizedActivations qx;
  qx.quantize(x.data(), x.size());
  EXPECT_TRUE(qx.qk.empty());
  qx.quantize(x.data(), x.size(), true);
  ASSERT_EQ(qx.dk.size(), 2u);
  EXPECT_FLOAT_EQ(qx.dk[0], 155.0f / 127.0f);  // one scale for all 256 values
  EXPECT_EQ(qx.qk[255], 127);
  EXPECT_EQ(qx.qk[0], static_cast<std::int8_t>(std::lround(-100.0f / (155.0f / 127.0f))));
  for (std::size_t g = 0; g < 32; ++g) {
    int sum = 0;
    for (std::size_t i = 16 * g; i < 16 * g + 16; ++i) sum += qx.qk[i];
    EXPECT_EQ(qx.ksums16[g], sum);
  }
  std::vector<float> odd(96, 1.0f);  // not whole super-blocks: none
  qx.quantize(odd.data(), odd.size(), true);
  EXPECT_TRUE(qx.qk.empty());
}

// Q4_K as ggml's dequantize_row_q4_K reads it: 6-bit scales and mins, the top bits of sub-blocks
// 4-7 in the top bits of bytes 0-7, low nibbles first in each 64 values.
TEST(KQuants, Q4KDecodesAsGgufDefinesIt) {
  BlockQ4_K block{};
  block.d = f32_to_f16(0.5f);
  block.dmin = f32_to_f16(0.25f);
  block.scales[0] = 5;                 // scale 0 = 5
  block.scales[4] = 3;                 // min 0 = 3
  block.scales[1] = 7 | (1 << 6);      // scale 1 = 7; scale 5 gets top bits 01
  block.scales[5] = 2 | (2 << 6);      // min 1 = 2; min 5 gets top bits 10
  block.scales[9] = 0x4 | (0x9 << 4);  // scale 5 low = 4, min 5 low = 9
  block.qs[0] = 0x21;                  // value 0 = 1, value 32 = 2
  block.qs[64 + 3] = 0xF0;             // value 128+3 = 0 (scale 4), value 160+3 = 15 (scale 5)
  std::vector<float> out(256);
  dequantize_row(TensorType::q4_k, reinterpret_cast<const std::byte*>(&block), out.data(), 256);
  EXPECT_FLOAT_EQ(out[0], 0.5f * 5 * 1 - 0.25f * 3);
  EXPECT_FLOAT_EQ(out[32], 0.5f * 7 * 2 - 0.25f * 2);
  EXPECT_FLOAT_EQ(out[1], -0.25f * 3);  // q = 0
  const float scale5 = 0x4 | (1 << 4);  // 20
  const float min5 = 0x9 | (2 << 4);    // 41
  EXPECT_FLOAT_EQ(out[160 + 3], 0.5f * scale5 * 15 - 0.25f * min5);
}

// Q6_K as ggml's dequantize_row_q6_K reads it.
TEST(KQuants, Q6KDecodesAsGgufDefinesIt) {
  BlockQ6_K block{};
  block.d = f32_to_f16(0.5f);
  for (int j = 0; j < 16; ++j) block.scales[j] = static_cast<std::int8_t>(j - 8);
  std::memset(block.ql, 0, sizeof block.ql);
  std::memset(block.qh, 0, sizeof block.qh);
  // value 0: low 4 bits in ql[0] low nibble, top 2 in qh[0] bits 0-1 → q = 0x3F → 31
  block.ql[0] = 0x0F;
  block.qh[0] = 0x03;
  // value 96+5: ql[32+5] high nibble, qh[5] bits 6-7 → q = 0x12 = 18 → -14
  block.ql[37] = 0x20;
  block.qh[5] = 0x01 << 6;
  // value 128+64+1 (second half, third run): ql[64+1] high nibble, qh[32+1] bits 4-5
  block.ql[65] = 0x70;
  block.qh[33] = 0x02 << 4;
  std::vector<float> out(256);
  dequantize_row(TensorType::q6_k, reinterpret_cast<const std::byte*>(&block), out.data(), 256);
  EXPECT_FLOAT_EQ(out[0], 0.5f * -8 * 31);
  EXPECT_FLOAT_EQ(out[101], 0.5f * static_cast<float>(101 / 16 - 8) * -14);
  EXPECT_FLOAT_EQ(out[193], 0.5f * static_cast<float>(193 / 16 - 8) * ((0x7 | (0x2 << 4)) - 32));
  EXPECT_FLOAT_EQ(out[2], 0.5f * -8 * -32);  // q = 0 → -32
}

TEST(KQuants, RoundTripsWithinWhatTheFormatKeeps) {
  std::mt19937 rng(2);
  for (TensorType type : {TensorType::q4_k, TensorType::q5_k, TensorType::q6_k, TensorType::bf16}) {
    const auto x = random_values(4 * kSuperBlock, rng);
    const auto row = stored(type, x);
    std::vector<float> back(x.size());
    dequantize_row(type, row.data(), back.data(), x.size());
    double error = 0.0, energy = 0.0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      error += (back[i] - x[i]) * (back[i] - x[i]);
      energy += x[i] * x[i];
    }
    // Relative RMS error: 4-bit ≈ 1/15 of a sub-block's range, 5-bit 1/31, 6-bit ≈ 1/63; BF16
    // keeps 8 bits of mantissa.
    const double limit = type == TensorType::q4_k   ? 0.12
                         : type == TensorType::q5_k ? 0.06
                         : type == TensorType::q6_k ? 0.03
                                                    : 0.005;
    EXPECT_LT(std::sqrt(error / energy), limit) << traits(type).name;
  }
}

TEST(KernelPath, ReferenceIsChosenByName) {
  EXPECT_EQ(kernel_path_from("reference"), KernelPath::reference);
  EXPECT_EQ(kernel_path_from("simd"), KernelPath::simd);
  EXPECT_EQ(kernel_path_from(nullptr), KernelPath::simd);
}

}  // namespace
}  // namespace llorch::engine
