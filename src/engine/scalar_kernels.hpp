// The plain C++ reference of every integer kernel (simd_kernels.hpp): the same integer sums the
// SIMD targets compute, value by value, in the order that is easiest to check against ggml's
// definitions. The SIMD kernels are tested against these on every target the CPU runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "engine/block_decoders.hpp"
#include "engine/simd_kernels.hpp"
#include "engine/tensor_type.hpp"

namespace llorch::engine::scalar {

// A decoded integer row (block_decoders.hpp: value = scale[g]·q + offset[g] per 16 values g)
// against the activations: exact integer sums per group, one float multiply-add per group.
// `super` takes the activations quantized per 256 (qk, dk, ksums16) as ggml's Q8_K, which the
// super-block types (Q2_K, Q3_K, Q5_K, IQ4_XS) meet in llama.cpp too; else per 32.
inline float dot_integer_row(const std::int8_t* q, const float* scale, const float* offset,
                             const QuantizedActivations& x, bool super) noexcept {
  float sum = 0.0f;
  for (std::size_t g = 0; g < x.n / 16; ++g) {
    std::int32_t s = 0;
    const std::int8_t* xq = super ? x.qk.data() : x.q.data();
    for (std::size_t i = 16 * g; i < 16 * g + 16; ++i) s += q[i] * xq[i];
    const float d = super ? x.dk[g / 16] : x.d[g / 2];
    const float xsum = super ? x.ksums16[g] : static_cast<float>(x.sums16[g]);
    sum += d * (scale[g] * static_cast<float>(s) + offset[g] * xsum);
  }
  return sum;
}

inline float dot_q8(const std::byte* row, const QuantizedActivations& x) noexcept {
  float sum = 0.0f;
  for (std::size_t b = 0; b < x.n / 32; ++b) {
    BlockQ8_0 block;
    std::memcpy(&block, row + b * sizeof block, sizeof block);
    std::int32_t s = 0;
    for (int j = 0; j < 32; ++j) s += block.qs[j] * x.q[32 * b + j];
    sum += f16_to_f32(block.d) * x.d[b] * static_cast<float>(s);
  }
  return sum;
}

// Block b of a Q4_0 row (its 16 quant bytes and f16 scale) against activation block b.
inline float q4_0_block_dot(const std::uint8_t* qs, std::uint16_t scale,
                            const QuantizedActivations& x, std::size_t b) noexcept {
  std::int32_t s = 0;
  for (int j = 0; j < 16; ++j) {
    s += (qs[j] & 0x0F) * x.q[32 * b + j] + (qs[j] >> 4) * x.q[32 * b + 16 + j];
  }
  s -= 8 * (x.sums16[2 * b] + x.sums16[2 * b + 1]);
  return f16_to_f32(scale) * x.d[b] * static_cast<float>(s);
}

inline float dot_q4_0(const std::byte* row, const QuantizedActivations& x) noexcept {
  float sum = 0.0f;
  for (std::size_t b = 0; b < x.n / 32; ++b) {
    BlockQ4_0 block;
    std::memcpy(&block, row + b * sizeof block, sizeof block);
    sum += q4_0_block_dot(block.qs, block.d, x, b);
  }
  return sum;
}

inline std::uint16_t planar_scale(const std::byte* row, std::size_t blocks,
                                  std::size_t b) noexcept {
  std::uint16_t bits;
  std::memcpy(&bits, row + q4_0_planar_scale(blocks, b), 2);
  return bits;
}

inline float dot_q4_0_planar(const std::byte* row, const QuantizedActivations& x,
                             std::size_t first_block = 0) noexcept {
  const std::size_t blocks = x.n / 32;
  float sum = 0.0f;
  for (std::size_t b = first_block; b < blocks; ++b) {
    sum += q4_0_block_dot(reinterpret_cast<const std::uint8_t*>(row + q4_0_planar_quants(b)),
                          planar_scale(row, blocks, b), x, b);
  }
  return sum;
}

// The K-quants meet the super-block quantization (x.qk): integer sums over the whole super-block,
// one float multiply each.
inline float dot_q4_k(const std::byte* row, const QuantizedActivations& x) noexcept {
  float sum = 0.0f;
  for (std::size_t b = 0; b < x.n / kSuperBlock; ++b) {
    BlockQ4_K block;
    std::memcpy(&block, row + b * sizeof block, sizeof block);
    std::uint8_t sc[8];
    std::uint8_t mn[8];
    unpack_q4_k_scales(block.scales, sc, mn);
    const std::int8_t* xq = x.qk.data() + kSuperBlock * b;
    const std::int16_t* xsums = x.ksums16.data() + 16 * b;
    std::int32_t scaled = 0;
    std::int32_t mins = 0;
    for (int chunk = 0; chunk < 4; ++chunk) {
      const std::uint8_t* q = block.qs + 32 * chunk;
      for (int half = 0; half < 2; ++half) {
        const int j = 2 * chunk + half;  // sub-block of 32 values
        std::int32_t s = 0;
        for (int l = 0; l < 32; ++l) s += (half == 0 ? q[l] & 0x0F : q[l] >> 4) * xq[32 * j + l];
        scaled += sc[j] * s;
        mins += mn[j] * (xsums[2 * j] + xsums[2 * j + 1]);
      }
    }
    sum += x.dk[b] * (f16_to_f32(block.d) * static_cast<float>(scaled) -
                      f16_to_f32(block.dmin) * static_cast<float>(mins));
  }
  return sum;
}

inline float dot_q6_k(const std::byte* row, const QuantizedActivations& x) noexcept {
  float sum = 0.0f;
  for (std::size_t b = 0; b < x.n / kSuperBlock; ++b) {
    BlockQ6_K block;
    std::memcpy(&block, row + b * sizeof block, sizeof block);
    std::int32_t scaled = 0;
    for (int half = 0; half < 2; ++half) {
      const std::uint8_t* ql = block.ql + 64 * half;
      const std::uint8_t* qh = block.qh + 32 * half;
      // The four runs of 32 values of this half, as unsigned 6-bit q (value = q - 32).
      std::uint8_t q[128];
      for (int l = 0; l < 32; ++l) {
        q[l] = static_cast<std::uint8_t>((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4));
        q[l + 32] = static_cast<std::uint8_t>((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4));
        q[l + 64] = static_cast<std::uint8_t>((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
        q[l + 96] = static_cast<std::uint8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
      }
      for (int g = 0; g < 8; ++g) {  // groups of 16 values, one scale each
        const std::size_t group = 8 * static_cast<std::size_t>(half) + static_cast<std::size_t>(g);
        const std::int8_t* xq = x.qk.data() + kSuperBlock * b + 16 * group;
        std::int32_t s = 0;
        for (int l = 0; l < 16; ++l) s += q[16 * g + l] * xq[l];
        s -= 32 * x.ksums16[16 * b + group];
        scaled += block.scales[group] * s;
      }
    }
    sum += f16_to_f32(block.d) * x.dk[b] * static_cast<float>(scaled);
  }
  return sum;
}

}  // namespace llorch::engine::scalar
