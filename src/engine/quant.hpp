// Block quantization into GGUF layouts (the types synthetic models and tests write) and row
// conversion to F32.
#pragma once

#include <cstddef>
#include <span>

#include "engine/tensor_type.hpp"

namespace llorch::engine {

struct BlockQ5_K;  // block_decoders.hpp

// `n` must be a multiple of 32. Same rounding as ggml's reference quantizers.
void quantize_row_q8_0(const float* x, BlockQ8_0* out, std::size_t n) noexcept;
void quantize_row_q4_0(const float* x, BlockQ4_0* out, std::size_t n) noexcept;
void quantize_row_f16(const float* x, std::uint16_t* out, std::size_t n) noexcept;
// `n` must be a multiple of 256. Straightforward min/max (Q4_K) and absmax (Q6_K) fits, not
// ggml's search for the best scales: any encoding of these layouts is a valid file.
void quantize_row_q4_k(const float* x, BlockQ4_K* out, std::size_t n) noexcept;
void quantize_row_q6_k(const float* x, BlockQ6_K* out, std::size_t n) noexcept;
void quantize_row_q5_k(const float* x, BlockQ5_K* out, std::size_t n) noexcept;
void quantize_row_bf16(const float* x, std::uint16_t* out, std::size_t n) noexcept;

// One row of `n` values from Q4_0 to Q4_0 planar (the SIMD kernels' layout, see TensorType) and
// back: the same bytes in another order, nothing is re-encoded.
void repack_q4_0_planar(const std::byte* q4_0_row, std::byte* out, std::size_t n) noexcept;
void unpack_q4_0_planar(const std::byte* planar_row, std::byte* out, std::size_t n) noexcept;

// Stores `n` values as one row of `type` at `out` (n a multiple of the type's block size).
void quantize_row(TensorType type, const float* x, std::byte* out, std::size_t n) noexcept;

// Writes the `n` values of one row stored as `type` at `row` into `out`.
void dequantize_row(TensorType type, const std::byte* row, float* out, std::size_t n) noexcept;

}  // namespace llorch::engine
