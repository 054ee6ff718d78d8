// Every SIMD kernel on every target this machine can run (Highway's target forcing picks each in
// turn: AVX-512 with VNNI, AVX-512, AVX2, SSE4, the portable baseline on a Zen 4 or 5), against
// the plain C++ reference: every weight type on real rows of llama.cpp's files, rows of every
// block count (so that kernels taking two, four or eight blocks a step meet every tail), batches
// of every token count (tiles and their remainders).
#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/block_decoders.hpp"
#include "engine/kernels.hpp"
#include "engine/model.hpp"
#include "engine/quant.hpp"
#include "engine/simd_kernels.hpp"
#include "reference_file.hpp"

namespace llorch::engine {
namespace {

// Makes the dispatcher choose `target` while in scope, the CPU's own best again afterwards.
class ForcedTarget {
 public:
  explicit ForcedTarget(const SimdTarget& target) { hwy::SetSupportedTargetsForTest(target.bit); }
  ~ForcedTarget() { hwy::SetSupportedTargetsForTest(0); }
  ForcedTarget(const ForcedTarget&) = delete;
  ForcedTarget& operator=(const ForcedTarget&) = delete;
};

std::vector<float> random_values(std::size_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = normal(rng);
  return v;
}

// The bytes of the first tensor of `type` in that type's file of shared/models/arch: a supply of
// real blocks (any run of whole blocks is a valid row).
// Q4_0 and Q4_0 planar take the Q4_0 file's blocks (loading lays its rows out planar; they are
// put back in file order here, and test rows laid out planar again from them).
std::vector<std::byte> real_blocks(const std::string& file, TensorType type) {
  const bool q4_0 = type == TensorType::q4_0 || type == TensorType::q4_0_planar;
  const auto model = load_model(testing::models_dir() + "/arch/tiny-llama-types-" + file + ".gguf");
  std::vector<std::byte> bytes;
  model->for_each_tensor([&](const Tensor& t) {
    const bool planar = t.type == TensorType::q4_0_planar;
    if (!bytes.empty() || t.rows < 2 ||
        (q4_0 ? !planar && t.type != TensorType::q4_0 : t.type != type))
      return;
    for (std::size_t r = 0; r < t.rows; ++r) {
      const std::size_t at = bytes.size();
      bytes.resize(at + t.row_bytes());
      if (planar) {
        unpack_q4_0_planar(t.row(r), bytes.data() + at, t.cols);
      } else {
        std::memcpy(bytes.data() + at, t.row(r), t.row_bytes());
      }
    }
  });
  return bytes;
}

struct TypeFile {
  TensorType type;
  const char* file;
};

constexpr TypeFile kQuantizedTypes[] = {
    {TensorType::q8_0, "q8_0"},     {TensorType::q4_0, "q4_0"},   {TensorType::q4_0_planar, "q4_0"},
    {TensorType::q4_k, "q4_k_m"},   {TensorType::q5_k, "q5_k_m"}, {TensorType::q6_k, "q6_k"},
    {TensorType::q4_1, "q4_1"},     {TensorType::q5_0, "q5_0"},   {TensorType::q5_1, "q5_1"},
    {TensorType::q2_k, "q2_k"},     {TensorType::q3_k, "q3_k_m"}, {TensorType::iq4_nl, "iq4_nl"},
    {TensorType::iq4_xs, "iq4_xs"},
};

TEST(KernelTargets, EveryCompiledTargetThisCpuRunsIsListedAndChosenByName) {
  const auto targets = simd_targets();
  ASSERT_FALSE(targets.empty());
  EXPECT_EQ(targets.front().name, simd_target_name()) << "the best one is the default";
  for (const auto& target : targets) {
    ForcedTarget forced(target);
    EXPECT_EQ(simd_target_name(), target.name);
    std::printf("target %.*s\n", static_cast<int>(target.name.size()), target.name.data());
  }
  EXPECT_EQ(simd_target_name(), targets.front().name);
}

// A matrix of `rows` rows of `blocks` blocks each, cut from the real blocks.
std::vector<std::byte> matrix_of(const std::vector<std::byte>& supply, std::size_t block_bytes,
                                 std::size_t blocks, std::size_t rows, std::size_t start) {
  std::vector<std::byte> m(rows * blocks * block_bytes);
  const std::size_t supply_blocks = supply.size() / block_bytes;
  for (std::size_t b = 0; b < rows * blocks; ++b) {
    std::memcpy(m.data() + b * block_bytes,
                supply.data() + ((start + b) % supply_blocks) * block_bytes, block_bytes);
  }
  return m;
}

TEST(KernelTargets, QuantizedKernelsEqualTheReferenceOnEveryTarget) {
  const auto targets = simd_targets();
  for (const auto& [type, file] : kQuantizedTypes) {
    const auto supply = real_blocks(file, type);
    ASSERT_FALSE(supply.empty()) << "no " << traits(type).name << " tensor in " << file;
    const TypeTraits& t = traits(type);
    const bool super = t.block_elements == kSuperBlock;
    const std::vector<std::size_t> block_counts =
        super ? std::vector<std::size_t>{1, 2, 3, 5}
              : std::vector<std::size_t>{1, 2, 3, 4, 5, 7, 8, 9, 15, 17, 33};
    std::mt19937 rng(3);
    for (const std::size_t blocks : block_counts) {
      const std::size_t n = blocks * t.block_elements;
      const std::size_t rows = 5;
      const std::size_t row_bytes = blocks * t.block_bytes;
      std::vector<std::byte> matrix = matrix_of(supply, t.block_bytes, blocks, rows, rng() % 64);
      if (type == TensorType::q4_0_planar) {
        // Planar rows keep quants and scales apart: Q4_0 rows of this length, laid out planar.
        const auto q4 = matrix_of(supply, t.block_bytes, blocks, rows, 0);
        for (std::size_t r = 0; r < rows; ++r)
          repack_q4_0_planar(q4.data() + r * row_bytes, matrix.data() + r * row_bytes, n);
      }
      std::vector<std::vector<float>> decoded(rows, std::vector<float>(n));
      for (std::size_t r = 0; r < rows; ++r)
        dequantize_row(type, matrix.data() + r * row_bytes, decoded[r].data(), n);
      for (const std::size_t tokens : {1u, 3u, 4u, 5u, 8u, 9u, 67u}) {
        std::vector<float> x(tokens * n);
        for (auto& v : x) v = random_values(1, rng)[0];
        std::vector<QuantizedActivations> qx(tokens);
        for (std::size_t k = 0; k < tokens; ++k) qx[k].quantize(x.data() + k * n, n, super);
        for (const auto& target : targets) {
          ForcedTarget forced(target);
          SCOPED_TRACE(std::string(traits(type).name) + " on " + std::string(target.name) +
                       ", n=" + std::to_string(n) + ", tokens=" + std::to_string(tokens));
          std::vector<float> batched(tokens * rows);
          simd_matmul_quantized(type, matrix.data(), row_bytes, rows, qx.data(), tokens,
                                batched.data(), rows);
          for (std::size_t k = 0; k < tokens; ++k) {
            std::vector<float> one(rows);
            simd_matvec_quantized(type, matrix.data(), row_bytes, rows, qx[k], one.data());
            for (std::size_t r = 0; r < rows; ++r) {
              const std::byte* row = matrix.data() + r * row_bytes;
              double magnitude = 1e-6;
              for (std::size_t i = 0; i < n; ++i)
                magnitude += std::abs(double{decoded[r][i]} * x[k * n + i]);
              const float reference = scalar_dot_quantized(type, row, qx[k]);
              // The same integer sums: only the order of float additions differs.
              const double tolerance = 1e-5 * magnitude;
              ASSERT_NEAR(simd_dot_quantized(type, row, qx[k]), reference, tolerance)
                  << "row " << r;
              ASSERT_NEAR(one[r], reference, tolerance) << "matvec row " << r;
              ASSERT_NEAR(batched[k * rows + r], reference, tolerance)
                  << "batched row " << r << " token " << k;
            }
          }
        }
      }
    }
  }
}

// Each token of a batch (a decode step of several sequences, a prompt chunk, or both) gets exactly
// what it gets alone, so a sequence decodes the same tokens at temperature 0 whoever it shares
// the engine with: on every target, for every type, at every batch size.
TEST(KernelTargets, BatchesGiveEachTokenExactlyItsOwnResult) {
  const auto targets = simd_targets();
  std::mt19937 rng(4);
  for (const auto& [type, file] : kQuantizedTypes) {
    const auto supply = real_blocks(file, type);
    const TypeTraits& t = traits(type);
    const std::size_t blocks = t.block_elements == kSuperBlock ? 3 : 17;
    const std::size_t n = blocks * t.block_elements, rows = 3, row_bytes = blocks * t.block_bytes;
    std::vector<std::byte> matrix = matrix_of(supply, t.block_bytes, blocks, rows, 5);
    if (type == TensorType::q4_0_planar) {
      const auto q4 = matrix_of(supply, t.block_bytes, blocks, rows, 5);
      for (std::size_t r = 0; r < rows; ++r)
        repack_q4_0_planar(q4.data() + r * row_bytes, matrix.data() + r * row_bytes, n);
    }
    for (const std::size_t tokens : {2u, 3u, 4u, 5u, 7u, 8u, 9u, 16u, 33u, 64u, 67u}) {
      std::vector<QuantizedActivations> qx(tokens);
      for (auto& q : qx) q.quantize(random_values(n, rng).data(), n, uses_super_blocks(type));
      for (const auto& target : targets) {
        ForcedTarget forced(target);
        SCOPED_TRACE(std::string(traits(type).name) + " on " + std::string(target.name) +
                     ", tokens=" + std::to_string(tokens));
        std::vector<float> batched(tokens * rows);
        simd_matmul_quantized(type, matrix.data(), row_bytes, rows, qx.data(), tokens,
                              batched.data(), rows);
        for (std::size_t k = 0; k < tokens; ++k) {
          std::vector<float> alone(rows);
          simd_matvec_quantized(type, matrix.data(), row_bytes, rows, qx[k], alone.data());
          for (std::size_t r = 0; r < rows; ++r)
            ASSERT_EQ(batched[k * rows + r], alone[r]) << "row " << r << " token " << k;
        }
      }
    }
  }
  for (const TensorType type : {TensorType::f32, TensorType::f16, TensorType::bf16}) {
    const std::size_t n = 200, rows = 3, row_bytes = n * traits(type).block_bytes;
    std::vector<std::byte> matrix(rows * row_bytes);
    for (std::size_t r = 0; r < rows; ++r)
      quantize_row(type, random_values(n, rng).data(), matrix.data() + r * row_bytes, n);
    for (const std::size_t tokens : {2u, 4u, 5u, 9u, 64u}) {
      const auto x = random_values(tokens * n, rng);
      for (const auto& target : targets) {
        ForcedTarget forced(target);
        SCOPED_TRACE(std::string(traits(type).name) + " on " + std::string(target.name));
        std::vector<float> batched(tokens * rows);
        simd_matmul(type, matrix.data(), row_bytes, rows, x.data(), tokens, n, batched.data(),
                    rows);
        for (std::size_t k = 0; k < tokens; ++k) {
          std::vector<float> alone(rows);
          simd_matvec(type, matrix.data(), row_bytes, rows, x.data() + k * n, n, alone.data());
          for (std::size_t r = 0; r < rows; ++r) ASSERT_EQ(batched[k * rows + r], alone[r]);
        }
      }
    }
  }
}

TEST(KernelTargets, FloatKernelsEqualTheReferenceOnEveryTarget) {
  const auto targets = simd_targets();
  std::mt19937 rng(9);
  for (const TensorType type : {TensorType::f32, TensorType::f16, TensorType::bf16}) {
    for (const std::size_t n : {1u, 3u, 7u, 8u, 15u, 16u, 17u, 31u, 33u, 64u, 77u, 200u}) {
      const std::size_t rows = 3;
      const std::size_t row_bytes = n * traits(type).block_bytes;
      std::vector<std::byte> matrix(rows * row_bytes);
      for (std::size_t r = 0; r < rows; ++r)
        quantize_row(type, random_values(n, rng).data(), matrix.data() + r * row_bytes, n);
      for (const std::size_t tokens : {1u, 4u, 6u}) {
        const auto x = random_values(tokens * n, rng);
        for (const auto& target : targets) {
          ForcedTarget forced(target);
          SCOPED_TRACE(std::string(traits(type).name) + " on " + std::string(target.name) +
                       ", n=" + std::to_string(n) + ", tokens=" + std::to_string(tokens));
          std::vector<float> batched(tokens * rows);
          simd_matmul(type, matrix.data(), row_bytes, rows, x.data(), tokens, n, batched.data(),
                      rows);
          for (std::size_t k = 0; k < tokens; ++k) {
            std::vector<float> one(rows);
            simd_matvec(type, matrix.data(), row_bytes, rows, x.data() + k * n, n, one.data());
            for (std::size_t r = 0; r < rows; ++r) {
              const std::byte* row = matrix.data() + r * row_bytes;
              const float reference = dot_row(type, row, x.data() + k * n, n);
              const double tolerance = 1e-5 * static_cast<double>(n) + 1e-6;
              ASSERT_NEAR(simd_dot(type, row, x.data() + k * n, n), reference, tolerance);
              ASSERT_NEAR(one[r], reference, tolerance);
              ASSERT_NEAR(batched[k * rows + r], reference, tolerance);
            }
          }
        }
      }
    }
  }
}

TEST(KernelTargets, SoftmaxEqualsTheReferenceOnEveryTarget) {
  const auto targets = simd_targets();
  std::mt19937 rng(12);
  for (const std::size_t n : {1u, 2u, 7u, 16u, 17u, 100u, 2049u}) {
    auto x = random_values(n, rng);
    for (auto& v : x) v *= 8.0f;  // scores far apart, as attention's are
    x[n / 2] = -1e30f;            // a masked-out score
    std::vector<float> expected(x);
    softmax(expected.data(), n);
    for (const auto& target : targets) {
      ForcedTarget forced(target);
      SCOPED_TRACE(std::string(target.name) + ", n=" + std::to_string(n));
      std::vector<float> got(x);
      simd_softmax(got.data(), n);
      double total = 0.0;
      for (std::size_t i = 0; i < n; ++i) {
        ASSERT_NEAR(got[i], expected[i], 2e-6 * expected[i] + 1e-9) << "value " << i;
        total += got[i];
      }
      EXPECT_NEAR(total, 1.0, 1e-5);
    }
  }
}

// The attention kernels over a run of rows (a KV block) against one product per row, for F16,
// F32 and Q8_0 caches, head sizes with and without a vector tail, runs of 1 to 16 rows.
TEST(KernelTargets, AttentionRowRunsEqualOneProductPerRowOnEveryTarget) {
  const auto targets = simd_targets();
  std::mt19937 rng(5);
  for (const TensorType type : {TensorType::f32, TensorType::f16, TensorType::q8_0}) {
    for (const std::size_t n : {8u, 24u, 32u, 64u, 80u, 128u}) {
      if (type == TensorType::q8_0 && n % 32 != 0) continue;
      for (const std::size_t count : {1u, 3u, 16u}) {
        // Rows with a gap after them, as one head's part of a cache row.
        const std::size_t stride = type == TensorType::q8_0
                                       ? (n / 32 + 2) * sizeof(BlockQ8_0)
                                       : (n + 40) * (type == TensorType::f16 ? 2 : 4);
        std::vector<std::byte> rows(stride * count);
        std::vector<float> flat(n * count);
        for (std::size_t r = 0; r < count; ++r) {
          const auto values = random_values(n, rng);
          quantize_row(type, values.data(), rows.data() + r * stride, n);
          dequantize_row(type, rows.data() + r * stride, flat.data() + r * n, n);
        }
        const auto x = random_values(n, rng);
        const auto a = random_values(count, rng);
        QuantizedActivations q;
        std::vector<float> xs(x);  // what the products see: x itself, or x quantized for Q8_0
        if (type == TensorType::q8_0) {
          q.quantize(x.data(), n);
          for (std::size_t i = 0; i < n; ++i) xs[i] = static_cast<float>(q.q[i]) * q.d[i / 32];
        }
        std::vector<double> dot(count, 0.0);
        std::vector<double> expected(n, 0.5);
        for (std::size_t r = 0; r < count; ++r) {
          for (std::size_t i = 0; i < n; ++i) {
            dot[r] += double{flat[r * n + i]} * xs[i];
            expected[i] += a[r] * flat[r * n + i];
          }
        }
        for (const auto& target : targets) {
          ForcedTarget forced(target);
          SCOPED_TRACE(std::string(traits(type).name) + " on " + std::string(target.name) +
                       ", n=" + std::to_string(n) + ", count=" + std::to_string(count));
          std::vector<float> dots(count);
          if (type == TensorType::q8_0) {
            simd_dot_rows_quantized(rows.data(), stride, count, q, dots.data());
          } else {
            simd_dot_rows(type, rows.data(), stride, count, x.data(), n, dots.data());
          }
          std::vector<float> sum(n, 0.5f);
          simd_axpy_rows(type, a.data(), rows.data(), stride, count, sum.data(), n);
          for (std::size_t r = 0; r < count; ++r)
            ASSERT_NEAR(dots[r], dot[r], 1e-4 * static_cast<double>(n)) << "row " << r;
          for (std::size_t i = 0; i < n; ++i)
            ASSERT_NEAR(sum[i], expected[i], 1e-4 * static_cast<double>(count)) << "value " << i;
        }
      }
    }
  }
}

}  // namespace
}  // namespace llorch::engine
