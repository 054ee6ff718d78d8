// The fast kernels: products of stored rows with activations, in SIMD through Highway with
// runtime dispatch, chosen once per matrix product (every target Highway compiles here: AVX-512
// with VNNI, AVX-512, AVX2, SSE4 on x86, NEON/SVE on Arm, EMU128 anywhere). Quantized weights
// meet activations quantized on the fly to int8, as the best CPU engines do: the products are
// exact integer sums, scaled once per block. The plain C++ reference is scalar_kernels.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "engine/tensor_type.hpp"

namespace llorch::engine {

// A vector quantized in blocks of 32 values: int8 values with one float scale per block (as Q8_0,
// but with a float scale) and the sum of every 16 values, which the kernels use to apply the
// weights' zero points and minimums once per block instead of once per value.
struct QuantizedActivations {
  std::vector<std::int8_t> q;
  std::vector<float> d;              // one per 32 values
  std::vector<std::int32_t> sums16;  // one per 16 values
  // 8 · Σq · d of every block: what Q4_0's zero point (8) takes off each block's product.
  std::vector<float> block_offsets8;
  // For the planar Q4_0 kernels: q with each pair of blocks' halves interleaved (see quantize()).
  std::vector<std::int8_t> q_pairs;
  // The same vector quantized in super-blocks of 256 values, one float scale each (ggml's Q8_K),
  // for the K-quant kernels: with one activation scale per super-block, the weights' integer
  // sums add up over the whole super-block before one float multiply. Filled by quantize() when
  // asked for (and n is a multiple of 256); empty otherwise.
  std::vector<std::int8_t> qk;
  std::vector<float> dk;              // one per 256 values
  std::vector<std::int16_t> ksums16;  // Σ qk of every 16 values
  std::size_t n = 0;

  // `n` must be a multiple of 32; `super_blocks` fills qk, dk and ksums16 too.
  void quantize(const float* x, std::size_t n, bool super_blocks = false);
};

// Whether `type`'s kernels read the super-block quantization (QuantizedActivations::qk).
bool uses_super_blocks(TensorType type) noexcept;

// Whether `type` is computed against QuantizedActivations (else against F32 activations).
bool uses_quantized_activations(TensorType type) noexcept;

// Dot products of one stored row with the activations (x.n values for the quantized one, which
// needs a type for which uses_quantized_activations() holds).
float simd_dot(TensorType type, const std::byte* row, const float* x, std::size_t n) noexcept;
float simd_dot_quantized(TensorType type, const std::byte* row,
                         const QuantizedActivations& x) noexcept;

// Rows [0, row_count) of a matrix (row_bytes apart) against `count` activation vectors:
// out[t * stride + r] = dot(row r, xs[t]). Blocked so that each row's blocks are decoded once for
// several vectors and the vectors are read once for several rows (the batched prompt's kernel).
void simd_matmul_quantized(TensorType type, const std::byte* rows, std::size_t row_bytes,
                           std::size_t row_count, const QuantizedActivations* xs, std::size_t count,
                           float* out, std::size_t stride) noexcept;

// A thread's share of a matrix-vector product: out[r] = dot(row r, x) for rows [0, row_count),
// against quantized activations (types for which uses_quantized_activations() holds) or F32
// ones of n values (F32, F16, BF16, or any block-decoded type).
void simd_matvec_quantized(TensorType type, const std::byte* rows, std::size_t row_bytes,
                           std::size_t row_count, const QuantizedActivations& x,
                           float* out) noexcept;
void simd_matvec(TensorType type, const std::byte* rows, std::size_t row_bytes,
                 std::size_t row_count, const float* x, std::size_t n, float* out) noexcept;

// The batched product against F32 activations (`count` rows of n values at x): out[t * stride
// + r] = dot(row r, x_t), each row's values widened once for several tokens.
void simd_matmul(TensorType type, const std::byte* rows, std::size_t row_bytes,
                 std::size_t row_count, const float* x, std::size_t count, std::size_t n,
                 float* out, std::size_t stride) noexcept;

// The same, in plain C++ on any CPU (the reference the SIMD code is tested against).
float scalar_dot_quantized(TensorType type, const std::byte* row,
                           const QuantizedActivations& x) noexcept;

// In-place softmax over n > 0 values (attention scores), exponentials a vector at a time.
void simd_softmax(float* x, std::size_t n) noexcept;

// A run of `count` rows `stride` bytes apart (a KV block's positions of one head): out[r] =
// row_r · x over n values (F16, F32; Q8_0 rows against x quantized, n = x.n); and out[i] +=
// Σ_r a[r] · row_r[i] (F16, F32, Q8_0 with n a multiple of 32).
void simd_dot_rows(TensorType type, const std::byte* rows, std::size_t stride, std::size_t count,
                   const float* x, std::size_t n, float* out) noexcept;
void simd_dot_rows_quantized(const std::byte* rows, std::size_t stride, std::size_t count,
                             const QuantizedActivations& x, float* out) noexcept;
void simd_axpy_rows(TensorType type, const float* a, const std::byte* rows, std::size_t stride,
                    std::size_t count, float* out, std::size_t n) noexcept;

// The instruction set the dispatcher chose ("AVX3_DL", "AVX2", "EMU128", …), for bench output.
std::string_view simd_target_name();

// Every target compiled here that this CPU can run (Highway's bit, its name), best first: what
// the tests force one after another (hwy::SetSupportedTargetsForTest) to check each of them.
struct SimdTarget {
  std::int64_t bit;
  std::string_view name;
};
std::vector<SimdTarget> simd_targets();

// Makes the dispatcher use the target named `name` (one of simd_targets(), any case) from now
// on, as if the CPU had nothing better: what an older CPU would run, measured on this one.
// False (nothing changed) for a name that is not among them.
bool force_simd_target(std::string_view name);

}  // namespace llorch::engine
