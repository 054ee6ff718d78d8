// The weight types computed by decoding their blocks to F32 (BF16, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K,
// Q5_K, IQ4_NL, IQ4_XS): each block layout exactly as ggml defines it, and its decoder. The
// kernels decode a row (or a stretch of it) once and take F32 dot products of it with every
// activation vector — SIMD through Highway — so these types compute on every CPU with the same
// results as the reference path.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/tensor_type.hpp"

namespace llorch::engine {

struct BlockQ4_1 {  // 32 values: d * q + m, 4-bit q (nibbles as Q4_0)
  std::uint16_t d;
  std::uint16_t m;
  std::uint8_t qs[16];
};
static_assert(sizeof(BlockQ4_1) == 20);

struct BlockQ5_0 {  // 32 values: d * (q - 16), 5-bit q: low 4 bits as Q4_0, bit 4 in qh
  std::uint16_t d;
  std::uint8_t qh[4];
  std::uint8_t qs[16];
};
static_assert(sizeof(BlockQ5_0) == 22);

struct BlockQ5_1 {  // 32 values: d * q + m, 5-bit q as Q5_0
  std::uint16_t d;
  std::uint16_t m;
  std::uint8_t qh[4];
  std::uint8_t qs[16];
};
static_assert(sizeof(BlockQ5_1) == 24);

struct BlockQ2_K {          // 256 values in 16 groups of 16: d * sc * q - dmin * m, 2-bit q
  std::uint8_t scales[16];  // low 4 bits: scale; high 4 bits: min
  std::uint8_t qs[64];
  std::uint16_t d;
  std::uint16_t dmin;
};
static_assert(sizeof(BlockQ2_K) == 84);

struct BlockQ3_K {  // 256 values in 16 groups of 16: d * (sc - 32) * q, 3-bit q (high bit in hmask)
  std::uint8_t hmask[32];
  std::uint8_t qs[64];
  std::uint8_t scales[12];  // 16 six-bit scales
  std::uint16_t d;
};
static_assert(sizeof(BlockQ3_K) == 110);

struct BlockQ5_K {  // 256 values in 8 groups of 32: d * sc * q - dmin * m, 5-bit q (bit 4 in qh)
  std::uint16_t d;
  std::uint16_t dmin;
  std::uint8_t scales[12];  // as Q4_K's
  std::uint8_t qh[32];
  std::uint8_t qs[128];
};
static_assert(sizeof(BlockQ5_K) == 176);

struct BlockIQ4_NL {  // 32 values: d * kIQ4Values[q], 4-bit q (nibbles as Q4_0)
  std::uint16_t d;
  std::uint8_t qs[16];
};
static_assert(sizeof(BlockIQ4_NL) == 18);

struct BlockIQ4_XS {  // 256 values in 8 groups of 32: d * (ls - 32) * kIQ4Values[q]
  std::uint16_t d;
  std::uint16_t scales_h;    // the top 2 bits of each group's 6-bit scale
  std::uint8_t scales_l[4];  // the low 4 bits, two groups a byte
  std::uint8_t qs[128];
};
static_assert(sizeof(BlockIQ4_XS) == 136);

// Q3_K's sixteen 6-bit scales (0-63; the scale is the value - 32): low 4 bits in bytes 0-7 (two a
// byte), high 2 bits in bytes 8-11.
void unpack_q3_k_scales(const std::uint8_t packed[12], std::int8_t scales[16]) noexcept;

// The non-linear 4-bit grid of IQ4_NL and IQ4_XS.
inline constexpr std::int8_t kIQ4Values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                               1,    13,   25,  38,  53,  69,  89,  113};

// Whether `type` is one of the types above.
bool is_block_decoded(TensorType type) noexcept;

// Decodes `n` values (whole blocks) of a row of `type` (one of the types above) into `out`.
void decode_blocks(TensorType type, const std::byte* row, float* out, std::size_t n) noexcept;

// Σ row·x over `n` values of a row of `type`: decoded a stretch at a time (every block size
// divides it) and multiplied in F32 by `dot(values, x, count)` — the reference or the SIMD product.
template <typename Dot>
float dot_decoded(TensorType type, const std::byte* row, const float* x, std::size_t n,
                  Dot dot) noexcept {
  const TypeTraits& t = traits(type);
  constexpr std::size_t kStretch = 1024;
  alignas(64) float values[kStretch];
  float sum = 0.0f;
  for (std::size_t done = 0; done < n; done += kStretch) {
    const std::size_t count = n - done < kStretch ? n - done : kStretch;
    decode_blocks(type, row + done / t.block_elements * t.block_bytes, values, count);
    sum += dot(values, x + done, count);
  }
  return sum;
}

// The integer form of the same row, for dot products against int8-quantized activations: every
// 16 values g share a scale and an offset, value i = scale[g] * q[i] + offset[g] (g = i / 16).
// Every type above but BF16 has one (is_integer_decoded).
struct IntegerRow {
  std::int8_t* q;  // n
  float* scale;    // n / 16
  float* offset;   // n / 16
};
bool is_integer_decoded(TensorType type) noexcept;
void decode_integer(TensorType type, const std::byte* row, std::size_t n, IntegerRow out) noexcept;

// The same into buffers of the calling thread, valid until its next call (a kernel's row).
IntegerRow decode_integer_on_thread(TensorType type, const std::byte* row, std::size_t n);

}  // namespace llorch::engine
