#include "engine/kernels.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "engine/block_decoders.hpp"
#include "engine/quant.hpp"
#include "engine/simd_kernels.hpp"
#include "engine/thread_pool.hpp"

namespace llorch::engine {
namespace {

float dot_f32(const float* a, const float* x, std::size_t n) noexcept {
  float acc[8] = {};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += a[i + k] * x[i + k];
  }
  float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) sum += a[i] * x[i];
  return sum;
}

float dot_f16(const std::byte* row, const float* x, std::size_t n) noexcept {
  float sum = 0.0f;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint16_t h;
    std::memcpy(&h, row + 2 * i, 2);
    sum += f16_to_f32(h) * x[i];
  }
  return sum;
}

float dot_q8_0(const std::byte* row, const float* x, std::size_t n) noexcept {
  float sum = 0.0f;
  for (std::size_t b = 0; b < n / 32; ++b, x += 32) {
    BlockQ8_0 block;
    std::memcpy(&block, row + b * sizeof block, sizeof block);
    float s = 0.0f;
    for (int j = 0; j < 32; ++j) s += static_cast<float>(block.qs[j]) * x[j];
    sum += f16_to_f32(block.d) * s;
  }
  return sum;
}

float dot_q4_0_block(const std::uint8_t* qs, std::uint16_t d, const float* x) noexcept {
  float s = 0.0f;
  for (int j = 0; j < 16; ++j) {
    s += static_cast<float>((qs[j] & 0x0F) - 8) * x[j];
    s += static_cast<float>((qs[j] >> 4) - 8) * x[j + 16];
  }
  return f16_to_f32(d) * s;
}

float dot_q4_0(const std::byte* row, const float* x, std::size_t n) noexcept {
  float sum = 0.0f;
  for (std::size_t b = 0; b < n / 32; ++b, x += 32) {
    BlockQ4_0 block;
    std::memcpy(&block, row + b * sizeof block, sizeof block);
    sum += dot_q4_0_block(block.qs, block.d, x);
  }
  return sum;
}

float dot_q4_0_planar(const std::byte* row, const float* x, std::size_t n) noexcept {
  const std::size_t blocks = n / 32;
  float sum = 0.0f;
  for (std::size_t b = 0; b < blocks; ++b, x += 32) {
    std::uint16_t d;
    std::memcpy(&d, row + q4_0_planar_scale(blocks, b), 2);
    sum += dot_q4_0_block(reinterpret_cast<const std::uint8_t*>(row + q4_0_planar_quants(b)), d, x);
  }
  return sum;
}

// K-quants: one super-block at a time through the reference dequantizer.
float dot_k_quant(TensorType type, const std::byte* row, const float* x, std::size_t n) noexcept {
  const std::size_t block_bytes = traits(type).block_bytes;
  float values[kSuperBlock];
  float sum = 0.0f;
  for (std::size_t b = 0; b < n / kSuperBlock; ++b, x += kSuperBlock) {
    dequantize_row(type, row + b * block_bytes, values, kSuperBlock);
    sum += dot_f32(values, x, kSuperBlock);
  }
  return sum;
}

}  // namespace

float dot_row(TensorType type, const std::byte* row, const float* x, std::size_t n) noexcept {
  switch (type) {
    case TensorType::f32: {
      // Rows of a mapped GGUF are 4-byte aligned (tensor data is 32-byte aligned).
      return dot_f32(reinterpret_cast<const float*>(row), x, n);
    }
    case TensorType::f16:
      return dot_f16(row, x, n);
    case TensorType::q8_0:
      return dot_q8_0(row, x, n);
    case TensorType::q4_0:
      return dot_q4_0(row, x, n);
    case TensorType::q4_0_planar:
      return dot_q4_0_planar(row, x, n);
    case TensorType::q4_k:
    case TensorType::q6_k:
      return dot_k_quant(type, row, x, n);
    default:
      return dot_decoded(type, row, x, n, dot_f32);
  }
}

KernelPath kernel_path_from(const char* value) noexcept {
  return value != nullptr && std::string_view(value) == "reference" ? KernelPath::reference
                                                                    : KernelPath::simd;
}

KernelPath kernel_path() noexcept {
  static const KernelPath path = kernel_path_from(std::getenv("LLORCH_KERNELS"));
  return path;
}

void matvec(const Tensor& w, const float* x, float* y, ThreadPool* pool) {
  const MatvecJob job{&w, y};
  matvec_many(std::span(&job, 1), x, pool);
}

