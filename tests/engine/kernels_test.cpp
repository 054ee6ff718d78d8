// Quantization formats and kernels against plain F32 arithmetic.
#include "engine/kernels.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "engine/quant.hpp"
#include "engine/thread_pool.hpp"
#include "type_name.hpp"

namespace llorch::engine {
namespace {

std::vector<float> random_values(std::size_t n, std::uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

double dot_reference(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += double{a[i]} * double{b[i]};
  return s;
}

TEST(F16, EveryHalfRoundTripsThroughF32) {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const float f = f16_to_f32(static_cast<std::uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_f16(f), h) << std::hex << h;
  }
}

TEST(F16, RoundsToNearestEven) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3C00);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7BFF);
  EXPECT_EQ(f32_to_f16(1e6f), 0x7C00);                // overflow to infinity
  EXPECT_EQ(f32_to_f16(1.0f + 1.0f / 2048), 0x3C00);  // halfway: to even
  EXPECT_EQ(f32_to_f16(1.0f + 3.0f / 2048), 0x3C02);  // halfway: to even (up)
  EXPECT_EQ(f32_to_f16(5.9604645e-8f), 0x0001);       // smallest subnormal
}

TEST(Q8_0, QuantizeDequantizeStaysWithinHalfAStep) {
  const auto x = random_values(32 * 64, 1);
  std::vector<BlockQ8_0> q(64);
  quantize_row_q8_0(x.data(), q.data(), x.size());
  std::vector<float> y(x.size());
  dequantize_row(TensorType::q8_0, reinterpret_cast<const std::byte*>(q.data()), y.data(),
                 x.size());
  for (std::size_t b = 0; b < 64; ++b) {
    const float d = f16_to_f32(q[b].d);
    for (std::size_t j = 0; j < 32; ++j) {
      const std::size_t i = b * 32 + j;
      // half a step, plus what rounding the scale to f16 costs at the block's largest value
      ASSERT_LE(std::abs(x[i] - y[i]), 0.5f * d + 127.0f * d * 1e-3f) << i;
    }
  }
}

TEST(Q4_0, QuantizeDequantizeStaysWithinOneStep) {
  const auto x = random_values(32 * 64, 2);
  std::vector<BlockQ4_0> q(64);
  quantize_row_q4_0(x.data(), q.data(), x.size());
  std::vector<float> y(x.size());
  dequantize_row(TensorType::q4_0, reinterpret_cast<const std::byte*>(q.data()), y.data(),
                 x.size());
  for (std::size_t b = 0; b < 64; ++b) {
    const float d = std::abs(f16_to_f32(q[b].d));
    for (std::size_t j = 0; j < 32; ++j) {
      const std::size_t i = b * 32 + j;
      ASSERT_LE(std::abs(x[i] - y[i]), d * 1.01f) << i;
    }
  }
}

TEST(Q4_0, LayoutIsGgufs) {
  // Values j and j+16 share byte j: low nibble, high nibble; value = nibble - 8.
  BlockQ4_0 block{};
  block.d = f32_to_f16(0.5f);
  block.qs[0] = 0x9F;  // value 0: 15-8 = 7, value 16: 9-8 = 1
  std::vector<float> y(32);
  dequantize_row(TensorType::q4_0, reinterpret_cast<const std::byte*>(&block), y.data(), 32);
  EXPECT_EQ(y[0], 3.5f);
  EXPECT_EQ(y[16], 0.5f);
  EXPECT_EQ(y[1], -4.0f);
}

