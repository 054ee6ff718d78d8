// The compute kernels of the forward pass: row dot products in every weight type (blocks are
// decoded on the fly, a tensor is never expanded to F32 as a whole) and matrix-vector products.
// These are the plain reference kernels; faster ones are tested against them.
#pragma once

#include <cstddef>
#include <span>

#include "engine/model.hpp"

namespace llorch::engine {

class ThreadPool;

// Dot product of one stored row (`n` values of `type`) with the F32 vector `x`.
float dot_row(TensorType type, const std::byte* row, const float* x, std::size_t n) noexcept;

// Which dot products matvec uses: the SIMD kernels (activations quantized to int8 for quantized
// weights), or the reference ones above (F32 activations). LLORCH_KERNELS=reference selects the
// latter, so that every correctness test can run on both.
enum class KernelPath { simd, reference };
KernelPath kernel_path_from(const char* value) noexcept;
KernelPath kernel_path() noexcept;  // from LLORCH_KERNELS, read once

// y[r] = dot(w.row(r), x) for every row; rows are split over the pool's threads when given.
void matvec(const Tensor& w, const float* x, float* y, ThreadPool* pool = nullptr);

// Several products of the same input (Q, K and V; gate and up): the input is quantized once and
// all rows are split over the pool in one go, so the threads meet once instead of once each.
struct MatvecJob {
  const Tensor* w;
  float* y;
};
void matvec_many(std::span<const MatvecJob> jobs, const float* x, ThreadPool* pool = nullptr);

// Y = X · Wᵀ for a batch: x holds `tokens` rows of w.cols values, y gets `tokens` rows of
// w.rows values. Each weight row is read from memory once and used for every token (prompt
// processing is compute-bound, not bandwidth-bound, this way). Rows are split over the pool.
void matmul(const Tensor& w, const float* x, std::size_t tokens, float* y,
            ThreadPool* pool = nullptr);

// out = x / rms(x) * weight (weight is F32), as Llama's RMSNorm.
void rmsnorm(float* out, const float* x, const float* weight, std::size_t n, float eps) noexcept;

// In-place softmax over n values.
void softmax(float* x, std::size_t n) noexcept;

}  // namespace llorch::engine