void matvec_many(std::span<const MatvecJob> jobs, const float* x, ThreadPool* pool) {
  thread_local QuantizedActivations quantized;
  const bool simd = kernel_path() == KernelPath::simd;
  bool any_integer = false;
  bool any_super_blocks = false;
  std::size_t total = 0;
  for (const auto& job : jobs) {
    any_integer = any_integer || (simd && uses_quantized_activations(job.w->type));
    any_super_blocks = any_super_blocks || uses_super_blocks(job.w->type);
    total += job.w->rows;
  }
  if (jobs.empty()) return;
  if (any_integer) quantized.quantize(x, jobs[0].w->cols, any_super_blocks);
  const QuantizedActivations& qx = quantized;
  const auto rows = [&](std::size_t begin, std::size_t end) {
    std::size_t offset = 0;
    for (const auto& job : jobs) {
      const Tensor& w = *job.w;
      const std::size_t first = std::max(begin, offset);
      const std::size_t last = std::min(end, offset + w.rows);
      const std::size_t from = first - offset;
      const std::size_t to = last - offset;
      offset += w.rows;
      if (first >= last) continue;
      // One kernel dispatch for this thread's share of the matrix.
      if (simd && uses_quantized_activations(w.type)) {
        simd_matvec_quantized(w.type, w.row(from), w.row_bytes(), to - from, qx, job.y + from);
      } else if (simd) {
        simd_matvec(w.type, w.row(from), w.row_bytes(), to - from, x, w.cols, job.y + from);
      } else {
        for (std::size_t r = from; r < to; ++r) job.y[r] = dot_row(w.type, w.row(r), x, w.cols);
      }
    }
  };
  if (pool != nullptr && pool->size() > 1 && total * jobs[0].w->cols >= 16384) {
    pool->parallel_for(total, rows);
  } else {
    rows(0, total);
  }
}

void matmul(const Tensor& w, const float* x, std::size_t tokens, float* y, ThreadPool* pool) {
  const bool simd = kernel_path() == KernelPath::simd;
  const bool decoded = is_block_decoded(w.type);
  const bool integer = simd && uses_quantized_activations(w.type);
  thread_local std::vector<QuantizedActivations> quantized;
  if (integer) {
    if (quantized.size() < tokens) quantized.resize(tokens);
    // The caller's buffers, named outside the lambda: inside, `quantized` would be the pool
    // thread's own thread_local.
    QuantizedActivations* targets = quantized.data();
    const auto quantize = [&](std::size_t begin, std::size_t end) {
      for (std::size_t t = begin; t < end; ++t)
        targets[t].quantize(x + t * w.cols, w.cols, uses_super_blocks(w.type));
    };
    if (pool != nullptr && tokens >= 8) {
      pool->parallel_for(tokens, quantize);
    } else {
      quantize(0, tokens);
    }
  }
  const QuantizedActivations* qx = quantized.data();
  const auto rows = [&](std::size_t begin, std::size_t end) {
    if (integer) {
      simd_matmul_quantized(w.type, w.row(begin), w.row_bytes(), end - begin, qx, tokens, y + begin,
                            w.rows);
      return;
    }
    if (simd) {
      simd_matmul(w.type, w.row(begin), w.row_bytes(), end - begin, x, tokens, w.cols, y + begin,
                  w.rows);
      return;
    }
    if (decoded) {
      // Each row decoded once, then an F32 product with every token's activations.
      thread_local std::vector<float> row;
      row.resize(w.cols);
      for (std::size_t r = begin; r < end; ++r) {
        decode_blocks(w.type, w.row(r), row.data(), w.cols);
        for (std::size_t t = 0; t < tokens; ++t) {
          y[t * w.rows + r] =
              dot_row(TensorType::f32, reinterpret_cast<const std::byte*>(row.data()),
                      x + t * w.cols, w.cols);
        }
      }
      return;
    }
    for (std::size_t r = begin; r < end; ++r) {
      for (std::size_t t = 0; t < tokens; ++t) {
        y[t * w.rows + r] = dot_row(w.type, w.row(r), x + t * w.cols, w.cols);
      }
    }
  };
  if (pool != nullptr && pool->size() > 1 && w.rows * w.cols * tokens >= 16384) {
    pool->parallel_for(w.rows, rows);
  } else {
    rows(0, w.rows);
  }
}

void rmsnorm(float* out, const float* x, const float* weight, std::size_t n, float eps) noexcept {
  float ss = 0.0f;
  for (std::size_t i = 0; i < n; ++i) ss += x[i] * x[i];
  ss /= static_cast<float>(n);
  ss += eps;
  const float scale = 1.0f / std::sqrt(ss);
  for (std::size_t i = 0; i < n; ++i) out[i] = weight[i] * (scale * x[i]);
}

void softmax(float* x, std::size_t n) noexcept {
  float max = x[0];
  for (std::size_t i = 1; i < n; ++i) max = std::max(max, x[i]);
  float sum = 0.0f;
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  for (std::size_t i = 0; i < n; ++i) x[i] /= sum;
}

}  // namespace llorch::engine