TEST(Q4_0Planar, IsQ4_0sBytesInAnotherOrder) {
  const std::size_t n = 32 * 37;  // an odd number of blocks
  const auto x = random_values(n, 8);
  std::vector<BlockQ4_0> q(n / 32);
  quantize_row_q4_0(x.data(), q.data(), n);
  const auto* gguf = reinterpret_cast<const std::byte*>(q.data());
  std::vector<std::byte> planar(n / 32 * 18), back(n / 32 * 18), direct(n / 32 * 18);
  repack_q4_0_planar(gguf, planar.data(), n);
  // Quants first, block after block, then the scales.
  EXPECT_EQ(std::memcmp(planar.data() + 16 * 3, q[3].qs, 16), 0);
  EXPECT_EQ(std::memcmp(planar.data() + 16 * 37 + 2 * 3, &q[3].d, 2), 0);
  unpack_q4_0_planar(planar.data(), back.data(), n);
  EXPECT_EQ(std::memcmp(back.data(), gguf, back.size()), 0);
  quantize_row(TensorType::q4_0_planar, x.data(), direct.data(), n);
  EXPECT_EQ(direct, planar);
  std::vector<float> from_gguf(n), from_planar(n);
  dequantize_row(TensorType::q4_0, gguf, from_gguf.data(), n);
  dequantize_row(TensorType::q4_0_planar, planar.data(), from_planar.data(), n);
  EXPECT_EQ(from_gguf, from_planar);
  EXPECT_EQ(dot_row(TensorType::q4_0, gguf, x.data(), n),
            dot_row(TensorType::q4_0_planar, planar.data(), x.data(), n));
}

class DotProduct : public ::testing::TestWithParam<TensorType> {};

TEST_P(DotProduct, MatchesF32ArithmeticOnTheDecodedRow) {
  const TensorType type = GetParam();
  const TypeTraits& t = traits(type);
  std::mt19937 rng(3);
  for (int round = 0; round < 50; ++round) {
    const std::size_t n = t.block_elements * (1 + rng() % 40);
    const auto w = random_values(n, static_cast<std::uint32_t>(rng()), 0.2f);
    const auto x = random_values(n, static_cast<std::uint32_t>(rng()));
    std::vector<std::byte> row(n / t.block_elements * t.block_bytes);
    quantize_row(type, w.data(), row.data(), n);
    std::vector<float> decoded(n);
    dequantize_row(type, row.data(), decoded.data(), n);
    const double exact = dot_reference(decoded, x);
    const float got = dot_row(type, row.data(), x.data(), n);
    double magnitude = 0;
    for (std::size_t i = 0; i < n; ++i) magnitude += std::abs(double{decoded[i]} * double{x[i]});
    ASSERT_NEAR(got, exact, 1e-5 * magnitude + 1e-6) << "n=" << n;
    // And against the unquantized weights, within what the format loses.
    const bool four_bit =
        type == TensorType::q4_0 || type == TensorType::q4_0_planar || type == TensorType::q4_k;
    const double tolerance = four_bit                   ? 0.15
                             : type == TensorType::q6_k ? 0.06
                             : type == TensorType::q8_0 ? 0.02
                                                        : 1e-3;
    ASSERT_NEAR(got, dot_reference(w, x), tolerance * magnitude + 1e-6) << "n=" << n;
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, DotProduct,
                         ::testing::Values(TensorType::f32, TensorType::f16, TensorType::q8_0,
                                           TensorType::q4_0, TensorType::q4_0_planar,
                                           TensorType::q4_k, TensorType::q6_k),
                         TypeParamName());

TEST(Matvec, ThreadedEqualsSingleThreaded) {
  const std::size_t rows = 300, cols = 256;
  const auto w = random_values(rows * cols, 5);
  const auto x = random_values(cols, 6);
  const Tensor t{TensorType::f32, reinterpret_cast<const std::byte*>(w.data()), rows, cols};
  std::vector<float> single(rows), threaded(rows);
  matvec(t, x.data(), single.data());
  ThreadPool pool(3);
  for (int i = 0; i < 20; ++i) {
    matvec(t, x.data(), threaded.data(), &pool);
    ASSERT_EQ(single, threaded);
  }
}

TEST(Softmax, SumsToOneAndSurvivesLargeLogits) {
  std::vector<float> x{1000.0f, 999.0f, -1000.0f};
  softmax(x.data(), x.size());
  EXPECT_NEAR(x[0] + x[1] + x[2], 1.0f, 1e-6f);
  EXPECT_GT(x[0], x[1]);
  EXPECT_FALSE(std::isnan(x[2]));
}

}  // namespace
}  // namespace llorch::engine
